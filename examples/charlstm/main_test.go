package main

import (
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/examples/charlstm/charlstm"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/eval"
	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
	"github.com/mdlc/mdlc/runtime/data"
)

// TestGradcheckSmall checks the gradients of a scaled-down copy of
// charlstm.mdl (the same layers: embedding, two stacked LSTMs with
// return_sequences, dense, cross-entropy over every position) with 8 steps
// of 8 units against finite differences. The full model is not checked
// with the interpreter's random parameters (uniform in [-1, 1]): with 128
// units over 64 steps they make the recurrence chaotic, its gradients
// reach thousands and the central differences' truncation error (which
// falls 100-fold for each 10-fold smaller step, as it should) dominates.
// Here the kernels are scaled to 1/sqrt(fan-in), as glorot does.
func TestGradcheckSmall(t *testing.T) {
	src, err := os.ReadFile("charlstm.mdl")
	if err != nil {
		t.Fatal(err)
	}
	small := string(src)
	for _, r := range [][2]string{
		{"i32[N, 64]", "i32[N, 8]"},
		{"i32[N, 64]", "i32[N, 8]"},
		{"embedding(x, 256, 32)", "embedding(x, 256, 6)"},
		{"lstm(e, 128,", "lstm(e, 8,"},
		{"lstm(h1, 128,", "lstm(h1, 8,"},
	} {
		if !strings.Contains(small, r[0]) {
			t.Fatalf("charlstm.mdl lacks %q; update the scaled-down copy", r[0])
		}
		small = strings.Replace(small, r[0], r[1], 1)
	}
	gs, diags := lower.Source("small.mdl", []byte(small))
	if len(diags) > 0 {
		t.Fatalf("%s", diags.Format(dsl.Sources{"small.mdl": []byte(small)}))
	}
	g := gs[0]
	if _, err := passes.Run(g, passes.Options{Upto: "autodiff", VerifyEach: true}); err != nil {
		t.Fatal(err)
	}
	const n = 2
	for seed := uint64(1); seed <= 2; seed++ {
		bind := eval.Random(g, n, seed, eval.Classes(g))
		for _, p := range g.Params() {
			if s := p.Type.Shape; len(s) == 2 && p.Name != "e.table" {
				for i := range bind[p.Name].Data {
					bind[p.Name].Data[i] /= math.Sqrt(float64(s[0]))
				}
			}
		}
		env, err := eval.Run(g, n, bind)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range g.ResultsOf(ir.ResultGrad) {
			if slices.Max(env[r.Value].Data) == 0 && slices.Min(env[r.Value].Data) == 0 {
				t.Fatalf("seed %d: the gradient of %s is all zeros: the check would prove nothing", seed, r.Name)
			}
		}
		// A step of 1e-5: the recurrent kernel of the first layer has
		// gradients of about 1e-4, where 1e-6 leaves rounding (1e-16 |L| / h)
		// near the tolerance; the truncation error stays far below it.
		errs, err := eval.GradCheck(g, n, bind, eval.GradCheckOptions{MaxElems: 24, Seed: seed, Eps: 1e-5})
		if err != nil {
			t.Fatal(err)
		}
		if len(errs) != 9 {
			t.Fatalf("%d params checked, want 9", len(errs))
		}
		for _, e := range errs {
			t.Logf("seed %d: %-20s %-8v max rel err %.2e (abs %.2e)", seed, e.Name, e.Shape, e.MaxRel, e.MaxAbs)
			if !(e.MaxRel < 1e-6) {
				t.Errorf("seed %d: param %s %v: max rel err %.3g (abs %.3g)", seed, e.Name, e.Shape, e.MaxRel, e.MaxAbs)
			}
		}
	}
}

// TestLearnsOpticks takes 40 training steps of the generated model on the
// first windows of the Opticks and requires the loss to fall from about
// ln 256 = 5.5 nats/byte to below 3.5 (the byte frequencies alone give
// about 3.1 at the optimum; measured: 3.15).
func TestLearnsOpticks(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for 40 steps")
	}
	path, err := data.OpticksPath()
	if err != nil {
		t.Fatal(err)
	}
	text, err := data.LoadText(path, 64, 64)
	if err != nil {
		t.Fatal(err)
	}
	const n, T = charlstm.MaxBatch, 64
	m := charlstm.New(charlstm.WithSeed(1))
	x, y := make([]int32, n*T), make([]int32, n*T)
	var first, last float32
	for step := 0; step < 40; step++ {
		for i := 0; i < n; i++ {
			w := (step*n + i) % (len(text.Bytes)/T - 1)
			for j := 0; j < T; j++ {
				x[i*T+j], y[i*T+j] = int32(text.Bytes[w*T+j]), int32(text.Bytes[w*T+j+1])
			}
		}
		loss, err := m.TrainStep(x, y, n)
		if err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			first = loss
		}
		last = loss
	}
	t.Logf("loss %.3f at the first step, %.3f at the 40th", first, last)
	if !(math.Abs(float64(first)-math.Log(256)) < 0.1) || !(last < 3.5) {
		t.Errorf("loss %.3f at the first step (want about %.3f), %.3f at the 40th (want < 3.5)", first, math.Log(256), last)
	}
}
