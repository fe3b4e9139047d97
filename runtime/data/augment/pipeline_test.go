package augment

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
)

var keras = Params{RotationRange: 40, WidthShiftRange: 0.2, HeightShiftRange: 0.2, ShearRange: 20, ZoomRange: Zoom(0.2), HorizontalFlip: true, VerticalFlip: true, Rescale: 1.0 / 255}

func images(n, h, w, c int) []Image {
	rng := rand.New(rand.NewPCG(11, 12))
	ims := make([]Image, n)
	for i := range ims {
		ims[i] = randomImage(rng, h, w, c)
	}
	return ims
}

// noLeak fails if goroutines started during the test are still running
// shortly after it.
func noLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("%d goroutines left running (had %d):\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
}

func collect(t *testing.T, p *Pipeline, epoch uint32, order []int) []Batch {
	t.Helper()
	s, err := p.Start(context.Background(), epoch, order)
	if err != nil {
		t.Fatal(err)
	}
	var out []Batch
	for b := range s.Batches() {
		out = append(out, Batch{Step: b.Step, Index: append([]int(nil), b.Index...), X: append([]float32(nil), b.X...)})
		s.Release(b)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Batches come in order, hold the examples of the order, each augmented as
// Params.Apply does alone, and are identical for 1 and 4 workers and any
// prefetch.
func TestPipelineOrderAndWorkers(t *testing.T) {
	noLeak(t)
	const h, w, c = 12, 10, 3
	ims := images(23, h, w, c)
	order := rand.New(rand.NewPCG(1, 1)).Perm(len(ims))
	p := &Pipeline{Params: keras, Image: func(i int) (Image, error) { return ims[i], nil }, Height: h, Width: w, Channels: c, BatchSize: 5, Seed: 99}
	p.Workers, p.Prefetch = 1, 0
	ref := collect(t, p, 2, order)
	if len(ref) != 5 || len(ref[4].Index) != 3 {
		t.Fatalf("%d batches, last of %d; want 5, last of 3", len(ref), len(ref[len(ref)-1].Index))
	}
	one := make([]float32, h*w*c)
	for step, b := range ref {
		if b.Step != step {
			t.Errorf("batch %d has Step %d", step, b.Step)
		}
		for i, idx := range b.Index {
			if idx != order[step*5+i] {
				t.Fatalf("step %d example %d is %d, want %d", step, i, idx, order[step*5+i])
			}
			if _, err := keras.Apply(one, ims[idx], 99, 2, uint64(idx)); err != nil {
				t.Fatal(err)
			}
			for k, v := range one {
				if b.X[i*len(one)+k] != v {
					t.Fatalf("step %d example %d value %d = %v, want %v", step, i, k, b.X[i*len(one)+k], v)
				}
			}
		}
	}
	for _, cfg := range [][2]int{{4, 0}, {4, 3}, {2, 1}, {0, 2}} {
		p.Workers, p.Prefetch = cfg[0], cfg[1]
		got := collect(t, p, 2, order)
		for step := range ref {
			for k := range ref[step].X {
				if got[step].X[k] != ref[step].X[k] {
					t.Fatalf("workers %d prefetch %d: step %d value %d differs from 1 worker", cfg[0], cfg[1], step, k)
				}
			}
		}
	}
	// Another epoch draws other transforms.
	p.Workers = 2
	other := collect(t, p, 3, order)
	same := true
	for k := range ref[0].X {
		same = same && other[0].X[k] == ref[0].X[k]
	}
	if same {
		t.Error("epochs 2 and 3 gave the same first batch")
	}
}

func TestPipelineError(t *testing.T) {
	noLeak(t)
	ims := images(40, 6, 6, 1)
	p := &Pipeline{Params: keras, Height: 6, Width: 6, Channels: 1, BatchSize: 4, Workers: 3, Prefetch: 2}
	p.Image = func(i int) (Image, error) {
		if i == 17 {
			return Image{}, errors.New("truncated PNG")
		}
		return ims[i], nil
	}
	order := make([]int, len(ims))
	for i := range order {
		order[i] = i
	}
	s, err := p.Start(context.Background(), 0, order)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range s.Batches() {
		n++
	}
	if n != 4 {
		t.Errorf("%d batches before the failing one, want 4", n)
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "example 17: truncated PNG") {
		t.Errorf("Err() = %v", err)
	}
	if err := s.Close(); err == nil {
		t.Error("Close() = nil after a failure")
	}

	// An image of the wrong size is an error too.
	p.Image = func(i int) (Image, error) { return dot(5, 6, 0, 0), nil }
	s, err = p.Start(context.Background(), 0, order)
	if err != nil {
		t.Fatal(err)
	}
	for range s.Batches() {
	}
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "is 5x6x1, want 6x6x1") {
		t.Errorf("wrong size: %v", err)
	}
}

// Cancelling the context or closing early ends every goroutine, with a
// consumer that stops reading.
func TestPipelineCancel(t *testing.T) {
	noLeak(t)
	ims := images(8, 16, 16, 3)
	p := &Pipeline{Params: keras, Image: func(i int) (Image, error) { return ims[i%8], nil }, Height: 16, Width: 16, Channels: 3, BatchSize: 2, Workers: 4, Prefetch: 4}
	order := make([]int, 1000)
	for i := range order {
		order[i] = i
	}

	ctx, cancel := context.WithCancel(context.Background())
	s, err := p.Start(ctx, 0, order)
	if err != nil {
		t.Fatal(err)
	}
	<-s.Batches()
	<-s.Batches()
	cancel()
	for range s.Batches() {
	}
	if err := s.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel, Err() = %v", err)
	}
	s.Close()

	// Close without draining: no error, nothing left running.
	s, err = p.Start(context.Background(), 0, order)
	if err != nil {
		t.Fatal(err)
	}
	<-s.Batches()
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}

	// An empty order is an empty epoch.
	s, err = p.Start(context.Background(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := <-s.Batches(); ok {
		t.Error("a batch from an empty order")
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestPipelineConfigErrors(t *testing.T) {
	img := func(int) (Image, error) { return Image{}, nil }
	for _, p := range []Pipeline{
		{Height: 2, Width: 2, Channels: 1, BatchSize: 1},
		{Image: img, Height: 0, Width: 2, Channels: 1, BatchSize: 1},
		{Image: img, Height: 2, Width: 2, Channels: 1, BatchSize: 0},
		{Image: img, Height: 2, Width: 2, Channels: 1, BatchSize: 1, Workers: -1},
		{Image: img, Height: 2, Width: 2, Channels: 1, BatchSize: 1, Params: Params{ZoomRange: [2]float64{-1, 1}}},
	} {
		if _, err := p.Start(context.Background(), 0, []int{0}); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
}
