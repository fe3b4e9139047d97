package impl

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Tests of the native GEMM: every kernel (forced in turn) against the float64
// reference with and without the epilogue, determinism across worker counts,
// allocation-free steady state, and a fuzz target.

// forEachKernel runs f with each kernel this machine has forced in turn.
func forEachKernel(t testing.TB, f func(kr *microKernel)) {
	defer SetBLAS(BLAS())
	SetBLAS(BLASNative)
	for _, kr := range kernels {
		restore, err := useKernel(kr.name)
		if err != nil {
			t.Fatal(err)
		}
		f(kr)
		restore()
	}
}

// withThreads runs f with the worker pool forced to n chunks per call.
func withThreads(n int, f func()) {
	old := pool.threads.Swap(int32(n))
	defer pool.threads.Store(old)
	f()
}

// gemmProblem is one random Sgemm call with padded strides.
type gemmProblem struct {
	tA, tB      bool
	m, n, k     int
	alpha, beta float32
	a, b, c     []float32
	lda, ldb    int
	ldc         int
	ep          Epilogue
}

func newGemmProblem(rng *RNG, tA, tB bool, m, n, k int, alpha, beta float32, bias bool, act Activation) *gemmProblem {
	p := &gemmProblem{tA: tA, tB: tB, m: m, n: n, k: k, alpha: alpha, beta: beta}
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	p.lda, p.ldb, p.ldc = ac+3, bc+1, n+2
	p.a = randSlice(rng, max(ar*p.lda, 1))
	p.b = randSlice(rng, max(br*p.ldb, 1))
	p.c = randSlice(rng, max(m*p.ldc, 1))
	if beta == 0 {
		for i := range p.c {
			p.c[i] = float32(math.NaN()) // must not be read
		}
	}
	if alpha == 0 {
		for i := range p.a {
			p.a[i] = float32(math.NaN()) // must not be read
		}
	}
	if bias {
		p.ep.Bias = randSlice(rng, n)
	}
	p.ep.Act = act
	return p
}

func (p *gemmProblem) String() string {
	return fmt.Sprintf("tA=%v tB=%v %d×%d×%d alpha=%v beta=%v bias=%v act=%d",
		p.tA, p.tB, p.m, p.n, p.k, p.alpha, p.beta, p.ep.Bias != nil, p.ep.Act)
}

// run computes the problem into a copy of C and returns it.
func (p *gemmProblem) run() []float32 {
	c := append([]float32(nil), p.c...)
	SgemmEpilogue(p.tA, p.tB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, c, p.ldc, p.ep)
	return c
}

// check compares got (from run) with the float64 reference and the padding
// of C with its original.
func (p *gemmProblem) check(t testing.TB, label string, got []float32) {
	t.Helper()
	var want []float64
	if p.alpha == 0 {
		want = make([]float64, p.m*p.n) // reference reads A
		for i := range p.m {
			for j := range p.n {
				if p.beta != 0 {
					want[i*p.n+j] = float64(p.beta) * float64(p.c[i*p.ldc+j])
				}
			}
		}
	} else {
		want = refGemm(p.tA, p.tB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, p.c, p.ldc)
	}
	tol := 1e-5 * float64(p.k+1)
	for i := range p.m {
		for j := range p.ldc {
			g := got[i*p.ldc+j]
			if j >= p.n {
				if math.Float32bits(g) != math.Float32bits(p.c[i*p.ldc+j]) {
					t.Fatalf("%s %v: padding C[%d,%d] changed", label, p, i, j)
				}
				continue
			}
			w := want[i*p.n+j]
			if p.ep.Bias != nil {
				w += float64(p.ep.Bias[j])
			}
			if p.ep.Act == ActReLU {
				w = max(w, 0)
			}
			if d := math.Abs(float64(g) - w); !(d <= tol*(1+math.Abs(w))) {
				t.Fatalf("%s %v: C[%d,%d] = %v, want %v", label, p, i, j, g, w)
			}
		}
	}
}

var transposes = [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}}

// TestSgemmKernelsSmall covers every kernel, transpose, alpha/beta case and
// epilogue on all small awkward sizes.
func TestSgemmKernelsSmall(t *testing.T) {
	rng := NewRNG(10)
	small := []int{1, 2, 7, 15, 16, 17, 31, 33}
	forEachKernel(t, func(kr *microKernel) {
		for _, m := range small {
			for _, n := range small {
				for _, k := range []int{1, 2, 16, 33} {
					for ti, tr := range transposes {
						ab := [][2]float32{{1, 0}, {-0.5, 2}, {0, 0.5}, {2, 1}}[(m+n+k+ti)%4]
						for ep := range 3 {
							p := newGemmProblem(rng, tr[0], tr[1], m, n, k, ab[0], ab[1], ep > 0, Activation(ep/2))
							p.check(t, kr.name, p.run())
						}
					}
				}
			}
		}
	})
}

// TestSgemmKernelsLarge covers the large awkward sizes, one dimension at a
// time, and shapes that cross every blocking boundary (kc, mc, nc), in
// parallel and serial.
func TestSgemmKernelsLarge(t *testing.T) {
	rng := NewRNG(11)
	shapes := [][3]int{
		{1000, 17, 33}, {17, 1000, 33}, {17, 33, 1000},
		{255, 257, 31}, {257, 255, 257}, {33, 31, 255},
		{5, 2100, 300}, {300, 7, 600}, {128, 10, 256}, {256, 10, 128}, {128, 256, 10},
		// A leading dimension of 1024 or more: those operands are packed,
		// not read in place (inPlace); k = 2100 is at least six k blocks
		// (kc <= 384).
		{33, 40, 2100}, {1100, 40, 33}, {40, 1100, 33},
	}
	if testing.Short() {
		shapes = shapes[:4]
	}
	forEachKernel(t, func(kr *microKernel) {
		for si, s := range shapes {
			for ti, tr := range transposes {
				ab := [][2]float32{{1, 0}, {0.5, 1}, {-1, -0.25}}[(si+ti)%3]
				p := newGemmProblem(rng, tr[0], tr[1], s[0], s[1], s[2], ab[0], ab[1], ti%2 == 0, Activation(si%2))
				p.check(t, kr.name, p.run())
			}
		}
	})
}

// TestSgemmEpilogueGonum: the epilogue also applies on the gonum backend.
func TestSgemmEpilogueGonum(t *testing.T) {
	defer SetBLAS(BLAS())
	SetBLAS(BLASGonum)
	rng := NewRNG(12)
	for _, tr := range transposes {
		p := newGemmProblem(rng, tr[0], tr[1], 33, 17, 40, 1.5, 0.5, true, ActReLU)
		p.check(t, "gonum", p.run())
	}
}

// TestSgemmDeterministic: the same product is bit-identical whether one
// worker computes it or it is split into 2, 3 or 7 chunks, on every kernel.
func TestSgemmDeterministic(t *testing.T) {
	rng := NewRNG(13)
	forEachKernel(t, func(kr *microKernel) {
		// A row split can leave a chunk of one row (m = mr+1): it must
		// still go through a tile, as with one worker, and beta = 0.3
		// (inexact) shows any difference in how beta*C is rounded.
		// The last three are split along k (splitK): a conv's filter
		// gradient with 27 and 9 rows, and one row.
		shapes := [][3]int{{128, 256, 784}, {784, 256, 128}, {128, 784, 256}, {128, 10, 256}, {100, 300, 1000},
			{kr.mr + 1, kr.nr, 1171}, {2*kr.mr + 1, kr.nr, 1171}, {1, 256, 784},
			{27, 32, 5003}, {9, 32, 4732}, {1, 16, 2100}}
		for si, s := range shapes {
			for ti, tr := range transposes {
				beta := float32(0.3)
				if si < 5 && si%2 == 0 {
					beta = 0.5
				}
				bias, act := ti%2 == 0, ActReLU
				if si >= 8 {
					bias, act = false, ActNone // an epilogue keeps k whole
				}
				p := newGemmProblem(rng, tr[0], tr[1], s[0], s[1], s[2], 1, beta, bias, act)
				var want []float32
				withThreads(1, func() { want = p.run() })
				if si >= 8 {
					p.check(t, kr.name, want)
				}
				for _, th := range []int{2, 3, 7} {
					var got []float32
					withThreads(th, func() { got = p.run() })
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s %v: %d workers: C[%d] = %v, 1 worker: %v", kr.name, p, th, i, got[i], want[i])
						}
					}
				}
			}
		}
	})
}

// TestSgemmConcurrentCalls: goroutines calling Sgemm at once, on products
// big enough to split, all get the result one worker gives: one holds the
// pool and packs into its workers' buffers, the others run alone on buffers
// from the free list, and no buffer is used by two calls at a time (run
// with -race too).
func TestSgemmConcurrentCalls(t *testing.T) {
	rng := NewRNG(15)
	var ps []*gemmProblem
	var want [][]float32
	for i, s := range [][3]int{{128, 256, 784}, {128, 10, 256}, {300, 200, 100}, {64, 512, 96}} {
		p := newGemmProblem(rng, i%2 == 1, i >= 2, s[0], s[1], s[2], 1, 0.5, true, ActReLU)
		var w []float32
		withThreads(1, func() { w = p.run() })
		ps, want = append(ps, p), append(want, w)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4*len(ps))
	for g := range 4 * len(ps) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := g % len(ps)
			for range 20 {
				got := ps[i].run()
				for j := range got {
					if math.Float32bits(got[j]) != math.Float32bits(want[i][j]) {
						errs <- fmt.Sprintf("%v: C[%d] = %v, alone: %v", ps[i], j, got[j], want[i][j])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestSgemmNoAllocsKernels: after a warm-up call, no call allocates, on any
// kernel, transpose or epilogue.
func TestSgemmNoAllocsKernels(t *testing.T) {
	rng := NewRNG(14)
	forEachKernel(t, func(kr *microKernel) {
		for _, tr := range transposes {
			p := newGemmProblem(rng, tr[0], tr[1], 128, 784, 256, 1, 1, true, ActReLU)
			f := func() {
				SgemmEpilogue(p.tA, p.tB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, p.c, p.ldc, p.ep)
			}
			f()
			if allocs := testing.AllocsPerRun(10, f); allocs != 0 {
				t.Errorf("%s %v: %v allocations per call", kr.name, p, allocs)
			}
		}
	})
}

func FuzzSgemm(f *testing.F) {
	f.Add(uint8(17), uint8(33), uint8(7), uint8(0), int8(16), int8(0), uint8(0), uint64(1))
	f.Add(uint8(1), uint8(70), uint8(70), uint8(15), int8(-8), int8(16), uint8(1), uint64(2))
	f.Add(uint8(12), uint8(32), uint8(0), uint8(6), int8(0), int8(4), uint8(2), uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k, flags uint8, alpha, beta int8, kernel uint8, seed uint64) {
		defer SetBLAS(BLAS())
		SetBLAS(BLASNative)
		kr := kernels[int(kernel)%len(kernels)]
		restore, err := useKernel(kr.name)
		if err != nil {
			t.Fatal(err)
		}
		defer restore()
		p := newGemmProblem(NewRNG(seed), flags&1 != 0, flags&2 != 0, int(m%71), int(n%71), int(k%71),
			float32(alpha)/16, float32(beta)/16, flags&4 != 0, Activation(flags>>3&1))
		p.check(t, kr.name, p.run())
	})
}

// TestAsmUpToDate: sgemm_amd64.s, vec_amd64.s, math32_amd64.s, conv_amd64.s
// and philox_amd64.s are what internal/asmgen writes now.
func TestAsmUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool")
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "run", "./internal/asmgen", "-out", filepath.Join(dir, "sgemm_amd64.s"), "-vec", filepath.Join(dir, "vec_amd64.s"),
		"-math", filepath.Join(dir, "math32_amd64.s"), "-conv", filepath.Join(dir, "conv_amd64.s"), "-philox", filepath.Join(dir, "philox_amd64.s"))
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("asmgen: %v\n%s", err, msg)
	}
	for _, name := range []string{"sgemm_amd64.s", "vec_amd64.s", "math32_amd64.s", "conv_amd64.s", "philox_amd64.s"} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s is stale; run go generate in runtime/impl/", name)
		}
	}
}

// TestSgemvMatchesTiles: a product with one row of C (the gemv path) equals,
// bit for bit, row 0 of the same product with mr rows (a full tile), on
// every assembly kernel: k in one and in several blocks, both layouts of
// A, alpha and beta, bias and ReLU. Columns that do not fill a tile are
// compared where edge tiles do the same arithmetic (beta = 0, one k block).
func TestSgemvMatchesTiles(t *testing.T) {
	rng := NewRNG(11)
	for _, kr := range kernels {
		if kr.gemv == nil {
			continue
		}
		restore, err := useKernel(kr.name)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []int{1, 7, 256, 257, 784, 1000, 2100} { // 2100: several k blocks
			for _, n := range []int{kr.nr, 2 * kr.nr, 3 * kr.nr, 10 * kr.nr, 1, 7, 9, 65, 100} {
				full := n%kr.nr == 0
				for _, ab := range [][2]float32{{1, 0}, {0.5, 0}, {1, 1}, {-2, 0.5}} {
					if !full && (ab[1] != 0 || k > kr.kc) {
						continue
					}
					for _, tA := range []bool{false, true} {
						for _, ep := range []Epilogue{{}, {Bias: randSlice(rng, n)}, {Bias: randSlice(rng, n), Act: ActReLU}} {
							m := kr.mr
							a := randSlice(rng, m*k) // m×k, or k×m when transposed
							b := randSlice(rng, k*n)
							c0 := randSlice(rng, m*n)
							lda := k
							x := make([]float32, k) // row 0 of op(A)
							if tA {
								lda = m
								for p := range x {
									x[p] = a[p*m]
								}
							} else {
								copy(x, a[:k])
							}
							tiles := append([]float32(nil), c0...)
							SgemmEpilogue(tA, false, m, n, k, ab[0], a, lda, b, n, ab[1], tiles, n, ep)
							row := append([]float32(nil), c0[:n]...)
							xa, xlda := x, k
							if tA {
								xa, xlda = x, 1
							}
							SgemmEpilogue(tA, false, 1, n, k, ab[0], xa, xlda, b, n, ab[1], row, n, ep)
							for j := range n {
								if math.Float32bits(row[j]) != math.Float32bits(tiles[j]) {
									t.Fatalf("%s k=%d n=%d tA=%v alpha,beta=%v bias=%v relu=%v: C[0,%d] = %v by gemv, %v by tiles",
										kr.name, k, n, tA, ab, ep.Bias != nil, ep.Act == ActReLU, j, row[j], tiles[j])
								}
							}
						}
					}
				}
			}
		}
		restore()
	}
}
