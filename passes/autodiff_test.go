package passes_test

import (
	"math"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/eval"
	"github.com/mdlc/mdlc/passes"
)

func param(b *ir.Builder, name string, s ...ir.Dim) *ir.Value {
	v := b.Op("param", ir.Attrs{"dtype": ir.F32, "shape": ir.Shape(s), "init": "normal"})
	v.Name = name
	return v
}

func input(b *ir.Builder, name string, dt ir.DType, s ...ir.Dim) *ir.Value {
	v := b.Op("input", ir.Attrs{"role": "input", "dtype": dt, "shape": ir.Shape(s)})
	v.Name = name
	return v
}

func sumAll(b *ir.Builder, x *ir.Value) *ir.Value {
	axes := make([]int, x.Type.Shape.Rank())
	for i := range axes {
		axes[i] = i
	}
	return b.Sum(x, axes, false)
}

func setLoss(t *testing.T, g *ir.Graph, b *ir.Builder, loss *ir.Value) {
	t.Helper()
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	g.Results = append(g.Results, ir.Result{Kind: ir.ResultLoss, Name: "loss", Value: loss})
	g.Renumber()
}

// autodiff runs the pass and verifies the result.
func autodiff(t *testing.T, g *ir.Graph) *passes.Context {
	t.Helper()
	c := &passes.Context{}
	if err := passes.Autodiff(g, c); err != nil {
		t.Fatalf("autodiff: %v", err)
	}
	if err := ir.Verify(g); err != nil {
		t.Fatalf("invalid IR after autodiff: %v", err)
	}
	return c
}

// grads evaluates g and returns each grad result's data by param name.
func grads(t *testing.T, g *ir.Graph, n int, bind map[string]*ir.Tensor) map[string][]float64 {
	t.Helper()
	env, err := eval.Run(g, n, bind)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float64{}
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		out[r.Name] = env[r.Value].Data
	}
	return out
}

func tensor(shape []int, data ...float64) *ir.Tensor { return &ir.Tensor{Shape: shape, Data: data} }

func near(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
}

// A value used twice gets the sum of both uses' gradients.
func TestAutodiffFanOut(t *testing.T) {
	g := &ir.Graph{}
	b := ir.NewBuilder(g)
	p := param(b, "p", 3)
	x := input(b, "x", ir.F32, 3)
	// loss = sum(p*p) + sum(p*x) + sum(p): p feeds four uses.
	loss := b.Add(b.Add(sumAll(b, b.Mul(p, p)), sumAll(b, b.Mul(p, x))), sumAll(b, p))
	setLoss(t, g, b, loss)
	c := autodiff(t, g)
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %v", c.Warnings)
	}
	got := grads(t, g, 1, map[string]*ir.Tensor{
		"p": tensor([]int{3}, 1, -2, 0.5),
		"x": tensor([]int{3}, 10, 20, 30),
	})["p"]
	near(t, "d/dp", got, []float64{2*1 + 10 + 1, 2*-2 + 20 + 1, 2*0.5 + 30 + 1})
}

// Integer and bool values carry no gradient: the pass never builds one.
func TestAutodiffIntegerPaths(t *testing.T) {
	g := &ir.Graph{}
	b := ir.NewBuilder(g)
	p := param(b, "p", 2, 3)
	q := param(b, "q", 3)
	tab := param(b, "tab", 4, 3)
	idx := input(b, "idx", ir.I32, 2)
	// Through i32: cast(cast(p, i32), f32) and argmax; q only reaches the
	// loss through an integer, so its gradient is zero.
	trunc := b.Op("cast", ir.Attrs{"dtype": ir.F32}, b.Op("cast", ir.Attrs{"dtype": ir.I32}, p))
	am := b.Op("cast", ir.Attrs{"dtype": ir.F32}, b.Op("argmax", ir.Attrs{"axis": 0}, q))
	rows := b.Op("gather", nil, tab, idx)
	mask := b.Op("cast", ir.Attrs{"dtype": ir.F32}, b.Binary("gt", p, b.Const(0, ir.F32)))
	loss := b.Add(b.Add(sumAll(b, b.Mul(trunc, b.Const(3, ir.F32))), am), sumAll(b, b.Mul(p, b.Const(2, ir.F32))))
	loss = b.Add(loss, b.Add(sumAll(b, rows), sumAll(b, mask)))
	setLoss(t, g, b, loss)
	nf := len(g.Values)
	c := autodiff(t, g)
	for _, v := range g.Values[nf:] {
		if v.Type.DType == ir.I32 {
			t.Errorf("backward value %v %s has type %s", v, v.Op, v.Type)
		}
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].Msg, "parameter q ") {
		t.Errorf("want one warning about q, got %v", c.Warnings)
	}
	bind := eval.Random(g, 1, 1, func(*ir.Value) int { return 4 })
	bind["idx"] = tensor([]int{2}, 1, 1)
	gr := grads(t, g, 1, bind)
	near(t, "d/dp", gr["p"], []float64{2, 2, 2, 2, 2, 2})
	near(t, "d/dq", gr["q"], []float64{0, 0, 0})
	near(t, "d/dtab", gr["tab"], []float64{0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0})
}

// A param that does not reach the loss gets a zero gradient and one warning.
func TestAutodiffUnusedParam(t *testing.T) {
	g := &ir.Graph{}
	b := ir.NewBuilder(g)
	p := param(b, "p", 2)
	b.Pos = ir.Pos{File: "m.mdl", Line: 3, Col: 5}
	q := param(b, "q", 2, 2)
	b.Pos = ir.Pos{}
	out := b.Unary("tanh", q) // q feeds an output, not the loss
	setLoss(t, g, b, sumAll(b, b.Unary("exp", p)))
	g.Results = append(g.Results, ir.Result{Kind: ir.ResultOutput, Name: "y", Value: out})
	c := autodiff(t, g)
	if len(c.Warnings) != 1 {
		t.Fatalf("want 1 warning, got %v", c.Warnings)
	}
	w := c.Warnings[0]
	if w.Pos != q.Pos || w.Msg != "parameter q does not affect the loss; its gradient is always zero" {
		t.Errorf("warning = %v %q", w.Pos, w.Msg)
	}
	rs := g.ResultsOf(ir.ResultGrad)
	if len(rs) != 2 || rs[0].Name != "p" || rs[1].Name != "q" {
		t.Fatalf("grad results %v, want p then q", rs)
	}
	if !rs[1].Value.Type.Equal(q.Type) {
		t.Errorf("zero gradient has type %s, want %s", rs[1].Value.Type, q.Type)
	}
	gr := grads(t, g, 1, map[string]*ir.Tensor{"p": tensor([]int{2}, 0, 1), "q": tensor([]int{2, 2}, 1, 2, 3, 4)})
	near(t, "d/dq", gr["q"], []float64{0, 0, 0, 0})
	near(t, "d/dp", gr["p"], []float64{1, math.E})
}

// A loss that depends on no param: every param gets zero and a warning.
func TestAutodiffConstantLoss(t *testing.T) {
	g := &ir.Graph{}
	b := ir.NewBuilder(g)
	param(b, "a", 2)
	param(b, "b", 1)
	x := input(b, "x", ir.F32, ir.N)
	setLoss(t, g, b, b.Op("reduce_mean", ir.Attrs{"axes": []int{0}}, x))
	c := autodiff(t, g)
	if len(c.Warnings) != 2 {
		t.Errorf("want 2 warnings, got %v", c.Warnings)
	}
	if n := len(g.ResultsOf(ir.ResultGrad)); n != 2 {
		t.Errorf("%d grad results, want 2", n)
	}
}

func TestAutodiffNoLoss(t *testing.T) {
	g := &ir.Graph{}
	b := ir.NewBuilder(g)
	p := param(b, "p", 2)
	g.Results = append(g.Results, ir.Result{Kind: ir.ResultOutput, Name: "y", Value: b.Unary("exp", p)})
	err := passes.Autodiff(g, &passes.Context{})
	if err == nil || !strings.Contains(err.Error(), "no loss declared") {
		t.Fatalf("err = %v, want no loss declared", err)
	}
}

func TestAutodiffTwice(t *testing.T) {
	g := &ir.Graph{}
	b := ir.NewBuilder(g)
	p := param(b, "p", 2)
	setLoss(t, g, b, sumAll(b, b.Mul(p, p)))
	autodiff(t, g)
	nv, nr := len(g.Values), len(g.Results)
	err := passes.Autodiff(g, &passes.Context{})
	if err == nil || !strings.Contains(err.Error(), "already has gradients") {
		t.Fatalf("second run: err = %v", err)
	}
	if len(g.Values) != nv || len(g.Results) != nr {
		t.Errorf("failed second run changed the graph")
	}
}

// New values carry the position of the forward value they differentiate, and
// the backward graph holds only what the gradients use: no d/dx for an input.
func TestAutodiffPositionsAndPruning(t *testing.T) {
	g := &ir.Graph{}
	b := ir.NewBuilder(g)
	at := func(line int) { b.Pos = ir.Pos{File: "m.mdl", Line: line, Col: 1} }
	at(1)
	x := input(b, "x", ir.F32, ir.N, 4)
	at(2)
	w := param(b, "w", 4, 3)
	at(3)
	bias := param(b, "b", 3)
	at(4)
	h := b.Add(b.Op("matmul", nil, x, w), bias)
	at(5)
	y := b.Unary("relu", h)
	at(6)
	loss := b.Op("reduce_mean", ir.Attrs{"axes": []int{0, 1}}, b.Mul(y, y))
	setLoss(t, g, b, loss)
	fwdPos := map[ir.Pos]bool{}
	for _, v := range g.Values {
		fwdPos[v.Pos] = true
	}
	nf := len(g.Values)
	autodiff(t, g)
	uses := g.Uses()
	matmuls := 0
	for _, v := range g.Values[nf:] {
		if !v.Pos.IsValid() || !fwdPos[v.Pos] {
			t.Errorf("backward value %v %s has position %v", v, v.Op, v.Pos)
		}
		if uses[v] == 0 {
			t.Errorf("backward value %v %s is unused", v, v.Op)
		}
		if v.Op.Name == "matmul" {
			matmuls++
		}
	}
	if matmuls != 1 {
		t.Errorf("%d backward matmuls, want 1 (d/dw only)", matmuls)
	}
	bind := eval.Random(g, 3, 5, nil)
	errs, err := eval.GradCheck(g, 3, bind, eval.GradCheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	if !eval.FormatGradCheck(&sb, errs, 1e-6) {
		t.Errorf("gradcheck:\n%s", sb.String())
	}
}

// The pass runs in the pipeline with verification after it.
func TestAutodiffPipeline(t *testing.T) {
	g := &ir.Graph{}
	b := ir.NewBuilder(g)
	p := param(b, "p", 2, 2)
	x := input(b, "x", ir.F32, ir.N, 2)
	setLoss(t, g, b, sumAll(b, b.Unary("tanh", b.Op("matmul", nil, x, p))))
	if _, err := passes.Run(g, passes.Options{VerifyEach: true, Upto: "autodiff"}); err != nil {
		t.Fatal(err)
	}
	if rs := g.ResultsOf(ir.ResultGrad); len(rs) != 1 || rs[0].Name != "p" {
		t.Errorf("grad results %v", rs)
	}
}

// A rule that breaks its contract is reported, and the graph is left as it was.
func TestAutodiffBadRule(t *testing.T) {
	bad := &ir.OpDef{Name: "bad", Arity: 1, Grad: func(b *ir.Builder, v, g *ir.Value) []*ir.Value { return nil }}
	g := &ir.Graph{}
	b := ir.NewBuilder(g)
	p := param(b, "p", 2)
	b.Pos = ir.Pos{File: "m.mdl", Line: 7, Col: 2}
	v := &ir.Value{Op: bad, Type: p.Type, Args: []*ir.Value{p}, Pos: b.Pos}
	g.Values = append(g.Values, v)
	setLoss(t, g, b, sumAll(b, b.Unary("exp", v)))
	nv := len(g.Values)
	err := passes.Autodiff(g, &passes.Context{})
	if err == nil || err.Error() != "m.mdl:7:2: gradient rule of bad returned 0 values for 1 args" {
		t.Fatalf("err = %v", err)
	}
	if len(g.Values) != nv || len(g.ResultsOf(ir.ResultGrad)) != 0 {
		t.Errorf("failed run changed the graph")
	}
}
