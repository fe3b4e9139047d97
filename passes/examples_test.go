package passes_test

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/eval"
	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
)

var update = flag.Bool("update", false, "rewrite golden files")

func lowerExample(t *testing.T, path string) *ir.Graph {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(path)
	gs, diags := lower.Source(name, src)
	if len(diags) > 0 {
		t.Fatalf("%s", diags.Format(dsl.Sources{name: src}))
	}
	if len(gs) != 1 {
		t.Fatalf("%s: %d models", path, len(gs))
	}
	return gs[0]
}

// TestExamplesGolden checks the IR text of every example after autodiff and
// after the optimizer pass against testdata/examples/NAME.txtar.
func TestExamplesGolden(t *testing.T) {
	files, _ := filepath.Glob("../examples/*/*.mdl")
	if len(files) < 2 {
		t.Fatalf("found %d examples", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".mdl")
		t.Run(name, func(t *testing.T) {
			got := map[string]string{}
			for _, upto := range []string{"autodiff", "optimizer"} {
				g := lowerExample(t, f)
				if _, err := passes.Run(g, passes.Options{Upto: upto, VerifyEach: true}); err != nil {
					t.Fatal(err)
				}
				got[upto] = ir.Format(g)
				if _, err := ir.ParseText("golden", []byte(got[upto])); err != nil {
					t.Fatalf("after %s: IR text does not parse back: %v", upto, err)
				}
			}
			path := filepath.Join("testdata", "examples", name+".txtar")
			if *update {
				ar := &txtar.Archive{Comment: []byte("IR of examples/" + name + " after autodiff and after the optimizer pass (go test ./passes -update rewrites it).\n"),
					Files: []txtar.File{{Name: "autodiff", Data: []byte(got["autodiff"])}, {Name: "optimizer", Data: []byte(got["optimizer"])}}}
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			ar, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, file := range ar.Files {
				if diff := cmp.Diff(string(file.Data), got[file.Name]); diff != "" {
					t.Errorf("%s after %s (-want +got); go test ./passes -update accepts:\n%s", name, file.Name, diff)
				}
			}
		})
	}
}

// TestLinRegClassic runs examples/linreg through the step graph in the
// interpreter for 1000 full-batch steps and compares theta0 and theta1 with
// the classic NumPy program written out here in float64.
func TestLinRegClassic(t *testing.T) {
	g := lowerExample(t, "../examples/linreg/linreg.mdl")
	if _, err := passes.Run(g, passes.Options{VerifyEach: true}); err != nil {
		t.Fatal(err)
	}
	x := []float64{1, 2, 3, 4, 5}
	y := []float64{2, 4, 5, 4, 5}
	bind := map[string]*ir.Tensor{
		"x":              {Shape: []int{5}, Data: x},
		"y":              {Shape: []int{5}, Data: y},
		"theta0":         ir.ScalarTensor(0),
		"theta1":         ir.ScalarTensor(0),
		"optimizer.step": ir.ScalarTensor(0),
	}
	for i := 0; i < 1000; i++ {
		var err error
		if _, bind, err = eval.Step(g, 5, bind); err != nil {
			t.Fatal(err)
		}
	}

	// The hand-written program: mse = mean((theta0 + theta1*x - y)^2).
	theta0, theta1, lr := 0.0, 0.0, 0.01
	for i := 0; i < 1000; i++ {
		var g0, g1 float64
		for j := range x {
			d := theta0 + theta1*x[j] - y[j]
			g0 += 2 * d / float64(len(x))
			g1 += 2 * d * x[j] / float64(len(x))
		}
		theta0 -= lr * g0
		theta1 -= lr * g1
	}
	got0, got1 := bind["theta0"].Data[0], bind["theta1"].Data[0]
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"theta0", got0, theta0}, {"theta1", got1, theta1}} {
		if math.Abs(c.got-c.want) > 1e-12*math.Max(1, math.Abs(c.want)) {
			t.Errorf("%s = %.17g, hand-written loop gives %.17g", c.name, c.got, c.want)
		}
	}
	if bind["optimizer.step"].Data[0] != 1000 {
		t.Errorf("step counter = %v, want 1000", bind["optimizer.step"].Data[0])
	}
	t.Logf("theta0 = %.6f, theta1 = %.6f", got0, got1)
}
