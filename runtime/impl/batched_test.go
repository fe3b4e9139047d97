package impl

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

// TestSgemmBatched checks SgemmBatched on every kernel, transpose and a
// spread of shapes (narrow ones that Sgemm swaps, one-row ones, ones
// Sgemm splits): each product against the float64 reference, and bit for
// bit against Sgemm called on it alone, with the pool forced to 1, 2 and 3
// chunks (so whole products are split across goroutines, or not), leaving
// the gaps between products and the padding of C untouched.
func TestSgemmBatched(t *testing.T) {
	shapes := []struct{ count, m, n, k int }{
		{1, 5, 7, 3}, {3, 1, 40, 9}, {4, 33, 2, 17}, {7, 16, 33, 20}, {6, 64, 64, 16},
		{24, 20, 20, 12}, {5, 130, 70, 40}, {2, 0, 5, 3}, {3, 4, 4, 0},
	}
	forEachKernel(t, func(kr *microKernel) {
		rng := NewRNG(7)
		for _, s := range shapes {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				tA, tB := tr[0], tr[1]
				ar, ac := s.m, s.k
				if tA {
					ar, ac = s.k, s.m
				}
				br, bc := s.k, s.n
				if tB {
					br, bc = s.n, s.k
				}
				lda, ldb, ldc := ac+1, bc+2, s.n+3
				sa, sb, sc := ar*lda+5, br*ldb+1, s.m*ldc+2 // gaps between products
				a := randSlice(rng, max(s.count*sa, 1))
				b := randSlice(rng, max(s.count*sb, 1))
				c0 := randSlice(rng, max(s.count*sc, 1))
				alpha, beta := float32(0.5), float32(0)
				if s.count%2 == 1 {
					beta = -1.5
				}
				// Sgemm on each product alone, with one goroutine.
				want := slices.Clone(c0)
				withThreads(1, func() {
					for i := range s.count {
						Sgemm(tA, tB, s.m, s.n, s.k, alpha, a[i*sa:], lda, b[i*sb:], ldb, beta, want[i*sc:], ldc)
					}
				})
				for i := range s.count {
					ref := refGemm(tA, tB, s.m, s.n, s.k, alpha, a[i*sa:], lda, b[i*sb:], ldb, beta, c0[i*sc:], ldc)
					for r := range s.m {
						for j := range s.n {
							if d := math.Abs(float64(want[i*sc+r*ldc+j]) - ref[r*s.n+j]); d > 1e-5*float64(s.k+1)*(1+math.Abs(ref[r*s.n+j])) {
								t.Fatalf("%s: Sgemm product %d [%d,%d] = %v, reference %v", kr.name, i, r, j, want[i*sc+r*ldc+j], ref[r*s.n+j])
							}
						}
					}
				}
				for _, threads := range []int{1, 2, 3} {
					got := slices.Clone(c0)
					withThreads(threads, func() {
						SgemmBatched(tA, tB, s.count, s.m, s.n, s.k, alpha, a, lda, sa, b, ldb, sb, beta, got, ldc, sc)
					})
					name := fmt.Sprintf("%s tA=%v tB=%v %d×(%d×%d×%d) threads=%d", kr.name, tA, tB, s.count, s.m, s.n, s.k, threads)
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s: element %d = %v, Sgemm alone gives %v", name, i, got[i], want[i])
						}
					}
				}
			}
		}
	})
}

// TestSgemmBatchedChecks checks that a batch reaching past its slices
// panics with a message instead of writing out of range.
func TestSgemmBatchedChecks(t *testing.T) {
	a, b, c := make([]float32, 2*6), make([]float32, 2*6), make([]float32, 2*4)
	SgemmBatched(false, false, 2, 2, 2, 3, 1, a, 3, 6, b, 2, 6, 0, c, 2, 4) // fits
	for _, f := range []func(){
		func() { SgemmBatched(false, false, 3, 2, 2, 3, 1, a, 3, 6, b, 2, 6, 0, c, 2, 4) },
		func() { SgemmBatched(false, false, 2, 2, 2, 3, 1, a, 3, 7, b, 2, 6, 0, c, 2, 4) },
		func() { SgemmBatched(false, false, -1, 2, 2, 3, 1, a, 3, 6, b, 2, 6, 0, c, 2, 4) },
	} {
		func() {
			defer func() {
				r := recover()
				if s, ok := r.(string); !ok || len(s) < 14 || s[:14] != "mdlc runtime: " {
					t.Errorf("panic %v, want an mdlc runtime message", r)
				}
			}()
			f()
		}()
	}
}

// TestSgemmBatchedNoAlloc checks that a split batch allocates nothing once
// warm.
func TestSgemmBatchedNoAlloc(t *testing.T) {
	const count, m = 8, 32
	a, b, c := make([]float32, count*m*m), make([]float32, count*m*m), make([]float32, count*m*m)
	withThreads(2, func() {
		run := func() { SgemmBatched(false, true, count, m, m, m, 1, a, m, m*m, b, m, m*m, 0, c, m, m*m) }
		run()
		if n := testing.AllocsPerRun(10, run); n != 0 {
			t.Errorf("SgemmBatched allocates %v times per call, want 0", n)
		}
	})
}
