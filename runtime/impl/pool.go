package impl

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The worker pool: GOMAXPROCS-1 helper goroutines started once, on first
// use. A parallel call copies its chunks into the pool's task array and
// publishes them as a new batch; the caller and the helpers claim chunks
// one at a time until none are left, and the caller waits for the last to
// finish. Nothing is allocated per call. One parallel call owns the pool at
// a time (TryLock); a concurrent or nested call runs serially instead of
// waiting, so a ParallelRows body may itself call Sgemm.
//
// Helpers and the waiting caller spin instead of sleeping: a training step
// makes a parallel call every few hundred microseconds, and waking a
// sleeping thread costs about 100 µs on the virtual machines we measured:
// with a channel-fed pool the helper of a 2-way 128×256×784 GEMM started
// 100 µs after the call, and the call took 425 µs instead of the 300 µs of
// either half alone (with spinning helpers: 356 µs).
// A helper that has seen no work for spinFor goes to sleep on a channel,
// so an idle process does not burn a core; like OpenBLAS's threads, which
// also spin a while before sleeping. With another BLAS backend selected the
// helpers only spin spinForeign: the next GEMM runs on that library's own
// threads, which a spinning helper would slow down (mnist_mlp on OpenBLAS:
// 42K examples/s with 2 ms of spinning).

// task is one chunk of parallel work: a GEMM sub-problem when f is nil, else
// f(lo, hi). A GEMM chunk packs into the scratch of the goroutine that runs
// it (see workerPool.scratch). With count > 0 it is products lo..hi-1 of a
// batch (SgemmBatched): g is product 0, the others lie strides further.
type task struct {
	g      gemm
	f      func(lo, hi int)
	lo, hi int
	count  int
	stride batchStrides
}

func (t *task) run(s *scratch) {
	switch {
	case t.f != nil:
		t.f(t.lo, t.hi)
	case t.count > 0:
		for i := t.lo; i < t.hi; i++ {
			g := t.stride.product(&t.g, i)
			g.serial(s)
		}
	default:
		t.g.serial(s)
	}
}

// spinFor is how long an idle helper spins before it sleeps, spinForeign
// the same when Sgemm runs on another library (gonum, OpenBLAS).
const (
	spinFor     = 2 * time.Millisecond
	spinForeign = 20 * time.Microsecond
)

// A ticket packs a batch's generation, its task count and the next task
// index into one word, so a claim (one atomic add) reads all three
// consistently: a helper that wakes late cannot mistake one batch's count
// for another's.
const (
	ticketIdxBits = 16
	ticketNBits   = 16
)

func ticket(gen uint64, n int) uint64 {
	return gen<<(ticketIdxBits+ticketNBits) | uint64(n)<<ticketIdxBits
}

type workerPool struct {
	once     sync.Once
	mu       sync.Mutex
	helpers  int
	tasks    [maxThreads]task // the current batch
	ticket   atomic.Uint64    // generation | n | next index
	gen      uint64           // generation of the current batch (owner only)
	done     atomic.Int64     // tasks of the current batch finished
	panicked atomic.Pointer[taskPanic]
	sleepy   atomic.Int32 // helpers asleep or about to sleep
	wake     chan struct{}
	// scratch holds each goroutine's packing buffers: the caller's at 0,
	// helper i's at i. A buffer stays with one core instead of going to
	// whichever chunk takes it from a free list: a packed panel written on
	// the other core first has to be fetched from that core's cache, and on
	// a VM whose two vCPUs were far apart that made 2-way splits of the
	// MNIST N = 10 products slower than one core (88 against 100 GFLOP/s).
	// Touched only while the pool is held.
	scratch []*scratch
	// threads, when set (by tests), replaces the count acquire returns: 1
	// runs everything on the caller, more than helpers+1 makes more chunks
	// than goroutines.
	threads atomic.Int32
}

var pool workerPool

func (p *workerPool) start() {
	p.helpers = max(0, goruntime.GOMAXPROCS(0)-1)
	p.scratch = make([]*scratch, p.helpers+1)
	for i := range p.scratch {
		p.scratch[i] = new(scratch)
	}
	if p.helpers == 0 {
		return
	}
	p.wake = make(chan struct{}, p.helpers)
	for i := range p.helpers {
		go p.work(i + 1)
	}
}

// growScratch makes every goroutine's packing buffers at least na, nb and
// nt floats long before a batch starts, so that nothing is allocated later
// depending on who ran which chunk. The caller holds the pool.
func (p *workerPool) growScratch(na, nb, nt int) {
	for _, s := range p.scratch {
		s.grow(na, nb, nt)
	}
}

// claim takes the next chunk of the current batch and runs it on goroutine
// w (0 the caller, i helper i), reporting false when none was left.
func (p *workerPool) claim(w int) bool {
	t := p.ticket.Add(1)
	idx := int(t&(1<<ticketIdxBits-1)) - 1
	n := int(t >> ticketIdxBits & (1<<ticketNBits - 1))
	if idx >= n {
		return false
	}
	p.runTask(idx, w)
	return true
}

// runTask runs chunk idx and counts it done even if it panics; the first
// panic of a batch is kept for the caller to raise again (a panic on a
// helper goroutine would otherwise end the process, and one on the caller
// would leave the pool held).
func (p *workerPool) runTask(idx, w int) {
	defer func() {
		if r := recover(); r != nil {
			p.panicked.CompareAndSwap(nil, &taskPanic{r})
		}
		p.done.Add(1)
	}()
	p.tasks[idx].run(p.scratch[w])
}

// taskPanic is the value a chunk panicked with.
type taskPanic struct{ v any }

func (p *workerPool) work(w int) {
	seen := p.ticket.Load() >> (ticketIdxBits + ticketNBits)
	// Start asleep: the first parallel call wakes the helper, so the
	// runtime's bookkeeping for a sleeping goroutine is allocated during
	// that first call, not at some later one.
	p.sleepy.Add(1)
	if p.ticket.Load()>>(ticketIdxBits+ticketNBits) == seen {
		<-p.wake
	}
	p.sleepy.Add(-1)
	idleSince := time.Now()
	for spins := 0; ; spins++ {
		gen := p.ticket.Load() >> (ticketIdxBits + ticketNBits)
		if gen != seen {
			seen = gen
			for p.claim(w) {
			}
			idleSince, spins = time.Now(), 0
			continue
		}
		if spins%64 != 63 {
			continue
		}
		goruntime.Gosched()
		limit := spinFor
		if backend.Load() != backendNative {
			limit = spinForeign
		}
		if time.Since(idleSince) < limit {
			continue
		}
		// Sleep. Announce it first, then look again: a caller publishes a
		// batch before it reads sleepy, so one of the two sees the other.
		p.sleepy.Add(1)
		if p.ticket.Load()>>(ticketIdxBits+ticketNBits) == seen {
			<-p.wake
		}
		p.sleepy.Add(-1)
		idleSince = time.Now()
	}
}

// acquire returns the number of goroutines (caller included) a parallel call
// may use, and whether it holds the pool; release must follow when it does.
func (p *workerPool) acquire() (threads int, ok bool) {
	p.once.Do(p.start)
	if t := int(p.threads.Load()); t > 0 {
		if t == 1 || !p.mu.TryLock() {
			return 1, false
		}
		return t, true
	}
	if p.helpers == 0 || !p.mu.TryLock() {
		return 1, false
	}
	return p.helpers + 1, true
}

// runHeld runs the chunks ts on the caller and the helpers, waits for all,
// and releases the pool.
func (p *workerPool) runHeld(ts []task) {
	if p.helpers == 0 {
		defer p.mu.Unlock()
		for i := range ts {
			ts[i].run(p.scratch[0])
		}
		return
	}
	copy(p.tasks[:], ts)
	p.done.Store(0)
	p.gen++
	p.ticket.Store(ticket(p.gen, len(ts)))
	if p.sleepy.Load() > 0 {
		for range p.helpers {
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
	}
	for p.claim(0) {
	}
	for spins := 0; p.done.Load() < int64(len(ts)); spins++ {
		if spins%64 == 63 {
			goruntime.Gosched()
		}
	}
	clear(p.tasks[:len(ts)]) // drop references to the caller's slices
	tp := p.panicked.Swap(nil)
	p.mu.Unlock()
	if tp != nil {
		panic(tp.v)
	}
}

// maxThreads bounds the chunks of one call.
const maxThreads = 64

// ParallelRows calls f over disjoint ranges [lo, hi) covering [0, n), in
// parallel on the worker pool, and returns when all are done. It runs f(0, n)
// on the caller when n < 2, when the pool has no helpers or when another
// parallel call holds it. It allocates nothing per call provided f is a func
// value made once (a closure stored in a field, say): a closure literal
// written at the call site escapes and is allocated on every call.
func ParallelRows(n int, f func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if n < 2 {
		f(0, n)
		return
	}
	threads, ok := pool.acquire()
	if !ok {
		f(0, n)
		return
	}
	threads = min(threads, n, maxThreads)
	var ts [maxThreads]task
	for t := range threads {
		ts[t] = task{f: f, lo: n * t / threads, hi: n * (t + 1) / threads}
	}
	pool.runHeld(ts[:threads])
}
