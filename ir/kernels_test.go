package ir_test

// Reference kernel tests: each case builds a tiny graph, runs it with
// ir/eval and compares one value against literal, hand-computed numbers.
// TestKernelCoverage fails if a computed op of the table has no case.

import (
	"math"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/eval"
)

// kg builds a test graph for batch size n and collects input bindings.
type kg struct {
	t    testing.TB
	n    int
	g    *ir.Graph
	b    *ir.Builder
	bind map[string]*ir.Tensor
}

func newKG(t testing.TB, n int) *kg {
	g := &ir.Graph{}
	return &kg{t: t, n: n, g: g, b: ir.NewBuilder(g), bind: map[string]*ir.Tensor{}}
}

// in adds an input named name of type dt[shape] bound to data.
func (k *kg) in(name string, dt ir.DType, shape ir.Shape, data ...float64) *ir.Value {
	k.t.Helper()
	v := k.op("input", ir.Attrs{"role": "input", "dtype": dt, "shape": shape})
	v.Name = name
	ext := shape.Resolve(k.n)
	if n := numelOf(ext); n != len(data) {
		k.t.Fatalf("input %s%v with n=%d needs %d values, got %d", name, shape, k.n, n, len(data))
	}
	k.bind[name] = &ir.Tensor{Shape: ext, Data: data}
	return v
}

func (k *kg) f32(name string, shape ir.Shape, data ...float64) *ir.Value {
	k.t.Helper()
	return k.in(name, ir.F32, shape, data...)
}

func (k *kg) i32(name string, shape ir.Shape, data ...float64) *ir.Value {
	k.t.Helper()
	return k.in(name, ir.I32, shape, data...)
}

func (k *kg) op(name string, attrs ir.Attrs, args ...*ir.Value) *ir.Value {
	k.t.Helper()
	v, err := k.b.TryOp(name, attrs, args...)
	if err != nil {
		k.t.Fatalf("building %s: %v", name, err)
	}
	return v
}

func (k *kg) un(name string, x *ir.Value) *ir.Value { k.t.Helper(); return k.op(name, nil, x) }
func (k *kg) bin(name string, x, y *ir.Value) *ir.Value {
	k.t.Helper()
	return k.op(name, nil, x, y)
}
func (k *kg) c(x float64, d ir.DType) *ir.Value {
	k.t.Helper()
	return k.op("const", ir.Attrs{"dtype": d, "value": x})
}

func numelOf(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// ramp returns 0, 1, ..., n-1.
func ramp(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(i)
	}
	return out
}

var kInf = math.Inf(1)

// kcase is one kernel test: build returns the value whose tensor must have
// extents shape and elements want (within tol, relative above 1).
type kcase struct {
	name  string
	n     int // batch size; 0 means 1
	build func(k *kg) *ir.Value
	shape []int
	want  []float64
	tol   float64 // 0 means 1e-12
}

var x5 = []float64{-2, -0.5, 0, 0.5, 3}

var kernelCases = []kcase{
	// Sources with kernels.
	{name: "const/f32", build: func(k *kg) *ir.Value { return k.c(2.5, ir.F32) }, shape: []int{}, want: []float64{2.5}},
	{name: "const/i32 truncates", build: func(k *kg) *ir.Value { return k.c(-2.7, ir.I32) }, shape: []int{}, want: []float64{-2}},
	{name: "const/bool", build: func(k *kg) *ir.Value { return k.c(3, ir.Bool) }, shape: []int{}, want: []float64{1}},
	{name: "numel/fixed", build: func(k *kg) *ir.Value { return k.op("numel", ir.Attrs{"shape": ir.Shape{2, 4}}) }, shape: []int{}, want: []float64{8}},
	{name: "numel/scalar", build: func(k *kg) *ir.Value { return k.op("numel", ir.Attrs{"shape": ir.Shape{}}) }, shape: []int{}, want: []float64{1}},
	{name: "numel/N n=1", n: 1, build: func(k *kg) *ir.Value { return k.op("numel", ir.Attrs{"shape": ir.Shape{ir.N, 3}}) }, shape: []int{}, want: []float64{3}},
	{name: "numel/N n=3", n: 3, build: func(k *kg) *ir.Value { return k.op("numel", ir.Attrs{"shape": ir.Shape{ir.N, 3}}) }, shape: []int{}, want: []float64{9}},
	{name: "numel/2N n=3", n: 3, build: func(k *kg) *ir.Value { return k.op("numel", ir.Attrs{"shape": ir.Shape{-2, 5}}) }, shape: []int{}, want: []float64{30}},

	// Unary.
	{name: "neg", build: func(k *kg) *ir.Value { return k.un("neg", k.f32("x", ir.Shape{5}, x5...)) }, shape: []int{5}, want: []float64{2, 0.5, 0, -0.5, -3}},
	{name: "neg/i32", build: func(k *kg) *ir.Value { return k.un("neg", k.i32("x", ir.Shape{3}, -3, 0, 4)) }, shape: []int{3}, want: []float64{3, 0, -4}},
	{name: "abs", build: func(k *kg) *ir.Value { return k.un("abs", k.f32("x", ir.Shape{5}, x5...)) }, shape: []int{5}, want: []float64{2, 0.5, 0, 0.5, 3}},
	{name: "abs/i32", build: func(k *kg) *ir.Value { return k.un("abs", k.i32("x", ir.Shape{3}, -3, 0, 4)) }, shape: []int{3}, want: []float64{3, 0, 4}},
	{name: "sign", build: func(k *kg) *ir.Value { return k.un("sign", k.f32("x", ir.Shape{5}, x5...)) }, shape: []int{5}, want: []float64{-1, -1, 0, 1, 1}},
	{name: "sign/i32", build: func(k *kg) *ir.Value { return k.un("sign", k.i32("x", ir.Shape{3}, -3, 0, 4)) }, shape: []int{3}, want: []float64{-1, 0, 1}},
	{name: "exp", build: func(k *kg) *ir.Value { return k.un("exp", k.f32("x", ir.Shape{4}, 0, 1, -1, 2)) }, shape: []int{4},
		want: []float64{1, 2.718281828459045, 0.36787944117144233, 7.3890560989306495}},
	{name: "log", build: func(k *kg) *ir.Value { return k.un("log", k.f32("x", ir.Shape{4}, 1, 2, 0.5, 0)) }, shape: []int{4},
		want: []float64{0, 0.6931471805599453, -0.6931471805599453, -kInf}},
	{name: "sqrt", build: func(k *kg) *ir.Value { return k.un("sqrt", k.f32("x", ir.Shape{4}, 0, 1, 4, 2)) }, shape: []int{4},
		want: []float64{0, 1, 2, 1.4142135623730951}},
	{name: "relu", build: func(k *kg) *ir.Value { return k.un("relu", k.f32("x", ir.Shape{5}, x5...)) }, shape: []int{5}, want: []float64{0, 0, 0, 0.5, 3}},
	{name: "sigmoid/saturates without NaN", build: func(k *kg) *ir.Value {
		return k.un("sigmoid", k.f32("x", ir.Shape{5}, -800, -1, 0, 1, 800))
	}, shape: []int{5}, want: []float64{0, 0.2689414213699951, 0.5, 0.7310585786300049, 1}},
	{name: "tanh", build: func(k *kg) *ir.Value { return k.un("tanh", k.f32("x", ir.Shape{4}, -1, 0, 0.5, 20)) }, shape: []int{4},
		want: []float64{-0.7615941559557649, 0, 0.46211715726000974, 1}},
	{name: "gelu", build: func(k *kg) *ir.Value { return k.un("gelu", k.f32("x", ir.Shape{5}, -1, 0, 0.5, 1, 2)) }, shape: []int{5},
		want: []float64{-0.15880800939172324, 0, 0.34571400982514394, 0.8411919906082768, 1.954597694087775}},
	{name: "gelu_grad", build: func(k *kg) *ir.Value {
		return k.bin("gelu_grad", k.f32("x", ir.Shape{3}, 0, 1, -2), k.f32("g", ir.Shape{3}, 2, 1, 3))
	}, shape: []int{3}, want: []float64{1, 1.0829640838457826, -0.25829776987085473}},
	{name: "floor", build: func(k *kg) *ir.Value {
		return k.un("floor", k.f32("x", ir.Shape{7}, -2.5, -0.5, 0, 0.5, 2.999, 3, 1e9+0.5))
	}, shape: []int{7}, want: []float64{-3, -1, 0, 0, 2, 3, 1e9}},
	{name: "sin", build: func(k *kg) *ir.Value {
		return k.un("sin", k.f32("x", ir.Shape{5}, 0, math.Pi/2, math.Pi/6, -1, 2))
	}, shape: []int{5}, want: []float64{0, 1, 0.5, -0.8414709848078965, 0.9092974268256817}},
	{name: "cos", build: func(k *kg) *ir.Value {
		return k.un("cos", k.f32("x", ir.Shape{5}, 0, math.Pi, math.Pi/3, 1, -2))
	}, shape: []int{5}, want: []float64{1, -1, 0.5, 0.5403023058681398, -0.4161468365471424}},

	// Binary with broadcasting.
	{name: "add/scalar+tensor", build: func(k *kg) *ir.Value {
		return k.bin("add", k.c(10, ir.F32), k.f32("x", ir.Shape{3}, 1, 2, 3))
	}, shape: []int{3}, want: []float64{11, 12, 13}},
	{name: "add/[3,1]+[1,4]", build: func(k *kg) *ir.Value {
		return k.bin("add", k.f32("a", ir.Shape{3, 1}, 1, 2, 3), k.f32("b", ir.Shape{1, 4}, 10, 20, 30, 40))
	}, shape: []int{3, 4}, want: []float64{11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43}},
	{name: "add/[4]+[2,3,4]", build: func(k *kg) *ir.Value {
		return k.bin("add", k.f32("a", ir.Shape{4}, 100, 200, 300, 400), k.f32("b", ir.Shape{2, 3, 4}, ramp(24)...))
	}, shape: []int{2, 3, 4}, want: []float64{
		100, 201, 302, 403, 104, 205, 306, 407, 108, 209, 310, 411,
		112, 213, 314, 415, 116, 217, 318, 419, 120, 221, 322, 423}},
	{name: "add/size-1 axes on both sides", build: func(k *kg) *ir.Value {
		return k.bin("add", k.f32("a", ir.Shape{2, 1, 2}, 1, 2, 3, 4), k.f32("b", ir.Shape{1, 3, 1}, 10, 20, 30))
	}, shape: []int{2, 3, 2}, want: []float64{11, 12, 21, 22, 31, 32, 13, 14, 23, 24, 33, 34}},
	{name: "add/[N,2]+[2] n=1", n: 1, build: func(k *kg) *ir.Value {
		return k.bin("add", k.f32("a", ir.Shape{ir.N, 2}, 1, 2), k.f32("b", ir.Shape{2}, 10, 20))
	}, shape: []int{1, 2}, want: []float64{11, 22}},
	{name: "add/[N,2]+[2] n=3", n: 3, build: func(k *kg) *ir.Value {
		return k.bin("add", k.f32("a", ir.Shape{ir.N, 2}, 1, 2, 3, 4, 5, 6), k.f32("b", ir.Shape{2}, 10, 20))
	}, shape: []int{3, 2}, want: []float64{11, 22, 13, 24, 15, 26}},
	{name: "add/[N,1]+[1,3] n=3", n: 3, build: func(k *kg) *ir.Value {
		return k.bin("add", k.f32("a", ir.Shape{ir.N, 1}, 1, 2, 3), k.f32("b", ir.Shape{1, 3}, 10, 20, 30))
	}, shape: []int{3, 3}, want: []float64{11, 21, 31, 12, 22, 32, 13, 23, 33}},
	{name: "add/i32", build: func(k *kg) *ir.Value {
		return k.bin("add", k.i32("a", ir.Shape{3}, 2, -3, 7), k.i32("b", ir.Shape{}, 5))
	}, shape: []int{3}, want: []float64{7, 2, 12}},
	{name: "sub", build: func(k *kg) *ir.Value {
		return k.bin("sub", k.f32("a", ir.Shape{2}, 5, 3), k.f32("b", ir.Shape{1}, 1))
	}, shape: []int{2}, want: []float64{4, 2}},
	{name: "sub/scalar-tensor", build: func(k *kg) *ir.Value {
		return k.bin("sub", k.c(1, ir.F32), k.f32("b", ir.Shape{2}, 5, 3))
	}, shape: []int{2}, want: []float64{-4, -2}},
	{name: "mul", build: func(k *kg) *ir.Value {
		return k.bin("mul", k.f32("a", ir.Shape{2, 3}, 1, 2, 3, 4, 5, 6), k.f32("b", ir.Shape{3}, 2, 0.5, -1))
	}, shape: []int{2, 3}, want: []float64{2, 1, -3, 8, 2.5, -6}},
	{name: "mul/i32", build: func(k *kg) *ir.Value {
		return k.bin("mul", k.i32("a", ir.Shape{2, 1}, 3, -4), k.i32("b", ir.Shape{3}, 1, 2, 0))
	}, shape: []int{2, 3}, want: []float64{3, 6, 0, -4, -8, 0}},
	{name: "div", build: func(k *kg) *ir.Value {
		return k.bin("div", k.f32("a", ir.Shape{3}, 1, 3, 1), k.f32("b", ir.Shape{3}, 2, 4, 0))
	}, shape: []int{3}, want: []float64{0.5, 0.75, kInf}},
	{name: "pow", build: func(k *kg) *ir.Value {
		return k.bin("pow", k.f32("a", ir.Shape{3}, 2, 9, 4), k.f32("b", ir.Shape{3}, 3, 0.5, -1))
	}, shape: []int{3}, want: []float64{8, 3, 0.25}},
	{name: "maximum", build: func(k *kg) *ir.Value {
		return k.bin("maximum", k.f32("a", ir.Shape{2, 2}, 1, 5, -3, 0), k.f32("b", ir.Shape{2}, 2, 2))
	}, shape: []int{2, 2}, want: []float64{2, 5, 2, 2}},
	{name: "maximum/i32", build: func(k *kg) *ir.Value {
		return k.bin("maximum", k.i32("a", ir.Shape{4}, -5, 0, 3, 9), k.i32("b", ir.Shape{}, 1))
	}, shape: []int{4}, want: []float64{1, 1, 3, 9}},
	{name: "minimum", build: func(k *kg) *ir.Value {
		return k.bin("minimum", k.f32("a", ir.Shape{2, 2}, 1, 5, -3, 0), k.f32("b", ir.Shape{2}, 2, 2))
	}, shape: []int{2, 2}, want: []float64{1, 2, -3, 0}},

	// Comparisons and selection.
	{name: "eq", build: func(k *kg) *ir.Value { return k.bin("eq", k.f32("a", ir.Shape{3}, 1, 2, 3), k.c(2, ir.F32)) }, shape: []int{3}, want: []float64{0, 1, 0}},
	{name: "ne", build: func(k *kg) *ir.Value { return k.bin("ne", k.f32("a", ir.Shape{3}, 1, 2, 3), k.c(2, ir.F32)) }, shape: []int{3}, want: []float64{1, 0, 1}},
	{name: "lt", build: func(k *kg) *ir.Value { return k.bin("lt", k.f32("a", ir.Shape{3}, 1, 2, 3), k.c(2, ir.F32)) }, shape: []int{3}, want: []float64{1, 0, 0}},
	{name: "le", build: func(k *kg) *ir.Value { return k.bin("le", k.f32("a", ir.Shape{3}, 1, 2, 3), k.c(2, ir.F32)) }, shape: []int{3}, want: []float64{1, 1, 0}},
	{name: "gt", build: func(k *kg) *ir.Value { return k.bin("gt", k.f32("a", ir.Shape{3}, 1, 2, 3), k.c(2, ir.F32)) }, shape: []int{3}, want: []float64{0, 0, 1}},
	{name: "ge", build: func(k *kg) *ir.Value { return k.bin("ge", k.f32("a", ir.Shape{3}, 1, 2, 3), k.c(2, ir.F32)) }, shape: []int{3}, want: []float64{0, 1, 1}},
	{name: "lt/[2,1] vs [3] i32", build: func(k *kg) *ir.Value {
		return k.bin("lt", k.i32("a", ir.Shape{2, 1}, 1, 3), k.i32("b", ir.Shape{3}, 0, 2, 4))
	}, shape: []int{2, 3}, want: []float64{0, 1, 1, 0, 0, 1}},
	{name: "where/three-way broadcast", build: func(k *kg) *ir.Value {
		c := k.in("c", ir.Bool, ir.Shape{3}, 1, 0, 1)
		return k.op("where", nil, c, k.f32("a", ir.Shape{2, 1}, 10, 20), k.c(-1, ir.F32))
	}, shape: []int{2, 3}, want: []float64{10, -1, 10, 20, -1, 20}},
	{name: "where/cond [2,1,1] rank 3", build: func(k *kg) *ir.Value {
		c := k.in("c", ir.Bool, ir.Shape{2, 1, 1}, 0, 1)
		return k.op("where", nil, c, k.f32("a", ir.Shape{2}, 1, 2), k.f32("b", ir.Shape{3, 1}, 7, 8, 9))
	}, shape: []int{2, 3, 2}, want: []float64{7, 7, 8, 8, 9, 9, 1, 2, 1, 2, 1, 2}},
	{name: "cast/f32->i32 truncates toward zero", build: func(k *kg) *ir.Value {
		return k.op("cast", ir.Attrs{"dtype": ir.I32}, k.f32("x", ir.Shape{6}, -2.7, -0.5, 0.5, 2.9, 3, -3))
	}, shape: []int{6}, want: []float64{-2, 0, 0, 2, 3, -3}},
	{name: "cast/f32->bool", build: func(k *kg) *ir.Value {
		return k.op("cast", ir.Attrs{"dtype": ir.Bool}, k.f32("x", ir.Shape{4}, 0, -0.5, 2, 1))
	}, shape: []int{4}, want: []float64{0, 1, 1, 1}},
	{name: "cast/bool->f32", build: func(k *kg) *ir.Value {
		return k.op("cast", ir.Attrs{"dtype": ir.F32}, k.in("x", ir.Bool, ir.Shape{2}, 1, 0))
	}, shape: []int{2}, want: []float64{1, 0}},
	{name: "cast/bool->i32", build: func(k *kg) *ir.Value {
		return k.op("cast", ir.Attrs{"dtype": ir.I32}, k.bin("gt", k.f32("x", ir.Shape{3}, -1, 0, 1), k.c(0, ir.F32)))
	}, shape: []int{3}, want: []float64{0, 0, 1}},

	// Matmul: A = [[1,2,3],[4,5,6]], B = [[1,0,2,1],[0,1,1,2],[1,1,0,3]],
	// A@B = [[4,5,4,14],[10,11,13,32]]. At and Bt hold the transposes.
	{name: "matmul", build: func(k *kg) *ir.Value {
		return k.bin("matmul", k.f32("a", ir.Shape{2, 3}, matA...), k.f32("b", ir.Shape{3, 4}, matB...))
	}, shape: []int{2, 4}, want: matAB},
	{name: "matmul/ta", build: func(k *kg) *ir.Value {
		return k.op("matmul", ir.Attrs{"ta": true}, k.f32("a", ir.Shape{3, 2}, matAt...), k.f32("b", ir.Shape{3, 4}, matB...))
	}, shape: []int{2, 4}, want: matAB},
	{name: "matmul/tb", build: func(k *kg) *ir.Value {
		return k.op("matmul", ir.Attrs{"tb": true}, k.f32("a", ir.Shape{2, 3}, matA...), k.f32("b", ir.Shape{4, 3}, matBt...))
	}, shape: []int{2, 4}, want: matAB},
	{name: "matmul/ta tb", build: func(k *kg) *ir.Value {
		return k.op("matmul", ir.Attrs{"ta": true, "tb": true}, k.f32("a", ir.Shape{3, 2}, matAt...), k.f32("b", ir.Shape{4, 3}, matBt...))
	}, shape: []int{2, 4}, want: matAB},
	{name: "matmul/ta=false tb=false explicit", build: func(k *kg) *ir.Value {
		return k.op("matmul", ir.Attrs{"ta": false, "tb": false}, k.f32("a", ir.Shape{2, 3}, matA...), k.f32("b", ir.Shape{3, 4}, matB...))
	}, shape: []int{2, 4}, want: matAB},
	// Batch 1: A1 = [[1,0,0],[0,1,0]], B1 = [[1,2,3,4],[5,6,7,8],[9,10,11,12]].
	{name: "matmul/batched", build: func(k *kg) *ir.Value {
		a := k.f32("a", ir.Shape{2, 2, 3}, append(append([]float64{}, matA...), 1, 0, 0, 0, 1, 0)...)
		b := k.f32("b", ir.Shape{2, 3, 4}, append(append([]float64{}, matB...), ramp1(12)...)...)
		return k.bin("matmul", a, b)
	}, shape: []int{2, 2, 4}, want: append(append([]float64{}, matAB...), 1, 2, 3, 4, 5, 6, 7, 8)},
	{name: "matmul/batched ta tb", build: func(k *kg) *ir.Value {
		a := k.f32("a", ir.Shape{2, 3, 2}, append(append([]float64{}, matAt...), 1, 0, 0, 1, 0, 0)...)
		b := k.f32("b", ir.Shape{2, 4, 3}, append(append([]float64{}, matBt...), 1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12)...)
		return k.op("matmul", ir.Attrs{"ta": true, "tb": true}, a, b)
	}, shape: []int{2, 2, 4}, want: append(append([]float64{}, matAB...), 1, 2, 3, 4, 5, 6, 7, 8)},
	{name: "matmul/[N,3]@[3,4] n=2", n: 2, build: func(k *kg) *ir.Value {
		return k.bin("matmul", k.f32("a", ir.Shape{ir.N, 3}, matA...), k.f32("b", ir.Shape{3, 4}, matB...))
	}, shape: []int{2, 4}, want: matAB},

	// Reductions over x = 0..23 shaped [2,3,4]: x[i,j,k] = 12i + 4j + k.
	{name: "reduce_sum/axes 0,2", build: func(k *kg) *ir.Value {
		return k.op("reduce_sum", ir.Attrs{"axes": []int{0, 2}}, k.f32("x", ir.Shape{2, 3, 4}, ramp(24)...))
	}, shape: []int{3}, want: []float64{60, 92, 124}},
	{name: "reduce_sum/axis -1 keepdims", build: func(k *kg) *ir.Value {
		return k.op("reduce_sum", ir.Attrs{"axes": []int{-1}, "keepdims": true}, k.f32("x", ir.Shape{2, 3, 4}, ramp(24)...))
	}, shape: []int{2, 3, 1}, want: []float64{6, 22, 38, 54, 70, 86}},
	{name: "reduce_sum/all axes unsorted", build: func(k *kg) *ir.Value {
		return k.op("reduce_sum", ir.Attrs{"axes": []int{2, 0, -2}}, k.f32("x", ir.Shape{2, 3, 4}, ramp(24)...))
	}, shape: []int{}, want: []float64{276}},
	{name: "reduce_sum/all axes keepdims", build: func(k *kg) *ir.Value {
		return k.op("reduce_sum", ir.Attrs{"axes": []int{0, 1, 2}, "keepdims": true}, k.f32("x", ir.Shape{2, 3, 4}, ramp(24)...))
	}, shape: []int{1, 1, 1}, want: []float64{276}},
	{name: "reduce_sum/i32 over N n=3", n: 3, build: func(k *kg) *ir.Value {
		return k.op("reduce_sum", ir.Attrs{"axes": []int{0}}, k.i32("x", ir.Shape{ir.N, 2}, 1, 2, 3, 4, 5, 6))
	}, shape: []int{2}, want: []float64{9, 12}},
	{name: "reduce_mean/axis 1 keepdims", build: func(k *kg) *ir.Value {
		return k.op("reduce_mean", ir.Attrs{"axes": []int{1}, "keepdims": true}, k.f32("x", ir.Shape{2, 3, 4}, ramp(24)...))
	}, shape: []int{2, 1, 4}, want: []float64{4, 5, 6, 7, 16, 17, 18, 19}},
	{name: "reduce_mean/axes -3,-1", build: func(k *kg) *ir.Value {
		return k.op("reduce_mean", ir.Attrs{"axes": []int{-3, -1}}, k.f32("x", ir.Shape{2, 3, 4}, ramp(24)...))
	}, shape: []int{3}, want: []float64{7.5, 11.5, 15.5}},
	{name: "reduce_max/axis 1", build: func(k *kg) *ir.Value {
		return k.op("reduce_max", ir.Attrs{"axes": []int{1}}, k.f32("x", ir.Shape{2, 3}, 1, -4, 7, -2, -9, -1))
	}, shape: []int{2}, want: []float64{7, -1}},
	{name: "reduce_max/axis 0 keepdims", build: func(k *kg) *ir.Value {
		return k.op("reduce_max", ir.Attrs{"axes": []int{0}, "keepdims": true}, k.f32("x", ir.Shape{2, 3}, 1, -4, 7, -2, -9, -1))
	}, shape: []int{1, 3}, want: []float64{1, -4, 7}},
	{name: "reduce_max/i32 axes 0,1", build: func(k *kg) *ir.Value {
		return k.op("reduce_max", ir.Attrs{"axes": []int{0, 1}}, k.i32("x", ir.Shape{2, 2}, -7, -3, -5, -4))
	}, shape: []int{}, want: []float64{-3}},
	{name: "argmax/ties pick the first", build: func(k *kg) *ir.Value {
		return k.op("argmax", ir.Attrs{"axis": 1}, k.f32("x", ir.Shape{2, 4}, 1, 3, 3, 2, 5, 5, 5, 5))
	}, shape: []int{2}, want: []float64{1, 0}},
	{name: "argmax/axis -2", build: func(k *kg) *ir.Value {
		return k.op("argmax", ir.Attrs{"axis": -2}, k.f32("x", ir.Shape{2, 3}, 1, 9, 2, 4, 9, 0))
	}, shape: []int{3}, want: []float64{1, 0, 0}},
	{name: "argmax/middle axis of rank 3", build: func(k *kg) *ir.Value {
		return k.op("argmax", ir.Attrs{"axis": 1}, k.f32("x", ir.Shape{2, 3, 2}, 0, 5, 7, 1, 3, 5, 2, 2, 2, 8, 9, 1))
	}, shape: []int{2, 2}, want: []float64{1, 0, 2, 1}},
	{name: "softmax/large logits", build: func(k *kg) *ir.Value {
		return k.op("softmax", ir.Attrs{"axis": 0}, k.f32("x", ir.Shape{2}, 1000, 1001))
	}, shape: []int{2}, want: []float64{0.2689414213699951, 0.7310585786300049}},
	{name: "softmax/axis 0 of [2,3]", build: func(k *kg) *ir.Value {
		return k.op("softmax", ir.Attrs{"axis": 0}, k.f32("x", ir.Shape{2, 3}, 0, 1000, 5, 0, 1001, 5))
	}, shape: []int{2, 3}, want: []float64{0.5, 0.2689414213699951, 0.5, 0.5, 0.7310585786300049, 0.5}},
	{name: "softmax/axis -1 with -kInf", build: func(k *kg) *ir.Value {
		return k.op("softmax", ir.Attrs{"axis": -1}, k.f32("x", ir.Shape{2, 2}, -kInf, 3, 1001, 1000))
	}, shape: []int{2, 2}, want: []float64{0, 1, 0.7310585786300049, 0.2689414213699951}},
	{name: "softmax/middle axis of rank 3", build: func(k *kg) *ir.Value {
		x := k.f32("x", ir.Shape{2, 2, 2}, 0, 5, 1.0986122886681098, 5, 1000, -kInf, 1001, 7) // ln 3 = 1.0986...
		return k.op("softmax", ir.Attrs{"axis": 1}, x)
	}, shape: []int{2, 2, 2}, want: []float64{0.25, 0.5, 0.75, 0.5, 0.2689414213699951, 0, 0.7310585786300049, 1}},
	// masked_softmax: ln 3 = 1.0986122886681098, so softmax(0, ln 3) = (1/4, 3/4).
	{name: "masked_softmax/causal [2,2]: row 0 keeps key 0 only", build: func(k *kg) *ir.Value {
		return k.op("masked_softmax", ir.Attrs{"scale": 1.0, "causal": true}, k.f32("x", ir.Shape{2, 2}, 7, 100, 1.0986122886681098, 0))
	}, shape: []int{2, 2}, want: []float64{1, 0, 0.75, 0.25}},
	{name: "masked_softmax/scale 2, not causal", build: func(k *kg) *ir.Value {
		return k.op("masked_softmax", ir.Attrs{"scale": 2.0}, k.f32("x", ir.Shape{1, 2}, 0, 1.0986122886681098/2))
	}, shape: []int{1, 2}, want: []float64{0.25, 0.75}},
	{name: "masked_softmax/large scores stay finite", build: func(k *kg) *ir.Value {
		return k.op("masked_softmax", ir.Attrs{"scale": 0.5}, k.f32("x", ir.Shape{1, 2}, 2000, 2002))
	}, shape: []int{1, 2}, want: []float64{0.2689414213699951, 0.7310585786300049}},
	{name: "masked_softmax/causal [2 heads, 3, 3]: the mask restarts in each head", build: func(k *kg) *ir.Value {
		x := k.f32("x", ir.Shape{2, 3, 3}, 5, 9, 9, 0, 0, 9, 0, 0, 0, 9, 9, 9, 1.0986122886681098, 0, 9, 0, 0, 0)
		return k.op("masked_softmax", ir.Attrs{"scale": 1.0, "causal": true}, x)
	}, shape: []int{2, 3, 3}, want: []float64{1, 0, 0, 0.5, 0.5, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3, 1, 0, 0, 0.75, 0.25, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3}},
	{name: "masked_softmax/causal with more keys than queries: tril at the top left", build: func(k *kg) *ir.Value {
		return k.op("masked_softmax", ir.Attrs{"scale": 1.0, "causal": true}, k.f32("x", ir.Shape{2, 3}, 4, 4, 4, 0, 0, 4))
	}, shape: []int{2, 3}, want: []float64{1, 0, 0, 0.5, 0.5, 0}},
	// scale y (g - y.g): y = (1/4, 3/4), g = (1, 0): y.g = 1/4, 2 (1/4)(3/4) = 0.375.
	{name: "masked_softmax_grad/scale 2", build: func(k *kg) *ir.Value {
		y, g := k.f32("y", ir.Shape{1, 2}, 0.25, 0.75), k.f32("g", ir.Shape{1, 2}, 1, 0)
		return k.op("masked_softmax_grad", ir.Attrs{"scale": 2.0}, y, g)
	}, shape: []int{1, 2}, want: []float64{0.375, -0.375}},
	{name: "masked_softmax_grad/causal: masked keys get 0 whatever g says", build: func(k *kg) *ir.Value {
		y, g := k.f32("y", ir.Shape{2, 2}, 1, 0, 0.5, 0.5), k.f32("g", ir.Shape{2, 2}, 3, 5, 1, 3)
		return k.op("masked_softmax_grad", ir.Attrs{"scale": 1.0, "causal": true}, y, g)
	}, shape: []int{2, 2}, want: []float64{0, 0, -0.5, 0.5}},
	{name: "log_softmax/large logits", build: func(k *kg) *ir.Value {
		return k.op("log_softmax", ir.Attrs{"axis": -1}, k.f32("x", ir.Shape{1, 2}, 1000, 1001))
	}, shape: []int{1, 2}, want: []float64{-1.3132616875182228, -0.31326168751822286}},
	{name: "log_softmax/axis 0", build: func(k *kg) *ir.Value {
		return k.op("log_softmax", ir.Attrs{"axis": 0}, k.f32("x", ir.Shape{2, 2}, 0, 1000, 0, 1001))
	}, shape: []int{2, 2}, want: []float64{-0.6931471805599453, -1.3132616875182228, -0.6931471805599453, -0.31326168751822286}},
	{name: "logsumexp/large and -kInf rows", build: func(k *kg) *ir.Value {
		return k.op("logsumexp", ir.Attrs{"axes": []int{1}}, k.f32("x", ir.Shape{2, 2}, 1000, 1001, -kInf, -kInf))
	}, shape: []int{2}, want: []float64{1001.3132616875182, -kInf}},
	{name: "logsumexp/all axes keepdims", build: func(k *kg) *ir.Value {
		return k.op("logsumexp", ir.Attrs{"axes": []int{0, 1}, "keepdims": true}, k.f32("x", ir.Shape{2, 2}, 0, 0, 0, 0))
	}, shape: []int{1, 1}, want: []float64{1.3862943611198906}},

	// Layout.
	{name: "reshape", build: func(k *kg) *ir.Value {
		return k.op("reshape", ir.Attrs{"shape": ir.Shape{3, 2}}, k.f32("x", ir.Shape{2, 3}, ramp(6)...))
	}, shape: []int{3, 2}, want: ramp(6)},
	{name: "reshape/[N,2,3]->[N,6] n=2", n: 2, build: func(k *kg) *ir.Value {
		return k.op("reshape", ir.Attrs{"shape": ir.Shape{ir.N, 6}}, k.f32("x", ir.Shape{ir.N, 2, 3}, ramp(12)...))
	}, shape: []int{2, 6}, want: ramp(12)},
	{name: "reshape/[N,2]->[2N] n=3", n: 3, build: func(k *kg) *ir.Value {
		return k.op("reshape", ir.Attrs{"shape": ir.Shape{-2}}, k.f32("x", ir.Shape{ir.N, 2}, ramp(6)...))
	}, shape: []int{6}, want: ramp(6)},
	{name: "transpose/rank 3 [2,0,1]", build: func(k *kg) *ir.Value {
		return k.op("transpose", ir.Attrs{"perm": []int{2, 0, 1}}, k.f32("x", ir.Shape{2, 3, 4}, ramp(24)...))
	}, shape: []int{4, 2, 3}, want: []float64{
		0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21, 2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23}},
	{name: "transpose/rank 3 [0,2,1]", build: func(k *kg) *ir.Value {
		return k.op("transpose", ir.Attrs{"perm": []int{0, 2, 1}}, k.f32("x", ir.Shape{2, 3, 4}, ramp(24)...))
	}, shape: []int{2, 4, 3}, want: []float64{
		0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, 12, 16, 20, 13, 17, 21, 14, 18, 22, 15, 19, 23}},
	{name: "transpose/rank 2", build: func(k *kg) *ir.Value {
		return k.op("transpose", ir.Attrs{"perm": []int{1, 0}}, k.f32("x", ir.Shape{2, 3}, ramp(6)...))
	}, shape: []int{3, 2}, want: []float64{0, 3, 1, 4, 2, 5}},
	{name: "broadcast/[3,1]->[2,3,2]", build: func(k *kg) *ir.Value {
		return k.op("broadcast", ir.Attrs{"shape": ir.Shape{2, 3, 2}}, k.f32("x", ir.Shape{3, 1}, 1, 2, 3))
	}, shape: []int{2, 3, 2}, want: []float64{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}},
	{name: "broadcast/scalar->[N,2] n=3", n: 3, build: func(k *kg) *ir.Value {
		return k.op("broadcast", ir.Attrs{"shape": ir.Shape{ir.N, 2}}, k.c(7, ir.F32))
	}, shape: []int{3, 2}, want: []float64{7, 7, 7, 7, 7, 7}},
	{name: "slice/middle axis", build: func(k *kg) *ir.Value {
		return k.op("slice", ir.Attrs{"axis": 1, "start": 1, "end": 3}, k.f32("x", ir.Shape{2, 3, 4}, ramp(24)...))
	}, shape: []int{2, 2, 4}, want: []float64{4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23}},
	{name: "slice/axis -1", build: func(k *kg) *ir.Value {
		return k.op("slice", ir.Attrs{"axis": -1, "start": 1, "end": 3}, k.f32("x", ir.Shape{2, 3}, ramp(6)...))
	}, shape: []int{2, 2}, want: []float64{1, 2, 4, 5}},
	{name: "slice/after batch axis n=2", n: 2, build: func(k *kg) *ir.Value {
		return k.op("slice", ir.Attrs{"axis": 1, "start": 0, "end": 1}, k.f32("x", ir.Shape{ir.N, 3}, ramp(6)...))
	}, shape: []int{2, 1}, want: []float64{0, 3}},
	{name: "pad/middle axis", build: func(k *kg) *ir.Value {
		return k.op("pad", ir.Attrs{"axis": 1, "before": 1, "after": 2}, k.f32("x", ir.Shape{2, 2, 2}, 1, 2, 3, 4, 5, 6, 7, 8))
	}, shape: []int{2, 5, 2}, want: []float64{0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 5, 6, 7, 8, 0, 0, 0, 0}},
	{name: "pad/axis -1 before only", build: func(k *kg) *ir.Value {
		return k.op("pad", ir.Attrs{"axis": -1, "before": 2, "after": 0}, k.f32("x", ir.Shape{2, 1}, 1, 2))
	}, shape: []int{2, 3}, want: []float64{0, 0, 1, 0, 0, 2}},
	{name: "concat/middle axis", build: func(k *kg) *ir.Value {
		return k.op("concat", ir.Attrs{"axis": 1}, k.f32("a", ir.Shape{2, 1, 2}, 1, 2, 3, 4), k.f32("b", ir.Shape{2, 2, 2}, 10, 11, 12, 13, 14, 15, 16, 17))
	}, shape: []int{2, 3, 2}, want: []float64{1, 2, 10, 11, 12, 13, 3, 4, 14, 15, 16, 17}},
	{name: "concat/three args axis -1", build: func(k *kg) *ir.Value {
		return k.op("concat", ir.Attrs{"axis": -1}, k.f32("a", ir.Shape{2, 1}, 1, 2), k.f32("b", ir.Shape{2, 2}, 3, 4, 5, 6), k.f32("c", ir.Shape{2, 1}, 7, 8))
	}, shape: []int{2, 4}, want: []float64{1, 3, 4, 7, 2, 5, 6, 8}},
	{name: "concat/batch axis n=2", n: 2, build: func(k *kg) *ir.Value {
		return k.op("concat", ir.Attrs{"axis": 0}, k.f32("a", ir.Shape{ir.N, 2}, 1, 2, 3, 4), k.f32("b", ir.Shape{ir.N, 2}, 5, 6, 7, 8))
	}, shape: []int{4, 2}, want: []float64{1, 2, 3, 4, 5, 6, 7, 8}},

	// Indexing.
	{name: "gather/rank-2 indices", build: func(k *kg) *ir.Value {
		tab := k.f32("t", ir.Shape{4, 2}, 0, 1, 10, 11, 20, 21, 30, 31)
		return k.bin("gather", tab, k.i32("i", ir.Shape{2, 3}, 3, 0, 1, 1, 1, 2))
	}, shape: []int{2, 3, 2}, want: []float64{30, 31, 0, 1, 10, 11, 10, 11, 10, 11, 20, 21}},
	{name: "gather/rank-1 table", build: func(k *kg) *ir.Value {
		return k.bin("gather", k.f32("t", ir.Shape{3}, 5, 6, 7), k.i32("i", ir.Shape{ir.N}, 2))
	}, shape: []int{1}, want: []float64{7}},
	{name: "scatter_add/repeated indices", build: func(k *kg) *ir.Value {
		return k.op("scatter_add", ir.Attrs{"rows": 3}, k.i32("i", ir.Shape{4}, 1, 0, 1, 1), k.f32("s", ir.Shape{4, 2}, 1, 2, 3, 4, 5, 6, 7, 8))
	}, shape: []int{3, 2}, want: []float64{3, 4, 13, 16, 0, 0}},
	{name: "scatter_add/rank-2 indices", build: func(k *kg) *ir.Value {
		return k.op("scatter_add", ir.Attrs{"rows": 3}, k.i32("i", ir.Shape{2, 2}, 0, 2, 2, 0), k.f32("s", ir.Shape{2, 2}, 1, 2, 3, 4))
	}, shape: []int{3}, want: []float64{5, 0, 5}},
	{name: "one_hot/out of range gives zero row", build: func(k *kg) *ir.Value {
		return k.op("one_hot", ir.Attrs{"depth": 3}, k.i32("i", ir.Shape{2, 2}, 0, 3, -1, 2))
	}, shape: []int{2, 2, 3}, want: []float64{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},

	// Randomness: element 0 at key 0, step 0, stream 0 is the first word of
	// Random123's zero known-answer vector, 0x6627e8d5, as (word>>8) / 2^24.
	{name: "random_uniform/known answer", build: func(k *kg) *ir.Value {
		return k.op("random_uniform", ir.Attrs{"shape": ir.Shape{1}, "stream": 0}, k.f32("key", ir.Shape{4}, 0, 0, 0, 0), k.f32("step", ir.Shape{}, 0))
	}, shape: []int{1}, want: []float64{0x6627e8 / float64(1<<24)}},
}

var (
	matA  = []float64{1, 2, 3, 4, 5, 6}
	matAt = []float64{1, 4, 2, 5, 3, 6}
	matB  = []float64{1, 0, 2, 1, 0, 1, 1, 2, 1, 1, 0, 3}
	matBt = []float64{1, 0, 1, 0, 1, 1, 2, 1, 0, 1, 2, 3}
	matAB = []float64{4, 5, 4, 14, 10, 11, 13, 32}
)

// ramp1 returns 1, 2, ..., n.
func ramp1(n int) []float64 {
	out := ramp(n)
	for i := range out {
		out[i]++
	}
	return out
}

// nearly reports whether got matches want: same infinity, both NaN, or
// within tol (relative for |want| > 1).
func nearly(got, want, tol float64) bool {
	switch {
	case math.IsNaN(want) || math.IsNaN(got):
		return math.IsNaN(want) && math.IsNaN(got)
	case math.IsInf(want, 0) || math.IsInf(got, 0):
		return got == want
	}
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func TestKernels(t *testing.T) {
	for _, c := range kernelCases {
		t.Run(c.name, func(t *testing.T) {
			n := max(c.n, 1)
			k := newKG(t, n)
			v := c.build(k)
			if err := ir.Verify(k.g); err != nil {
				t.Fatalf("verify: %v", err)
			}
			env, err := eval.Run(k.g, n, k.bind)
			if err != nil {
				t.Fatal(err)
			}
			got := env[v]
			if !equalInts(got.Shape, c.shape) {
				t.Fatalf("%s: shape %v, want %v", v.Op.Name, got.Shape, c.shape)
			}
			if len(got.Data) != len(c.want) {
				t.Fatalf("%s: %d elements, want %d", v.Op.Name, len(got.Data), len(c.want))
			}
			tol := c.tol
			if tol == 0 {
				tol = 1e-12
			}
			for i := range c.want {
				if !nearly(got.Data[i], c.want[i], tol) {
					t.Errorf("%s: element %d = %v, want %v\ngot  %v\nwant %v", v.Op.Name, i, got.Data[i], c.want[i], got.Data, c.want)
					break
				}
			}
		})
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

// TestKernelCoverage fails if an op with a reference kernel has no case above.
func TestKernelCoverage(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range kernelCases {
		k := newKG(t, max(c.n, 1))
		c.build(k)
		for _, v := range k.g.Values {
			seen[v.Op.Name] = true
		}
	}
	for _, op := range ir.Ops() {
		if !op.Bound && !seen[op.Name] {
			t.Errorf("op %s has no kernel test", op.Name)
		}
	}
}

// gelu0 is the tanh-form GELU computed independently of the kernel:
// 0.5 (1 + tanh u) = sigmoid(2u) = 1 / (1 + e^-2u).
func gelu0(x float64) float64 {
	u := math.Sqrt(2/math.Pi) * (x + 0.044715*x*x*x)
	return x / (1 + math.Exp(-2*u))
}

func TestGeluIndependent(t *testing.T) {
	if got := gelu0(1); !nearly(got, 0.8411919906082768, 1e-15) {
		t.Fatalf("independent gelu(1) = %v, want 0.8411919906082768", got)
	}
	xs := []float64{-6, -3, -1, -0.5, -1e-3, 0, 1e-3, 0.5, 1, 2, 3, 6}
	gs := make([]float64, len(xs))
	for i := range gs {
		gs[i] = 1
	}
	k := newKG(t, 1)
	x := k.f32("x", ir.Shape{len32(xs)}, xs...)
	g := k.f32("g", ir.Shape{len32(xs)}, gs...)
	y := k.un("gelu", x)
	dy := k.bin("gelu_grad", x, g)
	env, err := eval.Run(k.g, 1, k.bind)
	if err != nil {
		t.Fatal(err)
	}
	const h = 1e-5
	for i, xi := range xs {
		if got, want := env[y].Data[i], gelu0(xi); !nearly(got, want, 1e-14) {
			t.Errorf("gelu(%v) = %v, independent form gives %v", xi, got, want)
		}
		fd := (gelu0(xi+h) - gelu0(xi-h)) / (2 * h)
		if got := env[dy].Data[i]; !nearly(got, fd, 1e-8) {
			t.Errorf("gelu_grad(%v, 1) = %v, central difference gives %v", xi, got, fd)
		}
	}
}

func len32(xs []float64) ir.Dim { return ir.Dim(len(xs)) }

// TestKernelsNoNaN checks the numerically delicate kernels on extreme inputs.
func TestKernelsNoNaN(t *testing.T) {
	xs := []float64{-1e308, -800, -1000, 0, 1000, 800, 1e308}
	k := newKG(t, 1)
	x := k.f32("x", ir.Shape{len32(xs)}, xs...)
	var vs []*ir.Value
	for _, op := range []string{"sigmoid", "tanh", "gelu", "relu", "abs", "sign"} {
		vs = append(vs, k.un(op, x))
	}
	for _, op := range []string{"softmax", "log_softmax"} {
		vs = append(vs, k.op(op, ir.Attrs{"axis": 0}, x))
	}
	vs = append(vs, k.op("logsumexp", ir.Attrs{"axes": []int{0}}, x))
	env, err := eval.Run(k.g, 1, k.bind)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		for i, y := range env[v].Data {
			if math.IsNaN(y) {
				t.Errorf("%s(%v) is NaN", v.Op.Name, xs[i])
			}
		}
	}
}
