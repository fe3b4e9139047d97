package main

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/examples/catsdogs/catsdogs"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/eval"
	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
	training "github.com/mdlc/mdlc/train"
)

// TestParams: Keras counts 3,453,121 parameters in the seed's model.
func TestParams(t *testing.T) {
	total := 0
	for _, p := range catsdogs.New().Params() {
		total += len(p.Data)
	}
	if total != 3453121 {
		t.Errorf("%d parameters, want Keras's 3,453,121", total)
	}
}

// TestGradcheckSmall compares autodiff with float64 finite differences on a
// scaled-down copy of catsdogs.mdl: the same layers and loss (four conv
// 3x3 relu + 2x2 max pool, flatten, dropout, dense relu, dense sigmoid,
// binary cross-entropy) on 46x46 images, the smallest that four conv+pool
// stages leave 1x1 of, with 4/8/8/8 filters and a dense 16. The full model
// (3.4M params, 150x150) takes about a second of float64 interpreter time
// per finite difference, so `mdlc gradcheck` on it (which samples
// -max-elems per param) is run by hand, not here.
func TestGradcheckSmall(t *testing.T) {
	src, err := os.ReadFile("catsdogs.mdl")
	if err != nil {
		t.Fatal(err)
	}
	small := string(src)
	for _, r := range [][2]string{
		{"f32[N, 150, 150, 3]", "f32[N, 46, 46, 3]"},
		{"conv2d(image, 32, 3)", "conv2d(image, 4, 3)"},
		{"conv2d(c1, 64, 3)", "conv2d(c1, 8, 3)"},
		{"conv2d(c2, 128, 3)", "conv2d(c2, 8, 3)"},
		{"conv2d(c3, 128, 3)", "conv2d(c3, 8, 3)"},
		{"512)", "16)"},
	} {
		if !strings.Contains(small, r[0]) {
			t.Fatalf("catsdogs.mdl lacks %q; update the scaled-down copy", r[0])
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
		// Random draws every param uniform in [-1, 1]: through four convs
		// that saturates the sigmoid, the clamped loss is flat and every
		// gradient 0. Scale the kernels to 1/sqrt(fan-in), as glorot does,
		// and the labels to 0 or 1.
		for _, p := range g.Params() {
			if s := p.Type.Shape; len(s) >= 2 {
				fanIn := 1
				for _, d := range s[:len(s)-1] {
					fanIn *= int(d)
				}
				for i := range bind[p.Name].Data {
					bind[p.Name].Data[i] /= math.Sqrt(float64(fanIn))
				}
			}
		}
		for i, y := range bind["label"].Data {
			bind["label"].Data[i] = max(0, math.Ceil(y))
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
		errs, err := eval.GradCheck(g, n, bind, eval.GradCheckOptions{MaxElems: 24, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		if len(errs) != 12 {
			t.Fatalf("%d params checked, want 12", len(errs))
		}
		for _, e := range errs {
			t.Logf("seed %d: %-8s %-14v max rel err %.2e (%d of %d elements)", seed, e.Name, e.Shape, e.MaxRel, e.Checked, e.Total)
			if !(e.MaxRel < 1e-6) {
				t.Errorf("seed %d: param %s %v: max rel err %.3g (abs %.3g)", seed, e.Name, e.Shape, e.MaxRel, e.MaxAbs)
			}
		}
	}
}

// TestFitImageFolder trains the real model for one epoch on a tiny image
// folder (cats/ and dogs/ of PNGs of another size, so they are resized),
// augmented as main does, and on random data as -random does.
func TestFitImageFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the 3.4M-parameter model")
	}
	dir := t.TempDir()
	for c, class := range []string{"cats", "dogs"} {
		os.Mkdir(filepath.Join(dir, class), 0o755)
		for k := range 4 {
			img := image.NewRGBA(image.Rect(0, 0, 60, 40))
			for y := range 40 {
				for x := range 60 {
					img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 6 * c), uint8(40 * k), 255})
				}
			}
			f, err := os.Create(filepath.Join(dir, class, string(rune('a'+k))+".png"))
			if err != nil {
				t.Fatal(err)
			}
			png.Encode(f, img)
			f.Close()
		}
	}
	spec := catsdogs.New().Spec()
	tr, val, classes, err := imageFolders(spec, dir, "", 0.25, 1)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 6 || val.Len() != 2 || len(classes) != 2 || classes[0] != "cats" {
		t.Fatalf("%d training and %d validation images, classes %v", tr.Len(), val.Len(), classes)
	}
	check := func(h *training.History, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		_, loss := h.Series("loss")
		if len(loss) != 1 || math.IsNaN(loss[0]) || loss[0] <= 0 {
			t.Fatalf("loss %v", loss)
		}
	}
	check(fit(context.Background(), tr, val, training.Options{Epochs: 1}, 4, 1, nil))
	check(fit(context.Background(), randomImages(spec, 4, 1), nil, training.Options{Epochs: 1}, 4, 1, nil))
}
