package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir/eval"
	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
)

// TestGradcheckSmall checks the gradient of a scaled-down copy of
// tinygpt.mdl (vocabulary 16, context 4, width 8, 2 layers of 2 heads; the
// same blocks, causal mask and tied embedding) against central finite
// differences. The full model (832K params) takes too long in the float64
// interpreter (ir/lower's TestGradcheckExamples skips it).
func TestGradcheckSmall(t *testing.T) {
	src, err := os.ReadFile("tinygpt.mdl")
	if err != nil {
		t.Fatal(err)
	}
	const full = "const V = 256, T = 64, D = 128, L = 4, H = 4"
	if !bytes.Contains(src, []byte(full)) {
		t.Fatalf("tinygpt.mdl lacks %q; update the scaled-down copy", full)
	}
	small := bytes.Replace(src, []byte(full), []byte("const V = 16, T = 4, D = 8, L = 2, H = 2"), 1)
	gs, diags := lower.Source("small.mdl", small)
	if len(diags) > 0 {
		t.Fatalf("%s", diags.Format(dsl.Sources{"small.mdl": small}))
	}
	g := gs[0]
	if _, err := passes.Run(g, passes.Options{Upto: "autodiff", VerifyEach: true}); err != nil {
		t.Fatal(err)
	}
	const n = 2
	bind := eval.Random(g, n, 1, eval.Classes(g))
	errs, err := eval.GradCheck(g, n, bind, eval.GradCheckOptions{MaxElems: 12, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != len(g.Params()) {
		t.Fatalf("checked %d params of %d", len(errs), len(g.Params()))
	}
	for _, e := range errs {
		if !(e.MaxRel < 1e-6) {
			t.Errorf("param %s: max rel err %.3g (abs %.3g)", e.Name, e.MaxRel, e.MaxAbs)
		}
	}
}

// TestTrainSaveLoadSample trains 40 steps on the opening of the Opticks
// (the validation loss must fall well below the uniform ln 256 = 5.55
// nats per byte: 3.11 when this was written), saves, loads the checkpoint into a fresh model that must predict
// alike, and samples from both: equal seeds, equal text.
func TestTrainSaveLoadSample(t *testing.T) {
	path := opticks()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("Opticks text: %v", err)
	}
	dir := t.TempDir()
	small := filepath.Join(dir, "opticks.txt")
	if err := os.WriteFile(small, text[:40000], 0o644); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, "gpt.safetensors")
	var out strings.Builder
	c := config{Data: small, Epochs: 1, Batch: 16, Stride: 64, Seed: 3, Save: ckpt, Steps: 40, Generate: 30, Prompt: "Light ", Temperature: 0.8, TopK: 10}
	_, h, err := run(context.Background(), c, &out)
	if err != nil {
		t.Fatal(err)
	}
	_, losses := h.Series("loss")
	_, vals := h.Series("val_loss")
	if len(losses) != 1 || len(vals) != 1 || !(losses[0] < 4.5) || !(vals[0] < 3.4) {
		t.Fatalf("after 40 steps: loss %v, val_loss %v (want the epoch's mean < 4.5, validation < 3.4 nats/byte)\n%s", losses, vals, out.String())
	}
	var again strings.Builder
	c2 := c
	c2.Epochs, c2.Save, c2.Load = 0, "", ckpt
	if _, _, err := run(context.Background(), c2, &again); err != nil {
		t.Fatal(err)
	}
	sampleOf := func(s string) string { return s[strings.Index(s, "\nsample"):] }
	if a, b := sampleOf(out.String()), sampleOf(again.String()); a != b || len(b) < 36 {
		t.Errorf("the loaded model samples differently:\n%q\n%q", a, b)
	}
}
