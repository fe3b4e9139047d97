// The op table: everything the compiler knows about an op, one keyed entry
// each (opTable below). Shape inference, autodiff, the reference
// interpreter, the passes and both code generators read it; an op's facts
// (Kind, Bound, Inline, View, Identity, Reduce, Scratch, IndexBound,
// Operator, Family, Flops) are what passes and backends test instead of its
// name.
// Adding an elementwise op is an entry here with its reference kernel and
// gradient rule, and at most one line in each backend's render table (none
// when it has an Operator); CONTRIBUTING.md lists the files a
// convolution-like op touches.

package ir

import (
	"fmt"
	"sort"
)

// FusionKind tells the fusion pass how an op may be grouped.
type FusionKind uint8

const (
	KindSource      FusionKind = iota // input, param, state, const: no computation
	KindElementwise                   // out[i] = f(args[i]) with numpy broadcasting: joins loops
	KindReduction                     // reduces one or more axes (a sink of a loop when Reduce is set)
	KindContraction                   // matmul, conv2d: anchors an elementwise epilogue computed on its output
	KindLayout                        // moves data: reshape, transpose, slice, pad, concat
	KindOpaque                        // gather, scatter_add, one_hot: a kernel of its own
)

var fusionKindNames = [...]string{"source", "elementwise", "reduction", "contraction", "layout", "opaque"}

func (k FusionKind) String() string { return fusionKindNames[k] }

// AttrKind is the type of an attribute value.
type AttrKind uint8

const (
	AttrInt    AttrKind = iota // int
	AttrInts                   // []int
	AttrFloat                  // float64
	AttrFloats                 // []float64
	AttrBool                   // bool
	AttrString                 // string
	AttrDType                  // DType
	AttrShape                  // Shape
)

var attrKindNames = [...]string{"int", "ints", "float", "floats", "bool", "string", "dtype", "shape"}

func (k AttrKind) String() string { return attrKindNames[k] }

// AttrSpec declares one attribute of an op.
type AttrSpec struct {
	Name     string
	Kind     AttrKind
	Optional bool // may be absent; kernels treat absence as the zero value
}

// EvalCtx carries what reference kernels need beyond their arguments.
type EvalCtx struct {
	N int // the batch size bound to the symbolic dim N
}

// GradFunc builds, with b, the gradient of the loss with respect to each
// argument of v, given g = d loss / d v. It returns one value per argument;
// nil means no gradient flows to that argument.
type GradFunc func(b *Builder, v *Value, g *Value) []*Value

// OpDef is one entry of the op table: everything the compiler knows about an op.
type OpDef struct {
	Name  string
	Doc   string     // one line: what the op computes
	Arity int        // number of args; -1 means one or more
	Attrs []AttrSpec // attribute schema
	Kind  FusionKind
	// Shape infers the result type from v.Args' types and v.Attrs. It is
	// called with attrs already checked against the schema.
	Shape func(v *Value) (Type, error)
	// Eval is the float64 reference kernel. Source ops have none: the
	// interpreter binds them.
	Eval func(ctx *EvalCtx, v *Value, args []*Tensor) (*Tensor, error)
	// Grad is the reverse-mode rule; nil with NoGrad set means the op is not
	// differentiable (its result carries no gradient).
	Grad   GradFunc
	NoGrad bool
	// Commutative binary ops may have their args swapped by CSE.
	Commutative bool

	// Facts the passes and the code generators read instead of op names.

	// Bound: values are supplied from outside the graph (inputs, params,
	// optimizer state), never computed.
	Bound bool
	// Inline: a scalar computed from the attributes alone (const, numel);
	// backends write it into expressions and give it no memory.
	Inline bool
	// View: the result is arg 0's elements in the same order (reshape); it
	// shares arg 0's memory and needs no code.
	View bool
	// Identity (elementwise): out[i] is arg 0 read with broadcasting; a loop
	// computes nothing for it.
	Identity bool
	// Reduce, when set, makes the op an accumulating reduction over its
	// "axes" attribute: the fuse pass may make it the sink of an elementwise
	// loop, which accumulates into the output as it goes.
	Reduce ReduceOp
	// Scratch, when set, gives the shape of the workspace a CPU kernel of v
	// needs beside its result; the memory planner places it.
	Scratch func(v *Value) Shape
	// IndexBound, when set, gives the exclusive upper bound v's semantics put
	// on the values of its i32 arg i (0 when it bounds none): the generated
	// input checks and the interpreter's random inputs use it.
	IndexBound func(v *Value, arg int) int
	// Operator (elementwise) is the Go and C operator computing the op on
	// scalars: binary, or prefix when Arity is 1 ("+", "-", "==", ...); a
	// comparison's bool result is stored as 0 or 1. Ops without one are
	// rendered by each backend's table of scalar functions.
	Operator string
	// Family is the kernel template a backend computes the op with when it
	// is not fused (codegen/internal/kernel dispatches on it): every
	// computed op has one.
	Family Family
	// Flops, when set, counts the floating-point operations of v at batch
	// size n, a multiply-add as two (GEMM-like ops: matmul, the
	// convolutions); `mdlc build -stats` reports their sum per entry point.
	Flops func(v *Value, n int) float64
}

// Family is a kind of kernel template: what each backend implements once
// for every op of the family.
type Family uint8

const (
	FamilyNone        Family = iota // not computed: bound, inline or a view
	FamilyElementwise               // one loop over the result
	FamilyContraction               // a GEMM (matmul)
	FamilyReduce                    // over the "axes" attribute: reduce_sum/mean/max, logsumexp
	FamilyLane                      // along the "axis" attribute: softmax, log_softmax, argmax
	FamilyTranspose
	FamilySlice
	FamilyPad
	FamilyConcat
	FamilyGather
	FamilyScatterAdd
	FamilyOneHot
	FamilyConv   // conv2d and its backward ops over NHWC images (ir/conv.go)
	FamilyPool   // max_pool2d, avg_pool2d and their backward ops
	FamilyRandom // random_uniform: counter-based draws (runtime/impl/philox.go)
	FamilyScan   // lstm_scan, gru_scan and their gradients: a loop over time (ir/rnn.go)
	NumFamilies
)

var familyNames = [...]string{"none", "elementwise", "contraction", "reduce", "lane", "transpose", "slice", "pad", "concat", "gather", "scatter_add", "one_hot", "conv", "pool", "random", "scan"}

func (f Family) String() string { return familyNames[f] }

// ReduceOp is how an accumulating reduction combines and finishes.
type ReduceOp uint8

const (
	ReduceNone ReduceOp = iota
	ReduceSum           // start at 0, add
	ReduceMean          // start at 0, add, divide by the reduced count
	ReduceMax           // start at -Inf (MinInt32), keep the larger (NaN wins)
)

var reduceOpNames = [...]string{"none", "sum", "mean", "max"}

func (r ReduceOp) String() string { return reduceOpNames[r] }

// Attr returns the spec of attribute name, or nil.
func (op *OpDef) Attr(name string) *AttrSpec {
	for i := range op.Attrs {
		if op.Attrs[i].Name == name {
			return &op.Attrs[i]
		}
	}
	return nil
}

func (op *OpDef) String() string { return op.Name }

var opsByName = map[string]*OpDef{}

func init() {
	for _, op := range opTable {
		// Elementwise ops and contractions have the family of their kind.
		switch {
		case op.Kind == KindElementwise:
			op.Family = FamilyElementwise
		case op.Kind == KindContraction && op.Family == FamilyNone:
			op.Family = FamilyContraction // matmul; conv2d keeps FamilyConv
		}
		if _, dup := opsByName[op.Name]; dup {
			panic("ir: duplicate op " + op.Name)
		}
		opsByName[op.Name] = op
	}
}

// LookupOp returns the op named name, or nil.
func LookupOp(name string) *OpDef { return opsByName[name] }

// Ops returns every op, sorted by name.
func Ops() []*OpDef {
	out := append([]*OpDef(nil), opTable...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Attribute schemas shared by several ops.
var (
	sourceAttrs = []AttrSpec{{Name: "dtype", Kind: AttrDType}, {Name: "shape", Kind: AttrShape}}
	initAttrs   = []AttrSpec{{Name: "dtype", Kind: AttrDType}, {Name: "shape", Kind: AttrShape},
		{Name: "init", Kind: AttrString}, {Name: "init_args", Kind: AttrFloats, Optional: true}}
	axesAttrs = []AttrSpec{{Name: "axes", Kind: AttrInts}, {Name: "keepdims", Kind: AttrBool, Optional: true}}
	axisAttr  = []AttrSpec{{Name: "axis", Kind: AttrInt}}
	// masked_softmax and its backward: the scale applied to the scores
	// (1/sqrt(d_head) in attention) and the causal mask.
	maskedSoftmaxAttrs = []AttrSpec{{Name: "scale", Kind: AttrFloat}, {Name: "causal", Kind: AttrBool, Optional: true}}
)

// opTable is the op table. Keep entries keyed and grouped by kind.
var opTable = []*OpDef{
	// Sources.
	{Name: "input", Doc: "a model input or target fed by the caller", Arity: 0, Kind: KindSource, NoGrad: true, Bound: true,
		Attrs: append([]AttrSpec{{Name: "role", Kind: AttrString}}, sourceAttrs...), Shape: shapeSource},
	{Name: "param", Doc: "a trainable parameter with its initializer", Arity: 0, Kind: KindSource, Bound: true,
		Attrs: initAttrs, Shape: shapeSource},
	{Name: "state", Doc: "non-trainable state with its initializer: the optimizer's (moments, step counter), a layer's (moving statistics)", Arity: 0, Kind: KindSource, NoGrad: true, Bound: true,
		Attrs: initAttrs, Shape: shapeSource},
	{Name: "const", Doc: "a scalar constant", Arity: 0, Kind: KindSource, NoGrad: true, Inline: true,
		Attrs: []AttrSpec{{Name: "dtype", Kind: AttrDType}, {Name: "value", Kind: AttrFloat}},
		Shape: shapeConst, Eval: evalConst},
	{Name: "numel", Doc: "the element count of shape as a f32 scalar (depends on N when shape does)", Arity: 0, Kind: KindSource, NoGrad: true, Inline: true,
		Attrs: []AttrSpec{{Name: "shape", Kind: AttrShape}}, Shape: shapeNumel, Eval: evalNumel},

	// Elementwise unary.
	{Name: "neg", Doc: "-x", Arity: 1, Kind: KindElementwise, Operator: "-", Shape: shapeUnaryNum, Eval: unary(func(x float64) float64 { return -x }), Grad: gradNeg},
	{Name: "abs", Doc: "|x|", Arity: 1, Kind: KindElementwise, Shape: shapeUnaryNum, Eval: unary(absF), Grad: gradAbs},
	{Name: "sign", Doc: "-1, 0 or 1 by the sign of x", Arity: 1, Kind: KindElementwise, NoGrad: true, Shape: shapeUnaryNum, Eval: unary(signF)},
	{Name: "exp", Doc: "e^x", Arity: 1, Kind: KindElementwise, Shape: shapeUnaryFloat, Eval: unary(expF), Grad: gradExp},
	{Name: "log", Doc: "natural logarithm", Arity: 1, Kind: KindElementwise, Shape: shapeUnaryFloat, Eval: unary(logF), Grad: gradLog},
	{Name: "sqrt", Doc: "square root", Arity: 1, Kind: KindElementwise, Shape: shapeUnaryFloat, Eval: unary(sqrtF), Grad: gradSqrt},
	{Name: "relu", Doc: "max(x, 0)", Arity: 1, Kind: KindElementwise, Shape: shapeUnaryFloat, Eval: unary(reluF), Grad: gradRelu},
	{Name: "sigmoid", Doc: "1 / (1 + e^-x), computed without overflow", Arity: 1, Kind: KindElementwise, Shape: shapeUnaryFloat, Eval: unary(sigmoidF), Grad: gradSigmoid},
	{Name: "tanh", Doc: "hyperbolic tangent", Arity: 1, Kind: KindElementwise, Shape: shapeUnaryFloat, Eval: unary(tanhF), Grad: gradTanh},
	{Name: "gelu", Doc: "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (the GPT-2 tanh form)", Arity: 1, Kind: KindElementwise, Shape: shapeUnaryFloat, Eval: unary(geluF), Grad: gradGelu},
	{Name: "gelu_grad", Doc: "g * gelu'(x): the backward of gelu", Arity: 2, Kind: KindElementwise, NoGrad: true, Shape: shapeSameFloat, Eval: binary(geluGradF)},
	{Name: "floor", Doc: "largest integer <= x, as f32", Arity: 1, Kind: KindElementwise, NoGrad: true, Shape: shapeUnaryFloat, Eval: unary(floorF)},
	{Name: "sin", Doc: "sine (radians)", Arity: 1, Kind: KindElementwise, Shape: shapeUnaryFloat, Eval: unary(sinF), Grad: gradSin},
	{Name: "cos", Doc: "cosine (radians)", Arity: 1, Kind: KindElementwise, Shape: shapeUnaryFloat, Eval: unary(cosF), Grad: gradCos},

	// Elementwise binary, numpy broadcasting.
	{Name: "add", Doc: "a + b", Arity: 2, Kind: KindElementwise, Operator: "+", Commutative: true, Shape: shapeBinaryNum, Eval: binary(func(a, b float64) float64 { return a + b }), Grad: gradAdd},
	{Name: "sub", Doc: "a - b", Arity: 2, Kind: KindElementwise, Operator: "-", Shape: shapeBinaryNum, Eval: binary(func(a, b float64) float64 { return a - b }), Grad: gradSub},
	{Name: "mul", Doc: "a * b", Arity: 2, Kind: KindElementwise, Operator: "*", Commutative: true, Shape: shapeBinaryNum, Eval: binary(func(a, b float64) float64 { return a * b }), Grad: gradMul},
	{Name: "div", Doc: "a / b", Arity: 2, Kind: KindElementwise, Operator: "/", Shape: shapeBinaryFloat, Eval: binary(func(a, b float64) float64 { return a / b }), Grad: gradDiv},
	{Name: "pow", Doc: "a ^ b", Arity: 2, Kind: KindElementwise, Shape: shapeBinaryFloat, Eval: binary(powF), Grad: gradPow},
	{Name: "maximum", Doc: "max(a, b) elementwise", Arity: 2, Kind: KindElementwise, Commutative: true, Shape: shapeBinaryNum, Eval: binary(maxF), Grad: gradMaximum},
	{Name: "minimum", Doc: "min(a, b) elementwise", Arity: 2, Kind: KindElementwise, Commutative: true, Shape: shapeBinaryNum, Eval: binary(minF), Grad: gradMinimum},

	// Comparisons and selection.
	{Name: "eq", Doc: "a == b", Arity: 2, Kind: KindElementwise, Operator: "==", NoGrad: true, Commutative: true, Shape: shapeCompare, Eval: binary(cmpF(func(a, b float64) bool { return a == b }))},
	{Name: "ne", Doc: "a != b", Arity: 2, Kind: KindElementwise, Operator: "!=", NoGrad: true, Commutative: true, Shape: shapeCompare, Eval: binary(cmpF(func(a, b float64) bool { return a != b }))},
	{Name: "lt", Doc: "a < b", Arity: 2, Kind: KindElementwise, Operator: "<", NoGrad: true, Shape: shapeCompare, Eval: binary(cmpF(func(a, b float64) bool { return a < b }))},
	{Name: "le", Doc: "a <= b", Arity: 2, Kind: KindElementwise, Operator: "<=", NoGrad: true, Shape: shapeCompare, Eval: binary(cmpF(func(a, b float64) bool { return a <= b }))},
	{Name: "gt", Doc: "a > b", Arity: 2, Kind: KindElementwise, Operator: ">", NoGrad: true, Shape: shapeCompare, Eval: binary(cmpF(func(a, b float64) bool { return a > b }))},
	{Name: "ge", Doc: "a >= b", Arity: 2, Kind: KindElementwise, Operator: ">=", NoGrad: true, Shape: shapeCompare, Eval: binary(cmpF(func(a, b float64) bool { return a >= b }))},
	{Name: "where", Doc: "cond ? a : b elementwise", Arity: 3, Kind: KindElementwise, Shape: shapeWhere, Eval: evalWhere, Grad: gradWhere},
	{Name: "cast", Doc: "convert to dtype (f32 -> i32 truncates toward zero; bool is 0 or 1)", Arity: 1, Kind: KindElementwise,
		Attrs: []AttrSpec{{Name: "dtype", Kind: AttrDType}}, Shape: shapeCast, Eval: evalCast, Grad: gradCast},

	// Contraction.
	{Name: "matmul", Doc: "a @ b over the last two axes; leading axes are batch axes and must match; ta/tb transpose a/b first", Arity: 2, Kind: KindContraction,
		Attrs: []AttrSpec{{Name: "ta", Kind: AttrBool, Optional: true}, {Name: "tb", Kind: AttrBool, Optional: true}}, Shape: shapeMatmul, Eval: evalMatmul, Grad: gradMatmul, Flops: flopsMatmul},

	// Reductions.
	{Name: "reduce_sum", Doc: "sum over axes", Arity: 1, Kind: KindReduction, Family: FamilyReduce, Attrs: axesAttrs, Reduce: ReduceSum, Shape: shapeReduce, Eval: evalReduce(reduceSum), Grad: gradReduceSum},
	{Name: "reduce_mean", Doc: "mean over axes", Arity: 1, Kind: KindReduction, Family: FamilyReduce, Attrs: axesAttrs, Reduce: ReduceMean, Shape: shapeReduceFloat, Eval: evalReduce(reduceMean), Grad: gradReduceMean},
	{Name: "reduce_max", Doc: "maximum over axes", Arity: 1, Kind: KindReduction, Family: FamilyReduce, Attrs: axesAttrs, Reduce: ReduceMax, Shape: shapeReduce, Eval: evalReduce(reduceMax), Grad: gradReduceMax},
	{Name: "argmax", Doc: "index of the first maximum along axis (i32; axis removed)", Arity: 1, Kind: KindReduction, Family: FamilyLane, NoGrad: true, Attrs: axisAttr, Shape: shapeArgmax, Eval: evalArgmax},
	{Name: "softmax", Doc: "exp(x - max) / sum(exp(x - max)) along axis", Arity: 1, Kind: KindReduction, Family: FamilyLane, Attrs: axisAttr, Shape: shapeAxisFloat, Eval: evalSoftmax(false), Grad: gradSoftmax},
	{Name: "log_softmax", Doc: "x - logsumexp(x) along axis", Arity: 1, Kind: KindReduction, Family: FamilyLane, Attrs: axisAttr, Shape: shapeAxisFloat, Eval: evalSoftmax(true), Grad: gradLogSoftmax},
	{Name: "masked_softmax", Doc: "softmax along the last axis of scale * x, keys j > query i (the second-to-last axis) masked out when causal: attention's scores [..., Tq, Tk] read and written once", Arity: 1, Kind: KindReduction, Family: FamilyLane,
		Attrs: maskedSoftmaxAttrs, Shape: shapeMaskedSoftmax, Eval: evalMaskedSoftmax, Grad: gradMaskedSoftmax},
	{Name: "masked_softmax_grad", Doc: "the backward of masked_softmax from its result y (arg 0) and g (arg 1): scale * y * (g - sum(g * y)) along the last axis", Arity: 2, Kind: KindReduction, Family: FamilyLane, NoGrad: true,
		Attrs: maskedSoftmaxAttrs, Shape: shapeMaskedSoftmax, Eval: evalMaskedSoftmaxGrad},
	{Name: "logsumexp", Doc: "max + log(sum(exp(x - max))) over axes", Arity: 1, Kind: KindReduction, Family: FamilyReduce, Attrs: axesAttrs, Scratch: sameShape, Shape: shapeReduceFloat, Eval: evalReduce(reduceLSE), Grad: gradLogsumexp},

	// Layout.
	{Name: "reshape", Doc: "same elements, new shape (element count must match)", Arity: 1, Kind: KindLayout, View: true,
		Attrs: []AttrSpec{{Name: "shape", Kind: AttrShape}}, Shape: shapeReshape, Eval: evalReshape, Grad: gradReshape},
	{Name: "transpose", Doc: "permute axes: out axis i is in axis perm[i]", Arity: 1, Kind: KindLayout, Family: FamilyTranspose,
		Attrs: []AttrSpec{{Name: "perm", Kind: AttrInts}}, Shape: shapeTranspose, Eval: evalTranspose, Grad: gradTranspose},
	{Name: "broadcast", Doc: "broadcast to shape (numpy rules)", Arity: 1, Kind: KindElementwise, Identity: true,
		Attrs: []AttrSpec{{Name: "shape", Kind: AttrShape}}, Shape: shapeBroadcast, Eval: evalBroadcast, Grad: gradBroadcast},
	{Name: "slice", Doc: "elements start..end-1 of axis", Arity: 1, Kind: KindLayout, Family: FamilySlice,
		Attrs: []AttrSpec{{Name: "axis", Kind: AttrInt}, {Name: "start", Kind: AttrInt}, {Name: "end", Kind: AttrInt}}, Shape: shapeSlice, Eval: evalSlice, Grad: gradSlice},
	{Name: "pad", Doc: "zero-pad axis with before and after elements (the backward of slice)", Arity: 1, Kind: KindLayout, Family: FamilyPad,
		Attrs: []AttrSpec{{Name: "axis", Kind: AttrInt}, {Name: "before", Kind: AttrInt}, {Name: "after", Kind: AttrInt}}, Shape: shapePad, Eval: evalPad, Grad: gradPad},
	{Name: "concat", Doc: "join args along axis", Arity: -1, Kind: KindLayout, Family: FamilyConcat, Attrs: axisAttr, Shape: shapeConcat, Eval: evalConcat, Grad: gradConcat},

	// Convolution and pooling over NHWC images (ir/conv.go). conv2d is a
	// contraction: the fuse pass gives it an elementwise epilogue (the bias
	// add and the activation), which the backends apply in the GEMM's tiles
	// where they can. Its backward ops and the pools are kernels of their own.
	{Name: "conv2d", Doc: "2-D convolution (cross-correlation) of x [N, H, W, C] with filter w [KH, KW, C/groups, F]: [N, OH, OW, F]", Arity: 2, Kind: KindContraction, Family: FamilyConv,
		Attrs: convAttrs, Scratch: im2colShape, Shape: shapeConv2D, Eval: evalConv2D, Grad: gradConv2D, Flops: flopsConv2D},
	{Name: "conv2d_grad_input", Doc: "the backward of conv2d for its input: g [N, OH, OW, F] and w to dx of the shape attribute", Arity: 2, Kind: KindOpaque, Family: FamilyConv, NoGrad: true,
		Attrs: convGradAttrs, Scratch: im2colShape, Shape: shapeConv2D, Eval: evalConv2D, Flops: flopsConv2D},
	{Name: "conv2d_grad_filter", Doc: "the backward of conv2d for its filter: x and g [N, OH, OW, F] to dw of the shape attribute", Arity: 2, Kind: KindOpaque, Family: FamilyConv, NoGrad: true,
		Attrs: convGradAttrs, Scratch: im2colShape, Shape: shapeConv2D, Eval: evalConv2D, Flops: flopsConv2D},
	{Name: "max_pool2d", Doc: "maximum over each window of x [N, H, W, C] (padding never wins): [N, OH, OW, C]", Arity: 1, Kind: KindOpaque, Family: FamilyPool,
		Attrs: poolAttrs, Shape: shapeConv2D, Eval: evalPool2D, Grad: gradMaxPool2D},
	{Name: "max_pool2d_grad", Doc: "the backward of max_pool2d: g [N, OH, OW, C] routed to the first maximum of each window of x", Arity: 2, Kind: KindOpaque, Family: FamilyPool, NoGrad: true,
		Attrs: poolAttrs, Shape: shapeConv2D, Eval: evalPool2D},
	{Name: "avg_pool2d", Doc: "mean over the non-padded elements of each window of x [N, H, W, C]: [N, OH, OW, C]", Arity: 1, Kind: KindOpaque, Family: FamilyPool,
		Attrs: poolAttrs, Shape: shapeConv2D, Eval: evalPool2D, Grad: gradAvgPool2D},
	{Name: "avg_pool2d_grad", Doc: "the backward of avg_pool2d: g [N, OH, OW, C] spread over each window's non-padded elements, to dx of the shape attribute", Arity: 1, Kind: KindOpaque, Family: FamilyPool, NoGrad: true,
		Attrs: poolGradAttrs, Shape: shapeConv2D, Eval: evalPool2D},

	// Recurrences (ir/rnn.go): a loop over the time axis, one GEMM per step
	// fused with the gate math; the input projection is a matmul outside.
	{Name: "lstm_scan", Doc: "the Keras LSTM recurrence over xproj [N, T, 4u] (x @ kernel + bias) with recurrent kernel [u, 4u]: packed [N, T, 6u] of h, c and the gates i, f, g, o per step", Arity: 2, Kind: KindOpaque, Family: FamilyScan,
		Shape: shapeScan, Eval: evalScan, Grad: gradLSTMScan},
	{Name: "lstm_scan_grad", Doc: "the backward of lstm_scan (backpropagation through time): seq, recurrent kernel and d seq to the gate pre-activations' gradient [N, T, 4u]", Arity: 3, Kind: KindOpaque, Family: FamilyScan, NoGrad: true,
		Scratch: scanScratch, Shape: shapeScan, Eval: evalScan},
	{Name: "gru_scan", Doc: "the Keras GRU recurrence over xproj [N, T, 3u] with recurrent kernel [u, 3u] (and, with reset_after, the bias [2, 3u]: input and recurrent rows): packed [N, T, 5u] of h, z, r, hh and q per step", Arity: -1, Kind: KindOpaque, Family: FamilyScan,
		Attrs: gruAttrs, Shape: shapeScan, Eval: evalScan, Grad: gradGRUScan},
	{Name: "gru_scan_grad", Doc: "the backward of gru_scan (backpropagation through time): seq, recurrent kernel and d seq to the gates' gradients [N, T, 4u] (reset_after) or [N, T, 3u]", Arity: 3, Kind: KindOpaque, Family: FamilyScan, NoGrad: true,
		Attrs: gruAttrs, Scratch: scanScratch, Shape: shapeScan, Eval: evalScan},

	// Indexing.
	{Name: "gather", Doc: "rows of table (arg 0) picked by i32 indices (arg 1): out[i..., j...] = table[idx[i...], j...]", Arity: 2, Kind: KindOpaque, Family: FamilyGather,
		IndexBound: boundByRows(1), Shape: shapeGather, Eval: evalGather, Grad: gradGather},
	{Name: "scatter_add", Doc: "the backward of gather: out[idx[i...], j...] += src[i..., j...], out has size rows on axis 0", Arity: 2, Kind: KindOpaque, Family: FamilyScatterAdd,
		Attrs: []AttrSpec{{Name: "rows", Kind: AttrInt}}, NoGrad: true, IndexBound: boundByAttr(0, "rows"), Shape: shapeScatterAdd, Eval: evalScatterAdd},
	{Name: "random_uniform", Doc: "uniform f32 draws in [0, 1) of the given shape: element i is Philox4x32-10 of key (arg 0, the f32[4] random key state) and counter (i, step (arg 1, the f32 step state), stream)", Arity: 2, Kind: KindOpaque, Family: FamilyRandom, NoGrad: true,
		Attrs: []AttrSpec{{Name: "shape", Kind: AttrShape}, {Name: "stream", Kind: AttrInt}}, Shape: shapeRandom, Eval: evalRandom},
	{Name: "one_hot", Doc: "f32 one-hot encoding of i32 indices with depth classes (out of range gives a zero row)", Arity: 1, Kind: KindOpaque, Family: FamilyOneHot, NoGrad: true,
		Attrs: []AttrSpec{{Name: "depth", Kind: AttrInt}}, IndexBound: boundByAttr(0, "depth"), Shape: shapeOneHot, Eval: evalOneHot},
}

// checkAttrs validates attrs against op's schema.
func checkAttrs(op *OpDef, a Attrs) error {
	for k := range a {
		if op.Attr(k) == nil {
			return fmt.Errorf("%s: unknown attribute %q", op.Name, k)
		}
	}
	for _, s := range op.Attrs {
		x, ok := a[s.Name]
		if !ok {
			if s.Optional {
				continue
			}
			return fmt.Errorf("%s: missing attribute %q", op.Name, s.Name)
		}
		good := false
		switch s.Kind {
		case AttrInt:
			_, good = x.(int)
		case AttrInts:
			_, good = x.([]int)
		case AttrFloat:
			_, good = x.(float64)
		case AttrFloats:
			_, good = x.([]float64)
		case AttrBool:
			_, good = x.(bool)
		case AttrString:
			_, good = x.(string)
		case AttrDType:
			_, good = x.(DType)
		case AttrShape:
			_, good = x.(Shape)
		}
		if !good {
			return fmt.Errorf("%s: attribute %q must be %s, got %T", op.Name, s.Name, s.Kind, x)
		}
	}
	return nil
}

// sameShape is the Scratch of an op whose workspace has its result's shape.
func sameShape(v *Value) Shape { return v.Type.Shape }

// boundByRows bounds index arg i by the rows (axis 0) of arg 0.
func boundByRows(i int) func(v *Value, arg int) int {
	return func(v *Value, arg int) int {
		if arg != i {
			return 0
		}
		return int(v.Args[0].Type.Shape[0])
	}
}

// boundByAttr bounds index arg i by the int attribute name.
func boundByAttr(i int, name string) func(v *Value, arg int) int {
	return func(v *Value, arg int) int {
		if arg != i {
			return 0
		}
		return v.Attrs.Int(name)
	}
}
