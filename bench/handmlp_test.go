package bench

import (
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/examples/mnist_mlp/mnistmlp"
	"github.com/mdlc/mdlc/passes"
	"github.com/mdlc/mdlc/runtime"
)

// relDiff is max |a-b| / max |a|, 0 when both are zero.
func relDiff(a, b []float32) float64 {
	var d, s float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
		s = max(s, math.Abs(float64(a[i])))
	}
	if s == 0 {
		return d
	}
	return d / s
}

// randomBatch returns n MNIST-like examples: pixels in [0, 1), labels in [0, 10).
func randomBatch(n int, seed uint64) ([]float32, []int32) {
	rng := runtime.NewRNG(seed)
	x := make([]float32, n*nIn)
	y := make([]int32, n)
	for i := range x {
		x[i] = float32(rng.Float64())
	}
	for i := range y {
		y[i] = int32(rng.IntN(nOut))
	}
	return x, y
}

// TestHandMLPMatchesGenerated trains HandMLP and the generated mnistmlp model
// from the same parameters for 3 steps on the same batch and checks that the
// losses, the gradients of every step and the parameters agree to 1e-4
// relative (max abs diff / max abs): the baseline computes what the
// generated code computes.
//
// One exception, counted and bounded. Adam divides by sqrt(v)+eps, so on the
// first step an element moves by about lr*g/(|g|+eps) whatever g's scale: an
// element whose gradient is at float32 rounding level moves by up to lr, by
// an amount rounding alone decides. Elements whose two gradients differ and
// are below 1e-6 of the tensor's largest at some step, at most 1 in 1000,
// must agree to within 2*lr per step instead. On the batch below that is
// 11-12 elements of hidden.w and 2 of logits.w; counting them, hidden.w's
// rel diff is about 5e-4 (one of them had gradients 3.8e-9 and 4.5e-9 in a
// tensor whose largest is 0.038).
func TestHandMLPMatchesGenerated(t *testing.T) {
	const (
		tol    = 1e-4
		steps  = 3
		tiny   = 1e-6 // gradients below tiny*max|grad| are at rounding level
		maxOut = 1e-3 // largest fraction of such elements accepted
	)
	for _, tc := range []struct {
		name string
		gemm GemmFunc
	}{{"gonum", GonumGemm}, {"native", NativeGemm}} {
		t.Run(tc.name, func(t *testing.T) {
			m := mnistmlp.New(mnistmlp.WithSeed(1))
			h := NewHandMLP(7, tc.gemm) // another seed: the copy below must matter
			hp := h.Params()
			for i, p := range m.Params() {
				if p.Name != hp[i].Name || fmt.Sprint(p.Shape) != fmt.Sprint(hp[i].Shape) {
					t.Fatalf("param %d: generated %s %v, hand %s %v", i, p.Name, p.Shape, hp[i].Name, hp[i].Shape)
				}
				copy(hp[i].Data, p.Data)
			}
			marked := make([][]bool, len(hp))
			for i, p := range hp {
				marked[i] = make([]bool, len(p.Data))
			}

			const n = MaxBatch
			x, y := randomBatch(n, 42)
			for step := 1; step <= steps; step++ {
				want, err := m.TrainStep(x, y, n)
				if err != nil {
					t.Fatal(err)
				}
				got := h.TrainStep(x, y, n)
				if d := math.Abs(float64(got-want)) / math.Abs(float64(want)); d > tol {
					t.Errorf("step %d: loss %v, generated %v (rel diff %.2g)", step, got, want, d)
				}
				t.Logf("step %d: loss %.6f, generated %.6f", step, got, want)
				for i, g := range m.Grads() {
					gh := h.Grads()[i].Data
					if d := relDiff(g.Data, gh); d > tol {
						t.Errorf("step %d: grad %s: rel diff %.2g > %g", step, g.Name, d, tol)
					}
					var gmax float64
					for _, a := range g.Data {
						gmax = max(gmax, math.Abs(float64(a)))
					}
					for j, a := range g.Data {
						if a != gh[j] && min(math.Abs(float64(a)), math.Abs(float64(gh[j]))) < tiny*gmax {
							marked[i][j] = true
						}
					}
				}
			}
			outAll, size := 0, 0
			for i, p := range m.Params() {
				q := hp[i].Data
				var d, s float64
				out := 0
				for j, a := range p.Data {
					e := math.Abs(float64(a) - float64(q[j]))
					s = max(s, math.Abs(float64(a)))
					if !marked[i][j] {
						d = max(d, e)
						continue
					}
					out++
					if e > 2*lr*steps {
						t.Errorf("param %s[%d]: %v, generated %v: differ by more than %g", p.Name, j, q[j], a, 2*lr*steps)
					}
				}
				outAll += out
				size += len(q)
				if d/s > tol {
					t.Errorf("param %s: rel diff %.2g > %g", p.Name, d/s, tol)
				}
				t.Logf("param %s: rel diff %.2g (whole tensor %.2g; %d rounding-level elements left out)", p.Name, d/s, relDiff(p.Data, q), out)
			}
			if float64(outAll) > maxOut*float64(size) {
				t.Errorf("%d of %d parameters have rounding-level gradients, want at most %g of them", outAll, size, maxOut)
			}
		})
	}
}

// TestHandMLPInit checks that equal seeds give the generated model's
// initial parameters.
func TestHandMLPInit(t *testing.T) {
	m := mnistmlp.New(mnistmlp.WithSeed(3))
	h := NewHandMLP(3, NativeGemm)
	for i, p := range m.Params() {
		if d := relDiff(p.Data, h.Params()[i].Data); d != 0 {
			t.Errorf("param %s: rel diff %.2g, want 0", p.Name, d)
		}
	}
}

// TestHandMLPNoAlloc checks that a step allocates nothing with the native
// GEMM (gonum's Sgemm may start goroutines, which allocate).
func TestHandMLPNoAlloc(t *testing.T) {
	h := NewHandMLP(1, NativeGemm)
	x, y := randomBatch(MaxBatch, 1)
	h.TrainStep(x, y, MaxBatch)
	if a := testing.AllocsPerRun(5, func() { h.TrainStep(x, y, MaxBatch) }); a != 0 {
		t.Errorf("TrainStep allocates %v times per call, want 0", a)
	}
}

// TestGeneratedO0Current rebuilds bench/mnisto0 as its //go:generate line
// does and fails on any difference.
func TestGeneratedO0Current(t *testing.T) {
	src, err := os.ReadFile("../examples/mnist_mlp/mnist_mlp.mdl")
	if err != nil {
		t.Fatal(err)
	}
	res, err := compile.Build("../examples/mnist_mlp/mnist_mlp.mdl", src, "", compile.BuildOptions{Options: compile.Options{Level: passes.O0, MaxBatch: 128}, Package: "mnisto0"})
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range res.Files.Stale("mnisto0") {
		t.Errorf("bench/mnisto0/%s: run go generate ./bench", msg)
	}
}
