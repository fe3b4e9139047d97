package augment

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// Pipeline augments examples into float32 batches on worker goroutines,
// ahead of the consumer. Each worker fills one whole batch; batches come out
// in order. Every image is augmented by the transform of (Seed, epoch, its
// example index), so the batches are the same for any Workers and Prefetch.
type Pipeline struct {
	Params Params
	// Image returns the cached image of an example; it is called from
	// several goroutines at once and must not be modified by them.
	Image func(index int) (Image, error)
	// Every image's size, which is the output's: (Height, Width, Channels).
	Height, Width, Channels int
	BatchSize               int
	Workers                 int // goroutines augmenting; 0 means GOMAXPROCS
	Prefetch                int // finished batches that may wait for the consumer, beyond one per worker
	Seed                    uint64
}

// Batch is one batch of augmented examples.
type Batch struct {
	Step  int       // its position in the epoch, from 0
	Index []int     // the example indices, in order; the last batch may be short
	X     []float32 // (len(Index), Height, Width, Channels)
}

// Stream is one epoch of a Pipeline. Receive from Batches until it closes,
// then read Err; always call Close, which stops and waits for every
// goroutine of the stream.
type Stream struct {
	out    chan *Batch
	free   chan *Batch
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	err     error
	closing bool

	size, batch int // values per example, examples per batch
}

// Start begins epoch over the examples in order (batches of BatchSize taken
// in that order). The stream stops early when ctx is done or an image fails.
func (p *Pipeline) Start(ctx context.Context, epoch uint32, order []int) (*Stream, error) {
	if p.Image == nil {
		return nil, errors.New("augment: pipeline has no Image function")
	}
	if p.Height <= 0 || p.Width <= 0 || p.Channels <= 0 || p.BatchSize <= 0 {
		return nil, fmt.Errorf("augment: pipeline size %dx%dx%d, batch %d", p.Height, p.Width, p.Channels, p.BatchSize)
	}
	if p.Workers < 0 || p.Prefetch < 0 {
		return nil, fmt.Errorf("augment: pipeline workers %d, prefetch %d", p.Workers, p.Prefetch)
	}
	if err := p.Params.Validate(); err != nil {
		return nil, err
	}
	workers := p.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ahead := workers + p.Prefetch // batches being filled or waiting
	ctx, cancel := context.WithCancel(ctx)
	s := &Stream{
		out:    make(chan *Batch),
		free:   make(chan *Batch, ahead),
		cancel: cancel,
		size:   p.Height * p.Width * p.Channels,
		batch:  p.BatchSize,
	}
	order = append([]int(nil), order...)
	steps := (len(order) + p.BatchSize - 1) / p.BatchSize

	type job struct {
		b    *Batch
		done chan error // buffered: a worker never waits on it
	}
	jobs := make(chan job)
	pending := make(chan job, ahead) // jobs in step order, for the collector
	tokens := make(chan struct{}, ahead)

	s.wg.Add(2 + workers)
	go func() { // dispatcher: hands out steps while fewer than ahead are out
		defer s.wg.Done()
		defer close(jobs)
		defer close(pending)
		for step := range steps {
			select {
			case tokens <- struct{}{}:
			case <-ctx.Done():
				return
			}
			b := s.buffer()
			lo, hi := step*p.BatchSize, min((step+1)*p.BatchSize, len(order))
			b.Step, b.Index, b.X = step, append(b.Index[:0], order[lo:hi]...), b.X[:(hi-lo)*s.size]
			j := job{b, make(chan error, 1)}
			pending <- j // never blocks: at most ahead jobs hold tokens
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range workers {
		go func() {
			defer s.wg.Done()
			for j := range jobs {
				j.done <- p.fill(ctx, j.b, epoch)
			}
		}()
	}
	go func() { // collector: delivers batches in step order
		defer s.wg.Done()
		defer close(s.out)
		for j := range pending {
			var err error
			select {
			case err = <-j.done:
			case <-ctx.Done():
				err = ctx.Err()
			}
			if err == nil {
				select {
				case s.out <- j.b:
					<-tokens
					continue
				case <-ctx.Done():
					err = ctx.Err()
				}
			}
			s.fail(err)
			cancel()
			return
		}
		if err := ctx.Err(); err != nil {
			s.fail(err) // cancelled before the last steps were handed out
		}
	}()
	return s, nil
}

// fill augments the examples of b into b.X.
func (p *Pipeline) fill(ctx context.Context, b *Batch, epoch uint32) error {
	size := p.Height * p.Width * p.Channels
	for i, idx := range b.Index {
		if err := ctx.Err(); err != nil {
			return err
		}
		im, err := p.Image(idx)
		if err != nil {
			return fmt.Errorf("augment: example %d: %w", idx, err)
		}
		if im.Height != p.Height || im.Width != p.Width || im.Channels != p.Channels {
			return fmt.Errorf("augment: example %d is %dx%dx%d, want %dx%dx%d", idx, im.Height, im.Width, im.Channels, p.Height, p.Width, p.Channels)
		}
		x := b.X[i*size : (i+1)*size]
		if _, err := p.Params.Apply(x, im, p.Seed, epoch, uint64(idx)); err != nil {
			return fmt.Errorf("augment: example %d: %w", idx, err)
		}
	}
	return nil
}

// buffer returns a released batch or a new one.
func (s *Stream) buffer() *Batch {
	select {
	case b := <-s.free:
		return b
	default:
		return &Batch{Index: make([]int, 0, s.batch), X: make([]float32, s.batch*s.size)}
	}
}

func (s *Stream) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil && !(s.closing && errors.Is(err, context.Canceled)) {
		s.err = err
	}
}

// Batches delivers the epoch's batches in order; it is closed at the end,
// on an error, or when the stream's context is done.
func (s *Stream) Batches() <-chan *Batch { return s.out }

// Err is the reason the stream ended early: an image's error or the
// context's; nil after a complete epoch. Read it once Batches is closed.
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Release hands a batch the consumer is done with back for reuse; its
// buffers must not be used after. Optional: unreleased batches are garbage.
func (s *Stream) Release(b *Batch) {
	select {
	case s.free <- b:
	default:
	}
}

// Close stops the stream, waits for all its goroutines and returns Err
// (without the cancellation Close itself causes).
func (s *Stream) Close() error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return s.Err()
}
