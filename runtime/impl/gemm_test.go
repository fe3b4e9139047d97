package impl

import (
	"math"
	"testing"
)

// refGemm is the float64 reference for Sgemm; it reads C only when beta != 0.
func refGemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				var av, bv float32
				if tA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			s *= float64(alpha)
			if beta != 0 {
				s += float64(beta) * float64(c[i*ldc+j])
			}
			out[i*n+j] = s
		}
	}
	return out
}

func randSlice(rng *RNG, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.Float64()*2 - 1)
	}
	return x
}

type gemmCase struct{ m, n, k int }

func gemmCases() []gemmCase {
	var cs []gemmCase
	sizes := []int{1, 2, 7, 16, 17, 33, 100}
	for _, m := range sizes {
		for _, n := range sizes {
			for _, k := range []int{1, 7, 33, 100} {
				cs = append(cs, gemmCase{m, n, k})
			}
		}
	}
	// MNIST MLP shapes: forward, dX and dW of 784->256->10 at batch 128,
	// plus shapes where parallel chunks split columns.
	return append(cs,
		gemmCase{128, 256, 784}, gemmCase{128, 784, 256}, gemmCase{784, 256, 128},
		gemmCase{128, 10, 256}, gemmCase{128, 256, 10}, gemmCase{256, 10, 128},
		gemmCase{1, 1000, 300}, gemmCase{3, 517, 200}, gemmCase{0, 5, 5}, gemmCase{5, 0, 5}, gemmCase{5, 5, 0})
}

func TestSgemm(t *testing.T) {
	defer SetBLAS(BLAS())
	rng := NewRNG(1)
	for _, backend := range []string{BLASNative, BLASGonum} {
		if err := SetBLAS(backend); err != nil {
			t.Fatal(err)
		}
		for _, tc := range gemmCases() {
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				tA, tB := tr[0], tr[1]
				for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {0, 0.5}, {2, 0}} {
					alpha, beta := ab[0], ab[1]
					checkGemm(t, rng, backend, tA, tB, tc.m, tc.n, tc.k, alpha, beta)
				}
			}
		}
	}
}

func checkGemm(t *testing.T, rng *RNG, backend string, tA, tB bool, m, n, k int, alpha, beta float32) {
	t.Helper()
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	// Strides larger than the minimum; the padding must be left alone.
	lda, ldb, ldc := ac+3, bc+5, n+2
	a := randSlice(rng, max(ar*lda, 1))
	b := randSlice(rng, max(br*ldb, 1))
	c := randSlice(rng, max(m*ldc, 1))
	if beta == 0 {
		for i := range c {
			c[i] = float32(math.NaN())
		}
	}
	c0 := append([]float32(nil), c...)
	want := refGemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	tol := 1e-5 * float64(k+1)
	for i := range m {
		for j := range ldc {
			got := c[i*ldc+j]
			if j >= n {
				if math.Float32bits(got) != math.Float32bits(c0[i*ldc+j]) {
					t.Fatalf("%s tA=%v tB=%v %d×%d×%d: padding C[%d,%d] changed", backend, tA, tB, m, n, k, i, j)
				}
				continue
			}
			w := want[i*n+j]
			if d := math.Abs(float64(got) - w); !(d <= tol*(1+math.Abs(w))) {
				t.Fatalf("%s tA=%v tB=%v %d×%d×%d alpha=%v beta=%v: C[%d,%d] = %v, want %v",
					backend, tA, tB, m, n, k, alpha, beta, i, j, got, w)
			}
		}
	}
}

func TestSetBLAS(t *testing.T) {
	defer SetBLAS(BLAS())
	if err := SetBLAS("gonum"); err != nil || BLAS() != "gonum" {
		t.Fatalf("SetBLAS(gonum) = %v, BLAS() = %q", err, BLAS())
	}
	if err := SetBLAS("native"); err != nil || BLAS() != "native" {
		t.Fatalf("SetBLAS(native) = %v, BLAS() = %q", err, BLAS())
	}
	if err := SetBLAS("mkl"); err == nil || BLAS() != "native" {
		t.Fatalf("SetBLAS(mkl) = %v, BLAS() = %q; want an error and no change", err, BLAS())
	}
}

func TestSetBLASFromEnv(t *testing.T) {
	defer SetBLAS(BLAS())
	if err := setBLASFromEnv("gonum"); err != nil || BLAS() != "gonum" {
		t.Fatalf("MDLC_BLAS=gonum: %v, BLAS() = %q", err, BLAS())
	}
	if err := setBLASFromEnv("mkl"); err == nil || err.Error() != `MDLC_BLAS: unknown BLAS backend "mkl" (want "native", "gonum" or "openblas")` {
		t.Fatalf("MDLC_BLAS=mkl: %v", err)
	}
}

func TestSgemmPanicsOnShortSlice(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a short A")
		}
	}()
	Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
}

func TestSgemmNoAllocs(t *testing.T) {
	defer SetBLAS(BLAS())
	SetBLAS(BLASNative)
	rng := NewRNG(2)
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		m, n, k := 128, 256, 784
		a, b, c := randSlice(rng, m*k), randSlice(rng, k*n), make([]float32, m*n)
		lda, ldb := k, n
		if tr[0] {
			lda = m
		}
		if tr[1] {
			ldb = k
		}
		f := func() { Sgemm(tr[0], tr[1], m, n, k, 1, a, lda, b, ldb, 0, c, n) }
		f()
		if allocs := testing.AllocsPerRun(20, f); allocs != 0 {
			t.Errorf("tA=%v tB=%v: Sgemm allocates %v times per call", tr[0], tr[1], allocs)
		}
	}
}

func TestParallelRows(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 17, 1000} {
		hits := make([]int32, n)
		f := func(lo, hi int) {
			for i := lo; i < hi; i++ {
				hits[i]++
			}
		}
		ParallelRows(n, f)
		for i, h := range hits {
			if h != 1 {
				t.Fatalf("n=%d: row %d visited %d times", n, i, h)
			}
		}
		if allocs := testing.AllocsPerRun(20, func() { ParallelRows(n, f) }); allocs != 0 {
			t.Errorf("n=%d: ParallelRows allocates %v times per call", n, allocs)
		}
	}
	// Nested: Sgemm inside a ParallelRows body runs serially, no deadlock.
	rng := NewRNG(3)
	a, b := randSlice(rng, 128*256), randSlice(rng, 256*256)
	c := make([]float32, 4*128*256)
	ParallelRows(4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			Sgemm(false, false, 128, 256, 256, 1, a, 256, b, 256, 0, c[i*128*256:], 256)
		}
	})
}
