package mpi

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"unsafe"
)

// Thread support levels of MPI_Init_thread (the same in Open MPI and MPICH).
const threadFunneled = 1

// Launched reports whether the process was started by an MPI launcher
// (mpirun, mpiexec, srun with PMIx): the environment it sets names the
// process's rank.
func Launched() bool {
	for _, v := range []string{"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"} {
		if os.Getenv(v) != "" {
			return true
		}
	}
	return false
}

// Comm is MPI_COMM_WORLD of an initialized MPI.
type Comm struct {
	lib        *lib
	rank, size int
	calls      chan func() // run by the goroutine that owns MPI's thread
}

var (
	world   *Comm
	initErr error
	once    sync.Once
)

// Init loads the MPI library and initializes MPI once per process (later
// calls return the same Comm). Without a launcher it runs as a world of
// one process (MPI's singleton start), which Open MPI allows.
func Init() (*Comm, error) {
	once.Do(func() { world, initErr = start() })
	return world, initErr
}

func start() (*Comm, error) {
	l, err := load()
	if err != nil {
		return nil, err
	}
	if l.flavor == openMPI && os.Getenv("OMPI_MCA_opal_signal") == "" {
		// Open MPI's backtrace handlers would replace the Go runtime's
		// SIGSEGV, SIGBUS, SIGFPE and SIGABRT handlers.
		os.Setenv("OMPI_MCA_opal_signal", "")
	}
	c := &Comm{lib: l, calls: make(chan func())}
	ready := make(chan error)
	go c.serve(ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return c, nil
}

// serve initializes MPI on a locked OS thread and then runs every call on
// it.
func (c *Comm) serve(ready chan<- error) {
	runtime.LockOSThread() // never unlocked: the thread is MPI's
	l := c.lib
	args := onHeap[struct{ provided, rank, size int32 }]()
	if rc := call(l.initThread, 0, 0, threadFunneled, uintptr(unsafe.Pointer(&args.provided))); rc != 0 {
		ready <- fmt.Errorf("mpi: MPI_Init_thread (%s, %s) failed with code %d", l.flavor, l.name, rc)
		return
	}
	if rc := call(l.commSetErrhandler, l.commWorld, l.errorsReturn); rc != 0 {
		ready <- c.errorf("MPI_Comm_set_errhandler", rc)
		return
	}
	if rc := call(l.commRank, l.commWorld, uintptr(unsafe.Pointer(&args.rank))); rc != 0 {
		ready <- c.errorf("MPI_Comm_rank", rc)
		return
	}
	if rc := call(l.commSize, l.commWorld, uintptr(unsafe.Pointer(&args.size))); rc != 0 {
		ready <- c.errorf("MPI_Comm_size", rc)
		return
	}
	if args.provided < threadFunneled {
		ready <- fmt.Errorf("mpi: %s provides thread level %d, need MPI_THREAD_FUNNELED (1)", l.name, args.provided)
		return
	}
	c.rank, c.size = int(args.rank), int(args.size)
	ready <- nil
	for f := range c.calls {
		f()
	}
}

// do runs f on MPI's thread and waits for it.
func (c *Comm) do(f func() int) int {
	done := make(chan int, 1)
	c.calls <- func() { done <- f() }
	return <-done
}

// errorf is the error of an MPI call that returned code rc, with MPI's text.
func (c *Comm) errorf(what string, rc int) error {
	buf, n := onHeap[[1024]byte](), onHeap[int32]() // MPI_MAX_ERROR_STRING is 256 (Open MPI), 1024 (MPICH)
	if call(c.lib.errorString, uintptr(rc), uintptr(unsafe.Pointer(buf)), uintptr(unsafe.Pointer(n))) == 0 && *n > 0 && int(*n) <= len(buf) {
		return fmt.Errorf("mpi: %s on rank %d: %s (code %d)", what, c.rank, buf[:*n], rc)
	}
	return fmt.Errorf("mpi: %s on rank %d failed with code %d", what, c.rank, rc)
}

// Rank is this process's rank in MPI_COMM_WORLD, Size the number of ranks.
func (c *Comm) Rank() int { return c.rank }
func (c *Comm) Size() int { return c.size }

// Library names the MPI implementation and the file it was loaded from.
func (c *Comm) Library() string { return c.lib.flavor.String() + " (" + c.lib.name + ")" }

// AllreduceF32 replaces buf on every rank by the elementwise sum of every
// rank's buf (in place). Every rank must call it with the same length.
func (c *Comm) AllreduceF32(buf []float32) error {
	if len(buf) == 0 {
		return nil
	}
	l := c.lib
	var pin runtime.Pinner // the call runs on another goroutine: buf must not move with a stack
	pin.Pin(&buf[0])
	defer pin.Unpin()
	p := uintptr(unsafe.Pointer(&buf[0]))
	if rc := c.do(func() int { return call(l.allreduce, l.inPlace, p, uintptr(len(buf)), l.float, l.sum, l.commWorld) }); rc != 0 {
		return c.errorf("MPI_Allreduce", rc)
	}
	return nil
}

// AllreduceF64 is AllreduceF32 on float64 elements.
func (c *Comm) AllreduceF64(buf []float64) error {
	if len(buf) == 0 {
		return nil
	}
	l := c.lib
	var pin runtime.Pinner // the call runs on another goroutine: buf must not move with a stack
	pin.Pin(&buf[0])
	defer pin.Unpin()
	p := uintptr(unsafe.Pointer(&buf[0]))
	if rc := c.do(func() int { return call(l.allreduce, l.inPlace, p, uintptr(len(buf)), l.double, l.sum, l.commWorld) }); rc != 0 {
		return c.errorf("MPI_Allreduce", rc)
	}
	return nil
}

// Broadcast copies root's buf to every rank's.
func (c *Comm) Broadcast(buf []float32, root int) error {
	if len(buf) == 0 {
		return nil
	}
	l := c.lib
	var pin runtime.Pinner // the call runs on another goroutine: buf must not move with a stack
	pin.Pin(&buf[0])
	defer pin.Unpin()
	p := uintptr(unsafe.Pointer(&buf[0]))
	if rc := c.do(func() int { return call(l.bcast, p, uintptr(len(buf)), l.float, uintptr(root), l.commWorld) }); rc != 0 {
		return c.errorf("MPI_Bcast", rc)
	}
	return nil
}

// BroadcastBytes copies root's buf to every rank's (NCCL's unique id).
func (c *Comm) BroadcastBytes(buf []byte, root int) error {
	if len(buf) == 0 {
		return nil
	}
	l := c.lib
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	p := uintptr(unsafe.Pointer(&buf[0]))
	if rc := c.do(func() int { return call(l.bcast, p, uintptr(len(buf)), l.byte, uintptr(root), l.commWorld) }); rc != 0 {
		return c.errorf("MPI_Bcast", rc)
	}
	return nil
}

// Barrier returns once every rank has called it.
func (c *Comm) Barrier() error {
	l := c.lib
	if rc := c.do(func() int { return call(l.barrier, l.commWorld) }); rc != 0 {
		return c.errorf("MPI_Barrier", rc)
	}
	return nil
}

// Abort ends every rank of the job with exit status code (MPI_Abort): what
// a rank that fails calls so that the others do not wait for it forever.
func (c *Comm) Abort(code int) {
	l := c.lib
	c.do(func() int { return call(l.abort, l.commWorld, uintptr(code)) })
	os.Exit(code) // MPI_Abort does not return; in case it does
}

// Finalize shuts MPI down; the Comm is unusable afterwards. Every rank
// must call it before exiting normally.
func (c *Comm) Finalize() error {
	l := c.lib
	rc := c.do(func() int { return call(l.finalize) })
	close(c.calls)
	if rc != 0 {
		return fmt.Errorf("mpi: MPI_Finalize on rank %d failed with code %d", c.rank, rc)
	}
	return nil
}

// onHeap allocates a T on the heap. What a C call writes through a pointer
// converted to uintptr must not live on a goroutine stack, which may move
// (grow) between the conversion and the call.
//
//go:noinline
func onHeap[T any]() *T { return new(T) }
