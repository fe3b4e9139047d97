package runtime

// AllReducer joins the training steps of several processes (data
// parallelism: every rank trains a replica of the model on its own part of
// each batch). A generated model given one (its WithAllReduce option)
// calls it in every TrainStep: ReduceStep once the backward pass has
// filled the gradient block and before the optimizer update, and
// ReduceState after the update for every layer state the step changed
// (batch_norm's moving statistics). The optimizer's own state needs no
// reduction: it is computed from the reduced gradients, the same bits on
// every rank.
//
// The generated loss is a mean over the batch, so the step over the union
// of the ranks' batches has the gradient sum_r n_r g_r / sum_r n_r: an
// implementation must produce exactly that weighting (ranks may hold
// different n, the last partial batch), and the same bits on every rank,
// or the replicas drift apart. dist/mpi implements it over MPI; the CUDA
// model takes a DeviceAllReducer instead (dist/nccl).
type AllReducer interface {
	// ReduceStep replaces grads (the whole gradient block) and loss (one
	// element, the mean loss over this rank's n examples) by their means
	// over the examples of every rank.
	ReduceStep(grads, loss []float32, n int) error
	// ReduceState replaces a layer's state by the mean of every rank's,
	// weighted as the last ReduceStep weighted the gradients.
	ReduceState(state []float32) error
}

// DeviceAllReducer is AllReducer for a model whose blocks live on a GPU:
// the arguments are device addresses (float32 elements) and the CUDA
// stream the model's kernels run on, which the reduction is ordered on.
type DeviceAllReducer interface {
	// ReduceStepDevice is ReduceStep on count gradients at grads and the
	// loss at loss.
	ReduceStepDevice(grads uintptr, count int, loss uintptr, n int, stream uintptr) error
	// ReduceStateDevice is ReduceState on count elements at state.
	ReduceStateDevice(state uintptr, count int, stream uintptr) error
}
