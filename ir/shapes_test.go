package ir_test

// Shape rule tests: each case applies an op to arguments of given types and
// expects either the result type or an error naming the offending types.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/ir"
)

// argOf returns a stand-in argument of type dt[shape].
func argOf(dt ir.DType, shape ...ir.Dim) *ir.Value {
	return &ir.Value{Op: ir.LookupOp("input"), Type: ir.Type{DType: dt, Shape: ir.Shape(shape)}}
}

func tf32(shape ...ir.Dim) *ir.Value  { return argOf(ir.F32, shape...) }
func ti32(shape ...ir.Dim) *ir.Value  { return argOf(ir.I32, shape...) }
func tbool(shape ...ir.Dim) *ir.Value { return argOf(ir.Bool, shape...) }

type scase struct {
	op    string
	attrs ir.Attrs
	args  []*ir.Value
	want  string   // result type as Type.String, when accepted
	errs  []string // substrings the error must contain, when rejected
}

func vals(vs ...*ir.Value) []*ir.Value { return vs }

var shapeCases = append(elementwiseCases(), []scase{
	// Sources.
	{op: "input", attrs: ir.Attrs{"role": "input", "dtype": ir.F32, "shape": ir.Shape{ir.N, 784}}, want: "f32[N, 784]"},
	{op: "input", attrs: ir.Attrs{"role": "target", "dtype": ir.I32, "shape": ir.Shape{ir.N}}, want: "i32[N]"},
	{op: "input", attrs: ir.Attrs{"role": "label", "dtype": ir.I32, "shape": ir.Shape{ir.N}}, errs: []string{"role", `"label"`}},
	{op: "input", attrs: ir.Attrs{"role": "input", "dtype": ir.F32, "shape": ir.Shape{ir.N, 0}}, errs: []string{"zero-sized", "[N, 0]"}},
	{op: "input", attrs: ir.Attrs{"role": "input", "dtype": ir.InvalidDType, "shape": ir.Shape{2}}, errs: []string{"invalid dtype"}},
	{op: "param", attrs: ir.Attrs{"dtype": ir.F32, "shape": ir.Shape{784, 10}, "init": "glorot_uniform"}, want: "f32[784, 10]"},
	{op: "param", attrs: ir.Attrs{"dtype": ir.I32, "shape": ir.Shape{3}, "init": "zeros"}, errs: []string{"must be f32", "i32"}},
	{op: "param", attrs: ir.Attrs{"dtype": ir.F32, "shape": ir.Shape{ir.N, 3}, "init": "zeros"}, errs: []string{"[N, 3]", "batch"}},
	{op: "param", attrs: ir.Attrs{"dtype": ir.F32, "shape": ir.Shape{3}, "init": "xavier"}, errs: []string{"unknown initializer", `"xavier"`}},
	{op: "state", attrs: ir.Attrs{"dtype": ir.I32, "shape": ir.Shape{}, "init": "zeros", "init_args": []float64{}}, want: "i32"},
	{op: "state", attrs: ir.Attrs{"dtype": ir.F32, "shape": ir.Shape{ir.N}, "init": "zeros"}, errs: []string{"state", "[N]", "batch"}},
	{op: "state", attrs: ir.Attrs{"dtype": ir.F32, "shape": ir.Shape{3}, "init": ""}, errs: []string{"state", "unknown initializer"}},
	{op: "const", attrs: ir.Attrs{"dtype": ir.F32, "value": 1.5}, want: "f32"},
	{op: "const", attrs: ir.Attrs{"dtype": ir.InvalidDType, "value": 1.5}, errs: []string{"invalid dtype"}},
	{op: "numel", attrs: ir.Attrs{"shape": ir.Shape{ir.N, 3}}, want: "f32"},
	{op: "numel", attrs: ir.Attrs{"shape": ir.Shape{ir.N, ir.N}}, errs: []string{"[N, N]"}},

	// Elementwise unary.
	{op: "neg", args: vals(ti32(ir.N, 3)), want: "i32[N, 3]"},
	{op: "abs", args: vals(tf32(2)), want: "f32[2]"},
	{op: "neg", args: vals(tbool(2)), errs: []string{"neg", "bool[2]"}},
	{op: "exp", args: vals(tf32(ir.N, 3)), want: "f32[N, 3]"},
	{op: "exp", args: vals(ti32(3)), errs: []string{"exp", "i32[3]"}},
	{op: "gelu", args: vals(tbool()), errs: []string{"gelu", "bool"}},
	{op: "gelu_grad", args: vals(tf32(ir.N, 4), tf32(ir.N, 4)), want: "f32[N, 4]"},
	{op: "gelu_grad", args: vals(tf32(ir.N, 4), tf32(4)), errs: []string{"f32[N, 4]", "f32[4]"}},

	// Elementwise binary.
	{op: "add", args: vals(tf32(ir.N, 3), tf32(3)), want: "f32[N, 3]"},
	{op: "add", args: vals(tf32(3, 1), tf32(1, 4)), want: "f32[3, 4]"},
	{op: "add", args: vals(tf32(4), tf32(2, 3, 4)), want: "f32[2, 3, 4]"},
	{op: "add", args: vals(tf32(), tf32(ir.N, 2)), want: "f32[N, 2]"},
	{op: "add", args: vals(tf32(ir.N, 1), tf32(1, 5)), want: "f32[N, 5]"},
	{op: "add", args: vals(ti32(2), ti32()), want: "i32[2]"},
	{op: "add", args: vals(tf32(ir.N, 3), tf32(4)), errs: []string{"add", "f32[N, 3]", "f32[4]"}},
	{op: "add", args: vals(tf32(ir.N, 3), tf32(-2, 3)), errs: []string{"f32[N, 3]", "f32[2*N, 3]"}},
	{op: "sub", args: vals(tf32(3), ti32(3)), errs: []string{"sub", "f32[3]", "i32[3]"}},
	{op: "mul", args: vals(tbool(3), tbool(3)), errs: []string{"mul", "bool"}},
	{op: "div", args: vals(ti32(3), ti32(3)), errs: []string{"div", "i32"}},
	{op: "div", args: vals(tf32(ir.N, 3), tf32(ir.N, 1)), want: "f32[N, 3]"},
	{op: "pow", args: vals(ti32(3), ti32()), errs: []string{"pow", "i32"}},
	{op: "maximum", args: vals(ti32(3), ti32(1)), want: "i32[3]"},

	// Comparisons and selection.
	{op: "lt", args: vals(tf32(ir.N, 3), tf32()), want: "bool[N, 3]"},
	{op: "eq", args: vals(ti32(ir.N), ti32(ir.N)), want: "bool[N]"},
	{op: "eq", args: vals(tf32(2), tf32(3)), errs: []string{"eq", "f32[2]", "f32[3]"}},
	{op: "ge", args: vals(tf32(2), ti32(2)), errs: []string{"ge", "f32[2]", "i32[2]"}},
	{op: "where", args: vals(tbool(3), tf32(2, 1), tf32()), want: "f32[2, 3]"},
	{op: "where", args: vals(tbool(ir.N, 1), ti32(1, 4), ti32(ir.N, 4)), want: "i32[N, 4]"},
	{op: "where", args: vals(tf32(3), tf32(3), tf32(3)), errs: []string{"where", "bool", "f32[3]"}},
	{op: "where", args: vals(tbool(3), tf32(3), ti32(3)), errs: []string{"f32[3]", "i32[3]"}},
	{op: "where", args: vals(tbool(2), tf32(3), tf32(3)), errs: []string{"bool[2]", "f32[3]"}},
	{op: "cast", attrs: ir.Attrs{"dtype": ir.I32}, args: vals(tf32(ir.N, 3)), want: "i32[N, 3]"},
	{op: "cast", attrs: ir.Attrs{"dtype": ir.F32}, args: vals(tbool(2)), want: "f32[2]"},
	{op: "cast", attrs: ir.Attrs{"dtype": ir.InvalidDType}, args: vals(tf32(2)), errs: []string{"invalid dtype"}},

	// Matmul.
	{op: "matmul", args: vals(tf32(ir.N, 784), tf32(784, 256)), want: "f32[N, 256]"},
	{op: "matmul", attrs: ir.Attrs{"ta": true}, args: vals(tf32(ir.N, 784), tf32(ir.N, 10)), want: "f32[784, 10]"},
	{op: "matmul", attrs: ir.Attrs{"tb": true}, args: vals(tf32(ir.N, 256), tf32(784, 256)), want: "f32[N, 784]"},
	{op: "matmul", attrs: ir.Attrs{"ta": true, "tb": true}, args: vals(tf32(3, 2), tf32(4, 3)), want: "f32[2, 4]"},
	{op: "matmul", args: vals(tf32(2, 3, 4), tf32(2, 4, 5)), want: "f32[2, 3, 5]"},
	{op: "matmul", args: vals(tf32(ir.N, 784), tf32(10, 256)), errs: []string{"matmul", "f32[N, 784]", "f32[10, 256]"}},
	{op: "matmul", attrs: ir.Attrs{"tb": true}, args: vals(tf32(ir.N, 784), tf32(784, 256)), errs: []string{"f32[N, 784]", "f32[784, 256]"}},
	{op: "matmul", args: vals(tf32(2, 3, 4), tf32(3, 4, 5)), errs: []string{"batch", "f32[2, 3, 4]", "f32[3, 4, 5]"}},
	{op: "matmul", args: vals(tf32(3, 4), tf32(2, 4, 5)), errs: []string{"rank", "f32[3, 4]", "f32[2, 4, 5]"}},
	{op: "matmul", args: vals(tf32(4), tf32(4)), errs: []string{"rank", "f32[4]"}},
	{op: "matmul", args: vals(ti32(2, 2), ti32(2, 2)), errs: []string{"f32", "i32[2, 2]"}},

	// Reductions.
	{op: "reduce_sum", attrs: ir.Attrs{"axes": []int{0, 2}}, args: vals(tf32(ir.N, 3, 4)), want: "f32[3]"},
	{op: "reduce_sum", attrs: ir.Attrs{"axes": []int{-1}, "keepdims": true}, args: vals(tf32(ir.N, 3, 4)), want: "f32[N, 3, 1]"},
	{op: "reduce_sum", attrs: ir.Attrs{"axes": []int{0, 1}}, args: vals(ti32(2, 3)), want: "i32"},
	{op: "reduce_sum", attrs: ir.Attrs{"axes": []int{1, -1}}, args: vals(tf32(2, 3)), errs: []string{"reduce_sum", "repeated"}},
	{op: "reduce_sum", attrs: ir.Attrs{"axes": []int{2}}, args: vals(tf32(2, 3)), errs: []string{"reduce_sum", "axis 2", "rank 2"}},
	{op: "reduce_sum", attrs: ir.Attrs{"axes": []int{}}, args: vals(tf32(2, 3)), errs: []string{"no axes"}},
	{op: "reduce_sum", attrs: ir.Attrs{"axes": []int{0}}, args: vals(tbool(2)), errs: []string{"bool[2]"}},
	{op: "reduce_mean", attrs: ir.Attrs{"axes": []int{0, -1}}, args: vals(tf32(ir.N, 2, 3)), want: "f32[2]"},
	{op: "reduce_mean", attrs: ir.Attrs{"axes": []int{0}}, args: vals(ti32(2)), errs: []string{"reduce_mean", "i32[2]"}},
	{op: "reduce_max", attrs: ir.Attrs{"axes": []int{-2}, "keepdims": true}, args: vals(tf32(ir.N, 5)), want: "f32[1, 5]"},
	{op: "reduce_max", attrs: ir.Attrs{"axes": []int{0, 0}}, args: vals(tf32(ir.N, 5)), errs: []string{"reduce_max", "repeated"}},
	{op: "reduce_max", attrs: ir.Attrs{"axes": []int{0}}, args: vals(tbool(ir.N)), errs: []string{"reduce_max", "bool[N]"}},
	{op: "logsumexp", attrs: ir.Attrs{"axes": []int{1}}, args: vals(tf32(ir.N, 5)), want: "f32[N]"},
	{op: "logsumexp", attrs: ir.Attrs{"axes": []int{1}}, args: vals(ti32(ir.N, 5)), errs: []string{"logsumexp", "i32[N, 5]"}},
	{op: "argmax", attrs: ir.Attrs{"axis": -1}, args: vals(tf32(ir.N, 10)), want: "i32[N]"},
	{op: "argmax", attrs: ir.Attrs{"axis": 2}, args: vals(tf32(ir.N, 10)), errs: []string{"argmax", "axis 2", "rank 2"}},
	{op: "argmax", attrs: ir.Attrs{"axis": -3}, args: vals(tf32(ir.N, 10)), errs: []string{"argmax", "axis -3"}},
	{op: "softmax", attrs: ir.Attrs{"axis": 1}, args: vals(tf32(ir.N, 10)), want: "f32[N, 10]"},
	{op: "softmax", attrs: ir.Attrs{"axis": 1}, args: vals(ti32(ir.N, 10)), errs: []string{"softmax", "i32[N, 10]"}},
	{op: "log_softmax", attrs: ir.Attrs{"axis": -2}, args: vals(tf32(2, ir.N)), want: "f32[2, N]"},
	{op: "log_softmax", attrs: ir.Attrs{"axis": 0}, args: vals(tf32()), errs: []string{"log_softmax", "rank 0"}},
	{op: "masked_softmax", attrs: ir.Attrs{"scale": 0.5, "causal": true}, args: vals(tf32(ir.N, 2, 4, 4)), want: "f32[N, 2, 4, 4]"},
	{op: "masked_softmax", attrs: ir.Attrs{"scale": 0.5}, args: vals(tf32(4)), errs: []string{"masked_softmax", "rank >= 2", "f32[4]"}},
	{op: "masked_softmax_grad", attrs: ir.Attrs{"scale": 0.5}, args: vals(tf32(ir.N, 3, 5), tf32(ir.N, 3, 5)), want: "f32[N, 3, 5]"},
	{op: "masked_softmax_grad", attrs: ir.Attrs{"scale": 0.5}, args: vals(tf32(ir.N, 3, 5), tf32(ir.N, 5, 3)), errs: []string{"masked_softmax_grad", "one shape"}},

	// Layout.
	{op: "reshape", attrs: ir.Attrs{"shape": ir.Shape{ir.N, 6}}, args: vals(tf32(ir.N, 2, 3)), want: "f32[N, 6]"},
	{op: "reshape", attrs: ir.Attrs{"shape": ir.Shape{-2}}, args: vals(tf32(2, ir.N)), want: "f32[2*N]"},
	{op: "reshape", attrs: ir.Attrs{"shape": ir.Shape{ir.N, 4}}, args: vals(tf32(ir.N, 3)), errs: []string{"reshape", "f32[N, 3]", "[N, 4]"}},
	{op: "reshape", attrs: ir.Attrs{"shape": ir.Shape{6}}, args: vals(tf32(ir.N, 6)), errs: []string{"f32[N, 6]", "[6]"}},
	{op: "reshape", attrs: ir.Attrs{"shape": ir.Shape{ir.N, ir.N}}, args: vals(tf32(ir.N, 6)), errs: []string{"[N, N]"}},
	{op: "transpose", attrs: ir.Attrs{"perm": []int{2, 0, 1}}, args: vals(tf32(ir.N, 3, 4)), want: "f32[4, N, 3]"},
	{op: "transpose", attrs: ir.Attrs{"perm": []int{0, 0}}, args: vals(tf32(2, 3)), errs: []string{"transpose", "[0 0]", "permutation"}},
	{op: "transpose", attrs: ir.Attrs{"perm": []int{1, 2}}, args: vals(tf32(2, 3)), errs: []string{"[1 2]", "permutation"}},
	{op: "transpose", attrs: ir.Attrs{"perm": []int{1, 0}}, args: vals(tf32(2, 3, 4)), errs: []string{"[1 0]", "f32[2, 3, 4]"}},
	{op: "broadcast", attrs: ir.Attrs{"shape": ir.Shape{2, 3, 4}}, args: vals(tf32(3, 1)), want: "f32[2, 3, 4]"},
	{op: "broadcast", attrs: ir.Attrs{"shape": ir.Shape{ir.N, 4}}, args: vals(tf32()), want: "f32[N, 4]"},
	{op: "broadcast", attrs: ir.Attrs{"shape": ir.Shape{4}}, args: vals(tf32(3)), errs: []string{"broadcast", "f32[3]", "[4]"}},
	{op: "broadcast", attrs: ir.Attrs{"shape": ir.Shape{3}}, args: vals(tf32(2, 3)), errs: []string{"f32[2, 3]", "[3]"}},
	{op: "slice", attrs: ir.Attrs{"axis": 1, "start": 1, "end": 3}, args: vals(tf32(ir.N, 5)), want: "f32[N, 2]"},
	{op: "slice", attrs: ir.Attrs{"axis": -1, "start": 3, "end": 6}, args: vals(tf32(ir.N, 5)), errs: []string{"slice", "3:6", "f32[N, 5]"}},
	{op: "slice", attrs: ir.Attrs{"axis": 1, "start": 2, "end": 2}, args: vals(tf32(ir.N, 5)), errs: []string{"2:2", "f32[N, 5]"}},
	{op: "slice", attrs: ir.Attrs{"axis": 1, "start": -1, "end": 2}, args: vals(tf32(ir.N, 5)), errs: []string{"-1:2"}},
	{op: "slice", attrs: ir.Attrs{"axis": 0, "start": 0, "end": 1}, args: vals(tf32(ir.N, 5)), errs: []string{"batch", "f32[N, 5]"}},
	{op: "slice", attrs: ir.Attrs{"axis": 2, "start": 0, "end": 1}, args: vals(tf32(ir.N, 5)), errs: []string{"axis 2"}},
	{op: "pad", attrs: ir.Attrs{"axis": 1, "before": 1, "after": 2}, args: vals(tf32(ir.N, 5)), want: "f32[N, 8]"},
	{op: "pad", attrs: ir.Attrs{"axis": 1, "before": -1, "after": 2}, args: vals(tf32(ir.N, 5)), errs: []string{"pad", "f32[N, 5]"}},
	{op: "pad", attrs: ir.Attrs{"axis": 0, "before": 1, "after": 0}, args: vals(tf32(ir.N, 5)), errs: []string{"pad", "f32[N, 5]"}},
	{op: "concat", attrs: ir.Attrs{"axis": 1}, args: vals(tf32(ir.N, 2), tf32(ir.N, 3), tf32(ir.N, 1)), want: "f32[N, 6]"},
	{op: "concat", attrs: ir.Attrs{"axis": 0}, args: vals(tf32(ir.N, 2), tf32(ir.N, 2)), want: "f32[2*N, 2]"},
	{op: "concat", attrs: ir.Attrs{"axis": 0}, args: vals(tf32(ir.N, 2)), want: "f32[N, 2]"},
	{op: "concat", attrs: ir.Attrs{"axis": 0}, args: vals(tf32(2, 3), tf32(2)), errs: []string{"concat", "f32[2, 3]", "f32[2]"}},
	{op: "concat", attrs: ir.Attrs{"axis": 0}, args: vals(tf32(2), tf32(2, 3)), errs: []string{"concat", "f32[2]", "f32[2, 3]"}},
	{op: "concat", attrs: ir.Attrs{"axis": 0}, args: vals(tf32(2, 3), ti32(2, 3)), errs: []string{"f32[2, 3]", "i32[2, 3]"}},
	{op: "concat", attrs: ir.Attrs{"axis": 1}, args: vals(tf32(2, 3), tf32(4, 3)), errs: []string{"f32[2, 3]", "f32[4, 3]", "axis 1"}},
	{op: "concat", attrs: ir.Attrs{"axis": 0}, args: vals(tf32(ir.N, 3), tf32(2, 3)), errs: []string{"batch", "axis 0"}},
	{op: "concat", attrs: ir.Attrs{"axis": 0}, args: vals(tf32(2, 3), tf32(ir.N, 3)), errs: []string{"batch", "axis 0"}},

	// Indexing.
	{op: "gather", args: vals(tf32(1000, 64), ti32(ir.N, 8)), want: "f32[N, 8, 64]"},
	{op: "gather", args: vals(tf32(10), ti32()), want: "f32"},
	{op: "gather", args: vals(tf32(1000, 64), tf32(ir.N, 8)), errs: []string{"gather", "i32", "f32[N, 8]"}},
	{op: "gather", args: vals(tf32(ir.N, 64), ti32(3)), errs: []string{"gather", "f32[N, 64]"}},
	{op: "gather", args: vals(tf32(), ti32(3)), errs: []string{"gather", "table"}},
	{op: "scatter_add", attrs: ir.Attrs{"rows": 1000}, args: vals(ti32(ir.N, 8), tf32(ir.N, 8, 64)), want: "f32[1000, 64]"},
	{op: "scatter_add", attrs: ir.Attrs{"rows": 3}, args: vals(ti32(4), tf32(4)), want: "f32[3]"},
	{op: "scatter_add", attrs: ir.Attrs{"rows": 1000}, args: vals(ti32(ir.N, 8), tf32(ir.N, 9, 64)), errs: []string{"scatter_add", "f32[N, 9, 64]", "[N, 8]"}},
	{op: "scatter_add", attrs: ir.Attrs{"rows": 1000}, args: vals(ti32(ir.N, 8), tf32(ir.N)), errs: []string{"f32[N]", "[N, 8]"}},
	{op: "scatter_add", attrs: ir.Attrs{"rows": 0}, args: vals(ti32(4), tf32(4)), errs: []string{"scatter_add"}},
	{op: "scatter_add", attrs: ir.Attrs{"rows": 3}, args: vals(tf32(4), tf32(4)), errs: []string{"i32", "f32[4]"}},
	{op: "one_hot", attrs: ir.Attrs{"depth": 10}, args: vals(ti32(ir.N)), want: "f32[N, 10]"},
	{op: "one_hot", attrs: ir.Attrs{"depth": 0}, args: vals(ti32(ir.N)), errs: []string{"one_hot", "depth", "0"}},
	{op: "one_hot", attrs: ir.Attrs{"depth": 10}, args: vals(tf32(ir.N)), errs: []string{"one_hot", "f32[N]"}},
	{op: "random_uniform", attrs: ir.Attrs{"shape": ir.Shape{ir.N, 5}, "stream": 1}, args: vals(tf32(4), tf32()), want: "f32[N, 5]"},
	{op: "random_uniform", attrs: ir.Attrs{"shape": ir.Shape{5}, "stream": 0}, args: vals(tf32(2), tf32()), errs: []string{"random_uniform", "key", "f32[2]"}},
	{op: "random_uniform", attrs: ir.Attrs{"shape": ir.Shape{5}, "stream": 0}, args: vals(tf32(4), tf32(1)), errs: []string{"random_uniform", "step", "f32[1]"}},
	{op: "random_uniform", attrs: ir.Attrs{"shape": ir.Shape{5}, "stream": -1}, args: vals(tf32(4), tf32()), errs: []string{"random_uniform", "stream"}},

	// Arity and attribute schema (checked by NewValue before the rule runs).
	{op: "add", args: vals(tf32(2)), errs: []string{"add", "2 arguments", "got 1"}},
	{op: "concat", attrs: ir.Attrs{"axis": 0}, errs: []string{"concat", "at least one"}},
	{op: "add", args: vals(tf32(2), nil), errs: []string{"add", "argument 1"}},
	{op: "neg", attrs: ir.Attrs{"axis": 0}, args: vals(tf32(2)), errs: []string{"neg", "unknown attribute", `"axis"`}},
	{op: "softmax", args: vals(tf32(2)), errs: []string{"softmax", "missing attribute", `"axis"`}},
	{op: "softmax", attrs: ir.Attrs{"axis": 1.0}, args: vals(tf32(2)), errs: []string{"softmax", `"axis"`, "int", "float64"}},
	{op: "reduce_sum", attrs: ir.Attrs{"axes": []int{0}, "keepdims": 1}, args: vals(tf32(2)), errs: []string{`"keepdims"`, "bool"}},
}...)

func (c scase) String() string {
	ts := make([]string, len(c.args))
	for i, a := range c.args {
		ts[i] = "nil"
		if a != nil {
			ts[i] = a.Type.String()
		}
	}
	return fmt.Sprintf("%s(%s) %v", c.op, strings.Join(ts, ", "), map[string]any(c.attrs))
}

// elementwiseCases checks the dtype rules of every elementwise op family.
func elementwiseCases() []scase {
	var cs []scase
	for _, op := range []string{"neg", "abs", "sign"} {
		cs = append(cs,
			scase{op: op, args: vals(tf32(ir.N, 2)), want: "f32[N, 2]"},
			scase{op: op, args: vals(ti32(3)), want: "i32[3]"},
			scase{op: op, args: vals(tbool(3)), errs: []string{op, "bool[3]"}})
	}
	for _, op := range []string{"exp", "log", "sqrt", "relu", "sigmoid", "tanh", "gelu", "floor", "sin", "cos"} {
		cs = append(cs,
			scase{op: op, args: vals(tf32(ir.N, 2)), want: "f32[N, 2]"},
			scase{op: op, args: vals(ti32(3)), errs: []string{op, "i32[3]"}},
			scase{op: op, args: vals(tbool()), errs: []string{op, "bool"}})
	}
	for _, op := range []string{"add", "sub", "mul", "maximum", "minimum"} {
		cs = append(cs,
			scase{op: op, args: vals(tf32(ir.N, 1), tf32(4)), want: "f32[N, 4]"},
			scase{op: op, args: vals(ti32(), ti32(2)), want: "i32[2]"},
			scase{op: op, args: vals(tbool(2), tbool(2)), errs: []string{op, "bool"}},
			scase{op: op, args: vals(tf32(2), ti32(2)), errs: []string{op, "f32[2]", "i32[2]"}},
			scase{op: op, args: vals(tf32(ir.N, 3), tf32(4)), errs: []string{op, "f32[N, 3]", "f32[4]"}})
	}
	for _, op := range []string{"div", "pow"} {
		cs = append(cs,
			scase{op: op, args: vals(tf32(ir.N, 1), tf32(4)), want: "f32[N, 4]"},
			scase{op: op, args: vals(ti32(2), ti32(2)), errs: []string{op, "i32"}},
			scase{op: op, args: vals(tf32(2), ti32(2)), errs: []string{op, "f32[2]", "i32[2]"}},
			scase{op: op, args: vals(tf32(ir.N, 3), tf32(4)), errs: []string{op, "f32[N, 3]", "f32[4]"}})
	}
	for _, op := range []string{"eq", "ne", "lt", "le", "gt", "ge"} {
		cs = append(cs,
			scase{op: op, args: vals(tf32(ir.N, 1), tf32(4)), want: "bool[N, 4]"},
			scase{op: op, args: vals(ti32(3), ti32()), want: "bool[3]"},
			scase{op: op, args: vals(tf32(2), ti32(2)), errs: []string{op, "f32[2]", "i32[2]"}},
			scase{op: op, args: vals(tf32(ir.N, 3), tf32(4)), errs: []string{op, "f32[N, 3]", "f32[4]"}})
	}
	return cs
}

func TestShapeRules(t *testing.T) {
	for _, c := range shapeCases {
		op := ir.LookupOp(c.op)
		if op == nil {
			t.Fatalf("%v: no such op", c)
		}
		v, err := ir.NewValue(op, c.attrs, c.args...)
		switch {
		case c.errs == nil && err != nil:
			t.Errorf("%v: unexpected error: %v", c, err)
		case c.errs == nil && v.Type.String() != c.want:
			t.Errorf("%v: type %s, want %s", c, v.Type, c.want)
		case c.errs != nil && err == nil:
			t.Errorf("%v: accepted as %s, want an error mentioning %q", c, v.Type, c.errs)
		case c.errs != nil:
			for _, s := range c.errs {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%v: error %q does not mention %q", c, err, s)
				}
			}
		}
	}
}

// TestShapeRulesCoverage fails if an op lacks a shape case that it accepts
// or one that it rejects.
func TestShapeRulesCoverage(t *testing.T) {
	accepts, rejects := map[string]bool{}, map[string]bool{}
	for _, c := range shapeCases {
		if c.errs == nil {
			accepts[c.op] = true
		} else {
			rejects[c.op] = true
		}
	}
	for _, op := range ir.Ops() {
		if !accepts[op.Name] {
			t.Errorf("op %s has no shape case that it accepts", op.Name)
		}
		if !rejects[op.Name] {
			t.Errorf("op %s has no shape case that it rejects", op.Name)
		}
	}
}

func TestBroadcast(t *testing.T) {
	cases := []struct {
		a, b, want ir.Shape
		ok         bool
	}{
		{ir.Shape{}, ir.Shape{}, ir.Shape{}, true},
		{ir.Shape{}, ir.Shape{2, 3}, ir.Shape{2, 3}, true},
		{ir.Shape{3, 1}, ir.Shape{1, 4}, ir.Shape{3, 4}, true},
		{ir.Shape{4}, ir.Shape{2, 3, 4}, ir.Shape{2, 3, 4}, true},
		{ir.Shape{2, 1, 4}, ir.Shape{3, 1}, ir.Shape{2, 3, 4}, true},
		{ir.Shape{ir.N, 3}, ir.Shape{3}, ir.Shape{ir.N, 3}, true},
		{ir.Shape{ir.N, 1}, ir.Shape{1, 5}, ir.Shape{ir.N, 5}, true},
		{ir.Shape{1}, ir.Shape{ir.N}, ir.Shape{ir.N}, true},
		{ir.Shape{-2, 3}, ir.Shape{-2, 1}, ir.Shape{-2, 3}, true},
		{ir.Shape{ir.N, 3}, ir.Shape{4}, nil, false},
		{ir.Shape{ir.N}, ir.Shape{4}, nil, false},
		{ir.Shape{ir.N}, ir.Shape{-2}, nil, false},
		{ir.Shape{2, 3}, ir.Shape{3, 3}, nil, false},
	}
	for _, c := range cases {
		for _, swap := range []bool{false, true} {
			a, b := c.a, c.b
			if swap {
				a, b = b, a
			}
			got, ok := ir.Broadcast(a, b)
			if ok != c.ok || (ok && !got.Equal(c.want)) {
				t.Errorf("Broadcast(%v, %v) = %v, %v; want %v, %v", a, b, got, ok, c.want, c.ok)
			}
		}
	}
}

func TestMulDims(t *testing.T) {
	cases := []struct {
		a, b, want ir.Dim
		ok         bool
	}{
		{3, 4, 12, true},
		{1, 7, 7, true},
		{ir.N, 3, -3, true},
		{3, ir.N, -3, true},
		{ir.N, 1, ir.N, true},
		{-2, 3, -6, true},
		{5, -4, -20, true},
		{1 << 20, 1 << 20, 1 << 40, true},
		{ir.N, ir.N, 0, false},
		{-2, -3, 0, false},
		{1 << 30, 1 << 30, 0, false},       // over the 2^40 limit
		{1 << 62, 4, 0, false},             // overflows int64
		{-(1 << 31), 1 << 31, 0, false},    // batch extent over the limit
		{1 << 32, -(1 << 32), 0, false},    // and the other sign order
		{3037000500, 3037000500, 0, false}, // just over sqrt(2^63)
	}
	for _, c := range cases {
		got, ok := ir.MulDims(c.a, c.b)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("MulDims(%v, %v) = %v, %v; want %v, %v", c.a, c.b, got, ok, c.want, c.ok)
		}
	}
}

func TestShapeSize(t *testing.T) {
	cases := []struct {
		s    ir.Shape
		want ir.Dim
		ok   bool
	}{
		{ir.Shape{}, 1, true},
		{ir.Shape{2, 3, 4}, 24, true},
		{ir.Shape{ir.N}, ir.N, true},
		{ir.Shape{ir.N, 784}, -784, true},
		{ir.Shape{2, ir.N, 3}, -6, true},
		{ir.Shape{-64, 8}, -512, true},
		{ir.Shape{ir.N, 3, ir.N}, 0, false},
		{ir.Shape{1 << 21, 1 << 21}, 0, false},
	}
	for _, c := range cases {
		got, ok := c.s.Size()
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%v.Size() = %v, %v; want %v, %v", c.s, got, ok, c.want, c.ok)
		}
	}
}

func TestNormAxes(t *testing.T) {
	cases := []struct {
		axes []int
		r    int
		want []int
		err  string
	}{
		{[]int{}, 2, []int{}, ""},
		{[]int{1}, 2, []int{1}, ""},
		{[]int{-1}, 3, []int{2}, ""},
		{[]int{2, 0}, 3, []int{0, 2}, ""},
		{[]int{-1, -3}, 3, []int{0, 2}, ""},
		{[]int{3}, 3, nil, "axis 3 out of range for rank 3"},
		{[]int{-4}, 3, nil, "axis -4 out of range for rank 3"},
		{[]int{0}, 0, nil, "axis 0 out of range for rank 0"},
		{[]int{1, 1}, 2, nil, "axis 1 repeated"},
		{[]int{1, -1}, 2, nil, "axis 1 repeated"},
	}
	for _, c := range cases {
		got, err := ir.NormAxes(c.axes, c.r)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("NormAxes(%v, %d) error = %v, want %q", c.axes, c.r, err, c.err)
			}
			continue
		}
		if err != nil || !equalInts(got, c.want) {
			t.Errorf("NormAxes(%v, %d) = %v, %v; want %v", c.axes, c.r, got, err, c.want)
		}
	}
}

func TestDimAndShapeStrings(t *testing.T) {
	cases := []struct {
		got, want string
	}{
		{ir.N.String(), "N"},
		{ir.Dim(-64).String(), "64*N"},
		{ir.Dim(7).String(), "7"},
		{ir.Shape{}.String(), "[]"},
		{ir.Shape{ir.N, 784}.String(), "[N, 784]"},
		{ir.Scalar(ir.F32).String(), "f32"},
		{ir.Type{DType: ir.I32, Shape: ir.Shape{-2, 3}}.String(), "i32[2*N, 3]"},
		{ir.DType(9).String(), "dtype(9)"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if got := (ir.Shape{-64, 8, ir.N}).Resolve(3); !equalInts(got, []int{192, 8, 3}) {
		t.Errorf("Resolve(3) = %v, want [192 8 3]", got)
	}
	for _, s := range []string{"f32", "i32", "bool"} {
		if d, ok := ir.ParseDType(s); !ok || d.String() != s {
			t.Errorf("ParseDType(%q) = %v, %v", s, d, ok)
		}
	}
	if _, ok := ir.ParseDType("invalid"); ok {
		t.Errorf("ParseDType(invalid) succeeded")
	}
}

func TestReducedShape(t *testing.T) {
	s := ir.Shape{ir.N, 3, 4}
	if got := ir.ReducedShape(s, []int{0, 2}, false); !got.Equal(ir.Shape{3}) {
		t.Errorf("ReducedShape drop = %v, want [3]", got)
	}
	if got := ir.ReducedShape(s, []int{0, 2}, true); !got.Equal(ir.Shape{1, 3, 1}) {
		t.Errorf("ReducedShape keep = %v, want [1, 3, 1]", got)
	}
	if got := ir.ReducedShape(s, []int{0, 1, 2}, false); got.Rank() != 0 {
		t.Errorf("ReducedShape all = %v, want []", got)
	}
}
