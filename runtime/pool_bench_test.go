package runtime

import "testing"

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
