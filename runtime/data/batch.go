package data

import (
	"fmt"

	"github.com/mdlc/mdlc/runtime"
)

// Batcher walks a Dataset in batches, an epoch at a time. With an RNG each
// epoch visits the examples in a fresh permutation drawn from it, so the
// order is deterministic per seed; without one it visits them in order.
type Batcher struct {
	d    *Dataset
	size int
	rng  *runtime.RNG
	perm []int
	pos  int // next position in perm; -1 before an epoch starts
}

// Batches returns a Batcher of batches of size examples (the last batch of
// an epoch may be smaller). rng may be nil for no shuffling.
func (d *Dataset) Batches(size int, rng *runtime.RNG) *Batcher {
	if size < 1 {
		panic(fmt.Sprintf("data: batch size %d < 1", size))
	}
	b := &Batcher{d: d, size: size, rng: rng, perm: make([]int, d.N), pos: -1}
	for i := range b.perm {
		b.perm[i] = i
	}
	return b
}

// Next copies the next batch into x (n*Dim values) and y (n labels; y may be
// nil) and returns its size n. At the end of an epoch it returns 0, false;
// the call after that starts the next epoch. x must hold size*Dim values and
// y, unless nil, size labels. Next allocates nothing.
func (b *Batcher) Next(x []float32, y []int32) (n int, ok bool) {
	d := b.d
	if len(x) < b.size*d.Dim || (y != nil && len(y) < b.size) {
		panic(fmt.Sprintf("data: Next: buffers hold %d values and %d labels, want %d and %d", len(x), len(y), b.size*d.Dim, b.size))
	}
	if b.pos < 0 {
		if b.rng != nil {
			b.rng.Perm(d.N, b.perm)
		}
		b.pos = 0
	}
	if b.pos >= d.N {
		b.pos = -1
		return 0, false
	}
	n = min(b.size, d.N-b.pos)
	for j, i := range b.perm[b.pos : b.pos+n] {
		copy(x[j*d.Dim:(j+1)*d.Dim], d.X[i*d.Dim:(i+1)*d.Dim])
		if y != nil && d.Y != nil {
			y[j] = d.Y[i]
		}
	}
	b.pos += n
	return n, true
}

// Reset abandons the current epoch; the next call to Next starts a new one.
func (b *Batcher) Reset() { b.pos = -1 }
