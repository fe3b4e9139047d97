package ir

import "fmt"

// Gradient rules, one per differentiable op, referenced by the op table's
// Grad field. A rule receives the forward value v and g = d loss / d v (of
// v's type) and returns d loss / d arg for every arg, each of its arg's type,
// or nil where no gradient flows (integer and bool args: indices, conditions,
// casts from integers). Rules only build IR with b; they never panic, and a
// malformed value records an error in b (see Builder.Err). Rules build the
// gradient of every f32 arg, wanted or not; autodiff drops the unused ones.

func isF32(v *Value) bool { return v.Type.DType == F32 }

// fail records err as b's error unless one is already recorded.
func (b *Builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// unaryGrad lifts d(x, v, g) -> dx into a rule for a one-arg op.
func unaryGrad(d func(b *Builder, x, v, g *Value) *Value) GradFunc {
	return func(b *Builder, v, g *Value) []*Value {
		x := v.Args[0]
		if !isF32(x) || !isF32(v) {
			return []*Value{nil}
		}
		return []*Value{d(b, x, v, g)}
	}
}

// binaryGrad lifts (dx, dy) at the broadcast shape into a rule for a
// broadcasting two-arg op; each gradient is summed back to its arg's shape.
// Only the gradients of f32 args are built.
func binaryGrad(dx, dy func(b *Builder, x, y, v, g *Value) *Value) GradFunc {
	return func(b *Builder, v, g *Value) []*Value {
		x, y := v.Args[0], v.Args[1]
		out := []*Value{nil, nil}
		if !isF32(v) {
			return out
		}
		if isF32(x) {
			out[0] = b.SumTo(dx(b, x, y, v, g), x.Type.Shape)
		}
		if isF32(y) {
			out[1] = b.SumTo(dy(b, x, y, v, g), y.Type.Shape)
		}
		return out
	}
}

func (b *Builder) f32(x float64) *Value { return b.Const(x, F32) }

// Elementwise unary.

var (
	gradNeg = unaryGrad(func(b *Builder, x, v, g *Value) *Value { return b.Neg(g) })
	// d|x| = sign(x) (0 at 0).
	gradAbs = unaryGrad(func(b *Builder, x, v, g *Value) *Value { return b.Mul(g, b.Unary("sign", x)) })
	gradExp = unaryGrad(func(b *Builder, x, v, g *Value) *Value { return b.Mul(g, v) })
	gradLog = unaryGrad(func(b *Builder, x, v, g *Value) *Value { return b.Div(g, x) })
	// d sqrt(x) = 1 / (2 sqrt(x)).
	gradSqrt = unaryGrad(func(b *Builder, x, v, g *Value) *Value { return b.Div(b.Mul(g, b.f32(0.5)), v) })
	// d relu(x) = [x > 0] = [relu(x) > 0]: reading the output lets the
	// pre-activation die in the forward pass (and fuse into its matmul).
	gradRelu = unaryGrad(func(b *Builder, x, v, g *Value) *Value {
		return b.Where(b.Binary("gt", v, b.f32(0)), g, b.f32(0))
	})
	// d sigmoid(x) = s (1 - s).
	gradSigmoid = unaryGrad(func(b *Builder, x, v, g *Value) *Value {
		return b.Mul(b.Mul(g, v), b.Sub(b.f32(1), v))
	})
	// d tanh(x) = 1 - t^2.
	gradTanh = unaryGrad(func(b *Builder, x, v, g *Value) *Value {
		return b.Mul(g, b.Sub(b.f32(1), b.Mul(v, v)))
	})
	gradGelu = unaryGrad(func(b *Builder, x, v, g *Value) *Value { return b.Op("gelu_grad", nil, x, g) })
	// d sin(x) = cos(x); d cos(x) = -sin(x).
	gradSin = unaryGrad(func(b *Builder, x, v, g *Value) *Value { return b.Mul(g, b.Unary("cos", x)) })
	gradCos = unaryGrad(func(b *Builder, x, v, g *Value) *Value { return b.Neg(b.Mul(g, b.Unary("sin", x))) })
)

// Elementwise binary (numpy broadcasting).

func passG(b *Builder, x, y, v, g *Value) *Value { return g }

var (
	gradAdd = binaryGrad(passG, passG)
	gradSub = binaryGrad(passG, func(b *Builder, x, y, v, g *Value) *Value { return b.Neg(g) })
	gradMul = binaryGrad(
		func(b *Builder, x, y, v, g *Value) *Value { return b.Mul(g, y) },
		func(b *Builder, x, y, v, g *Value) *Value { return b.Mul(g, x) })
	// d(x/y) = g/y, -g x/y^2 = -g v/y.
	gradDiv = binaryGrad(
		func(b *Builder, x, y, v, g *Value) *Value { return b.Div(g, y) },
		func(b *Builder, x, y, v, g *Value) *Value { return b.Neg(b.Div(b.Mul(g, v), y)) })
	// d(x^y) = g y x^(y-1), g v log(x).
	gradPow = binaryGrad(
		func(b *Builder, x, y, v, g *Value) *Value {
			return b.Mul(g, b.Mul(y, b.Binary("pow", x, b.Sub(y, b.f32(1)))))
		},
		func(b *Builder, x, y, v, g *Value) *Value { return b.Mul(b.Mul(g, v), b.Unary("log", x)) })
	// maximum picks x when x >= y (see maxF); minimum picks x when x <= y.
	gradMaximum = binaryGrad(
		func(b *Builder, x, y, v, g *Value) *Value { return b.Where(b.Binary("ge", x, y), g, b.f32(0)) },
		func(b *Builder, x, y, v, g *Value) *Value { return b.Where(b.Binary("lt", x, y), g, b.f32(0)) })
	gradMinimum = binaryGrad(
		func(b *Builder, x, y, v, g *Value) *Value { return b.Where(b.Binary("le", x, y), g, b.f32(0)) },
		func(b *Builder, x, y, v, g *Value) *Value { return b.Where(b.Binary("gt", x, y), g, b.f32(0)) })
)

// gradWhere routes g to the branch each element took; the condition gets none.
func gradWhere(b *Builder, v, g *Value) []*Value {
	c, x, y := v.Args[0], v.Args[1], v.Args[2]
	out := []*Value{nil, nil, nil}
	if !isF32(v) {
		return out
	}
	out[1] = b.SumTo(b.Where(c, g, b.f32(0)), x.Type.Shape)
	out[2] = b.SumTo(b.Where(c, b.f32(0), g), y.Type.Shape)
	return out
}

// gradCast passes g through f32 -> f32; casts to or from integers and bools
// are not differentiable.
func gradCast(b *Builder, v, g *Value) []*Value {
	if isF32(v) && isF32(v.Args[0]) {
		return []*Value{g}
	}
	return []*Value{nil}
}

// gradMatmul: with C = op(A) op(B) (op transposes when ta/tb is set),
//
//	A B:     dA = G B^T,     dB = A^T G
//	A B^T:   dA = G B,       dB = G^T A
//	A^T B:   dA = B G^T,     dB = A G
//	A^T B^T: dA = B^T G^T,   dB = G^T A^T
//
// expressed with the ta/tb flags; leading batch axes carry through.
func gradMatmul(b *Builder, v, g *Value) []*Value {
	x, y := v.Args[0], v.Args[1]
	mm := func(p, q *Value, tp, tq bool) *Value {
		a := Attrs{}
		if tp {
			a["ta"] = true
		}
		if tq {
			a["tb"] = true
		}
		return b.Op("matmul", a, p, q)
	}
	var dx, dy *Value
	switch ta, tb := v.Attrs.Bool("ta"), v.Attrs.Bool("tb"); {
	case !ta && !tb:
		dx, dy = mm(g, y, false, true), mm(x, g, true, false)
	case !ta && tb:
		dx, dy = mm(g, y, false, false), mm(g, x, true, false)
	case ta && !tb:
		dx, dy = mm(y, g, false, true), mm(x, g, false, false)
	default:
		dx, dy = mm(y, g, true, true), mm(g, x, true, true)
	}
	return []*Value{dx, dy}
}

// Reductions.

// reduceAxes returns v's normalized axes and the keepdims shape of its arg.
func reduceAxes(b *Builder, v *Value) (axes []int, keep Shape, ok bool) {
	xs := v.Args[0].Type.Shape
	axes, err := NormAxes(v.Attrs.Ints("axes"), xs.Rank())
	if err != nil {
		b.fail(fmt.Errorf("%s: %v", v.Op.Name, err))
		return nil, nil, false
	}
	return axes, ReducedShape(xs, axes, true), true
}

// oneAxis returns v's normalized axis attribute.
func oneAxis(b *Builder, v *Value) (int, bool) {
	ax, err := axisOf(v)
	if err != nil {
		b.fail(err)
		return 0, false
	}
	return ax, true
}

func gradReduceSum(b *Builder, v, g *Value) []*Value {
	x := v.Args[0]
	_, keep, ok := reduceAxes(b, v)
	if !isF32(x) || !ok {
		return []*Value{nil}
	}
	return []*Value{b.BroadcastTo(b.Reshape(g, keep), x.Type.Shape)}
}

// gradReduceMean spreads g / count over the reduced positions; the count is
// a constant, or a numel value when a reduced axis depends on N.
func gradReduceMean(b *Builder, v, g *Value) []*Value {
	x := v.Args[0]
	axes, keep, ok := reduceAxes(b, v)
	if !ok {
		return []*Value{nil}
	}
	var red Shape
	for _, a := range axes {
		red = append(red, x.Type.Shape[a])
	}
	size, ok := red.Size()
	if !ok {
		b.fail(fmt.Errorf("reduce_mean: cannot count the elements of %v", red))
		return []*Value{nil}
	}
	var count *Value
	if size.IsBatch() {
		count = b.Op("numel", Attrs{"shape": red})
	} else {
		count = b.f32(float64(size))
	}
	return []*Value{b.BroadcastTo(b.Reshape(b.Div(g, count), keep), x.Type.Shape)}
}

// gradReduceMax routes g to the positions equal to the max, split evenly
// among ties.
func gradReduceMax(b *Builder, v, g *Value) []*Value {
	x := v.Args[0]
	axes, keep, ok := reduceAxes(b, v)
	if !isF32(x) || !ok {
		return []*Value{nil}
	}
	mask := b.Op("cast", Attrs{"dtype": F32}, b.Binary("eq", x, b.Reshape(v, keep)))
	ties := b.Sum(mask, axes, true)
	return []*Value{b.Mul(mask, b.Div(b.Reshape(g, keep), ties))}
}

// d logsumexp(x) = exp(x - lse(x)) = softmax(x).
func gradLogsumexp(b *Builder, v, g *Value) []*Value {
	x := v.Args[0]
	_, keep, ok := reduceAxes(b, v)
	if !ok {
		return []*Value{nil}
	}
	p := b.Unary("exp", b.Sub(x, b.Reshape(v, keep)))
	return []*Value{b.Mul(b.Reshape(g, keep), p)}
}

// d softmax: y (g - sum(g y)).
func gradSoftmax(b *Builder, v, g *Value) []*Value {
	ax, ok := oneAxis(b, v)
	if !ok {
		return []*Value{nil}
	}
	s := b.Sum(b.Mul(g, v), []int{ax}, true)
	return []*Value{b.Mul(v, b.Sub(g, s))}
}

// d log_softmax: g - exp(y) sum(g).
func gradLogSoftmax(b *Builder, v, g *Value) []*Value {
	ax, ok := oneAxis(b, v)
	if !ok {
		return []*Value{nil}
	}
	return []*Value{b.Sub(g, b.Mul(b.Unary("exp", v), b.Sum(g, []int{ax}, true)))}
}

// Layout.

func gradReshape(b *Builder, v, g *Value) []*Value {
	if !isF32(v) {
		return []*Value{nil}
	}
	return []*Value{b.Reshape(g, v.Args[0].Type.Shape)}
}

func gradTranspose(b *Builder, v, g *Value) []*Value {
	p := v.Attrs.Ints("perm")
	if !isF32(v) {
		return []*Value{nil}
	}
	inv := make([]int, len(p))
	for i, a := range p {
		if a < 0 || a >= len(p) {
			b.fail(fmt.Errorf("transpose: %v is not a permutation", p))
			return []*Value{nil}
		}
		inv[a] = i
	}
	return []*Value{b.Transpose(g, inv)}
}

func gradBroadcast(b *Builder, v, g *Value) []*Value {
	if !isF32(v) {
		return []*Value{nil}
	}
	return []*Value{b.SumTo(g, v.Args[0].Type.Shape)}
}

// slice and pad are each other's adjoints.
func gradSlice(b *Builder, v, g *Value) []*Value {
	x := v.Args[0]
	ax, ok := oneAxis(b, v)
	if !isF32(v) || !ok {
		return []*Value{nil}
	}
	s, e := v.Attrs.Int("start"), v.Attrs.Int("end")
	d := int(x.Type.Shape[ax])
	return []*Value{b.Op("pad", Attrs{"axis": ax, "before": s, "after": d - e}, g)}
}

func gradPad(b *Builder, v, g *Value) []*Value {
	x := v.Args[0]
	ax, ok := oneAxis(b, v)
	if !isF32(v) || !ok {
		return []*Value{nil}
	}
	before := v.Attrs.Int("before")
	return []*Value{b.Op("slice", Attrs{"axis": ax, "start": before, "end": before + int(x.Type.Shape[ax])}, g)}
}

// gradConcat slices g back into the args' pieces. On an axis of k*N
// elements (all args are then multiples of N), g is first viewed as
// [..., k, N, ...]: arg i owns rows off_i .. off_i+k_i of the new k axis.
func gradConcat(b *Builder, v, g *Value) []*Value {
	out := make([]*Value, len(v.Args))
	ax, ok := oneAxis(b, v)
	if !isF32(v) || !ok {
		return out
	}
	s := v.Type.Shape
	if !s[ax].IsBatch() {
		off := 0
		for i, a := range v.Args {
			d := int(a.Type.Shape[ax])
			out[i] = b.Op("slice", Attrs{"axis": ax, "start": off, "end": off + d}, g)
			off += d
		}
		return out
	}
	split := append(append(s[:ax].Clone(), -s[ax], N), s[ax+1:]...)
	gs := b.Reshape(g, split)
	off := 0
	for i, a := range v.Args {
		k := int(-a.Type.Shape[ax])
		out[i] = b.Reshape(b.Op("slice", Attrs{"axis": ax, "start": off, "end": off + k}, gs), a.Type.Shape)
		off += k
	}
	return out
}

// Indexing.

// gradGather adds each gathered row's gradient back into its table row
// (repeated indices accumulate); the indices get none.
func gradGather(b *Builder, v, g *Value) []*Value {
	tab, idx := v.Args[0], v.Args[1]
	if !isF32(tab) {
		return []*Value{nil, nil}
	}
	return []*Value{b.Op("scatter_add", Attrs{"rows": int(tab.Type.Shape[0])}, idx, g), nil}
}
