package ir_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/eval"
	"github.com/mdlc/mdlc/passes"
)

// TestEveryOpHasGrad walks the op table: every op that computes a value
// (not Bound) and is not marked NoGrad needs a gradient rule.
func TestEveryOpHasGrad(t *testing.T) {
	for _, op := range ir.Ops() {
		if op.Bound || op.NoGrad {
			if op.Grad != nil && op.NoGrad {
				t.Errorf("op %s is NoGrad but has a Grad rule", op.Name)
			}
			continue
		}
		if op.Grad == nil {
			t.Errorf("op %s has no Grad rule (set Grad, or NoGrad if it is not differentiable)", op.Name)
		}
	}
}

// Value domains for gradcheck inputs: kept away from kinks and poles.
type domain int

const (
	domAny  domain = iota // uniform in [-1, 1)
	domAway               // |x| in [0.2, 1), random sign: abs, relu, divisors
	domPos                // [0.5, 2): log, sqrt, pow bases
)

// argSpec is one arg of the op under test. f32 args are params (checked);
// an f32 arg whose shape has N is input * param (the param has 1 where the
// arg has N), so its gradient is checked summed over the batch. Integer and
// bool args are inputs.
type argSpec struct {
	shape ir.Shape
	dtype ir.DType // F32 when zero
	dom   domain
	hi    int       // i32 values in [0, hi)
	data  []float64 // fixed values (i32 indices)
}

func f(s ...ir.Dim) argSpec                 { return argSpec{shape: s} }
func (a argSpec) in(d domain) argSpec       { a.dom = d; return a }
func (a argSpec) ints(hi int) argSpec       { a.dtype, a.hi = ir.I32, hi; return a }
func (a argSpec) with(d ...float64) argSpec { a.data = d; return a }

type gradCase struct {
	op    string // op under test (coverage is checked against the table)
	name  string
	n     int // batch size
	args  []argSpec
	build func(b *ir.Builder, x []*ir.Value) *ir.Value
}

// opOf builds op(args...) with attrs.
func opOf(op string, attrs ir.Attrs) func(b *ir.Builder, x []*ir.Value) *ir.Value {
	return func(b *ir.Builder, x []*ir.Value) *ir.Value { return b.Op(op, attrs, x...) }
}

const nAxis = ir.N

func gradCases() []gradCase {
	var cs []gradCase
	add := func(op, name string, n int, build func(b *ir.Builder, x []*ir.Value) *ir.Value, args ...argSpec) {
		cs = append(cs, gradCase{op: op, name: name, n: n, args: args, build: build})
	}
	unaryDom := map[string]domain{"abs": domAway, "relu": domAway, "log": domPos, "sqrt": domPos}
	for _, op := range []string{"neg", "abs", "exp", "log", "sqrt", "relu", "sigmoid", "tanh", "gelu", "sin", "cos"} {
		d := unaryDom[op]
		add(op, "[2,3]", 1, opOf(op, nil), f(2, 3).in(d))
		add(op, "scalar", 1, opOf(op, nil), f().in(d))
		add(op, "[N,3]", 3, opOf(op, nil), f(nAxis, 3).in(d))
	}
	binDom := map[string][2]domain{"div": {domAny, domAway}, "pow": {domPos, domAny}}
	pairs := []struct {
		name string
		a, b ir.Shape
		n    int
	}{
		{"[2,3],[2,3]", ir.Shape{2, 3}, ir.Shape{2, 3}, 1},
		{"[3,1],[1,4]", ir.Shape{3, 1}, ir.Shape{1, 4}, 1},
		{"[4],[2,3,4]", ir.Shape{4}, ir.Shape{2, 3, 4}, 1},
		{"scalar,[2,3]", ir.Shape{}, ir.Shape{2, 3}, 1},
		{"[N,3],[3]", ir.Shape{nAxis, 3}, ir.Shape{3}, 2},
		{"[2,1,3],[N,2,1,1]", ir.Shape{2, 1, 3}, ir.Shape{nAxis, 2, 1, 1}, 3},
	}
	for _, op := range []string{"add", "sub", "mul", "div", "pow", "maximum", "minimum"} {
		d := binDom[op]
		for _, p := range pairs {
			add(op, p.name, p.n, opOf(op, nil), argSpec{shape: p.a, dom: d[0]}, argSpec{shape: p.b, dom: d[1]})
		}
	}
	cond := func(s ...ir.Dim) argSpec { return argSpec{shape: s, dtype: ir.Bool} }
	add("where", "[2,3]?[2,1]:[3]", 1, opOf("where", nil), cond(2, 3), f(2, 1), f(3))
	add("where", "[3]?[2,3]:scalar", 1, opOf("where", nil), cond(3), f(2, 3), f())
	add("where", "[N,1]?[3]:[N,3]", 2, opOf("where", nil), cond(nAxis, 1), f(3), f(nAxis, 3))
	add("cast", "f32->f32", 1, opOf("cast", ir.Attrs{"dtype": ir.F32}), f(2, 3))

	for _, batch := range []ir.Shape{{}, {2}, {nAxis}} {
		for _, tt := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			a := append(batch.Clone(), 2, 3) // M=2, K=3
			if tt[0] {
				a = append(batch.Clone(), 3, 2)
			}
			bs := append(batch.Clone(), 3, 4) // K=3, N=4
			if tt[1] {
				bs = append(batch.Clone(), 4, 3)
			}
			attrs := ir.Attrs{}
			if tt[0] {
				attrs["ta"] = true
			}
			if tt[1] {
				attrs["tb"] = true
			}
			add("matmul", fmt.Sprintf("%v ta=%v tb=%v", batch, tt[0], tt[1]), 2, opOf("matmul", attrs),
				argSpec{shape: a}, argSpec{shape: bs})
		}
	}

	red := func(axes []int, keep bool) ir.Attrs { return ir.Attrs{"axes": axes, "keepdims": keep} }
	for _, op := range []string{"reduce_sum", "reduce_mean", "reduce_max", "logsumexp"} {
		add(op, "[2,3,4] axes 1", 1, opOf(op, red([]int{1}, false)), f(2, 3, 4))
		add(op, "[2,3,4] axes 0,2 keep", 1, opOf(op, red([]int{0, 2}, true)), f(2, 3, 4))
		add(op, "[2,3,4] axes -1", 1, opOf(op, red([]int{-1}, false)), f(2, 3, 4))
		add(op, "[2,3,4] all", 1, opOf(op, red([]int{0, 1, 2}, false)), f(2, 3, 4))
		add(op, "[N,3] axes 0", 3, opOf(op, red([]int{0}, false)), f(nAxis, 3))
		add(op, "[N,3] all keep", 2, opOf(op, red([]int{0, 1}, true)), f(nAxis, 3))
		add(op, "[2,N,3] axes 1,2", 3, opOf(op, red([]int{1, 2}, false)), f(2, nAxis, 3))
	}
	for _, op := range []string{"softmax", "log_softmax"} {
		add(op, "[2,3,4] axis 1", 1, opOf(op, ir.Attrs{"axis": 1}), f(2, 3, 4))
		add(op, "[2,3,4] axis -1", 1, opOf(op, ir.Attrs{"axis": -1}), f(2, 3, 4))
		add(op, "[N,5] axis 0", 3, opOf(op, ir.Attrs{"axis": 0}), f(nAxis, 5))
		add(op, "[N,5] axis 1", 2, opOf(op, ir.Attrs{"axis": 1}), f(nAxis, 5))
	}

	for _, causal := range []bool{false, true} {
		ms := ir.Attrs{"scale": 0.7, "causal": causal}
		name := fmt.Sprintf("causal=%v", causal)
		add("masked_softmax", "[2,3,3] "+name, 1, opOf("masked_softmax", ms), f(2, 3, 3))
		add("masked_softmax", "[N,2,3,4] "+name, 2, opOf("masked_softmax", ms), f(nAxis, 2, 3, 4))
		add("masked_softmax", "[2,4,2] "+name, 1, opOf("masked_softmax", ms), f(2, 4, 2))
	}

	add("reshape", "[2,3,4]->[6,4]", 1, opOf("reshape", ir.Attrs{"shape": ir.Shape{6, 4}}), f(2, 3, 4))
	add("reshape", "[1,1]->scalar", 1, opOf("reshape", ir.Attrs{"shape": ir.Shape{}}), f(1, 1))
	add("reshape", "[N,6]->[N,2,3]", 2, opOf("reshape", ir.Attrs{"shape": ir.Shape{nAxis, 2, 3}}), f(nAxis, 6))
	add("transpose", "[2,3,4] perm 2,0,1", 1, opOf("transpose", ir.Attrs{"perm": []int{2, 0, 1}}), f(2, 3, 4))
	add("transpose", "[3,4] perm 1,0", 1, opOf("transpose", ir.Attrs{"perm": []int{1, 0}}), f(3, 4))
	add("transpose", "[N,2,3] perm 1,2,0", 2, opOf("transpose", ir.Attrs{"perm": []int{1, 2, 0}}), f(nAxis, 2, 3))
	add("broadcast", "[3,1]->[2,3,4]", 1, opOf("broadcast", ir.Attrs{"shape": ir.Shape{2, 3, 4}}), f(3, 1))
	add("broadcast", "scalar->[2,3]", 1, opOf("broadcast", ir.Attrs{"shape": ir.Shape{2, 3}}), f())
	add("broadcast", "[4]->[N,4]", 3, opOf("broadcast", ir.Attrs{"shape": ir.Shape{nAxis, 4}}), f(4))
	sl := func(ax, s, e int) ir.Attrs { return ir.Attrs{"axis": ax, "start": s, "end": e} }
	add("slice", "[2,5,3] axis 1 1:4", 1, opOf("slice", sl(1, 1, 4)), f(2, 5, 3))
	add("slice", "[4,3] axis 0 1:3", 1, opOf("slice", sl(0, 1, 3)), f(4, 3))
	add("slice", "[N,5] axis -1 0:2", 2, opOf("slice", sl(-1, 0, 2)), f(nAxis, 5))
	pd := func(ax, b, a int) ir.Attrs { return ir.Attrs{"axis": ax, "before": b, "after": a} }
	add("pad", "[2,3,3] axis 1 1,2", 1, opOf("pad", pd(1, 1, 2)), f(2, 3, 3))
	add("pad", "[4,3] axis 0 0,2", 1, opOf("pad", pd(0, 0, 2)), f(4, 3))
	add("pad", "[N,3] axis 1 2,0", 2, opOf("pad", pd(1, 2, 0)), f(nAxis, 3))
	add("concat", "3 args axis 1", 1, opOf("concat", ir.Attrs{"axis": 1}), f(2, 1, 3), f(2, 2, 3), f(2, 3, 3))
	add("concat", "axis 0", 1, opOf("concat", ir.Attrs{"axis": 0}), f(1, 3), f(2, 3))
	add("concat", "batch axis [N,2]+[N,2]+[2N,2]", 2, opOf("concat", ir.Attrs{"axis": 0}), f(nAxis, 2), f(nAxis, 2), f(2*nAxis, 2))
	add("concat", "[N,2]+[N,3] axis -1", 3, opOf("concat", ir.Attrs{"axis": -1}), f(nAxis, 2), f(nAxis, 3))
	add("gather", "[5,3] by [2,4] repeated", 1, opOf("gather", nil), f(5, 3), f(2, 4).ints(5).with(0, 2, 2, 4, 0, 1, 2, 2))
	add("gather", "[4] by [6] repeated", 1, opOf("gather", nil), f(4), f(6).ints(4).with(3, 3, 3, 0, 1, 3))
	add("gather", "[4,2,2] by [N,3]", 3, opOf("gather", nil), f(4, 2, 2), f(nAxis, 3).ints(4))
	cs = append(cs, rnnGradCases()...)    // rnn_test.go
	return append(cs, convGradCases()...) // conv_test.go
}

// draw returns one value of domain d.
func draw(r *rand.Rand, d domain) float64 {
	switch d {
	case domAway:
		x := 0.2 + 0.8*r.Float64()
		if r.IntN(2) == 0 {
			x = -x
		}
		return x
	case domPos:
		return 0.5 + 1.5*r.Float64()
	}
	return 2*r.Float64() - 1
}

// buildGradCase builds params feeding the op and loss = sum(op * w) with w a
// fixed random input, so the loss sees every output element. It returns the
// graph and its bindings.
func buildGradCase(t *testing.T, c gradCase, seed uint64) (*ir.Graph, map[string]*ir.Tensor) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	g := &ir.Graph{Name: c.op}
	b := ir.NewBuilder(g)
	bind := map[string]*ir.Tensor{}
	source := func(op, name string, dt ir.DType, s ir.Shape, fill func(i int) float64) *ir.Value {
		attrs := ir.Attrs{"dtype": dt, "shape": s.Clone()}
		if op == "param" {
			attrs["init"] = "normal"
		} else {
			attrs["role"] = "input"
		}
		v := b.Op(op, attrs)
		v.Name = name
		tt := ir.NewTensor(s.Resolve(c.n))
		for i := range tt.Data {
			tt.Data[i] = fill(i)
		}
		bind[name] = tt
		return v
	}
	var xs []*ir.Value
	for i, a := range c.args {
		b.Pos = ir.Pos{File: "case.mdl", Line: i + 1, Col: 1}
		name := fmt.Sprintf("x%d", i)
		switch {
		case a.dtype == ir.I32:
			xs = append(xs, source("input", name, ir.I32, a.shape, func(j int) float64 {
				if a.data != nil {
					return a.data[j]
				}
				return float64(r.IntN(a.hi))
			}))
		case a.dtype == ir.Bool:
			xs = append(xs, source("input", name, ir.Bool, a.shape, func(int) float64 { return float64(r.IntN(2)) }))
		default:
			batched := false
			ps := a.shape.Clone()
			for j, d := range ps {
				if d.IsBatch() {
					batched, ps[j] = true, 1
				}
			}
			if !batched {
				xs = append(xs, source("param", name, ir.F32, a.shape, func(int) float64 { return draw(r, a.dom) }))
				continue
			}
			// input * param: keep the product in the domain.
			lo, dom := 0.0, a.dom
			switch a.dom {
			case domPos:
				lo = 0.7 // [0.7, 1.4)^2 is within [0.49, 1.96)
			case domAway:
				lo = 0.45 // |x|, |p| >= 0.45 keeps |x p| >= 0.2
			}
			scaled := func() float64 {
				if dom == domPos {
					return lo + 0.7*r.Float64()
				}
				if dom == domAway {
					x := lo + (1-lo)*r.Float64()
					if r.IntN(2) == 0 {
						x = -x
					}
					return x
				}
				return draw(r, domAny)
			}
			in := source("input", "in"+name, ir.F32, a.shape, func(int) float64 { return scaled() })
			p := source("param", name, ir.F32, ps, func(int) float64 { return scaled() })
			xs = append(xs, b.Mul(in, p))
		}
	}
	b.Pos = ir.Pos{File: "case.mdl", Line: 10, Col: 1}
	out := c.build(b, xs)
	b.Pos = ir.Pos{File: "case.mdl", Line: 11, Col: 1}
	w := source("input", "w", ir.F32, out.Type.Shape, func(int) float64 { return draw(r, domAny) })
	loss := b.Mul(out, w)
	if r := loss.Type.Shape.Rank(); r > 0 {
		axes := make([]int, r)
		for i := range axes {
			axes[i] = i
		}
		loss = b.Sum(loss, axes, false)
	}
	if err := b.Err(); err != nil {
		t.Fatalf("building %s %s: %v", c.op, c.name, err)
	}
	g.Results = append(g.Results, ir.Result{Kind: ir.ResultLoss, Name: "loss", Value: loss})
	g.Renumber()
	if err := ir.Verify(g); err != nil {
		t.Fatalf("forward graph invalid: %v", err)
	}
	return g, bind
}

// gradTol is the largest normwise relative error GradCheck may report.
const gradTol = 1e-6

// TestGradCheckOps checks every differentiable op's rule against finite
// differences on small random cases: broadcasting, scalars, batch axes,
// every matmul flag combination, reductions over several axes.
func TestGradCheckOps(t *testing.T) {
	cases := gradCases()
	worst := map[string]float64{}
	for ci, c := range cases {
		t.Run(c.op+"/"+c.name, func(t *testing.T) {
			g, bind := buildGradCase(t, c, uint64(ci)+1)
			ctx := &passes.Context{}
			if err := passes.Autodiff(g, ctx); err != nil {
				t.Fatalf("autodiff: %v", err)
			}
			if err := ir.Verify(g); err != nil {
				t.Fatalf("after autodiff: %v", err)
			}
			if len(ctx.Warnings) > 0 {
				t.Errorf("unexpected warnings: %v", ctx.Warnings)
			}
			errs, err := eval.GradCheck(g, c.n, bind, eval.GradCheckOptions{})
			if err != nil {
				t.Fatalf("gradcheck: %v", err)
			}
			var sb strings.Builder
			if !eval.FormatGradCheck(&sb, errs, gradTol) {
				t.Errorf("gradient of %s (%s) is off:\n%s", c.op, c.name, sb.String())
			}
			for _, e := range errs {
				if e.Checked == 0 {
					t.Errorf("%s: no element checked", e.Name)
				}
				worst[c.op] = max(worst[c.op], e.MaxRel)
				if math.IsNaN(e.MaxRel) {
					worst[c.op] = math.NaN()
				}
			}
		})
	}
	// Every differentiable op must be covered by a case.
	var ops []string
	for _, op := range ir.Ops() {
		if op.Bound || op.NoGrad {
			continue
		}
		if _, ok := worst[op.Name]; !ok && !t.Failed() {
			t.Errorf("op %s has no gradcheck case", op.Name)
		}
		ops = append(ops, op.Name)
	}
	sort.Strings(ops)
	var sb strings.Builder
	for _, op := range ops {
		fmt.Fprintf(&sb, "  %-12s %.1e\n", op, worst[op])
	}
	t.Logf("max rel err per op:\n%s", sb.String())
}
