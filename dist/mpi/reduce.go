package mpi

import (
	"fmt"

	mdlc "github.com/mdlc/mdlc/runtime"
)

// Reducer is the runtime.AllReducer of a Comm: a generated model given it
// (WithAllReduce) trains as one replica of a data-parallel job.
type Reducer struct {
	c      *Comm
	counts []float64 // n and n*loss of this rank, then their sums over the ranks (heap: MPI reads it from its thread)
	weight float32   // n / sum n of the last step
}

var _ mdlc.AllReducer = (*Reducer)(nil)

// Reducer returns the all-reduce hook over c.
func (c *Comm) Reducer() *Reducer { return &Reducer{c: c, counts: make([]float64, 2), weight: 1} }

// ReduceStep implements runtime.AllReducer. The step over the union of the
// ranks' batches has the gradient sum_r n_r g_r / N (N = sum_r n_r, the
// generated loss being a mean over the batch): one MPI_Allreduce of
// (n, n*loss) in float64 gives N and the loss, then every rank scales its
// gradients by n_r/N and one in-place MPI_Allreduce sums them. The result
// has the same bits on every rank: MPI combines the same values in an
// order that commutes (Open MPI's ring and recursive-doubling algorithms
// hand every rank the same sums).
func (r *Reducer) ReduceStep(grads, loss []float32, n int) error {
	if r.c.size == 1 {
		r.weight = 1
		return nil
	}
	if len(loss) != 1 {
		return fmt.Errorf("mpi: ReduceStep: loss has %d elements, want 1", len(loss))
	}
	r.counts[0], r.counts[1] = float64(n), float64(n)*float64(loss[0])
	if err := r.c.AllreduceF64(r.counts); err != nil {
		return err
	}
	total := r.counts[0]
	if total <= 0 {
		return fmt.Errorf("mpi: ReduceStep: the ranks hold %v examples in all", total)
	}
	loss[0] = float32(r.counts[1] / total)
	r.weight = float32(float64(n) / total)
	scale(grads, r.weight)
	return r.c.AllreduceF32(grads)
}

// ReduceState implements runtime.AllReducer: the mean of every rank's
// state weighted as the last step's gradients.
func (r *Reducer) ReduceState(state []float32) error {
	if r.c.size == 1 {
		return nil
	}
	scale(state, r.weight)
	return r.c.AllreduceF32(state)
}

func scale(x []float32, w float32) {
	if w == 1 {
		return
	}
	for i := range x {
		x[i] *= w
	}
}

// SyncModel copies rank 0's parameters and state (runtime.Model's Params,
// and State when the model has it, as every generated model does) to
// every rank: after it the replicas start from the same point whatever
// each rank initialized or loaded. A CUDAModel's views are host copies of
// its device memory: SyncModel does not reach the device, so give every
// rank the same seed or load the same checkpoint on every rank instead.
func (c *Comm) SyncModel(m mdlc.Model) error {
	ts := m.Params()
	if s, ok := m.(interface{ State() []mdlc.Tensor }); ok {
		ts = append(ts, s.State()...)
	}
	for _, t := range ts {
		if err := c.Broadcast(t.Data, 0); err != nil {
			return fmt.Errorf("%s: %w", t.Name, err)
		}
	}
	return nil
}
