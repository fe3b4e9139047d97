package eval_test

import (
	"math"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/eval"
)

// linearGraph is loss = sum(p * x) + sum(q^2) with hand-written grad
// results: d/dp = x (times pScale) and d/dq = 2q.
func linearGraph(t *testing.T, pShape ir.Shape, pScale float64) *ir.Graph {
	t.Helper()
	g := &ir.Graph{Name: "lin"}
	b := ir.NewBuilder(g)
	p := b.Op("param", ir.Attrs{"dtype": ir.F32, "shape": pShape, "init": "zeros"})
	p.Name = "p"
	q := b.Op("param", ir.Attrs{"dtype": ir.F32, "shape": ir.Shape{3}, "init": "zeros"})
	q.Name = "q"
	x := b.Op("input", ir.Attrs{"role": "input", "dtype": ir.F32, "shape": pShape})
	x.Name = "x"
	all := func(v *ir.Value) []int {
		axes := make([]int, v.Type.Shape.Rank())
		for i := range axes {
			axes[i] = i
		}
		return axes
	}
	loss := b.Add(b.Sum(b.Mul(p, x), all(p), false), b.Sum(b.Mul(q, q), []int{0}, false))
	dp := x
	if pScale != 1 {
		dp = b.Mul(x, b.Const(pScale, ir.F32))
	}
	dq := b.Mul(q, b.Const(2, ir.F32))
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	g.Results = []ir.Result{
		{Kind: ir.ResultLoss, Name: "loss", Value: loss},
		{Kind: ir.ResultGrad, Name: "p", Value: dp},
		{Kind: ir.ResultGrad, Name: "q", Value: dq},
	}
	g.Renumber()
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGradCheckCorrect(t *testing.T) {
	g := linearGraph(t, ir.Shape{2, 3}, 1)
	bind := eval.Random(g, 1, 3, nil)
	before := bind["p"].Clone()
	errs, err := eval.GradCheck(g, 1, bind, eval.GradCheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 2 || errs[0].Name != "p" || errs[1].Name != "q" {
		t.Fatalf("errs = %+v", errs)
	}
	for _, e := range errs {
		if e.MaxRel > 1e-8 || e.Checked != e.Total {
			t.Errorf("%+v", e)
		}
	}
	for i := range before.Data {
		if bind["p"].Data[i] != before.Data[i] {
			t.Fatal("GradCheck modified its bindings")
		}
	}
	var sb strings.Builder
	if !eval.FormatGradCheck(&sb, errs, 1e-6) {
		t.Errorf("FormatGradCheck reports failure:\n%s", sb.String())
	}
	lines := strings.Split(strings.TrimSpace(sb.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "param  shape   max abs err  max rel err") ||
		!strings.HasPrefix(lines[1], "p      [2, 3]") || strings.Contains(sb.String(), "FAIL") {
		t.Errorf("table:\n%s", sb.String())
	}
}

func TestGradCheckWrong(t *testing.T) {
	g := linearGraph(t, ir.Shape{4}, 1.5) // d/dp off by half of x
	bind := eval.Random(g, 1, 3, nil)
	errs, err := eval.GradCheck(g, 1, bind, eval.GradCheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if e := errs[0]; math.Abs(e.MaxRel-1.0/3) > 1e-6 {
		t.Errorf("p: MaxRel %g, want 1/3 (|1.5x - x| / |1.5x|)", e.MaxRel)
	}
	var sb strings.Builder
	if eval.FormatGradCheck(&sb, errs, 1e-6) {
		t.Error("FormatGradCheck reports success")
	}
	out := sb.String()
	if !strings.Contains(out, "FAIL") || strings.Count(out, "FAIL") != 1 {
		t.Errorf("want exactly the p row marked:\n%s", out)
	}
}

// Big params are checked on a deterministic sample of MaxElems elements.
func TestGradCheckSample(t *testing.T) {
	g := linearGraph(t, ir.Shape{20, 30}, 1)
	bind := eval.Random(g, 1, 3, nil)
	opt := eval.GradCheckOptions{MaxElems: 10, Seed: 42}
	a, err := eval.GradCheck(g, 1, bind, opt)
	if err != nil {
		t.Fatal(err)
	}
	if a[0].Checked != 10 || a[0].Total != 600 || a[1].Checked != 3 {
		t.Errorf("checked %d of %d, %d", a[0].Checked, a[0].Total, a[1].Checked)
	}
	b, _ := eval.GradCheck(g, 1, bind, opt)
	if a[0].MaxAbs != b[0].MaxAbs || a[0].MaxRel != b[0].MaxRel {
		t.Errorf("not deterministic: %+v vs %+v", a[0], b[0])
	}
	var sb strings.Builder
	eval.FormatGradCheck(&sb, a, 1e-6)
	if !strings.Contains(sb.String(), "(10 of 600 elements)") {
		t.Errorf("table does not note the sample:\n%s", sb.String())
	}
}

func TestGradCheckErrors(t *testing.T) {
	g := linearGraph(t, ir.Shape{2}, 1)
	bind := eval.Random(g, 1, 3, nil)
	noGrad := g.Clone()
	noGrad.Results = noGrad.Results[:2]
	if _, err := eval.GradCheck(noGrad, 1, bind, eval.GradCheckOptions{}); err == nil || !strings.Contains(err.Error(), "param q has no grad result") {
		t.Errorf("missing grad: err = %v", err)
	}
	noLoss := g.Clone()
	noLoss.Results = noLoss.Results[1:]
	if _, err := eval.GradCheck(noLoss, 1, bind, eval.GradCheckOptions{}); err == nil || !strings.Contains(err.Error(), "no loss") {
		t.Errorf("missing loss: err = %v", err)
	}
	delete(bind, "q")
	if _, err := eval.GradCheck(g, 1, bind, eval.GradCheckOptions{}); err == nil {
		t.Error("missing binding: no error")
	}
}

// A NaN gradient fails the check.
func TestGradCheckNaN(t *testing.T) {
	errs := []eval.ParamError{{Name: "w", Shape: ir.Shape{2}, MaxAbs: math.NaN(), MaxRel: math.NaN(), Checked: 2, Total: 2}}
	var sb strings.Builder
	if eval.FormatGradCheck(&sb, errs, 1) || !strings.Contains(sb.String(), "FAIL") {
		t.Errorf("NaN row passes:\n%s", sb.String())
	}
}
