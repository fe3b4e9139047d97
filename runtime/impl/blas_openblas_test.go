package impl

import (
	"math"
	"testing"
)

// Tests of the "openblas" backend (blas_openblas.go). This file is built in
// every configuration: with -tags openblas (and cgo) it checks OpenBLAS
// against the float64 reference; without, that SetBLAS("openblas") fails
// with a clear error.
//
//	CGO_LDFLAGS=-lopenblas go test -tags openblas ./runtime/

func skipWithoutOpenBLAS(t *testing.T) {
	t.Helper()
	if openblasSgemm == nil {
		t.Skip("openblas backend not built (go test -tags openblas, with cgo)")
	}
}

// TestSetBLASOpenBLAS: the backend can be selected, by SetBLAS and MDLC_BLAS,
// exactly when it is built; otherwise both give the not-built error and
// leave the backend alone.
func TestSetBLASOpenBLAS(t *testing.T) {
	defer SetBLAS(BLAS())
	SetBLAS(BLASNative)
	if openblasSgemm == nil {
		err := SetBLAS(BLASOpenBLAS)
		const want = "openblas backend not built: build with -tags openblas (needs cgo and libopenblas-dev)"
		if err == nil || err.Error() != want || BLAS() != BLASNative {
			t.Fatalf("SetBLAS(openblas) = %v, BLAS() = %q; want %q and no change", err, BLAS(), want)
		}
		if err := setBLASFromEnv(BLASOpenBLAS); err == nil || err.Error() != "MDLC_BLAS: "+want {
			t.Fatalf("MDLC_BLAS=openblas: %v", err)
		}
		return
	}
	if err := SetBLAS(BLASOpenBLAS); err != nil || BLAS() != BLASOpenBLAS {
		t.Fatalf("SetBLAS(openblas) = %v, BLAS() = %q", err, BLAS())
	}
	SetBLAS(BLASNative)
	if err := setBLASFromEnv(BLASOpenBLAS); err != nil || BLAS() != BLASOpenBLAS {
		t.Fatalf("MDLC_BLAS=openblas: %v, BLAS() = %q", err, BLAS())
	}
}

// countOpenBLAS wraps openblasSgemm to count its calls, so a test can tell
// OpenBLAS computed a product rather than a fallback; call the returned
// func to restore it.
func countOpenBLAS(calls *int) (restore func()) {
	orig := openblasSgemm
	openblasSgemm = func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		*calls++
		orig(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
	return func() { openblasSgemm = orig }
}

// TestSgemmOpenBLAS is TestSgemm on OpenBLAS: sizes 1..100, the MNIST
// shapes and degenerate ones, the 4 transposes, 5 alpha/beta cases, padded
// strides (padding must be left alone), NaN in C when beta == 0.
func TestSgemmOpenBLAS(t *testing.T) {
	skipWithoutOpenBLAS(t)
	defer SetBLAS(BLAS())
	SetBLAS(BLASOpenBLAS)
	var calls int
	defer countOpenBLAS(&calls)()
	rng := NewRNG(21)
	for _, tc := range gemmCases() {
		for _, tr := range transposes {
			for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {0, 0.5}, {2, 0}} {
				checkGemm(t, rng, BLASOpenBLAS, tr[0], tr[1], tc.m, tc.n, tc.k, ab[0], ab[1])
			}
		}
	}
	if calls == 0 {
		t.Fatal("OpenBLAS was never called")
	}
}

// TestSgemmOpenBLASLarge: large awkward sizes, one dimension at a time, and
// the shapes that cross OpenBLAS's blocking and threading thresholds.
func TestSgemmOpenBLASLarge(t *testing.T) {
	skipWithoutOpenBLAS(t)
	defer SetBLAS(BLAS())
	SetBLAS(BLASOpenBLAS)
	rng := NewRNG(22)
	shapes := [][3]int{
		{1000, 17, 33}, {17, 1000, 33}, {17, 33, 1000},
		{255, 257, 31}, {257, 255, 257}, {33, 31, 255},
		{5, 2100, 300}, {300, 7, 600}, {128, 10, 256}, {256, 10, 128}, {128, 256, 10},
	}
	if testing.Short() {
		shapes = shapes[:4]
	}
	for si, s := range shapes {
		for ti, tr := range transposes {
			ab := [][2]float32{{1, 0}, {0.5, 1}, {-1, -0.25}}[(si+ti)%3]
			checkGemm(t, rng, BLASOpenBLAS, tr[0], tr[1], s[0], s[1], s[2], ab[0], ab[1])
		}
	}
}

// TestSgemmEpilogueOpenBLAS: SgemmEpilogue on OpenBLAS computes the product
// there (counted) and applies bias and ReLU after it, as on gonum; alpha == 0
// with NaN in A checks A is not read then.
func TestSgemmEpilogueOpenBLAS(t *testing.T) {
	skipWithoutOpenBLAS(t)
	defer SetBLAS(BLAS())
	SetBLAS(BLASOpenBLAS)
	var calls int
	defer countOpenBLAS(&calls)()
	rng := NewRNG(23)
	shapes := [][3]int{{1, 1, 1}, {7, 15, 33}, {33, 17, 40}, {128, 10, 256}, {128, 256, 784}, {257, 31, 255}}
	n := 0
	for si, s := range shapes {
		for ti, tr := range transposes {
			for ai, ab := range [][2]float32{{1, 0}, {1.5, 0.5}, {-1, -0.25}, {0, 0.5}} {
				for ep := range 3 {
					p := newGemmProblem(rng, tr[0], tr[1], s[0], s[1], s[2], ab[0], ab[1], ep > 0, Activation(ep/2))
					p.check(t, BLASOpenBLAS, p.run())
					n++
					if calls != n {
						t.Fatalf("shape %d transpose %d alpha/beta %d epilogue %d: %d OpenBLAS calls for %d products", si, ti, ai, ep, calls, n)
					}
				}
			}
		}
	}
}

// TestSgemmOpenBLASAlphaZero: alpha == 0 gives beta*C without reading A or
// B (both NaN here), small and large, as on the other backends. Called
// directly, OpenBLAS 0.3.21 returned NaN at 1×1×1; sgemmOpenBLAS handles it.
func TestSgemmOpenBLASAlphaZero(t *testing.T) {
	skipWithoutOpenBLAS(t)
	defer SetBLAS(BLAS())
	SetBLAS(BLASOpenBLAS)
	rng := NewRNG(25)
	for _, s := range [][3]int{{1, 1, 1}, {4, 4, 4}, {33, 17, 40}, {300, 300, 300}} {
		for _, tr := range transposes {
			for _, beta := range []float32{0, 0.5} {
				p := newGemmProblem(rng, tr[0], tr[1], s[0], s[1], s[2], 0, beta, false, ActNone)
				for i := range p.b {
					p.b[i] = float32(math.NaN())
				}
				c := append([]float32(nil), p.c...)
				Sgemm(p.tA, p.tB, p.m, p.n, p.k, 0, p.a, p.lda, p.b, p.ldb, p.beta, c, p.ldc)
				p.check(t, BLASOpenBLAS, c)
			}
		}
	}
}

// TestSgemmOpenBLASPanics: invalid calls panic on OpenBLAS too (SgemmEpilogue
// checks before dispatching; Sgemm relies on netlib's checks).
func TestSgemmOpenBLASPanics(t *testing.T) {
	skipWithoutOpenBLAS(t)
	defer SetBLAS(BLAS())
	SetBLAS(BLASOpenBLAS)
	for name, f := range map[string]func(){
		"Sgemm short A": func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		},
		"Sgemm small ldc": func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 4), 1)
		},
		"SgemmEpilogue short bias": func() {
			SgemmEpilogue(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2, Epilogue{Bias: make([]float32, 1)})
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestSgemmOpenBLASNoAllocs: a cgo call to OpenBLAS allocates nothing on the
// Go heap, with or without the epilogue.
func TestSgemmOpenBLASNoAllocs(t *testing.T) {
	skipWithoutOpenBLAS(t)
	defer SetBLAS(BLAS())
	SetBLAS(BLASOpenBLAS)
	rng := NewRNG(24)
	a, b, c := randSlice(rng, 128*784), randSlice(rng, 784*256), make([]float32, 128*256)
	bias := randSlice(rng, 256)
	if n := testing.AllocsPerRun(10, func() {
		Sgemm(false, false, 128, 256, 784, 1, a, 784, b, 256, 0, c, 256)
		SgemmEpilogue(false, false, 128, 256, 784, 1, a, 784, b, 256, 0, c, 256, Epilogue{Bias: bias, Act: ActReLU})
	}); n != 0 {
		t.Fatalf("%v allocations per call", n)
	}
}
