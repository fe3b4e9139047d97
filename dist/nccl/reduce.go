package nccl

import (
	"fmt"
	"unsafe"

	"github.com/mdlc/mdlc/dist/mpi"
	mdlc "github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/cuda"
)

// Reducer is a communicator of every rank's GPU, and the
// runtime.DeviceAllReducer over it.
type Reducer struct {
	a          *api
	mpi        *mpi.Comm // the host side: the ranks' example counts; nil: one rank
	rank, size int
	weight     float32 // n / N of the last step

	// What C reads or writes through pointers: heap fields.
	comm   *uintptr  // ncclComm_t
	op     *int32    // the ncclRedOp_t of a step
	scale  *float32  // its host scalar, n/N
	counts []float64 // n of this rank, then N (the MPI all-reduce's buffer)
}

var _ mdlc.DeviceAllReducer = (*Reducer)(nil)

// Device is the GPU a rank's model runs on: *cuda.Device, whose Lock makes
// its context current on the calling thread (NCCL uses the current one).
type Device interface {
	Lock() error
	Unlock()
}

var _ Device = (*cuda.Device)(nil)

// New makes the NCCL communicator of every rank of c (nil: a communicator
// of one rank, no MPI), each on its device dev (the model's: CUDAModel's
// Device): rank 0 draws the unique id, MPI broadcasts it, every rank calls
// ncclCommInitRank with the device's context current. Every rank must call
// New.
func New(c *mpi.Comm, dev Device) (*Reducer, error) {
	a, err := load()
	if err != nil {
		return nil, err
	}
	r := &Reducer{a: a, mpi: c, size: 1, comm: onHeap[uintptr](), op: onHeap[int32](), scale: onHeap[float32](), counts: make([]float64, 1), weight: 1}
	if c != nil {
		r.rank, r.size = c.Rank(), c.Size()
	}
	var id UniqueID
	if r.rank == 0 {
		if id, err = NewUniqueID(); err != nil {
			return nil, err
		}
	}
	if c != nil {
		if err := c.BroadcastBytes(id.Internal[:], 0); err != nil {
			return nil, err
		}
	}
	if err := dev.Lock(); err != nil {
		dev.Unlock()
		return nil, err
	}
	defer dev.Unlock()
	if err := a.check("ncclCommInitRank", int(a.commInitRank(r.comm, int32(r.size), id, int32(r.rank)))); err != nil {
		return nil, fmt.Errorf("rank %d of %d: %w", r.rank, r.size, err)
	}
	return r, nil
}

// Rank and Size place this process in the communicator.
func (r *Reducer) Rank() int { return r.rank }
func (r *Reducer) Size() int { return r.size }

// ReduceStepDevice implements runtime.DeviceAllReducer: N = sum of the
// ranks' n by MPI on the host, then, queued on stream, the gradients and
// the loss summed with every rank's scaled by its n/N (one PreMulSum op,
// the two all-reduces in one NCCL group).
func (r *Reducer) ReduceStepDevice(grads uintptr, count int, loss uintptr, n int, stream uintptr) error {
	total := float64(n)
	if r.mpi != nil && r.size > 1 {
		r.counts[0] = float64(n)
		if err := r.mpi.AllreduceF64(r.counts); err != nil {
			return err
		}
		total = r.counts[0]
	}
	if total <= 0 {
		return fmt.Errorf("nccl: the ranks hold %v examples in all", total)
	}
	r.weight = float32(float64(n) / total)
	return r.reduce(stream, [2]uintptr{grads, uintptr(count)}, [2]uintptr{loss, 1})
}

// ReduceStateDevice implements runtime.DeviceAllReducer.
func (r *Reducer) ReduceStateDevice(state uintptr, count int, stream uintptr) error {
	return r.reduce(stream, [2]uintptr{state, uintptr(count)})
}

// reduce sums every (address, count) buffer in place over the ranks, each
// rank's scaled by r.weight.
func (r *Reducer) reduce(stream uintptr, bufs ...[2]uintptr) error {
	a, comm := r.a, *r.comm
	*r.scale = r.weight
	if err := a.check("ncclRedOpCreatePreMulSum", call(a.redOpCreatePreMulSum, uintptr(unsafe.Pointer(r.op)), uintptr(unsafe.Pointer(r.scale)), ncclFloat32, ncclScalarHostImmediate, comm)); err != nil {
		return err
	}
	op := uintptr(*r.op)
	err := a.check("ncclGroupStart", call(a.groupStart))
	for _, b := range bufs {
		if err == nil && b[1] > 0 {
			err = a.check("ncclAllReduce", call(a.allReduce, b[0], b[0], b[1], ncclFloat32, op, comm, stream))
		}
	}
	if e := a.check("ncclGroupEnd", call(a.groupEnd)); err == nil {
		err = e
	}
	if e := a.check("ncclRedOpDestroy", call(a.redOpDestroy, op, comm)); err == nil {
		err = e
	}
	return err
}

// Close destroys the communicator.
func (r *Reducer) Close() error {
	if *r.comm == 0 {
		return nil
	}
	err := r.a.check("ncclCommDestroy", call(r.a.commDestroy, *r.comm))
	*r.comm = 0
	return err
}
