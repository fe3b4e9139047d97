package ir

import (
	"fmt"
	"math"

	"github.com/mdlc/mdlc/runtime/impl"
)

// Reference kernels: float64, straightforward loops, written for clarity.
// Every other backend is checked against these.

func evalConst(_ *EvalCtx, v *Value, _ []*Tensor) (*Tensor, error) {
	x := v.Attrs.Float("value")
	return ScalarTensor(roundTo(v.Type.DType, x)), nil
}

// roundTo gives a float64 the value it would have in dtype d.
func roundTo(d DType, x float64) float64 {
	switch d {
	case I32:
		if math.IsNaN(x) {
			return 0
		}
		return math.Trunc(math.Max(math.MinInt32, math.Min(math.MaxInt32, x)))
	case Bool:
		if x != 0 {
			return 1
		}
		return 0
	}
	return x
}

func evalNumel(ctx *EvalCtx, v *Value, _ []*Tensor) (*Tensor, error) {
	return ScalarTensor(float64(numel(v.Attrs.Shape("shape").Resolve(ctx.N)))), nil
}

func unary(f func(float64) float64) func(*EvalCtx, *Value, []*Tensor) (*Tensor, error) {
	return func(_ *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
		out := NewTensor(a[0].Shape)
		for i, x := range a[0].Data {
			out.Data[i] = f(x)
		}
		return out, nil
	}
}

func outShape(ts ...*Tensor) ([]int, error) {
	out := []int{}
	for _, t := range ts {
		n := max(len(out), len(t.Shape))
		s := make([]int, n)
		for i := 0; i < n; i++ {
			da, db := 1, 1
			if j := len(out) - n + i; j >= 0 {
				da = out[j]
			}
			if j := len(t.Shape) - n + i; j >= 0 {
				db = t.Shape[j]
			}
			switch {
			case da == db || db == 1:
				s[i] = da
			case da == 1:
				s[i] = db
			default:
				return nil, fmt.Errorf("cannot broadcast %v and %v", out, t.Shape)
			}
		}
		out = s
	}
	return out, nil
}

func binary(f func(a, b float64) float64) func(*EvalCtx, *Value, []*Tensor) (*Tensor, error) {
	return func(_ *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
		shape, err := outShape(a[0], a[1])
		if err != nil {
			return nil, err
		}
		out := NewTensor(shape)
		x, y := a[0].Data, a[1].Data
		isInt := v.Type.DType == I32
		forEachIndex(shape, [][]int{a[0].Shape, a[1].Shape}, func(o int, offs []int) {
			r := f(x[offs[0]], y[offs[1]])
			if isInt {
				r = roundTo(I32, r)
			}
			out.Data[o] = r
		})
		return out, nil
	}
}

func absF(x float64) float64 { return math.Abs(x) }
func signF(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}
func expF(x float64) float64  { return math.Exp(x) }
func logF(x float64) float64  { return math.Log(x) }
func sqrtF(x float64) float64 { return math.Sqrt(x) }
func reluF(x float64) float64 {
	if x > 0 {
		return x
	}
	return 0
}

func sigmoidF(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func tanhF(x float64) float64 { return math.Tanh(x) }

func floorF(x float64) float64 { return math.Floor(x) }
func sinF(x float64) float64   { return math.Sin(x) }
func cosF(x float64) float64   { return math.Cos(x) }

// GELU constants: sqrt(2/pi) and the cubic coefficient of the tanh form.
const (
	GeluC = 0.7978845608028654
	GeluA = 0.044715
)

func geluF(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(GeluC*(x+GeluA*x*x*x)))
}

// geluGradF is g * d gelu(x) / dx.
func geluGradF(x, g float64) float64 {
	u := GeluC * (x + GeluA*x*x*x)
	t := math.Tanh(u)
	du := GeluC * (1 + 3*GeluA*x*x)
	return g * (0.5*(1+t) + 0.5*x*(1-t*t)*du)
}

func powF(a, b float64) float64 { return math.Pow(a, b) }
func maxF(a, b float64) float64 {
	if a >= b || math.IsNaN(a) {
		return a
	}
	return b
}
func minF(a, b float64) float64 {
	if a <= b || math.IsNaN(a) {
		return a
	}
	return b
}

func cmpF(f func(a, b float64) bool) func(a, b float64) float64 {
	return func(a, b float64) float64 {
		if f(a, b) {
			return 1
		}
		return 0
	}
}

func evalWhere(_ *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	shape, err := outShape(a[0], a[1], a[2])
	if err != nil {
		return nil, err
	}
	out := NewTensor(shape)
	c, x, y := a[0].Data, a[1].Data, a[2].Data
	forEachIndex(shape, [][]int{a[0].Shape, a[1].Shape, a[2].Shape}, func(o int, offs []int) {
		if c[offs[0]] != 0 {
			out.Data[o] = x[offs[1]]
		} else {
			out.Data[o] = y[offs[2]]
		}
	})
	return out, nil
}

func evalCast(_ *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	out := NewTensor(a[0].Shape)
	dt := v.Type.DType
	for i, x := range a[0].Data {
		out.Data[i] = roundTo(dt, x)
	}
	return out, nil
}

func evalMatmul(_ *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	x, y := a[0], a[1]
	r := len(x.Shape)
	ta, tb := v.Attrs.Bool("ta"), v.Attrs.Bool("tb")
	m, k := x.Shape[r-2], x.Shape[r-1]
	if ta {
		m, k = k, m
	}
	k2, n := y.Shape[r-2], y.Shape[r-1]
	if tb {
		k2, n = n, k2
	}
	if k != k2 {
		return nil, fmt.Errorf("matmul: inner dimensions %d and %d differ", k, k2)
	}
	batch := numel(x.Shape[:r-2])
	outShape := append(append([]int(nil), x.Shape[:r-2]...), m, n)
	out := NewTensor(outShape)
	for bi := 0; bi < batch; bi++ {
		xa := x.Data[bi*m*k : (bi+1)*m*k]
		yb := y.Data[bi*k*n : (bi+1)*k*n]
		o := out.Data[bi*m*n : (bi+1)*m*n]
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for p := 0; p < k; p++ {
					var av, bv float64
					if ta {
						av = xa[p*m+i]
					} else {
						av = xa[i*k+p]
					}
					if tb {
						bv = yb[j*k+p]
					} else {
						bv = yb[p*n+j]
					}
					s += av * bv
				}
				o[i*n+j] = s
			}
		}
	}
	return out, nil
}

// reducer folds the values of one reduced group.
type reducer func(xs []float64) float64

func reduceSum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

func reduceMean(xs []float64) float64 { return reduceSum(xs) / float64(len(xs)) }

func reduceMax(xs []float64) float64 {
	m := math.Inf(-1)
	for _, x := range xs {
		if x > m || math.IsNaN(x) {
			m = x
		}
	}
	return m
}

func reduceLSE(xs []float64) float64 {
	m := reduceMax(xs)
	if math.IsInf(m, 0) || math.IsNaN(m) {
		return m
	}
	var s float64
	for _, x := range xs {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}

// groups calls f for each output element with the input elements that reduce into it.
func groups(shape []int, axes []int, f func(out int, xs []float64), data []float64) {
	isRed := make([]bool, len(shape))
	for _, a := range axes {
		isRed[a] = true
	}
	var keep, red []int
	for i, d := range shape {
		if isRed[i] {
			red = append(red, d)
		} else {
			keep = append(keep, d)
		}
	}
	st := strides(shape)
	nk, nr := numel(keep), numel(red)
	buf := make([]float64, nr)
	kidx := make([]int, len(keep))
	for o := 0; o < nk; o++ {
		// base offset of this output element
		base, ki := 0, 0
		for i := range shape {
			if !isRed[i] {
				base += kidx[ki] * st[i]
				ki++
			}
		}
		ridx := make([]int, len(red))
		for r := 0; r < nr; r++ {
			off, ri := base, 0
			for i := range shape {
				if isRed[i] {
					off += ridx[ri] * st[i]
					ri++
				}
			}
			buf[r] = data[off]
			for j := len(ridx) - 1; j >= 0; j-- {
				ridx[j]++
				if ridx[j] < red[j] {
					break
				}
				ridx[j] = 0
			}
		}
		f(o, buf)
		for j := len(kidx) - 1; j >= 0; j-- {
			kidx[j]++
			if kidx[j] < keep[j] {
				break
			}
			kidx[j] = 0
		}
	}
}

func evalReduce(r reducer) func(*EvalCtx, *Value, []*Tensor) (*Tensor, error) {
	return func(_ *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
		x := a[0]
		axes, err := NormAxes(v.Attrs.Ints("axes"), len(x.Shape))
		if err != nil {
			return nil, err
		}
		var shape []int
		for i, d := range x.Shape {
			if contains(axes, i) {
				if v.Attrs.Bool("keepdims") {
					shape = append(shape, 1)
				}
			} else {
				shape = append(shape, d)
			}
		}
		out := NewTensor(shape)
		groups(x.Shape, axes, func(o int, xs []float64) { out.Data[o] = r(xs) }, x.Data)
		return out, nil
	}
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func evalArgmax(_ *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	x := a[0]
	ax, err := NormAxes([]int{v.Attrs.Int("axis")}, len(x.Shape))
	if err != nil {
		return nil, err
	}
	var shape []int
	for i, d := range x.Shape {
		if i != ax[0] {
			shape = append(shape, d)
		}
	}
	out := NewTensor(shape)
	groups(x.Shape, ax, func(o int, xs []float64) {
		best := 0
		for i, y := range xs {
			if y > xs[best] {
				best = i
			}
		}
		out.Data[o] = float64(best)
	}, x.Data)
	return out, nil
}

// alongAxis calls f on each 1-D lane of x along axis, writing into out's lane.
func alongAxis(shape []int, axis int, in, out []float64, f func(in, out []float64)) {
	st := strides(shape)
	n, s := shape[axis], st[axis]
	lin, lout := make([]float64, n), make([]float64, n)
	outer := numel(shape[:axis])
	inner := s
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			base := o*n*s + i
			for j := 0; j < n; j++ {
				lin[j] = in[base+j*s]
			}
			f(lin, lout)
			for j := 0; j < n; j++ {
				out[base+j*s] = lout[j]
			}
		}
	}
}

func evalSoftmax(logForm bool) func(*EvalCtx, *Value, []*Tensor) (*Tensor, error) {
	return func(_ *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
		x := a[0]
		ax, err := NormAxes([]int{v.Attrs.Int("axis")}, len(x.Shape))
		if err != nil {
			return nil, err
		}
		out := NewTensor(x.Shape)
		alongAxis(x.Shape, ax[0], x.Data, out.Data, func(in, o []float64) {
			lse := reduceLSE(in)
			for j, y := range in {
				if logForm {
					o[j] = y - lse
				} else {
					o[j] = math.Exp(y - lse)
				}
			}
		})
		return out, nil
	}
}

func evalReshape(ctx *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	shape := v.Attrs.Shape("shape").Resolve(ctx.N)
	if numel(shape) != len(a[0].Data) {
		return nil, fmt.Errorf("reshape: %v has %d elements, not %d", shape, numel(shape), len(a[0].Data))
	}
	return &Tensor{Shape: shape, Data: append([]float64(nil), a[0].Data...)}, nil
}

func evalTranspose(_ *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	x := a[0]
	p := v.Attrs.Ints("perm")
	shape := make([]int, len(p))
	for i, ax := range p {
		shape[i] = x.Shape[ax]
	}
	out := NewTensor(shape)
	st := strides(x.Shape)
	pst := make([]int, len(p)) // stride in x of each output axis
	for i, ax := range p {
		pst[i] = st[ax]
	}
	forEachIndex(shape, [][]int{shape}, func(o int, _ []int) {
		off, rem := 0, o
		for i := len(shape) - 1; i >= 0; i-- {
			off += (rem % shape[i]) * pst[i]
			rem /= shape[i]
		}
		out.Data[o] = x.Data[off]
	})
	return out, nil
}

func evalBroadcast(ctx *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	shape := v.Attrs.Shape("shape").Resolve(ctx.N)
	out := NewTensor(shape)
	forEachIndex(shape, [][]int{a[0].Shape}, func(o int, offs []int) { out.Data[o] = a[0].Data[offs[0]] })
	return out, nil
}

func evalSlice(_ *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	x := a[0]
	ax, err := NormAxes([]int{v.Attrs.Int("axis")}, len(x.Shape))
	if err != nil {
		return nil, err
	}
	s, e := v.Attrs.Int("start"), v.Attrs.Int("end")
	shape := append([]int(nil), x.Shape...)
	shape[ax[0]] = e - s
	out := NewTensor(shape)
	outer := numel(x.Shape[:ax[0]])
	inner := numel(x.Shape[ax[0]+1:])
	d := x.Shape[ax[0]]
	for o := 0; o < outer; o++ {
		copy(out.Data[o*(e-s)*inner:(o+1)*(e-s)*inner], x.Data[(o*d+s)*inner:(o*d+e)*inner])
	}
	return out, nil
}

func evalPad(_ *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	x := a[0]
	ax, err := NormAxes([]int{v.Attrs.Int("axis")}, len(x.Shape))
	if err != nil {
		return nil, err
	}
	b, af := v.Attrs.Int("before"), v.Attrs.Int("after")
	d := x.Shape[ax[0]]
	shape := append([]int(nil), x.Shape...)
	shape[ax[0]] = d + b + af
	out := NewTensor(shape)
	outer := numel(x.Shape[:ax[0]])
	inner := numel(x.Shape[ax[0]+1:])
	nd := shape[ax[0]]
	for o := 0; o < outer; o++ {
		copy(out.Data[(o*nd+b)*inner:(o*nd+b+d)*inner], x.Data[o*d*inner:(o+1)*d*inner])
	}
	return out, nil
}

func evalConcat(_ *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	ax, err := NormAxes([]int{v.Attrs.Int("axis")}, len(a[0].Shape))
	if err != nil {
		return nil, err
	}
	axis := ax[0]
	shape := append([]int(nil), a[0].Shape...)
	shape[axis] = 0
	for _, t := range a {
		shape[axis] += t.Shape[axis]
	}
	out := NewTensor(shape)
	outer := numel(shape[:axis])
	inner := numel(shape[axis+1:])
	pos := 0
	for o := 0; o < outer; o++ {
		for _, t := range a {
			n := t.Shape[axis] * inner
			copy(out.Data[pos:pos+n], t.Data[o*n:(o+1)*n])
			pos += n
		}
	}
	return out, nil
}

func evalGather(_ *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	tab, idx := a[0], a[1]
	rows := tab.Shape[0]
	row := numel(tab.Shape[1:])
	out := NewTensor(append(append([]int(nil), idx.Shape...), tab.Shape[1:]...))
	for i, f := range idx.Data {
		r := int(f)
		if r < 0 || r >= rows {
			return nil, fmt.Errorf("gather: index %d out of range [0, %d)", r, rows)
		}
		copy(out.Data[i*row:(i+1)*row], tab.Data[r*row:(r+1)*row])
	}
	return out, nil
}

func evalScatterAdd(_ *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	idx, src := a[0], a[1]
	rows := v.Attrs.Int("rows")
	inner := src.Shape[len(idx.Shape):]
	row := numel(inner)
	out := NewTensor(append([]int{rows}, inner...))
	for i, f := range idx.Data {
		r := int(f)
		if r < 0 || r >= rows {
			return nil, fmt.Errorf("scatter_add: index %d out of range [0, %d)", r, rows)
		}
		for j := 0; j < row; j++ {
			out.Data[r*row+j] += src.Data[i*row+j]
		}
	}
	return out, nil
}

func evalOneHot(_ *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	d := v.Attrs.Int("depth")
	out := NewTensor(append(append([]int(nil), a[0].Shape...), d))
	for i, f := range a[0].Data {
		if c := int(f); c >= 0 && c < d {
			out.Data[i*d+c] = 1
		}
	}
	return out, nil
}

// evalRandom draws exactly what generated code draws: impl.PhiloxUniform's
// float32, widened.
func evalRandom(ctx *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	w := make([]float32, 4)
	for i, x := range a[0].Data {
		w[i] = float32(x)
	}
	key, step := impl.PhiloxKey(w), uint32(a[1].Data[0])
	out := NewTensor(v.Attrs.Shape("shape").Resolve(ctx.N))
	for i := range out.Data {
		out.Data[i] = float64(impl.PhiloxUniform(key, step, uint32(v.Attrs.Int("stream")), uint64(i)))
	}
	return out, nil
}
