package train

// Batches of an epoch filled ahead of training on worker goroutines: each
// batch is a function of (epoch, step) alone (Loader.Load), so which worker
// fills it does not matter, and they are handed to the training loop in
// step order. Augmentation (Augmented) runs here, off the training
// goroutine.

import (
	"sync"

	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/data"
)

type filled struct {
	b   runtime.Batch
	n   int
	err error
}

// prefetcher owns the batch buffers of a run; start begins an epoch.
type prefetcher struct {
	l       *data.Loader
	workers int
	free    chan runtime.Batch
}

func newPrefetcher(l *data.Loader, workers int) *prefetcher {
	workers = max(workers, 1)
	p := &prefetcher{l: l, workers: workers, free: make(chan runtime.Batch, workers+2)}
	for range workers + 2 { // one per worker, one waiting, one training
		p.free <- l.NewBatch()
	}
	return p
}

// epochStream delivers the batches of one epoch in order.
type epochStream struct {
	order chan chan filled
	stop  chan struct{}
	wg    sync.WaitGroup
	p     *prefetcher
}

func (p *prefetcher) start(epoch int) *epochStream {
	s := &epochStream{order: make(chan chan filled, p.workers+2), stop: make(chan struct{}), p: p}
	type job struct {
		step int
		b    runtime.Batch
		done chan filled
	}
	jobs := make(chan job)
	s.wg.Add(1 + p.workers)
	go func() { // dispatcher: a step goes out when a buffer is free
		defer s.wg.Done()
		defer close(jobs)
		defer close(s.order)
		for step := range p.l.Steps() {
			var b runtime.Batch
			select {
			case b = <-p.free:
			case <-s.stop:
				return
			}
			j := job{step, b, make(chan filled, 1)}
			s.order <- j.done // buffered beyond the buffers in flight: never blocks
			select {
			case jobs <- j:
			case <-s.stop:
				j.done <- filled{b: b} // close takes the buffer back
				return
			}
		}
	}()
	for range p.workers {
		go func() {
			defer s.wg.Done()
			for j := range jobs {
				n, err := p.l.Load(j.b, epoch, j.step)
				j.done <- filled{j.b, n, err}
			}
		}()
	}
	return s
}

// next returns the next batch of the epoch (ok false after the last); give
// it back with release.
func (s *epochStream) next() (filled, bool) {
	done, ok := <-s.order
	if !ok {
		return filled{}, false
	}
	return <-done, true
}

func (s *epochStream) release(b runtime.Batch) { s.p.free <- b }

// close stops the epoch's goroutines and waits for them; the buffers of
// batches filled but not taken go back to the pool.
func (s *epochStream) close() {
	close(s.stop)
	for done := range s.order { // every step handed out gets one value
		s.p.free <- (<-done).b
	}
	s.wg.Wait()
}
