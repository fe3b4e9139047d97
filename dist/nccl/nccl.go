// Package nccl is data-parallel training of CUDA models over NCCL, as
// llm.c does: MPI starts the processes and hands out NCCL's unique id
// (dist/mpi), NCCL reduces the gradients where they live, on the GPU, on
// the model's stream. NCCL is reached at run time through purego
// (libnccl.so.2, or the file MDLC_LIBNCCL names): no cgo, no CUDA headers,
// and a missing library is an error of New, not of the build.
//
// Reducer implements runtime.DeviceAllReducer (a CUDAModel's
// SetAllReduce): each step every rank's gradients and loss are scaled by
// its share of the examples, n/N, and summed in one ncclAllReduce each
// (ncclRedOpCreatePreMulSum: the scaling is part of the reduction), so that
// the result is the mean over all the ranks' examples. N comes from a host
// MPI_Allreduce of the ranks' n (a few bytes). With one rank, NCCL still
// runs (a communicator of one), the scale being 1: the GPU check uses it.
package nccl

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/mdlc/mdlc/internal/dlopen"
)

// Library names tried in order; MDLC_LIBNCCL names another file.
var libNames = []string{"libnccl.so.2", "libnccl.so"}

const envLib = "MDLC_LIBNCCL"

// NCCL's enums (nccl.h, stable since NCCL 2.0; PreMulSum since 2.11).
const (
	ncclFloat32             = 7
	ncclSum                 = 0
	ncclScalarHostImmediate = 1
)

// UniqueID is ncclUniqueId: what rank 0 draws and every rank passes to
// ncclCommInitRank.
type UniqueID struct{ Internal [128]byte }

// api holds NCCL's functions. ncclCommInitRank takes the 128-byte id by
// value, which purego's RegisterFunc marshals (on the stack, as the System
// V ABI says for a struct that large); the others are called with
// SyscallN.
type api struct {
	getUniqueID, allReduce, commDestroy, getErrorString, getVersion uintptr
	redOpCreatePreMulSum, redOpDestroy, groupStart, groupEnd        uintptr
	commInitRank                                                    func(comm *uintptr, nranks int32, id UniqueID, rank int32) int32
}

var (
	lib     *api
	libErr  error
	libOnce sync.Once
)

// load opens NCCL once per process.
func load() (*api, error) {
	libOnce.Do(func() { lib, libErr = open() })
	return lib, libErr
}

func open() (*api, error) {
	h, name, err := dlopen.First(envLib, libNames)
	if err != nil {
		return nil, fmt.Errorf("nccl: cannot load NCCL: %v; install NCCL 2.11 or later (libnccl2), or set %s to its path", err, envLib)
	}
	return bind(name, h)
}

func bind(name string, h uintptr) (*api, error) {
	a := &api{}
	for _, s := range []struct {
		name string
		addr *uintptr
	}{
		{"ncclGetUniqueId", &a.getUniqueID}, {"ncclAllReduce", &a.allReduce}, {"ncclCommDestroy", &a.commDestroy},
		{"ncclGetErrorString", &a.getErrorString}, {"ncclGetVersion", &a.getVersion},
		{"ncclRedOpCreatePreMulSum", &a.redOpCreatePreMulSum}, {"ncclRedOpDestroy", &a.redOpDestroy},
		{"ncclGroupStart", &a.groupStart}, {"ncclGroupEnd", &a.groupEnd},
	} {
		addr, err := purego.Dlsym(h, s.name)
		if err != nil || addr == 0 {
			return nil, fmt.Errorf("nccl: %s lacks %s (NCCL 2.11 or later is needed): %v", name, s.name, err)
		}
		*s.addr = addr
	}
	init, err := purego.Dlsym(h, "ncclCommInitRank")
	if err != nil {
		return nil, fmt.Errorf("nccl: %s lacks ncclCommInitRank: %v", name, err)
	}
	purego.RegisterFunc(&a.commInitRank, init)
	return a, nil
}

// call calls fn and returns its ncclResult_t.
func call(fn uintptr, args ...uintptr) int {
	r, _, _ := purego.SyscallN(fn, args...)
	return int(int32(r))
}

// check turns an ncclResult_t into an error with NCCL's text.
func (a *api) check(what string, rc int) error {
	if rc == 0 {
		return nil
	}
	msg := ""
	if p, _, _ := purego.SyscallN(a.getErrorString, uintptr(rc)); p != 0 {
		msg = cString(p)
	}
	return fmt.Errorf("nccl: %s: %s (ncclResult_t %d)", what, msg, rc)
}

// cString copies the NUL-terminated C string at p.
func cString(p uintptr) string {
	base := *(*unsafe.Pointer)(unsafe.Pointer(&p)) // C memory: the GC does not track it
	var b []byte
	for i := range 1024 {
		c := *(*byte)(unsafe.Add(base, i))
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// Version is NCCL's version code (e.g. 22304 for 2.23.4).
func Version() (int, error) {
	a, err := load()
	if err != nil {
		return 0, err
	}
	v := onHeap[int32]()
	if err := a.check("ncclGetVersion", call(a.getVersion, uintptr(unsafe.Pointer(v)))); err != nil {
		return 0, err
	}
	return int(*v), nil
}

// NewUniqueID draws the id that names a new communicator (rank 0 draws
// it and sends it to the others).
func NewUniqueID() (UniqueID, error) {
	a, err := load()
	if err != nil {
		return UniqueID{}, err
	}
	id := onHeap[UniqueID]()
	if err := a.check("ncclGetUniqueId", call(a.getUniqueID, uintptr(unsafe.Pointer(id)))); err != nil {
		return UniqueID{}, err
	}
	return *id, nil
}

// onHeap allocates a T on the heap: what C writes through a uintptr must
// not sit on a goroutine stack, which may move.
//
//go:noinline
func onHeap[T any]() *T { return new(T) }
