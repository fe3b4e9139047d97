package impl

import (
	"math"
	"testing"
)

// TestSumRows: SumRows gives the column sums of a matrix (within float32
// rounding of a float64 sum), bit-identical whatever the number of chunks
// per call (1 to 7 workers) and for every row count around the chunk size.
func TestSumRows(t *testing.T) {
	rng := NewRNG(11)
	const width = 19
	for _, rows := range []int{1, 5, 63, 64, 65, 1000, 4099} {
		for _, chunk := range []int{1, 7, 64} {
			x := make([]float32, rows*width)
			for i := range x {
				x[i] = float32(2*rng.Float64() - 1)
			}
			f := func(acc []float32, lo, hi int) {
				for r := lo; r < hi; r++ {
					for j, v := range x[r*width : (r+1)*width] {
						acc[j] += v
					}
				}
			}
			var want []float32
			for _, threads := range []int{1, 2, 3, 7} {
				got := make([]float32, width)
				for j := range got {
					got[j] = 0.5 // SumRows adds to dst
				}
				withThreads(threads, func() { SumRows(got, rows, chunk, f) })
				if want == nil {
					want = got
					for j := range width {
						var s float64
						for r := range rows {
							s += float64(x[r*width+j])
						}
						if d := math.Abs(float64(got[j]) - 0.5 - s); d > 1e-4*float64(rows) {
							t.Fatalf("rows %d chunk %d: column %d sums to %g, want %g", rows, chunk, j, got[j]-0.5, s)
						}
					}
					continue
				}
				for j := range got {
					if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
						t.Fatalf("rows %d chunk %d: %d workers give column %d = %g, 1 worker %g", rows, chunk, threads, j, got[j], want[j])
					}
				}
			}
		}
	}
}

// TestForRows: every row is visited once, whatever the split.
func TestForRows(t *testing.T) {
	for _, rows := range []int{0, 1, 3, 5000} {
		for _, threads := range []int{1, 2, 5} {
			seen := make([]int, rows)
			withThreads(threads, func() {
				ForRows(rows, 16, func(lo, hi int) {
					for r := lo; r < hi; r++ {
						seen[r]++
					}
				})
			})
			for r, k := range seen {
				if k != 1 {
					t.Fatalf("rows %d, %d workers: row %d visited %d times", rows, threads, r, k)
				}
			}
		}
	}
}

// TestSumRowsAllocs: a call allocates nothing once its size has been seen.
func TestSumRowsAllocs(t *testing.T) {
	dst := make([]float32, 32)
	x := make([]float32, 4096*32)
	f := func(acc []float32, lo, hi int) {
		for r := lo; r < hi; r++ {
			for j, v := range x[r*32 : (r+1)*32] {
				acc[j] += v
			}
		}
	}
	SumRows(dst, 4096, 256, f)
	if n := testing.AllocsPerRun(10, func() { SumRows(dst, 4096, 256, f) }); n != 0 {
		t.Fatalf("SumRows allocates %v times per call", n)
	}
}
