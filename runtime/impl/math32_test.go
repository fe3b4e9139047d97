package impl

import (
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	goruntime "runtime"
	"testing"

	"golang.org/x/sys/cpu"
)

// mathCase is one function in its scalar and vector forms and its float64
// definition.
type mathCase struct {
	name   string
	scalar func(x, g float32) float32
	vector func(dst, x, g []float32)
	ref    func(x, g float64) float64
	ulps   float64 // accuracy bound (TestMath32Accuracy)
	// mixed: the bound holds against the function's values within one
	// ulp of x (GELU and its gradient are ill-conditioned: x³ amplifies
	// the input's rounding, and the gradient crosses zero).
	mixed bool
	// mag, when set, is the size of the larger of the terms the result
	// is a sum of: the error is counted in its ulps (GELU's gradient is
	// s + d, with d ≈ -s where it crosses zero near x = -0.75).
	mag func(x float64) float64
}

func sigmoid64(x, _ float64) float64 { return 1 / (1 + math.Exp(-x)) }

func gelu64Arg(x float64) float64 { return math.Sqrt(2/math.Pi) * (x + 0.044715*x*x*x) }

var mathCases = []mathCase{
	{"exp", func(x, _ float32) float32 { return Exp32(x) }, func(d, x, _ []float32) { VExp(d, x) },
		func(x, _ float64) float64 { return math.Exp(x) }, 1, false, nil},
	{"tanh", func(x, _ float32) float32 { return Tanh32(x) }, func(d, x, _ []float32) { VTanh(d, x) },
		func(x, _ float64) float64 { return math.Tanh(x) }, 2, false, nil},
	{"sigmoid", func(x, _ float32) float32 { return Sigmoid32(x) }, func(d, x, _ []float32) { VSigmoid(d, x) },
		sigmoid64, 3, false, nil},
	{"gelu", func(x, _ float32) float32 { return Gelu32(x) }, func(d, x, _ []float32) { VGelu(d, x) },
		func(x, _ float64) float64 { return x * sigmoid64(2*gelu64Arg(x), 0) }, 5, true, nil},
	{"gelu_grad", GeluGrad32, VGeluGrad,
		func(x, g float64) float64 {
			y := 2 * gelu64Arg(x)
			s, sc := sigmoid64(y, 0), sigmoid64(-y, 0) // σ(y), 1 - σ(y) without cancelling
			return g * (s + x*s*sc*2*math.Sqrt(2/math.Pi)*(1+3*0.044715*x*x))
		}, 8, true, func(x float64) float64 {
			y := 2 * gelu64Arg(x)
			s, sc := sigmoid64(y, 0), sigmoid64(-y, 0)
			return max(s, math.Abs(x*s*sc*2*math.Sqrt(2/math.Pi)*(1+3*0.044715*x*x)))
		}},
}

// mathInputs are special values, the edges of each function's ranges,
// a dense sweep of [-20, 20] and random bit patterns.
func mathInputs() []float32 {
	xs := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.625, -0.625, 0.62499994, 88.72283, 88.72284, 89, -87.33654,
		-87.33655, -103.97, -104, -150, 1e-45, -1e-45, 1e-38, math.MaxFloat32, -math.MaxFloat32, 1e-7, -1e-7,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 0.5, -0.5, 9, -9, 10, -10, 44, -44}
	for x := float32(-20); x <= 20; x += 1.0 / 64 {
		xs = append(xs, x)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		xs = append(xs, math.Float32frombits(r.Uint32()))
		xs = append(xs, float32(r.NormFloat64()*4))
	}
	return xs
}

// TestMath32Identical checks that the vector forms (AVX-512 and AVX2 where
// the CPU has them) give bit for bit the scalar functions' results, for
// every length's tail, and that the Go loops do too.
func TestMath32Identical(t *testing.T) {
	xs := mathInputs()
	gs := make([]float32, len(xs))
	r := rand.New(rand.NewPCG(3, 4))
	for i := range gs {
		gs[i] = float32(r.NormFloat64())
	}
	for _, path := range []struct{ avx2, avx512 bool }{{true, true}, {true, false}, {false, false}} {
		if path.avx2 && !hasVecAVX2 || path.avx512 && !hasMathAVX512 {
			continue
		}
		old, old512 := vecAVX2, mathAVX512
		vecAVX2, mathAVX512 = path.avx2, path.avx512
		asm := path
		for _, c := range mathCases {
			for _, n := range []int{len(xs), len(xs) - 1, 31, 24, 17, 16, 13, 8, 7, 1} {
				dst := make([]float32, n)
				c.vector(dst, xs[:n], gs[:n])
				for i, got := range dst {
					if want := c.scalar(xs[i], gs[i]); !sameBits(got, want) {
						t.Fatalf("%s (asm %v, n %d) of %g (%#x): vector %g (%#x), scalar %g (%#x)", c.name, asm, n, xs[i],
							math.Float32bits(xs[i]), got, math.Float32bits(got), want, math.Float32bits(want))
					}
				}
			}
		}
		vecAVX2, mathAVX512 = old, old512
	}
}

// ulpErr is |got - want| in units in the last place of want as a float32
// (subnormal wants count in the smallest normal's ulp).
func ulpErr(got float32, want float64) float64 {
	if math.IsNaN(want) {
		if got != got {
			return 0
		}
		return math.Inf(1)
	}
	if math.IsInf(want, 0) || math.Abs(want) > math.MaxFloat32 {
		if math.IsInf(float64(got), 0) && (got > 0) == (want > 0) {
			return 0
		}
		return math.Inf(1)
	}
	return math.Abs(float64(got)-want) / ulpOf(math.Abs(want))
}

// ulpOf is the float32 ulp at magnitude w (the subnormals' below 2^-126).
func ulpOf(w float64) float64 {
	_, e := math.Frexp(max(w, 0x1p-126)) // w = f 2^e, f in [0.5, 1)
	return math.Ldexp(1, e-24)
}

// TestMath32Accuracy measures each function against its float64
// definition over every 397th float32 bit pattern (both signs, all
// exponents) and the test inputs, and holds it to its bound in ulps
// (for GELU: the bound against the values at x and its two neighbours,
// or lying between them, for results in the normal range).
func TestMath32Accuracy(t *testing.T) {
	xs := mathInputs()
	for b := uint64(0); b < 1<<32; b += 397 {
		xs = append(xs, math.Float32frombits(uint32(b)))
	}
	gs := make([]float32, len(xs))
	for i := range gs {
		gs[i] = 1
	}
	dst := make([]float32, len(xs))
	for _, c := range mathCases {
		c.vector(dst, xs, gs)
		worst, at := 0.0, float32(0)
		for i, got := range dst {
			x := float64(xs[i])
			want := c.ref(x, 1)
			if c.name == "gelu_grad" && math.Abs(x) > 1e4 {
				continue // the float64 formula itself overflows in x³ and cancels
			}
			e := ulpErr(got, want)
			if c.mag != nil {
				e = math.Abs(float64(got)-want) / ulpOf(max(math.Abs(want), c.mag(x)))
			}
			if c.mixed && math.Abs(want) < 0x1p-126 {
				continue // a subnormal σ, its rounding amplified by x (x³ for the gradient)
			}
			if c.mixed {
				for _, nb := range []float32{math.Nextafter32(xs[i], -1e38), math.Nextafter32(xs[i], 1e38)} {
					lo, hi := min(want, c.ref(float64(nb), 1)), max(want, c.ref(float64(nb), 1))
					if float64(got) >= lo && float64(got) <= hi {
						e = 0
					}
					e = min(e, ulpErr(got, c.ref(float64(nb), 1)))
				}
			}
			if e > worst {
				worst, at = e, xs[i]
			}
		}
		t.Logf("%s: %.2f ulp at %g", c.name, worst, at)
		if worst > c.ulps {
			t.Errorf("%s: %.2f ulp at %g (%g, want %g), bound %g", c.name, worst, at, c.scalar(at, 1), c.ref(float64(at), 1), c.ulps)
		}
	}
}

func BenchmarkMath32(b *testing.B) {
	xs := make([]float32, VecChunk)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range xs {
		xs[i] = float32(r.NormFloat64() * 3)
	}
	dst := make([]float32, len(xs))
	for _, c := range mathCases {
		b.Run(c.name+"/vector", func(b *testing.B) {
			for b.Loop() {
				c.vector(dst, xs, xs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(xs)), "ns/elem")
		})
		b.Run(c.name+"/scalar", func(b *testing.B) {
			for b.Loop() {
				for i, x := range xs {
					dst[i] = c.scalar(x, x)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(xs)), "ns/elem")
		})
	}
	b.Run("math.Exp", func(b *testing.B) {
		for b.Loop() {
			for i, x := range xs {
				dst[i] = float32(math.Exp(float64(x)))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(xs)), "ns/elem")
	})
	b.Run("math.Tanh", func(b *testing.B) {
		for b.Loop() {
			for i, x := range xs {
				dst[i] = float32(math.Tanh(float64(x)))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(xs)), "ns/elem")
	})
}

// TestReductions: VSum and VMax give the same bits on the assembly and Go
// paths for every length up to 100 (and a long row), VMax the exact
// maximum (NaN when any element is), VSum the sum within float32 rounding.
func TestReductions(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	lengths := []int{1000}
	for n := range 101 {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		for trial := range 4 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64() * 10)
			}
			if trial == 3 && n > 0 {
				x[r.IntN(n)] = float32(math.NaN())
			}
			var sums, maxes []float32
			for _, asm := range []bool{true, false} {
				if asm && !hasVecAVX2 {
					continue
				}
				old := vecAVX2
				vecAVX2 = asm
				sums, maxes = append(sums, VSum(x)), append(maxes, VMax(x))
				vecAVX2 = old
			}
			for i := range sums {
				if !sameBits(sums[i], sums[0]) || !sameBits(maxes[i], maxes[0]) {
					t.Fatalf("n %d: paths differ: sums %v, maxes %v", n, sums, maxes)
				}
			}
			var s float64
			m, nan := math.Inf(-1), false
			for _, v := range x {
				s += float64(v)
				m = max(m, float64(v))
				nan = nan || v != v
			}
			switch {
			case nan:
				if maxes[0] == maxes[0] || sums[0] == sums[0] {
					t.Errorf("n %d with a NaN: sum %v, max %v", n, sums[0], maxes[0])
				}
			case float64(maxes[0]) != m:
				t.Errorf("n %d: max %v, want %v", n, maxes[0], m)
			case math.Abs(float64(sums[0])-s) > 1e-5*float64(n)*10:
				t.Errorf("n %d: sum %v, want %v", n, sums[0], s)
			}
		}
	}
}

// TestMath32IdenticalV3 reruns the bit-identity tests in a build with
// GOAMD64=v3, where the Go compiler fuses x*y + z into one FMA unless a
// conversion rounds the product: a missing float32(...) in math32.go
// makes the scalar functions differ from the assembly there.
func TestMath32IdenticalV3(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool")
	}
	if goruntime.GOARCH != "amd64" || !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		t.Skip("needs an x86-64-v3 CPU")
	}
	if os.Getenv("GOAMD64") == "v3" {
		t.Skip("already built for v3")
	}
	cmd := exec.Command("go", "test", "-count=1", "-run", "^(TestMath32Identical|TestReductions|TestVec|TestLSTMCellGrad)$", ".")
	cmd.Env = append(os.Environ(), "GOAMD64=v3")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOAMD64=v3 go test: %v\n%s", err, out)
	}
}
