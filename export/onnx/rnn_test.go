package onnx_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/examples/charlstm/charlstm"
	"github.com/mdlc/mdlc/export/onnx"
	"github.com/mdlc/mdlc/export/onnx/onnxpb"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
)

// zeroWeights are weights of the right sizes for g's params and state.
func zeroWeights(g *ir.Graph) map[string][]float32 {
	w := map[string][]float32{}
	for _, v := range append(g.Params(), g.State()...) {
		n := 1
		for _, d := range v.Type.Shape.Resolve(1) {
			n *= d
		}
		w[v.Name] = make([]float32, n)
	}
	return w
}

// nodeOps counts m's nodes by op type.
func nodeOps(m *onnxpb.ModelProto) map[string]int {
	ops := map[string]int{}
	for _, n := range m.Graph.Node {
		ops[n.GetOpType()]++
	}
	return ops
}

// seq.mdl's layers are one LSTM or GRU node each, W read from the kernel
// (no identity), linear_before_reset as reset_after; the numbers are
// TestExportMatchesInterpreter's.
func TestExportRecurrentNodes(t *testing.T) {
	g := loadModel(t, "../../codegen/go/testdata/models/seq.mdl", "")
	m, err := onnx.Export(g, zeroWeights(g), onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ops := nodeOps(m)
	if ops["LSTM"] != 2 || ops["GRU"] != 3 || ops["MatMul"] != 0 || ops["Gather"] != 0 || ops["Unsqueeze"] != 0 || ops["Reshape"] != 3 {
		t.Errorf("seq.mdl exports %v; want 2 LSTM, 3 GRU, no MatMul (the projections are W) and no Gather, Unsqueeze or Reshape but those of flatten and of the two last steps (the weights are initializers in ONNX's layout)", ops)
	}
	dims := map[string]string{}
	for _, init := range m.Graph.Initializer {
		dims[init.GetName()] = fmt.Sprint(init.GetDims())
	}
	for name, want := range map[string]string{"a.kernel": "[1 16 3]", "a.recurrent_kernel": "[1 16 4]", "a.bias": "[1 32]", "c.bias": "[1 18]", "d.bias": "[1 12]"} {
		if dims[name] != want {
			t.Errorf("initializer %s has dims %s; want %s", name, dims[name], want)
		}
	}
	var lbr []int64
	for _, n := range m.Graph.Node {
		if n.GetOpType() == "GRU" {
			for _, a := range n.Attribute {
				if a.GetName() == "linear_before_reset" {
					lbr = append(lbr, a.GetI())
				}
			}
		}
	}
	if fmt.Sprint(lbr) != "[1 0 0]" {
		t.Errorf("the GRUs' linear_before_reset are %v; want [1 0 0] (reset_after: c yes, d and e no)", lbr)
	}
	for _, init := range m.Graph.Initializer {
		if strings.HasPrefix(init.GetName(), "identity") {
			t.Errorf("seq.mdl exports an identity W %s: the lowering's projection was not recognized", init.GetName())
		}
	}
}

// scanGraph builds a model over an input projection xp [N, T, G*u] given
// as an input (no kernel to find: W is the identity) for each recurrence,
// one whose projection is the lowering's but is also an output (the
// projection stays a MatMul, W the identity), and an LSTM and a GRU as
// lowered whose weights outputs read too (so that W, R and B are permuted
// by nodes rather than stored in ONNX's layout).
func scanGraph(t *testing.T) *ir.Graph {
	g := &ir.Graph{Name: "Scans"}
	b := ir.NewBuilder(g)
	params := 0
	param := func(s ir.Shape) *ir.Value {
		params++
		p := b.Op("param", ir.Attrs{"dtype": ir.F32, "shape": s, "init": "zeros"})
		p.Name = fmt.Sprintf("p%d.kernel", params) // drawn at Glorot's scale by prepare
		return p
	}
	const T, u = 5, 3
	out := map[string]*ir.Value{}
	var names []string
	result := func(name string, v *ir.Value) {
		out[name] = v
		names = append(names, name)
	}
	for _, c := range []struct {
		name  string
		gates int
		attrs ir.Attrs
	}{{"lstm", 4, nil}, {"gru_after", 3, ir.Attrs{"reset_after": true}}, {"gru_before", 3, ir.Attrs{"reset_after": false}}} {
		xp := b.Op("input", ir.Attrs{"role": "input", "dtype": ir.F32, "shape": ir.Shape{ir.N, T, ir.Dim(c.gates * u)}})
		xp.Name = c.name + "_xp"
		args := []*ir.Value{xp, param(ir.Shape{u, ir.Dim(c.gates * u)})}
		if c.name == "gru_after" {
			args = append(args, param(ir.Shape{2, ir.Dim(3 * u)}))
		}
		var seq *ir.Value
		if c.name == "lstm" {
			seq = b.Op("lstm_scan", nil, args...)
		} else {
			seq = b.Op("gru_scan", c.attrs, args...)
		}
		result(c.name, b.Op("slice", ir.Attrs{"axis": 2, "start": 0, "end": u}, seq))
		result(c.name+"_again", b.Op("slice", ir.Attrs{"axis": -1, "start": 0, "end": u}, seq)) // a second h slice
	}
	// The lowering's LSTM whose projection an output reads too.
	x := b.Op("input", ir.Attrs{"role": "input", "dtype": ir.F32, "shape": ir.Shape{ir.N, T, 2}})
	x.Name = "x"
	project := func(k, bias *ir.Value) *ir.Value {
		rows := b.Reshape(x, ir.Shape{ir.N * T, 2})
		xp := b.Reshape(b.Op("matmul", nil, rows, k), ir.Shape{ir.N, T, k.Type.Shape[1]})
		if bias != nil {
			xp = b.Add(xp, bias)
		}
		return xp
	}
	xp := project(param(ir.Shape{2, 4 * u}), param(ir.Shape{4 * u}))
	result("proj", xp)
	result("shared", b.Op("slice", ir.Attrs{"axis": 2, "start": 0, "end": u}, b.Op("lstm_scan", nil, xp, param(ir.Shape{u, 4 * u}))))
	// The lowering's layers whose weights an output reads too: W, R and B
	// permuted by nodes.
	k, rk, bias := param(ir.Shape{2, 4 * u}), param(ir.Shape{u, 4 * u}), param(ir.Shape{4 * u})
	result("lstm_public", b.Op("slice", ir.Attrs{"axis": 2, "start": 0, "end": u}, b.Op("lstm_scan", nil, project(k, bias), rk)))
	for i, w := range []*ir.Value{k, rk, bias} {
		result(fmt.Sprintf("lstm_weight%d", i), b.Neg(w))
	}
	gk, grk, gbias := param(ir.Shape{2, 3 * u}), param(ir.Shape{u, 3 * u}), param(ir.Shape{2, 3 * u})
	result("gru_public", b.Op("slice", ir.Attrs{"axis": 2, "start": 0, "end": u}, b.Op("gru_scan", ir.Attrs{"reset_after": true}, project(gk, nil), grk, gbias)))
	result("gru_rk", b.Neg(grk))
	result("gru_bias", b.Neg(gbias))
	if b.Err() != nil {
		t.Fatal(b.Err())
	}
	for _, name := range names {
		g.Results = append(g.Results, ir.Result{Kind: ir.ResultOutput, Name: name, Value: out[name]})
	}
	g.Renumber()
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	return g
}

// A scan whose projection is not the lowering's (an input) or is read
// elsewhere exports with the identity W, and weights read elsewhere are
// permuted by nodes, exactly: ONNX Runtime matches the interpreter.
func TestExportRecurrentIdentityW(t *testing.T) {
	g := scanGraph(t)
	m, err := onnx.Export(g, zeroWeights(g), onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids := 0
	for _, init := range m.Graph.Initializer {
		if strings.HasPrefix(init.GetName(), "identity") {
			ids++
		}
	}
	if ops := nodeOps(m); ops["LSTM"] != 3 || ops["GRU"] != 3 || ids != 4 || ops["Gather"] != 3 || ops["Reshape"] < 1 {
		t.Errorf("exports %v and %d identity Ws; want 3 LSTM, 3 GRU, 4 identities, 3 Gathers (lstm_public's W, R and B) and gru_public's bias Reshape", ops, ids)
	}
	runCases(t, []*exportCase{{name: "scans", g: g, n: 3}}, 1e-5)
}

// A use of the packed sequence other than its hidden states (c, the
// gates) is an error at the scan's .mdl position, and so is a result
// naming it.
func TestExportRecurrentPackedUse(t *testing.T) {
	for _, c := range []struct {
		name  string
		read  func(b *ir.Builder, seq *ir.Value) *ir.Value
		error string
	}{
		{"c", func(b *ir.Builder, seq *ir.Value) *ir.Value {
			return b.Op("slice", ir.Attrs{"axis": 2, "start": 3, "end": 6}, seq)
		}, "m.mdl:4:9: lstm_scan: slice reads the packed sequence [N, 2, 18] (h, c and the gates), which ONNX's LSTM does not give; only its hidden states (slice 0:3 of the last axis) export"},
		{"whole", func(b *ir.Builder, seq *ir.Value) *ir.Value { return b.Neg(seq) },
			"m.mdl:4:9: lstm_scan: neg reads the packed sequence"},
		{"result", func(b *ir.Builder, seq *ir.Value) *ir.Value { return seq },
			"m.mdl:4:9: lstm_scan: a result names the packed sequence [N, 2, 18]"},
	} {
		g := &ir.Graph{Name: "M"}
		b := ir.NewBuilder(g)
		xp := b.Op("input", ir.Attrs{"role": "input", "dtype": ir.F32, "shape": ir.Shape{ir.N, 2, 12}})
		xp.Name = "xp"
		rk := b.Op("param", ir.Attrs{"dtype": ir.F32, "shape": ir.Shape{3, 12}, "init": "zeros"})
		rk.Name = "rk"
		seq := b.Op("lstm_scan", nil, xp, rk)
		seq.Pos = ir.Pos{File: "m.mdl", Line: 4, Col: 9}
		h := b.Op("slice", ir.Attrs{"axis": 2, "start": 0, "end": 3}, seq)
		y := c.read(b, seq)
		if b.Err() != nil {
			t.Fatal(b.Err())
		}
		g.Results = append(g.Results, ir.Result{Kind: ir.ResultOutput, Name: "h", Value: h}, ir.Result{Kind: ir.ResultOutput, Name: "y", Value: y})
		g.Renumber()
		_, err := onnx.Export(g, zeroWeights(g), onnx.Options{})
		var pe *passes.PosError
		if err == nil || !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), c.error) {
			t.Errorf("%s: Export: %v; want %s...", c.name, err, c.error)
		}
	}
}

// TestExportMatchesGeneratedEval compares ONNX Runtime on charlstm's
// exported Eval graph (two LSTMs of 128 units over 64 steps) with the
// committed generated package's Eval loss: with the initial weights
// (orthogonal recurrent kernels, the forget gate's unit bias; the export
// draws them as Reset does for seed 1) and after a training step (the
// export reads the checkpoint Save wrote), at batch 2.
func TestExportMatchesGeneratedEval(t *testing.T) {
	ortDir(t)
	const n, T = 2, 64
	dir := t.TempDir()
	g := loadModel(t, "../../examples/charlstm/charlstm.mdl", "")
	r := rand.New(rand.NewPCG(15, 3))
	x, y := make([]int32, n*T), make([]int32, n*T)
	xs, ys := make([]float64, n*T), make([]float64, n*T)
	for i := range x {
		x[i], y[i] = r.Int32N(256), r.Int32N(256)
		xs[i], ys[i] = float64(x[i]), float64(y[i])
	}
	m := charlstm.New()
	var ocs []ortCase
	var want []float64
	for _, trained := range []bool{false, true} {
		var weights map[string][]float32
		var err error
		if trained {
			must[float32](t)(m.TrainStep(x, y, n))
			ckpt := filepath.Join(dir, "charlstm.safetensors")
			must[struct{}](t)(struct{}{}, m.Save(ckpt))
			weights, err = onnx.CheckpointWeights(g, ckpt)
		} else {
			weights, err = onnx.InitialWeights(g, 1)
		}
		if err != nil {
			t.Fatal(err)
		}
		loss := must[float32](t)(m.Eval(x, y, n))
		model, err := onnx.Export(g, weights, onnx.Options{Eval: true})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("charlstm-%v.onnx", trained))
		if err := os.WriteFile(path, must[[]byte](t)(onnx.Marshal(model)), 0o644); err != nil {
			t.Fatal(err)
		}
		ocs = append(ocs, ortCase{Model: path, Inputs: map[string]ortTensor{
			"x": {Type: "int32", Dims: []int{n, T}, Data: xs},
			"y": {Type: "int32", Dims: []int{n, T}, Data: ys},
		}})
		want = append(want, float64(loss))
	}
	for i, res := range runORT(t, ocs) {
		name := []string{"initial", "trained"}[i]
		if res.Error != "" {
			t.Errorf("%s: onnxruntime: %s", name, res.Error)
			continue
		}
		got := res.Outputs["loss"].Data
		if len(got) != 1 || !(relErr(got, want[i:i+1]) <= 1e-5) {
			t.Errorf("%s: onnxruntime's loss %v, Eval's %.7g", name, got, want[i])
		}
	}
}
