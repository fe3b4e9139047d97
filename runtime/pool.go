package runtime

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"
)

// The worker pool: GOMAXPROCS-1 helper goroutines started once, on first
// use. A parallel call sends its chunks by value over a buffered channel,
// runs chunk 0 on the calling goroutine and waits on the pool's WaitGroup, so
// nothing is allocated per call. One parallel call owns the pool at a time
// (TryLock); a concurrent or nested call runs serially instead of waiting, so
// a ParallelRows body may itself call Sgemm.

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

type workerPool struct {
	once    sync.Once
	mu      sync.Mutex
	helpers int
	tasks   chan task
	wg      sync.WaitGroup
	// threads, when set (by tests), replaces the count acquire returns: 1
	// runs everything on the caller, more than helpers+1 queues chunks.
	threads atomic.Int32
}

var pool workerPool

func (p *workerPool) start() {
	p.helpers = goruntime.GOMAXPROCS(0) - 1
	if p.helpers < 1 {
		p.helpers = 0
		return
	}
	p.tasks = make(chan task, p.helpers)
	for range p.helpers {
		go p.work()
	}
}

func (p *workerPool) work() {
	for t := range p.tasks {
		t.run()
		p.wg.Done()
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

// runHeld runs ts[0] on the caller and the rest on helpers, waits for all,
// and releases the pool.
func (p *workerPool) runHeld(ts []task) {
	if p.helpers == 0 {
		for i := range ts {
			ts[i].run()
		}
		p.mu.Unlock()
		return
	}
	p.wg.Add(len(ts) - 1)
	for i := 1; i < len(ts); i++ {
		p.tasks <- ts[i]
	}
	ts[0].run()
	p.wg.Wait()
	p.mu.Unlock()
}

// maxThreads bounds the chunks of one call so their tasks fit on the stack.
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
