package data

import (
	"fmt"
	"io"

	"github.com/mdlc/mdlc/runtime"
)

// Batcher walks a Dataset in batches, an epoch at a time. With an RNG each
// epoch visits the examples in a fresh permutation drawn from it, so the
// order is deterministic per seed; without one it visits them in order.
// (A Loader does the same for any Source and any model's inputs.)
type Batcher struct {
	d    *Dataset
	size int
	rng  *runtime.RNG
	perm []int
	pos  int // next position in perm; -1 before an epoch starts
}

// Batches returns a Batcher of batches of size examples (the last batch of
// an epoch may be smaller). rng may be nil for no shuffling. A size below 1
// makes every Next fail.
func (d *Dataset) Batches(size int, rng *runtime.RNG) *Batcher {
	b := &Batcher{d: d, size: size, rng: rng, perm: make([]int, max(d.N, 0)), pos: -1}
	for i := range b.perm {
		b.perm[i] = i
	}
	return b
}

// Next copies the next batch into x (n*Dim values) and y (n labels; y may be
// nil) and returns its size n. At the end of an epoch it returns 0, io.EOF;
// the call after that starts the next epoch. x must hold size*Dim values and
// y, unless nil, size labels; shorter buffers, a size below 1 or a Dataset
// whose X or Y is shorter than N examples are errors. Next allocates
// nothing.
func (b *Batcher) Next(x []float32, y []int32) (n int, err error) {
	d := b.d
	if b.size < 1 {
		return 0, fmt.Errorf("data: batch size %d < 1", b.size)
	}
	if len(x) < b.size*d.Dim || (y != nil && len(y) < b.size) {
		return 0, fmt.Errorf("data: Next: buffers hold %d values and %d labels, want %d and %d", len(x), len(y), b.size*d.Dim, b.size)
	}
	if len(d.X) < d.N*d.Dim || (y != nil && d.Y != nil && len(d.Y) < d.N) || len(b.perm) != d.N {
		return 0, fmt.Errorf("data: Next: dataset of %d examples of %d holds %d values and %d labels", d.N, d.Dim, len(d.X), len(d.Y))
	}
	if b.pos < 0 {
		if b.rng != nil {
			b.rng.Perm(d.N, b.perm)
		}
		b.pos = 0
	}
	if b.pos >= d.N {
		b.pos = -1
		return 0, io.EOF
	}
	n = min(b.size, d.N-b.pos)
	for j, i := range b.perm[b.pos : b.pos+n] {
		copy(x[j*d.Dim:(j+1)*d.Dim], d.X[i*d.Dim:(i+1)*d.Dim])
		if y != nil && d.Y != nil {
			y[j] = d.Y[i]
		}
	}
	b.pos += n
	return n, nil
}

// Reset abandons the current epoch; the next call to Next starts a new one.
func (b *Batcher) Reset() { b.pos = -1 }
