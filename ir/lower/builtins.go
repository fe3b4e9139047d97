package lower

import (
	"fmt"
	"math"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
)

// builtins is the function table of the language: primitive functions,
// layers (which create parameters), losses and metrics.
var builtins map[string]*builtin

func init() {
	builtins = map[string]*builtin{}
	for _, name := range []string{"exp", "log", "sqrt", "abs", "sign", "relu", "sigmoid", "tanh", "gelu", "sin", "cos", "floor"} {
		builtins[name] = &builtin{kind: kindOp, doc: "elementwise " + name, params: []param{{name: "x", def: required}}, fn: unaryFn(name)}
	}
	for _, name := range []string{"pow", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge"} {
		builtins[name] = &builtin{kind: kindOp, doc: "elementwise " + name, params: []param{{name: "a", def: required}, {name: "b", def: required}}, fn: binaryFn(name)}
	}
	x := param{name: "x", def: required}
	axisOpt := param{name: "axis", def: "all"}
	keep := param{name: "keepdims", def: false}
	for name, fn := range map[string]func(*lowerer, *callArgs) val{
		"neg":         unaryFn("neg"),
		"square":      fnSquare,
		"where":       fnWhere,
		"clip":        fnClip,
		"matmul":      fnMatmul,
		"sum":         reduceFn("reduce_sum"),
		"mean":        reduceFn("reduce_mean"),
		"logsumexp":   reduceFn("logsumexp"),
		"max":         fnMaxMin(true),
		"min":         fnMaxMin(false),
		"softmax":     axisFn("softmax"),
		"log_softmax": axisFn("log_softmax"),
		"argmax":      fnArgmax,
		"reshape":     fnReshape,
		"transpose":   fnTranspose,
		"flatten":     fnFlatten,
		"slice":       fnSlice,
		"concat":      fnConcat,
		"gather":      fnGather,
		"one_hot":     fnOneHot,
		"cast":        fnCast,
	} {
		builtins[name] = &builtin{kind: kindOp, fn: fn}
	}
	builtins["neg"].params = []param{x}
	builtins["square"].params = []param{x}
	builtins["where"].params = []param{{name: "cond", def: required}, {name: "a", def: required}, {name: "b", def: required}}
	builtins["clip"].params = []param{x, {name: "lo", def: required}, {name: "hi", def: required}}
	builtins["matmul"].params = []param{{name: "a", def: required}, {name: "b", def: required}}
	for _, n := range []string{"sum", "mean", "logsumexp"} {
		builtins[n].params = []param{x, axisOpt, keep}
	}
	builtins["max"].params = []param{x, {name: "b", def: nil}, axisOpt, keep}
	builtins["min"].params = []param{x, {name: "b", def: nil}, axisOpt, keep}
	builtins["softmax"].params = []param{x, {name: "axis", def: -1}}
	builtins["log_softmax"].params = []param{x, {name: "axis", def: -1}}
	builtins["argmax"].params = []param{x, {name: "axis", def: -1}}
	builtins["reshape"].params = []param{x}
	builtins["reshape"].variadic = true
	builtins["transpose"].params = []param{x}
	builtins["transpose"].variadic = true
	builtins["flatten"].params = []param{x}
	builtins["slice"].params = []param{x, {name: "axis", def: required}, {name: "start", def: required}, {name: "end", def: required}}
	builtins["concat"].params = []param{{name: "axis", def: 0, kw: true}}
	builtins["concat"].variadic = true
	builtins["gather"].params = []param{{name: "table", def: required}, {name: "indices", def: required}}
	builtins["one_hot"].params = []param{{name: "indices", def: required}, {name: "depth", def: required}}
	builtins["cast"].params = []param{x, {name: "dtype", def: required, raw: true}}

	// Layers: each creates its parameters, named after the binding.
	builtins["dense"] = &builtin{kind: kindLayer, doc: "x @ w + b over the last axis; w [in, units] (glorot_uniform), b [units] (zeros)",
		params: []param{x, {name: "units", def: required}, {name: "bias", def: true}, {name: "init", def: "glorot_uniform", raw: true}}, fn: layerDense}
	builtins["embedding"] = &builtin{kind: kindLayer, doc: "rows of table [vocab, dim] (uniform ±0.05) picked by i32 indices",
		params: []param{{name: "indices", def: required}, {name: "vocab", def: required}, {name: "dim", def: required}, {name: "init", def: "uniform", raw: true}}, fn: layerEmbedding}
	builtins["layer_norm"] = &builtin{kind: kindLayer, doc: "normalize the last axis, then scale by gamma (ones) and shift by beta (zeros)",
		params: []param{x, {name: "eps", def: 1e-5}}, fn: layerNorm}
	builtins["dropout"] = &builtin{kind: kindOp, doc: "inverted dropout: in training, zero each element with probability rate (counter-based Philox draws) and scale the rest by 1/(1-rate); the identity in inference",
		params: []param{x, {name: "rate", def: required}}, fn: layerDropout}
	builtins["batch_norm"] = &builtin{kind: kindLayer, doc: "Keras BatchNormalization over the last axis: batch statistics and moving-average updates in training, the moving statistics in inference; gamma (ones), beta (zeros), state moving_mean (zeros), moving_variance (ones)",
		params: []param{x, {name: "momentum", def: 0.99}, {name: "eps", def: 1e-3}}, fn: layerBatchNorm}

	// Recurrent layers over x [N, T, D] (rnn.go), Keras semantics.
	seqs := param{name: "return_sequences", def: false}
	builtins["lstm"] = &builtin{kind: kindLayer, doc: "Keras LSTM over x [N, T, D]: h [N, units] of the last step, or [N, T, units] with return_sequences; kernel [D, 4u] (glorot_uniform), recurrent_kernel [u, 4u] (orthogonal), bias [4u] (zeros, forget gate ones); gates i, f, c, o",
		params: []param{x, {name: "units", def: required}, seqs}, fn: layerLSTM}
	builtins["gru"] = &builtin{kind: kindLayer, doc: "Keras GRU over x [N, T, D]: h [N, units] of the last step, or [N, T, units] with return_sequences; kernel [D, 3u] (glorot_uniform), recurrent_kernel [u, 3u] (orthogonal), bias [2, 3u] with reset_after (else [3u], zeros); gates z, r, h",
		params: []param{x, {name: "units", def: required}, seqs, {name: "reset_after", def: true}}, fn: layerGRU}
	// Attention (attention.go).
	builtins["attention"] = &builtin{kind: kindLayer, doc: "multi-head self-attention over x [N, T, D]: wqkv [D, 3D], bqkv [3D], wo [D, D], bo [D] (glorot_uniform, zeros); scaled dot product, causal mask by default",
		params: []param{x, {name: "heads", def: required}, {name: "causal", def: true}, {name: "bias", def: true}, {name: "init", def: "glorot_uniform", raw: true}}, fn: layerAttention}
	builtins["multi_head_attention"] = &builtin{kind: kindLayer, doc: "multi-head attention of queries q [N, Tq, D] over kv [N, Tk, E]: wq [D, D], bq, wkv [E, 2D], bkv, wo [D, D], bo",
		params: []param{{name: "q", def: required}, {name: "kv", def: required}, {name: "heads", def: required}, {name: "causal", def: false}, {name: "bias", def: true}, {name: "init", def: "glorot_uniform", raw: true}}, fn: layerMultiHeadAttention}

	// Convolution and pooling over NHWC images (conv.go), Keras semantics.
	pad := param{name: "padding", def: "valid"}
	builtins["conv2d"] = &builtin{kind: kindLayer, doc: "2-D convolution of NHWC x [N, H, W, C]; w [kh, kw, C/groups, filters] (glorot_uniform), b [filters] (zeros)",
		params: []param{x, {name: "filters", def: required}, {name: "kernel", def: required, raw: true}, {name: "stride", def: 1, raw: true}, pad,
			{name: "dilation", def: 1, raw: true}, {name: "groups", def: 1}, {name: "use_bias", def: true}, {name: "init", def: "glorot_uniform", raw: true}},
		fn: layerConv2D}
	for _, op := range []string{"max_pool2d", "avg_pool2d"} {
		builtins[op] = &builtin{kind: kindOp, doc: op + " over windows of NHWC x (Keras semantics)",
			params: []param{x, {name: "size", def: required, raw: true}, {name: "stride", def: "size", raw: true}, pad}, fn: poolFn(op)}
	}
	builtins["global_avg_pool2d"] = &builtin{kind: kindOp, doc: "mean over H and W of NHWC x: [N, C]", params: []param{x}, fn: globalPoolFn("reduce_mean")}
	builtins["global_max_pool2d"] = &builtin{kind: kindOp, doc: "maximum over H and W of NHWC x: [N, C]", params: []param{x}, fn: globalPoolFn("reduce_max")}

	// Losses: mean over examples by default (reduction: "sum" to add them).
	red := param{name: "reduction", def: "mean"}
	pred, target := param{name: "pred", def: required}, param{name: "target", def: required}
	builtins["mse"] = &builtin{kind: kindLoss, doc: "mean squared error", params: []param{pred, target, red}, fn: lossMSE}
	builtins["mae"] = &builtin{kind: kindLoss, doc: "mean absolute error", params: []param{pred, target, red}, fn: lossMAE}
	builtins["huber"] = &builtin{kind: kindLoss, doc: "Huber loss: quadratic within delta, linear outside", params: []param{pred, target, {name: "delta", def: 1.0}, red}, fn: lossHuber}
	builtins["cross_entropy"] = &builtin{kind: kindLoss, doc: "softmax cross-entropy of logits with i32 class labels or probability targets",
		params: []param{{name: "logits", def: required}, {name: "labels", def: required}, red}, fn: lossCrossEntropy}
	builtins["binary_cross_entropy"] = &builtin{kind: kindLoss, doc: "binary cross-entropy of probabilities (clamped to [eps, 1-eps]) or, with from_logits, of logits",
		params: []param{pred, target, {name: "from_logits", def: false}, {name: "eps", def: 1e-7}, red}, fn: lossBCE}
	builtins["binary_cross_entropy_with_logits"] = &builtin{kind: kindLoss, doc: "numerically stable binary cross-entropy of logits",
		params: []param{{name: "logits", def: required}, target, red}, fn: lossBCELogits}

	builtins["accuracy"] = &builtin{kind: kindMetric, doc: "fraction of correct predictions: argmax vs i32 labels or one-hot targets; probability > 0.5 vs 0/1 targets",
		params: []param{pred, {name: "labels", def: required}}, fn: metricAccuracy}
}

func unaryFn(op string) func(*lowerer, *callArgs) val {
	return func(l *lowerer, c *callArgs) val { return l.op(c.pos, op, nil, c.vals["x"]) }
}

func binaryFn(op string) func(*lowerer, *callArgs) val {
	return func(l *lowerer, c *callArgs) val { return l.op(c.pos, op, nil, c.vals["a"], c.vals["b"]) }
}

func fnSquare(l *lowerer, c *callArgs) val {
	x := c.vals["x"]
	return l.op(c.pos, "mul", nil, x, x)
}

func fnWhere(l *lowerer, c *callArgs) val {
	cond := c.vals["cond"]
	if cond.k == kTensor && cond.v.Type.DType != ir.Bool {
		l.errorf(c.posOf("cond"), "where: condition must be a comparison (bool), got %s", cond.v.Type)
		return errVal
	}
	return l.op(c.pos, "where", nil, cond, c.vals["a"], c.vals["b"])
}

func fnClip(l *lowerer, c *callArgs) val {
	return l.op(c.pos, "minimum", nil, l.op(c.pos, "maximum", nil, c.vals["x"], c.vals["lo"]), c.vals["hi"])
}

func fnMatmul(l *lowerer, c *callArgs) val { return l.matmul(c.pos, c.vals["a"], c.vals["b"]) }

// axesOf returns the reduction axes: every axis when axis is "all".
func (l *lowerer) axesOf(c *callArgs, x val) ([]int, bool) {
	a := c.vals["axis"]
	if a.k == kStr && a.s == "all" {
		axes := make([]int, x.v.Type.Shape.Rank())
		for i := range axes {
			axes[i] = i
		}
		return axes, true
	}
	ax, ok := l.argAxis(c, "axis")
	return []int{ax}, ok
}

func reduceFn(op string) func(*lowerer, *callArgs) val {
	return func(l *lowerer, c *callArgs) val {
		x, ok := l.argTensor(c, "x")
		if !ok {
			return errVal
		}
		axes, ok := l.axesOf(c, x)
		keep, ok2 := l.argBool(c, "keepdims")
		if !ok || !ok2 {
			return errVal
		}
		if len(axes) == 0 {
			return x
		}
		return l.op(c.pos, op, ir.Attrs{"axes": axes, "keepdims": keep}, x)
	}
}

// fnMaxMin is max(a, b) elementwise, or max(x, axis: k) as a reduction.
func fnMaxMin(isMax bool) func(*lowerer, *callArgs) val {
	return func(l *lowerer, c *callArgs) val {
		if b, ok := c.vals["b"]; ok && b.k != kErr && c.at["b"].IsValid() {
			op := "maximum"
			if !isMax {
				op = "minimum"
			}
			return l.op(c.pos, op, nil, c.vals["x"], b)
		}
		x, ok := l.argTensor(c, "x")
		if !ok {
			return errVal
		}
		axes, ok := l.axesOf(c, x)
		keep, ok2 := l.argBool(c, "keepdims")
		if !ok || !ok2 {
			return errVal
		}
		if len(axes) == 0 {
			return x
		}
		attrs := ir.Attrs{"axes": axes, "keepdims": keep}
		if isMax {
			return l.op(c.pos, "reduce_max", attrs, x)
		}
		return l.op(c.pos, "neg", nil, l.op(c.pos, "reduce_max", attrs, l.op(c.pos, "neg", nil, x)))
	}
}

func axisFn(op string) func(*lowerer, *callArgs) val {
	return func(l *lowerer, c *callArgs) val {
		ax, ok := l.argAxis(c, "axis")
		if !ok {
			return errVal
		}
		return l.op(c.pos, op, ir.Attrs{"axis": ax}, c.vals["x"])
	}
}

func fnArgmax(l *lowerer, c *callArgs) val {
	ax, ok := l.argAxis(c, "axis")
	if !ok {
		return errVal
	}
	return l.op(c.pos, "argmax", ir.Attrs{"axis": ax}, c.vals["x"])
}

func fnReshape(l *lowerer, c *callArgs) val {
	if len(c.rest) == 0 {
		l.errorf(c.pos, "reshape needs the new dimensions: reshape(x, d1, d2, ...)")
		return errVal
	}
	var s ir.Shape
	for _, d := range c.rest {
		dd, ok := l.toDim(d, d.pos)
		if !ok {
			return errVal
		}
		s = append(s, dd)
	}
	return l.op(c.pos, "reshape", ir.Attrs{"shape": s}, c.vals["x"])
}

func fnTranspose(l *lowerer, c *callArgs) val {
	x, ok := l.argTensor(c, "x")
	if !ok {
		return errVal
	}
	r := x.v.Type.Shape.Rank()
	var perm []int
	if len(c.rest) == 0 {
		if r < 2 {
			l.errorf(c.pos, "transpose needs rank >= 2, got %s", x.v.Type)
			return errVal
		}
		for i := 0; i < r; i++ {
			perm = append(perm, i)
		}
		perm[r-2], perm[r-1] = r-1, r-2
	} else {
		for _, p := range c.rest {
			if p.k != kNum || !p.isInt {
				l.errorf(p.pos, "transpose: axes must be whole numbers, got %s", p.kindName())
				return errVal
			}
			perm = append(perm, int(p.num))
		}
	}
	return l.op(c.pos, "transpose", ir.Attrs{"perm": perm}, x)
}

func fnFlatten(l *lowerer, c *callArgs) val {
	x, ok := l.argTensor(c, "x")
	if !ok {
		return errVal
	}
	s := x.v.Type.Shape
	if s.Rank() < 2 {
		l.errorf(c.pos, "flatten needs rank >= 2, got %s", x.v.Type)
		return errVal
	}
	rest, ok := s[1:].Size()
	if !ok {
		l.errorf(c.pos, "cannot flatten %s", x.v.Type)
		return errVal
	}
	return l.op(c.pos, "reshape", ir.Attrs{"shape": ir.Shape{s[0], rest}}, x)
}

func fnSlice(l *lowerer, c *callArgs) val {
	ax, ok1 := l.argAxis(c, "axis")
	s, ok2 := l.argInt(c, "start", 0)
	e, ok3 := l.argInt(c, "end", 1)
	if !ok1 || !ok2 || !ok3 {
		return errVal
	}
	return l.op(c.pos, "slice", ir.Attrs{"axis": ax, "start": s, "end": e}, c.vals["x"])
}

func fnConcat(l *lowerer, c *callArgs) val {
	ax, ok := l.argAxis(c, "axis")
	if !ok {
		return errVal
	}
	if len(c.rest) < 1 {
		l.errorf(c.pos, "concat needs at least one tensor")
		return errVal
	}
	return l.op(c.pos, "concat", ir.Attrs{"axis": ax}, c.rest...)
}

func fnGather(l *lowerer, c *callArgs) val {
	return l.op(c.pos, "gather", nil, c.vals["table"], c.vals["indices"])
}

func fnOneHot(l *lowerer, c *callArgs) val {
	d, ok := l.argInt(c, "depth", 1)
	if !ok {
		return errVal
	}
	return l.op(c.pos, "one_hot", ir.Attrs{"depth": d}, c.vals["indices"])
}

func fnCast(l *lowerer, c *callArgs) val {
	id, ok := c.raw["dtype"].(*dsl.Ident)
	dt, ok2 := ir.DType(0), false
	if ok {
		dt, ok2 = ir.ParseDType(id.Name)
	}
	if !ok2 || dt == ir.Bool {
		l.errorf(c.posOf("dtype"), "cast: dtype must be f32 or i32")
		return errVal
	}
	return l.op(c.pos, "cast", ir.Attrs{"dtype": dt}, c.vals["x"])
}

// ---------------------------------------------------------------------------
// Layers

func (l *lowerer) layerInput(c *callArgs, name string) (val, bool) {
	x, ok := l.argTensor(c, name)
	if ok && x.v.Type.DType != ir.F32 {
		l.hintf(c.posOf(name), "convert with cast(x, f32)", "%s needs f32 input, got %s", c.name, x.where())
		return errVal, false
	}
	return x, ok
}

func layerDense(l *lowerer, c *callArgs) val {
	x, ok := l.layerInput(c, "x")
	units, ok2 := l.argInt(c, "units", 1)
	bias, ok3 := l.argBool(c, "bias")
	if !ok || !ok2 || !ok3 {
		return errVal
	}
	if x.v.Type.Shape.Rank() < 2 {
		l.errorf(c.posOf("x"), "dense needs input of rank >= 2 ([batch, features]), got %s", x.where())
		return errVal
	}
	in := x.v.Type.Shape[x.v.Type.Shape.Rank()-1]
	if in.IsBatch() {
		l.errorf(c.posOf("x"), "dense: the feature axis of %s depends on N", x.v.Type)
		return errVal
	}
	init, iargs, ok := l.initSpec(c.sc, c.raw["init"], ir.Shape{in, ir.Dim(units)})
	if !ok {
		return errVal
	}
	w, ok := l.newParam(l.paramName("dense", "w"), ir.Shape{in, ir.Dim(units)}, init, iargs, c.pos)
	if !ok {
		return errVal
	}
	wv := tensorVal(w, w.Name, c.pos)
	y := l.applyLastAxis(c.pos, x, func(flat val) val { return l.op(c.pos, "matmul", nil, flat, wv) })
	if !bias || y.k != kTensor {
		return y
	}
	b, ok := l.newParam(l.paramName("dense", "b"), ir.Shape{ir.Dim(units)}, "zeros", nil, c.pos)
	if !ok {
		return errVal
	}
	return l.op(c.pos, "add", nil, y, tensorVal(b, b.Name, c.pos))
}

func layerEmbedding(l *lowerer, c *callArgs) val {
	idx, ok := l.argTensor(c, "indices")
	vocab, ok2 := l.argInt(c, "vocab", 1)
	dim, ok3 := l.argInt(c, "dim", 1)
	if !ok || !ok2 || !ok3 {
		return errVal
	}
	if idx.v.Type.DType != ir.I32 {
		l.errorf(c.posOf("indices"), "embedding needs i32 indices, got %s", idx.where())
		return errVal
	}
	shape := ir.Shape{ir.Dim(vocab), ir.Dim(dim)}
	init, iargs, ok := l.initSpec(c.sc, c.raw["init"], shape)
	if !ok {
		return errVal
	}
	t, ok := l.newParam(l.paramName("embedding", "table"), shape, init, iargs, c.pos)
	if !ok {
		return errVal
	}
	return l.op(c.pos, "gather", nil, tensorVal(t, t.Name, c.pos), idx)
}

func layerNorm(l *lowerer, c *callArgs) val {
	x, ok := l.layerInput(c, "x")
	eps, ok2 := l.argNum(c, "eps")
	if !ok || !ok2 {
		return errVal
	}
	s := x.v.Type.Shape
	if s.Rank() < 1 || s[s.Rank()-1].IsBatch() {
		l.errorf(c.posOf("x"), "layer_norm needs a fixed last axis, got %s", x.where())
		return errVal
	}
	d := s[s.Rank()-1]
	last := ir.Attrs{"axes": []int{s.Rank() - 1}, "keepdims": true}
	mean := l.op(c.pos, "reduce_mean", last, x)
	xc := l.op(c.pos, "sub", nil, x, mean)
	variance := l.op(c.pos, "reduce_mean", last.Clone(), l.op(c.pos, "mul", nil, xc, xc))
	norm := l.op(c.pos, "div", nil, xc, l.op(c.pos, "sqrt", nil, l.op(c.pos, "add", nil, variance, numVal(eps, false, c.pos))))
	gamma, ok := l.newParam(l.paramName("layer_norm", "gamma"), ir.Shape{d}, "ones", nil, c.pos)
	if !ok {
		return errVal
	}
	beta, ok := l.newParam(l.paramName("layer_norm", "beta"), ir.Shape{d}, "zeros", nil, c.pos)
	if !ok {
		return errVal
	}
	return l.op(c.pos, "add", nil, l.op(c.pos, "mul", nil, norm, tensorVal(gamma, gamma.Name, c.pos)), tensorVal(beta, beta.Name, c.pos))
}

// ---------------------------------------------------------------------------
// Initializers

var initAliases = map[string]string{
	"zeros": "zeros", "ones": "ones", "constant": "constant", "normal": "normal", "uniform": "uniform",
	"glorot": "glorot_uniform", "xavier": "glorot_uniform", "glorot_uniform": "glorot_uniform", "xavier_uniform": "glorot_uniform",
	"glorot_normal": "glorot_normal", "xavier_normal": "glorot_normal",
	"he": "he_normal", "kaiming": "he_normal", "he_normal": "he_normal", "kaiming_normal": "he_normal",
	"he_uniform": "he_uniform", "kaiming_uniform": "he_uniform",
	"orthogonal": "orthogonal",
}

func initNames() []string {
	var out []string
	for k := range initAliases {
		out = append(out, k)
	}
	return out
}

// initSpec evaluates an initializer: a number (constant), a name (zeros,
// glorot, ...), a string default, or a call (normal(0.02), uniform(-1, 1),
// constant(0.1)). It returns the canonical name and its arguments.
func (l *lowerer) initSpec(sc *scope, e dsl.Expr, shape ir.Shape) (string, []float64, bool) {
	var name string
	var args []dsl.Expr
	pos := dsl.Pos{}
	switch e := e.(type) {
	case nil:
		return "", nil, false
	case *dsl.Number, *dsl.Unary, *dsl.Binary:
		v := l.expr(sc, e)
		if v.k != kNum {
			if v.k != kErr {
				l.errorf(e.Position(), "initializer must be a number or an initializer such as normal(0.02), got %s", v.kindName())
			}
			return "", nil, false
		}
		if v.num == 0 {
			return "zeros", nil, true
		}
		return "constant", []float64{v.num}, true
	case *dsl.Ident:
		name, pos = e.Name, e.Pos
		if b := sc.lookup(name); b != nil && b.val.k == kNum {
			return "constant", []float64{b.val.num}, true
		}
	case *dsl.String:
		name, pos = e.Value, e.Pos
	case *dsl.Call:
		name, pos, args = e.Func.Name, e.Func.Pos, e.Args
		if len(e.Named) > 0 {
			l.errorf(e.Named[0].Pos, "initializer arguments are positional, e.g. normal(0.02) or uniform(-0.1, 0.1)")
			return "", nil, false
		}
	default:
		l.errorf(e.Position(), "expected an initializer such as zeros, glorot or normal(0.02)")
		return "", nil, false
	}
	canon, ok := initAliases[name]
	if !ok {
		l.unknown(pos, "initializer", name, initNames())
		return "", nil, false
	}
	var nums []float64
	for _, a := range args {
		v := l.expr(sc, a)
		if v.k != kNum {
			if v.k != kErr {
				l.errorf(a.Position(), "initializer arguments must be numbers, got %s", v.kindName())
			}
			return "", nil, false
		}
		nums = append(nums, v.num)
	}
	maxArgs := map[string]int{"zeros": 0, "ones": 0, "constant": 1, "normal": 2, "uniform": 2}[canon]
	if len(nums) > maxArgs {
		l.errorf(pos, "%s takes at most %d argument%s, got %d", name, maxArgs, plural(maxArgs), len(nums))
		return "", nil, false
	}
	switch canon {
	case "constant":
		if len(nums) != 1 {
			l.errorf(pos, "constant needs its value: constant(0.1)")
			return "", nil, false
		}
	case "normal":
		// normal(std[, mean]); default std 0.05 (Keras's RandomNormal)
		if len(nums) == 0 {
			nums = []float64{0.05}
		}
		if nums[0] <= 0 || math.IsInf(nums[0], 0) {
			l.errorf(pos, "normal: standard deviation must be positive, got %v", nums[0])
			return "", nil, false
		}
		if len(nums) == 1 {
			nums = append(nums, 0)
		}
	case "uniform":
		// uniform(lo, hi); uniform(a) means (-a, a); default ±0.05
		switch len(nums) {
		case 0:
			nums = []float64{-0.05, 0.05}
		case 1:
			nums = []float64{-math.Abs(nums[0]), math.Abs(nums[0])}
		}
		if nums[0] >= nums[1] {
			l.errorf(pos, "uniform: low %v must be below high %v", nums[0], nums[1])
			return "", nil, false
		}
	}
	_ = shape
	return canon, nums, true
}

// ---------------------------------------------------------------------------
// Losses

// reduceAll reduces a per-element loss to a scalar by mean or sum.
func (l *lowerer) reduceAll(c *callArgs, x val) val {
	if x.k != kTensor {
		return x
	}
	red, ok := l.argStr(c, "reduction", "mean", "sum")
	if !ok {
		return errVal
	}
	r := x.v.Type.Shape.Rank()
	if r == 0 {
		return x
	}
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	op := "reduce_mean"
	if red == "sum" {
		op = "reduce_sum"
	}
	return l.op(c.pos, op, ir.Attrs{"axes": axes, "keepdims": false}, x)
}

// sameShape checks pred and target of a loss.
func (l *lowerer) lossPair(c *callArgs, a, b string) (val, val, bool) {
	p, ok1 := l.argTensor(c, a)
	t, ok2 := l.argTensor(c, b)
	if !ok1 || !ok2 {
		return errVal, errVal, false
	}
	if p.v.Type.DType != ir.F32 || t.v.Type.DType != ir.F32 {
		l.hintf(c.pos, "convert with cast(x, f32)", "%s needs f32 %s and %s, got %s and %s", c.name, a, b, p.v.Type, t.v.Type)
		return errVal, errVal, false
	}
	if !p.v.Type.Shape.Equal(t.v.Type.Shape) {
		d := dsl.Diagnostic{Pos: c.pos, Msg: fmt.Sprintf("%s: %s and %s must have the same shape, got %s and %s", c.name, a, b, p.v.Type, t.v.Type)}
		addNotes(&d, p, t)
		l.diags = append(l.diags, d)
		return errVal, errVal, false
	}
	return p, t, true
}

func lossMSE(l *lowerer, c *callArgs) val {
	p, t, ok := l.lossPair(c, "pred", "target")
	if !ok {
		return errVal
	}
	d := l.op(c.pos, "sub", nil, p, t)
	return l.reduceAll(c, l.op(c.pos, "mul", nil, d, d))
}

func lossMAE(l *lowerer, c *callArgs) val {
	p, t, ok := l.lossPair(c, "pred", "target")
	if !ok {
		return errVal
	}
	return l.reduceAll(c, l.op(c.pos, "abs", nil, l.op(c.pos, "sub", nil, p, t)))
}

func lossHuber(l *lowerer, c *callArgs) val {
	p, t, ok := l.lossPair(c, "pred", "target")
	delta, ok2 := l.argNum(c, "delta")
	if !ok || !ok2 {
		return errVal
	}
	if delta <= 0 {
		l.errorf(c.posOf("delta"), "huber: delta must be positive, got %v", delta)
		return errVal
	}
	// 0.5 q^2 + delta (a - q) with a = |p - t|, q = min(a, delta)
	a := l.op(c.pos, "abs", nil, l.op(c.pos, "sub", nil, p, t))
	q := l.op(c.pos, "minimum", nil, a, numVal(delta, false, c.pos))
	quad := l.op(c.pos, "mul", nil, numVal(0.5, false, c.pos), l.op(c.pos, "mul", nil, q, q))
	lin := l.op(c.pos, "mul", nil, numVal(delta, false, c.pos), l.op(c.pos, "sub", nil, a, q))
	return l.reduceAll(c, l.op(c.pos, "add", nil, quad, lin))
}

func lossCrossEntropy(l *lowerer, c *callArgs) val {
	z, ok1 := l.argTensor(c, "logits")
	y, ok2 := l.argTensor(c, "labels")
	if !ok1 || !ok2 {
		return errVal
	}
	zs := z.v.Type.Shape
	if z.v.Type.DType != ir.F32 || zs.Rank() < 1 || zs[zs.Rank()-1].IsBatch() {
		l.errorf(c.posOf("logits"), "cross_entropy: logits must be f32 with a class axis last, got %s", z.where())
		return errVal
	}
	classes := zs[zs.Rank()-1]
	ls := l.op(c.pos, "log_softmax", ir.Attrs{"axis": -1}, z)
	var target val
	switch {
	case y.v.Type.DType == ir.I32 && y.v.Type.Shape.Equal(zs[:zs.Rank()-1]):
		target = l.op(c.pos, "one_hot", ir.Attrs{"depth": int(classes)}, y)
	case y.v.Type.DType == ir.F32 && y.v.Type.Shape.Equal(zs):
		target = y
	default:
		d := dsl.Diagnostic{Pos: c.pos, Msg: fmt.Sprintf("cross_entropy: labels must be i32%v (class indices) or f32%v (probabilities) for logits %s, got %s",
			zs[:zs.Rank()-1], zs, z.v.Type, y.v.Type)}
		addNotes(&d, z, y)
		l.diags = append(l.diags, d)
		return errVal
	}
	per := l.op(c.pos, "neg", nil, l.op(c.pos, "reduce_sum", ir.Attrs{"axes": []int{zs.Rank() - 1}, "keepdims": false},
		l.op(c.pos, "mul", nil, target, ls)))
	return l.reduceAll(c, per)
}

func lossBCE(l *lowerer, c *callArgs) val {
	fromLogits, ok := l.argBool(c, "from_logits")
	if !ok {
		return errVal
	}
	p, t, ok := l.lossPair(c, "pred", "target")
	eps, ok2 := l.argNum(c, "eps")
	if !ok || !ok2 {
		return errVal
	}
	if fromLogits {
		return l.reduceAll(c, l.bceLogits(c.pos, p, t))
	}
	if eps <= 0 || eps >= 0.5 {
		l.errorf(c.posOf("eps"), "binary_cross_entropy: eps must be in (0, 0.5), got %v", eps)
		return errVal
	}
	// The clamp bounds are float32 values (1-1e-7 is not one: float32 code
	// would clamp at 1-2^-23 while the float64 interpreter clamped at
	// 1-1e-7, and log(1-p) of a saturated prediction differed by 1%), so
	// every backend and the interpreter clamp at the same numbers.
	lo, hi := float64(float32(eps)), float64(float32(1-eps))
	one := numVal(1, false, c.pos)
	pc := l.op(c.pos, "minimum", nil, l.op(c.pos, "maximum", nil, p, numVal(lo, false, c.pos)), numVal(hi, false, c.pos))
	pos := l.op(c.pos, "mul", nil, t, l.op(c.pos, "log", nil, pc))
	neg := l.op(c.pos, "mul", nil, l.op(c.pos, "sub", nil, one, t), l.op(c.pos, "log", nil, l.op(c.pos, "sub", nil, one, pc)))
	return l.reduceAll(c, l.op(c.pos, "neg", nil, l.op(c.pos, "add", nil, pos, neg)))
}

// bceLogits is max(z, 0) - z*y + log(1 + exp(-|z|)): no overflow for large |z|.
func (l *lowerer) bceLogits(pos dsl.Pos, z, y val) val {
	zero, one := numVal(0, false, pos), numVal(1, false, pos)
	soft := l.op(pos, "log", nil, l.op(pos, "add", nil, one, l.op(pos, "exp", nil, l.op(pos, "neg", nil, l.op(pos, "abs", nil, z)))))
	return l.op(pos, "add", nil, l.op(pos, "sub", nil, l.op(pos, "maximum", nil, z, zero), l.op(pos, "mul", nil, z, y)), soft)
}

func lossBCELogits(l *lowerer, c *callArgs) val {
	z, t, ok := l.lossPair(c, "logits", "target")
	if !ok {
		return errVal
	}
	return l.reduceAll(c, l.bceLogits(c.pos, z, t))
}

// ---------------------------------------------------------------------------
// Metrics

func metricAccuracy(l *lowerer, c *callArgs) val {
	p, ok1 := l.argTensor(c, "pred")
	y, ok2 := l.argTensor(c, "labels")
	if !ok1 || !ok2 {
		return errVal
	}
	ps, ys := p.v.Type.Shape, y.v.Type.Shape
	all := func(x val) val {
		axes := make([]int, x.v.Type.Shape.Rank())
		for i := range axes {
			axes[i] = i
		}
		if len(axes) == 0 {
			return x
		}
		return l.op(c.pos, "reduce_mean", ir.Attrs{"axes": axes, "keepdims": false}, x)
	}
	f32 := ir.Attrs{"dtype": ir.F32}
	switch {
	case p.v.Type.DType == ir.F32 && ps.Rank() >= 1 && y.v.Type.DType == ir.I32 && ys.Equal(ps[:ps.Rank()-1]):
		hit := l.op(c.pos, "eq", nil, l.op(c.pos, "argmax", ir.Attrs{"axis": -1}, p), y)
		return all(l.op(c.pos, "cast", f32, hit))
	case p.v.Type.DType == ir.F32 && y.v.Type.DType == ir.F32 && ps.Equal(ys) && (ps.Rank() == 0 || ps[ps.Rank()-1] == 1 || ps.Rank() == 1):
		pred := l.op(c.pos, "cast", f32, l.op(c.pos, "gt", nil, p, numVal(0.5, false, c.pos)))
		truth := l.op(c.pos, "cast", f32, l.op(c.pos, "gt", nil, y, numVal(0.5, false, c.pos)))
		return all(l.op(c.pos, "cast", f32.Clone(), l.op(c.pos, "eq", nil, pred, truth)))
	case p.v.Type.DType == ir.F32 && y.v.Type.DType == ir.F32 && ps.Equal(ys):
		hit := l.op(c.pos, "eq", nil, l.op(c.pos, "argmax", ir.Attrs{"axis": -1}, p), l.op(c.pos, "argmax", ir.Attrs{"axis": -1}, y))
		return all(l.op(c.pos, "cast", f32, hit))
	}
	l.errorf(c.pos, "accuracy: cannot compare predictions %s with labels %s (want i32 class labels without the class axis, or f32 targets of the same shape)", p.v.Type, y.v.Type)
	return errVal
}
