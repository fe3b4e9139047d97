package lower_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir/eval"
	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
)

// gradcheck lowers src, runs autodiff and compares every parameter's
// gradient with central finite differences in float64.
func gradcheck(t *testing.T, name string, src []byte, n int) {
	t.Helper()
	gs, diags := lower.Source(name, src)
	if len(diags) > 0 {
		t.Fatalf("%s", diags.Format(dsl.Sources{name: src}))
	}
	for _, g := range gs {
		if _, err := passes.Run(g, passes.Options{Upto: "autodiff", VerifyEach: true}); err != nil {
			t.Fatal(err)
		}
		for seed := uint64(1); seed <= 2; seed++ {
			bind := eval.Random(g, n, seed, eval.Classes(g))
			errs, err := eval.GradCheck(g, n, bind, eval.GradCheckOptions{MaxElems: 24, Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			if len(errs) == 0 {
				t.Fatalf("%s: no parameters checked", g.Name)
			}
			for _, e := range errs {
				if !(e.MaxRel < 1e-6) {
					t.Errorf("%s seed %d: param %s: max rel err %.3g (abs %.3g)", g.Name, seed, e.Name, e.MaxRel, e.MaxAbs)
				}
			}
		}
	}
}

// bigExamples are the examples too large for the float64 finite
// differences here (catsdogs: 150x150x3 images, 3.4M params, about an hour;
// charlstm: 128 units over 64 steps, chaotic with uniform [-1, 1] params;
// tinygpt: 832K params); each gradchecks a scaled-down copy with the same
// layers in its own tests (examples/catsdogs, examples/charlstm and
// examples/tinygpt TestGradcheckSmall).
var bigExamples = map[string]bool{"catsdogs.mdl": true, "charlstm.mdl": true, "tinygpt.mdl": true}

// TestGradcheckExamples checks every bundled example (but bigExamples) and
// every valid golden model.
func TestGradcheckExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*/*.mdl")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if bigExamples[filepath.Base(f)] {
				t.Skip("too large for finite differences here; its example gradchecks a scaled-down copy")
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			gradcheck(t, filepath.Base(f), src, 3)
		})
	}
	ok, _ := filepath.Glob("testdata/ok/*.txtar")
	for _, f := range ok {
		t.Run(filepath.Base(f), func(t *testing.T) {
			ar, err := txtar.ParseFile(f)
			if err != nil {
				t.Fatal(err)
			}
			gradcheck(t, "input.mdl", section(ar, "input.mdl"), 2)
		})
	}
}

// TestGradcheckLosses checks every loss, each reduction, on a small model.
func TestGradcheckLosses(t *testing.T) {
	cases := map[string]string{
		"mse":          `loss mse(p, t)`,
		"mse_sum":      `loss mse(p, t, reduction: "sum")`,
		"mae":          `loss mae(p, t)`,
		"huber":        `loss huber(p, t, delta: 0.3)`,
		"huber_sum":    `loss huber(p, t, reduction: "sum")`,
		"bce":          `loss binary_cross_entropy(sigmoid(p), sigmoid(t))`,
		"bce_logits":   `loss binary_cross_entropy(p, sigmoid(t), from_logits: true)`,
		"bce_logits2":  `loss binary_cross_entropy_with_logits(p * 20, sigmoid(t))`,
		"ce_labels":    `loss cross_entropy(p, label)`,
		"ce_sum":       `loss cross_entropy(p, label, reduction: "sum")`,
		"ce_probs":     `loss cross_entropy(p, softmax(t))`,
		"ce_large":     `loss cross_entropy(p * 50, label)`,
		"ce_sequences": `loss cross_entropy(reshape(p, N, 2, 2), seq)`,
	}
	for name, loss := range cases {
		t.Run(name, func(t *testing.T) {
			src := `model L {
    input  x: f32[N, 5]
    target t: f32[N, 4]
    target label: i32[N]
    target seq: i32[N, 2]
    p = dense(tanh(dense(x, 6)), 4)
    ` + loss + `
    optimizer sgd(lr: 0.1)
}
`
			gradcheck(t, name+".mdl", []byte(src), 3)
		})
	}
}
