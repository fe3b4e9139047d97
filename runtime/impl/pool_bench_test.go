package impl

import (
	"sync/atomic"
	"testing"
)

var poolSink [64]int64

// BenchmarkParallelDispatch is the cost of one ParallelRows call whose
// chunks do almost nothing: the pool's wake-up and join latency.
func BenchmarkParallelDispatch(b *testing.B) {
	f := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			poolSink[i%64]++
		}
	}
	for b.Loop() {
		ParallelRows(64, f)
	}
}

// TestParallelRowsPanic: a chunk that panics on the caller reaches the
// caller's recover, and the pool is free afterwards: the next call still
// splits its work.
func TestParallelRowsPanic(t *testing.T) {
	if _, ok := pool.acquire(); ok {
		pool.mu.Unlock()
	} else {
		t.Skip("no helpers (GOMAXPROCS 1)")
	}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want boom", r)
			}
		}()
		ParallelRows(64, func(lo, hi int) {
			if lo == 0 {
				panic("boom")
			}
		})
	}()
	var chunks atomic.Int32
	ParallelRows(64, func(lo, hi int) { chunks.Add(1) })
	if chunks.Load() < 2 {
		t.Fatalf("after a panic the next call ran %d chunk(s): the pool is still held", chunks.Load())
	}
}
