package eval_test

import (
	"strings"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/eval"
)

// build returns a builder on a new graph; mustOp appends an op or fails.
func build() (*ir.Graph, *ir.Builder) {
	g := &ir.Graph{}
	return g, ir.NewBuilder(g)
}

func mustOp(t *testing.T, b *ir.Builder, name string, attrs ir.Attrs, args ...*ir.Value) *ir.Value {
	t.Helper()
	v, err := b.TryOp(name, attrs, args...)
	if err != nil {
		t.Fatalf("building %s: %v", name, err)
	}
	return v
}

func input(t *testing.T, b *ir.Builder, name string, dt ir.DType, s ir.Shape) *ir.Value {
	t.Helper()
	v := mustOp(t, b, "input", ir.Attrs{"role": "input", "dtype": dt, "shape": s})
	v.Name = name
	return v
}

func param(t *testing.T, b *ir.Builder, op, name string, dt ir.DType, s ir.Shape) *ir.Value {
	t.Helper()
	v := mustOp(t, b, op, ir.Attrs{"dtype": dt, "shape": s, "init": "zeros"})
	v.Name = name
	return v
}

func tensor(shape []int, data ...float64) *ir.Tensor { return &ir.Tensor{Shape: shape, Data: data} }

func wantErr(t *testing.T, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", subs)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func equalData(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRunComputesEveryValue(t *testing.T) {
	g, b := build()
	x := input(t, b, "x", ir.F32, ir.Shape{ir.N, 2})
	w := param(t, b, "param", "w", ir.F32, ir.Shape{2})
	y := mustOp(t, b, "mul", nil, x, w)
	s := mustOp(t, b, "reduce_sum", ir.Attrs{"axes": []int{0, 1}}, y)
	bind := map[string]*ir.Tensor{"x": tensor([]int{3, 2}, 1, 2, 3, 4, 5, 6), "w": tensor([]int{2}, 10, 100)}
	env, err := eval.Run(g, 3, bind)
	if err != nil {
		t.Fatal(err)
	}
	if len(env) != len(g.Values) {
		t.Errorf("env has %d values, graph %d", len(env), len(g.Values))
	}
	if env[x] != bind["x"] || env[w] != bind["w"] {
		t.Errorf("bound values are not the bound tensors")
	}
	if !equalData(env[y].Data, []float64{10, 200, 30, 400, 50, 600}) {
		t.Errorf("y = %v", env[y])
	}
	if !equalData(env[s].Data, []float64{1290}) || len(env[s].Shape) != 0 {
		t.Errorf("s = %v, want scalar 1290", env[s])
	}
}

func TestRunMissingBinding(t *testing.T) {
	g, b := build()
	x := input(t, b, "x", ir.F32, ir.Shape{ir.N})
	param(t, b, "param", "w", ir.F32, ir.Shape{1})
	mustOp(t, b, "neg", nil, x)
	_, err := eval.Run(g, 1, map[string]*ir.Tensor{"x": tensor([]int{1}, 1)})
	wantErr(t, err, "param", `"w"`)
	_, err = eval.Run(g, 1, nil)
	wantErr(t, err, "input", `"x"`)
}

func TestRunWrongShapeBinding(t *testing.T) {
	g, b := build()
	input(t, b, "pixels", ir.F32, ir.Shape{ir.N, 3})
	_, err := eval.Run(g, 2, map[string]*ir.Tensor{"pixels": tensor([]int{2, 2}, 1, 2, 3, 4)})
	wantErr(t, err, `"pixels"`, "[2 2]", "[2 3]")
	// Right extents but the batch size is another one.
	_, err = eval.Run(g, 1, map[string]*ir.Tensor{"pixels": tensor([]int{2, 3}, 1, 2, 3, 4, 5, 6)})
	wantErr(t, err, `"pixels"`, "[2 3]", "[1 3]")
	// Right extents, too little data.
	_, err = eval.Run(g, 2, map[string]*ir.Tensor{"pixels": tensor([]int{2, 3}, 1, 2, 3)})
	wantErr(t, err, `"pixels"`)
}

func TestRunBadBatchSize(t *testing.T) {
	g, b := build()
	input(t, b, "x", ir.F32, ir.Shape{ir.N})
	for _, n := range []int{0, -1} {
		_, err := eval.Run(g, n, map[string]*ir.Tensor{"x": tensor([]int{1}, 1)})
		wantErr(t, err, "batch size", "positive")
	}
}

func TestRunOpErrorNamesValue(t *testing.T) {
	g, b := build()
	tab := param(t, b, "param", "emb", ir.F32, ir.Shape{3, 2})
	idx := input(t, b, "tok", ir.I32, ir.Shape{ir.N})
	v := mustOp(t, b, "gather", nil, tab, idx)
	bind := map[string]*ir.Tensor{"emb": tensor([]int{3, 2}, 0, 1, 2, 3, 4, 5), "tok": tensor([]int{2}, 1, 3)}
	_, err := eval.Run(g, 2, bind)
	wantErr(t, err, v.String(), "gather", "index 3", "out of range")
}

func TestRunNoKernel(t *testing.T) {
	fake := &ir.OpDef{Name: "fake", Doc: "no kernel", Arity: 0,
		Shape: func(*ir.Value) (ir.Type, error) { return ir.Scalar(ir.F32), nil }}
	g := &ir.Graph{Values: []*ir.Value{{ID: 0, Op: fake, Type: ir.Scalar(ir.F32)}}}
	_, err := eval.Run(g, 1, nil)
	wantErr(t, err, "fake", "no reference kernel")
}

func TestRunUseBeforeDefinition(t *testing.T) {
	g, b := build()
	c := b.Const(1, ir.F32)
	n := mustOp(t, b, "neg", nil, c)
	g.Values = []*ir.Value{n, c}
	g.Renumber()
	_, err := eval.Run(g, 1, nil)
	wantErr(t, err, "%0 uses %1")
}

func TestStepAppliesUpdates(t *testing.T) {
	g, b := build()
	p := param(t, b, "param", "p", ir.F32, ir.Shape{2})
	step := param(t, b, "state", "t", ir.F32, ir.Shape{})
	one := b.Const(1, ir.F32)
	newP := mustOp(t, b, "sub", nil, p, step)   // p <- p - t
	newT := mustOp(t, b, "add", nil, step, one) // t <- t + 1
	g.Updates = append(g.Updates, ir.Update{Target: p, Value: newP}, ir.Update{Target: step, Value: newT})
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	bind := map[string]*ir.Tensor{"p": tensor([]int{2}, 5, 7), "t": tensor([]int{}, 1)}
	env, next, err := eval.Step(g, 1, bind)
	if err != nil {
		t.Fatal(err)
	}
	if !equalData(env[newP].Data, []float64{4, 6}) {
		t.Errorf("env[p - t] = %v", env[newP])
	}
	// Both updates read this step's values.
	if !equalData(next["p"].Data, []float64{4, 6}) || !equalData(next["t"].Data, []float64{2}) {
		t.Errorf("after step 1: p = %v, t = %v; want [4 6], [2]", next["p"], next["t"])
	}
	if !equalData(bind["p"].Data, []float64{5, 7}) || !equalData(bind["t"].Data, []float64{1}) {
		t.Errorf("Step changed its input bindings: p = %v, t = %v", bind["p"], bind["t"])
	}
	// The new bindings do not alias the interpreter's tensors.
	next["p"].Data[0] = 99
	if env[newP].Data[0] != 4 {
		t.Errorf("next[p] aliases env")
	}
	next["p"].Data[0] = 4
	_, next2, err := eval.Step(g, 1, next)
	if err != nil {
		t.Fatal(err)
	}
	if !equalData(next2["p"].Data, []float64{2, 4}) || !equalData(next2["t"].Data, []float64{3}) {
		t.Errorf("after step 2: p = %v, t = %v; want [2 4], [3]", next2["p"], next2["t"])
	}
}

func TestStepError(t *testing.T) {
	g, b := build()
	param(t, b, "param", "p", ir.F32, ir.Shape{2})
	if _, _, err := eval.Step(g, 1, nil); err == nil {
		t.Fatal("Step with no bindings succeeded")
	}
}

func TestRandom(t *testing.T) {
	g, b := build()
	x := input(t, b, "x", ir.F32, ir.Shape{ir.N, 4})
	y := input(t, b, "y", ir.I32, ir.Shape{ir.N})
	m := input(t, b, "mask", ir.Bool, ir.Shape{ir.N, 2})
	w := param(t, b, "param", "w", ir.F32, ir.Shape{4, 3})
	mustOp(t, b, "neg", nil, x)
	classes := func(v *ir.Value) int {
		if v.Name == "y" {
			return 10
		}
		return 0
	}
	const n = 50
	r1 := eval.Random(g, n, 7, classes)
	r2 := eval.Random(g, n, 7, classes)
	r3 := eval.Random(g, n, 8, classes)
	if len(r1) != 4 {
		t.Fatalf("Random bound %d values, want 4 (x, y, mask, w)", len(r1))
	}
	for _, v := range []*ir.Value{x, y, m, w} {
		a := r1[v.Name]
		if want := v.Type.Shape.Resolve(n); !equalInts(a.Shape, want) || len(a.Data) != size(want) {
			t.Errorf("%s: shape %v, want %v", v.Name, a.Shape, want)
		}
		if !equalData(a.Data, r2[v.Name].Data) {
			t.Errorf("%s: same seed gave different data", v.Name)
		}
		if equalData(a.Data, r3[v.Name].Data) {
			t.Errorf("%s: seeds 7 and 8 gave the same data", v.Name)
		}
	}
	if _, err := eval.Run(g, n, r1); err != nil {
		t.Errorf("Random bindings do not run: %v", err)
	}
	check := func(name string, ok func(float64) bool, want string) {
		seen := map[float64]bool{}
		for _, f := range r1[name].Data {
			if !ok(f) {
				t.Fatalf("%s: value %v not %s", name, f, want)
			}
			seen[f] = true
		}
		if len(seen) < 2 {
			t.Errorf("%s: all %d values equal", name, len(r1[name].Data))
		}
	}
	check("x", func(f float64) bool { return f >= -1 && f < 1 }, "in [-1, 1)")
	check("w", func(f float64) bool { return f >= -1 && f < 1 }, "in [-1, 1)")
	check("y", func(f float64) bool { return f >= 0 && f < 10 && f == float64(int(f)) }, "an integer in [0, 10)")
	check("mask", func(f float64) bool { return f == 0 || f == 1 }, "0 or 1")

	// Without classes, i32 values are 0 or 1; classes below 1 count as 1.
	for _, f := range eval.Random(g, n, 1, nil)["y"].Data {
		if f != 0 && f != 1 {
			t.Fatalf("y without classes: %v, want 0 or 1", f)
		}
	}
	for _, f := range eval.Random(g, n, 1, func(*ir.Value) int { return 0 })["y"].Data {
		if f != 0 {
			t.Fatalf("y with classes 0: %v, want 0", f)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func size(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
