package impl

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// vecCase is one primitive and the scalar Go expression it must match.
type vecCase struct {
	name string
	run  func(dst, a, b, c []float32)
	ref  func(a, b, c float32) float32
}

var vecCases = []vecCase{
	{"Add", func(d, a, b, c []float32) { VAdd(d, a, b) }, func(a, b, c float32) float32 { return a + b }},
	{"Sub", func(d, a, b, c []float32) { VSub(d, a, b) }, func(a, b, c float32) float32 { return a - b }},
	{"Mul", func(d, a, b, c []float32) { VMul(d, a, b) }, func(a, b, c float32) float32 { return a * b }},
	{"Div", func(d, a, b, c []float32) { VDiv(d, a, b) }, func(a, b, c float32) float32 { return a / b }},
	{"Sqrt", func(d, a, b, c []float32) { VSqrt(d, a) }, func(a, b, c float32) float32 { return float32(math.Sqrt(float64(a))) }},
	{"Neg", func(d, a, b, c []float32) { VNeg(d, a) }, func(a, b, c float32) float32 { return -a }},
	{"Relu", func(d, a, b, c []float32) { VRelu(d, a) }, func(a, b, c float32) float32 {
		if a > 0 {
			return a
		}
		return 0
	}},
	{"Eq", func(d, a, b, c []float32) { VEq(d, a, b) }, func(a, b, c float32) float32 { return f(a == b) }},
	{"Ne", func(d, a, b, c []float32) { VNe(d, a, b) }, func(a, b, c float32) float32 { return f(a != b) }},
	{"Lt", func(d, a, b, c []float32) { VLt(d, a, b) }, func(a, b, c float32) float32 { return f(a < b) }},
	{"Le", func(d, a, b, c []float32) { VLe(d, a, b) }, func(a, b, c float32) float32 { return f(a <= b) }},
	{"Gt", func(d, a, b, c []float32) { VGt(d, a, b) }, func(a, b, c float32) float32 { return f(a > b) }},
	{"Ge", func(d, a, b, c []float32) { VGe(d, a, b) }, func(a, b, c float32) float32 { return f(a >= b) }},
	{"Where", func(d, a, b, c []float32) { VWhere(d, c, a, b) }, func(a, b, c float32) float32 {
		if c != 0 {
			return a
		}
		return b
	}},
	{"Fill", func(d, a, b, c []float32) { VFill(d, 2.5) }, func(a, b, c float32) float32 { return 2.5 }},
}

func f(b bool) float32 {
	if b {
		return 1
	}
	return 0
}

// vecInput draws values with many ties, signed zeros, infinities, NaNs and
// subnormals, so comparisons and selections see every case.
func vecInput(r *rand.Rand, n int) []float32 {
	specials := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 2, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.SmallestNonzeroFloat32, -math.MaxFloat32, 3e-39}
	x := make([]float32, n)
	for i := range x {
		if r.IntN(3) == 0 {
			x[i] = specials[r.IntN(len(specials))]
		} else {
			x[i] = float32(r.NormFloat64() * 10)
		}
	}
	return x
}

// forVecPaths runs f with the Go loops and, where the CPU has AVX2, with
// the assembly ones, restoring the selection after.
func forVecPaths(f func(asm bool)) {
	defer func(v bool) { vecAVX2 = v }(vecAVX2)
	for _, asm := range []bool{false, true} {
		if asm && !hasVecAVX2 {
			continue
		}
		vecAVX2 = asm
		f(asm)
	}
}

func sameBits(a, b float32) bool {
	if a != a || b != b {
		return a != a && b != b
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

// TestVec checks every primitive, on the assembly path and the Go path,
// element by element against the scalar Go expression the generated code
// would otherwise compute: the same bits (any NaN for NaN), for lengths
// around every loop boundary, with dst separate and dst == a.
func TestVec(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	forVecPaths(func(asm bool) {
		for _, tc := range vecCases {
			for _, n := range []int{0, 1, 2, 7, 8, 9, 15, 31, 32, 33, 39, 40, 41, 63, 64, 65, 100, VecChunk, VecChunk + 3} {
				a, b, c := vecInput(r, n), vecInput(r, n), vecInput(r, n)
				want := make([]float32, n)
				for i := range want {
					want[i] = tc.ref(a[i], b[i], c[i])
				}
				dst := vecInput(r, n+1)
				guard := dst[n]
				tc.run(dst[:n], a, b, c)
				for i := range want {
					if !sameBits(dst[i], want[i]) {
						t.Fatalf("asm=%v %s n=%d [%d]: got %v, want %v (a %v, b %v, c %v)", asm, tc.name, n, i, dst[i], want[i], a[i], b[i], c[i])
					}
				}
				if !sameBits(dst[n], guard) {
					t.Fatalf("asm=%v %s n=%d: wrote past len(dst)", asm, tc.name, n)
				}
				// In place: dst is a.
				tc.run(a, a, b, c)
				for i := range want {
					if !sameBits(a[i], want[i]) {
						t.Fatalf("asm=%v %s n=%d in place [%d]: got %v, want %v", asm, tc.name, n, i, a[i], want[i])
					}
				}
			}
		}
	})
}

// TestVecShortOperand: an operand shorter than dst panics (index out of
// range) before anything is written, on every path.
func TestVecShortOperand(t *testing.T) {
	for _, tc := range vecCases[:len(vecCases)-1] {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic with a short operand", tc.name)
				}
			}()
			short := make([]float32, 3)
			tc.run(make([]float32, 4), short, short, short)
		}()
	}
}

func BenchmarkVec(b *testing.B) {
	x := vecInput(rand.New(rand.NewPCG(3, 4)), VecChunk)
	y := vecInput(rand.New(rand.NewPCG(5, 6)), VecChunk)
	dst := make([]float32, VecChunk)
	for _, asm := range []bool{false, true} {
		if asm && !hasVecAVX2 {
			continue
		}
		name := "go"
		if asm {
			name = "avx2"
		}
		b.Run("Div/"+name, func(b *testing.B) {
			defer func(v bool) { vecAVX2 = v }(vecAVX2)
			vecAVX2 = asm
			b.SetBytes(4 * VecChunk)
			for b.Loop() {
				VDiv(dst, x, y)
			}
		})
	}
}

// TestVecNoAllocs: strips on the caller's stack stay there (generated code
// declares them as a local array).
func TestVecNoAllocs(t *testing.T) {
	x := vecInput(rand.New(rand.NewPCG(7, 8)), VecChunk)
	allocs := testing.AllocsPerRun(20, func() {
		var vt [3][VecChunk]float32
		a, b, c := vt[0][:], vt[1][:], vt[2][:]
		VFill(a, 2)
		VAdd(b, a, x)
		VSub(b, a, b)
		VMul(b, b, a)
		VDiv(b, b, a)
		VSqrt(b, a)
		VNeg(b, b)
		VRelu(b, b)
		VEq(c, a, b)
		VNe(c, a, b)
		VLt(c, a, b)
		VLe(c, a, b)
		VGt(c, a, b)
		VGe(c, a, b)
		VWhere(b, c, a, b)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run, want 0", allocs)
	}
}

// TestCheckFiniteVec: the AVX2 pre-check agrees with the scalar loop for a
// NaN, +Inf or -Inf at every position of slices around the loop sizes,
// and lets extreme finite values through.
func TestCheckFiniteVec(t *testing.T) {
	bad := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(0x7f800001), math.Float32frombits(0xffc00000)}
	forVecPaths(func(asm bool) {
		for _, n := range []int{0, 1, 7, 8, 31, 32, 33, 64, 65, 100} {
			x := make([]float32, n)
			for i := range x {
				x[i] = []float32{math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 0, -1.5}[i%5]
			}
			if err := CheckFinite("x", x); err != nil {
				t.Fatalf("asm=%v n=%d finite: %v", asm, n, err)
			}
			for i := range n {
				for _, b := range bad {
					old := x[i]
					x[i] = b
					err := CheckFinite("x", x)
					x[i] = old
					if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("value %d is", i)) {
						t.Fatalf("asm=%v n=%d: %v at %d: got %v", asm, n, b, i, err)
					}
				}
			}
		}
	})
}

// TestGatherPanel: the transposing pack on the AVX2 and Go paths, for the
// panel widths of every kernel, every row count and column counts around
// the 8-wide blocks, with padding rows zeroed.
func TestGatherPanel(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	forVecPaths(func(asm bool) {
		for _, w := range []int{4, 6, 12, 16, 32} {
			for h := 0; h <= w; h++ {
				for _, kc := range []int{1, 3, 7, 8, 9, 15, 16, 17, 33, 256} {
					ld := kc + r.IntN(5)
					off := r.IntN(3)
					src := vecInput(r, off+max(h, 1)*ld)
					panel := vecInput(r, kc*w)
					gatherPanel(panel, w, kc, src, off, ld, h)
					checkPanel(t, asm, w, h, kc, panel, func(p, i int) float32 { return src[off+i*ld+p] })
				}
			}
		}
	})
}

// copyPanel (a micro-panel already k-major, packed) gives the same panel on
// both paths: AVX2 row copies for full panels 16 and 32 wide, Go else.
func TestCopyPanel(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	forVecPaths(func(asm bool) {
		for _, w := range []int{6, 12, 16, 32} {
			for _, h := range []int{1, w / 2, w - 1, w} {
				for _, kc := range []int{1, 2, 7, 256} {
					ld := w + r.IntN(40)
					off := r.IntN(3)
					src := vecInput(r, off+kc*ld)
					panel := vecInput(r, kc*w)
					copyPanel(panel, w, kc, src, off, ld, h)
					checkPanel(t, asm, w, h, kc, panel, func(p, i int) float32 { return src[off+p*ld+i] })
				}
			}
		}
	})
}

// checkPanel compares a packed kc×w micro-panel (k-major) with src(p, i)
// in its first h columns and zeros in the rest.
func checkPanel(t *testing.T, asm bool, w, h, kc int, panel []float32, src func(p, i int) float32) {
	t.Helper()
	for p := range kc {
		for i := range w {
			want := float32(0)
			if i < h {
				want = src(p, i)
			}
			if got := panel[p*w+i]; !sameBits(got, want) {
				t.Fatalf("asm=%v w=%d h=%d kc=%d: panel[%d*%d+%d] = %v, want %v", asm, w, h, kc, p, w, i, got, want)
			}
		}
	}
}
