package onnx

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
)

// trainingOnly are the ops of the op table that only a training step
// computes, so that an inference graph never holds them: the backward ops
// autodiff makes and the random draws of dropout's training path.
var trainingOnly = map[string]bool{
	"gelu_grad": true, "conv2d_grad_input": true, "conv2d_grad_filter": true,
	"max_pool2d_grad": true, "avg_pool2d_grad": true, "scatter_add": true, "random_uniform": true,
	"lstm_scan_grad": true, "gru_scan_grad": true, "masked_softmax_grad": true,
}

// TestOpMapCoversOpTable fails when an op is added to the op table without
// an ONNX mapping (or a place in trainingOnly).
func TestOpMapCoversOpTable(t *testing.T) {
	for _, op := range ir.Ops() {
		_, mapped := opMap[op.Name]
		switch {
		case op.Bound:
			if mapped {
				t.Errorf("%s is bound (an input or initializer) but has a mapping", op.Name)
			}
		case trainingOnly[op.Name]:
			if mapped {
				t.Errorf("%s is listed as training-only but has a mapping", op.Name)
			}
		case !mapped:
			t.Errorf("op %s has no ONNX mapping in opMap (ops.go); add one, or list it in trainingOnly if inference never computes it", op.Name)
		}
	}
	for name := range opMap {
		if ir.LookupOp(name) == nil {
			t.Errorf("opMap maps %s, which is not in the op table", name)
		}
	}
}

// An op without a mapping is an error at its .mdl position.
func TestExportUnmappedOp(t *testing.T) {
	g := &ir.Graph{Name: "M"}
	b := ir.NewBuilder(g)
	x := b.Op("input", ir.Attrs{"role": "input", "dtype": ir.F32, "shape": ir.Shape{ir.N, 3}})
	x.Name = "x"
	y := b.Op("scatter_add", ir.Attrs{"rows": 4}, b.Op("cast", ir.Attrs{"dtype": ir.I32}, x), x)
	y.Pos = ir.Pos{File: "m.mdl", Line: 3, Col: 12}
	if b.Err() != nil {
		t.Fatal(b.Err())
	}
	g.Results = append(g.Results, ir.Result{Kind: ir.ResultOutput, Name: "y", Value: y})
	g.Renumber()
	_, err := Export(g, nil, Options{})
	var pe *passes.PosError
	if err == nil || !errors.As(err, &pe) || err.Error() != "m.mdl:3:12: scatter_add has no ONNX mapping" {
		t.Fatalf("Export: %v; want m.mdl:3:12: scatter_add has no ONNX mapping", err)
	}
}

// Weights must be given for every param the outputs read, with its size.
func TestExportWeights(t *testing.T) {
	g := &ir.Graph{Name: "M"}
	b := ir.NewBuilder(g)
	x := b.Op("input", ir.Attrs{"role": "input", "dtype": ir.F32, "shape": ir.Shape{ir.N, 3}})
	x.Name = "x"
	w := b.Op("param", ir.Attrs{"dtype": ir.F32, "shape": ir.Shape{3, 2}, "init": "zeros"})
	w.Name, w.Pos = "w", ir.Pos{File: "m.mdl", Line: 2, Col: 5}
	y := b.Op("matmul", nil, x, w)
	if b.Err() != nil {
		t.Fatal(b.Err())
	}
	g.Results = append(g.Results, ir.Result{Kind: ir.ResultOutput, Name: "y", Value: y})
	g.Renumber()
	for _, c := range []struct {
		weights map[string][]float32
		err     string
	}{
		{nil, "m.mdl:2:5: param w: no weights given"},
		{map[string][]float32{"w": make([]float32, 5)}, "m.mdl:2:5: param w: 5 weights for shape [3, 2] (6 elements)"},
		{map[string][]float32{"w": make([]float32, 6)}, ""},
	} {
		_, err := Export(g, c.weights, Options{})
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("Export with %d weights: %v; want %q", len(c.weights["w"]), err, c.err)
		}
	}
}

// batch_norm and layer_norm become BatchNormalization and
// LayerNormalization (TestExportMatchesInterpreter checks their numbers);
// a normalization whose inner value something else reads stays primitives.
func TestExportNorms(t *testing.T) {
	src, err := os.ReadFile("testdata/norms.mdl")
	if err != nil {
		t.Fatal(err)
	}
	g, _, err := compile.Load("testdata/norms.mdl", src, "")
	if err != nil {
		t.Fatal(err)
	}
	weights := map[string][]float32{}
	for _, v := range append(g.Params(), g.State()...) {
		n := 1
		for _, d := range v.Type.Shape.Resolve(1) {
			n *= d
		}
		weights[v.Name] = make([]float32, n)
	}
	count := func(g *ir.Graph) map[string]int {
		m, err := Export(g, weights, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ops := map[string]int{}
		for _, n := range m.Graph.Node {
			ops[n.GetOpType()]++
		}
		return ops
	}
	if ops := count(g); ops["BatchNormalization"] != 3 || ops["LayerNormalization"] != 2 || ops["Sqrt"] != 0 {
		t.Errorf("norms.mdl exports %v; want 3 BatchNormalization, 2 LayerNormalization, no Sqrt", ops)
	}
	// An output reading the centered input of the last batch_norm keeps
	// that one as primitives.
	for _, v := range g.Values {
		if v.Op.Name == "sub" && len(v.Args) == 2 && v.Args[1].Op.Name == "state" && strings.HasPrefix(v.Args[1].Name, "o.") {
			g.Results = append(g.Results, ir.Result{Kind: ir.ResultOutput, Name: "centered", Value: v})
			break // the inference path's, before its training copy (ir.SplitModes)
		}
	}
	if ops := count(g); ops["BatchNormalization"] != 2 || ops["Sqrt"] != 1 {
		t.Errorf("with an output inside a batch_norm: %v; want 2 BatchNormalization and one Sqrt", ops)
	}
}
