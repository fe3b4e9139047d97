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
// f(lo, hi).
type task struct {
	g      gemm
	f      func(lo, hi int)
	lo, hi int
}

func (t *task) run() {
	if t.f != nil {
		t.f(t.lo, t.hi)
		return
	}
	t.g.serial()
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
	// threads, when set (by tests), replaces the count acquire returns: 1
	// runs everything on the caller, more than helpers+1 makes more chunks
	// than goroutines.
	threads atomic.Int32
}

var pool workerPool

func (p *workerPool) start() {
	p.helpers = goruntime.GOMAXPROCS(0) - 1
	if p.helpers < 1 {
		p.helpers = 0
		return
	}
	p.wake = make(chan struct{}, p.helpers)
	for range p.helpers {
		go p.work()
	}
}

// claim takes the next chunk of the current batch and runs it, reporting
// false when none was left.
func (p *workerPool) claim() bool {
	t := p.ticket.Add(1)
	idx := int(t&(1<<ticketIdxBits-1)) - 1
	n := int(t >> ticketIdxBits & (1<<ticketNBits - 1))
	if idx >= n {
		return false
	}
	p.runTask(idx)
	return true
}

// runTask runs chunk idx and counts it done even if it panics; the first
// panic of a batch is kept for the caller to raise again (a panic on a
// helper goroutine would otherwise end the process, and one on the caller
// would leave the pool held).
func (p *workerPool) runTask(idx int) {
	defer func() {
		if r := recover(); r != nil {
			p.panicked.CompareAndSwap(nil, &taskPanic{r})
		}
		p.done.Add(1)
	}()
	p.tasks[idx].run()
}

// taskPanic is the value a chunk panicked with.
type taskPanic struct{ v any }

func (p *workerPool) work() {
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
			for p.claim() {
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
			ts[i].run()
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
	for p.claim() {
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
