package ir

import (
	"fmt"
	"slices"
)

// Shape rules. Each receives v with Args and Attrs set and returns v's type.
// Messages name the op and the offending types; lowering adds positions.

func shapeSource(v *Value) (Type, error) {
	s := v.Attrs.Shape("shape")
	for _, d := range s {
		if d == 0 {
			return Type{}, fmt.Errorf("%s: zero-sized dimension in %v", v.Op.Name, s)
		}
	}
	dt := v.Attrs.DType("dtype")
	if dt == InvalidDType {
		return Type{}, fmt.Errorf("%s: invalid dtype", v.Op.Name)
	}
	if v.Op.Name == "param" || v.Op.Name == "state" {
		if v.Op.Name == "param" && dt != F32 {
			return Type{}, fmt.Errorf("param: parameters must be f32, got %s", dt)
		}
		if !validInit(v.Attrs.String("init")) {
			return Type{}, fmt.Errorf("%s: unknown initializer %q", v.Op.Name, v.Attrs.String("init"))
		}
		for _, d := range s {
			if d.IsBatch() {
				return Type{}, fmt.Errorf("%s: shape %v depends on the batch size N", v.Op.Name, s)
			}
		}
	}
	if v.Op.Name == "input" {
		if r := v.Attrs.String("role"); r != "input" && r != "target" {
			return Type{}, fmt.Errorf("input: role must be input or target, got %q", r)
		}
	}
	return Type{DType: dt, Shape: s.Clone()}, nil
}

// Initializers accepted by param and state (see runtime for their meaning).
var Initializers = []string{"zeros", "ones", "constant", "normal", "uniform",
	"glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "orthogonal", "unit_forget_bias", "random_key"}

func validInit(s string) bool { return slices.Contains(Initializers, s) }

func shapeConst(v *Value) (Type, error) {
	dt := v.Attrs.DType("dtype")
	if dt == InvalidDType {
		return Type{}, fmt.Errorf("const: invalid dtype")
	}
	return Scalar(dt), nil
}

func isNum(d DType) bool { return d == F32 || d == I32 }

func shapeUnaryNum(v *Value) (Type, error) {
	t := v.Args[0].Type
	if !isNum(t.DType) {
		return Type{}, fmt.Errorf("%s: needs a number, got %s", v.Op.Name, t)
	}
	return t, nil
}

func shapeUnaryFloat(v *Value) (Type, error) {
	t := v.Args[0].Type
	if t.DType != F32 {
		return Type{}, fmt.Errorf("%s: needs f32, got %s", v.Op.Name, t)
	}
	return t, nil
}

func shapeSameFloat(v *Value) (Type, error) {
	a, b := v.Args[0].Type, v.Args[1].Type
	if a.DType != F32 || !a.Equal(b) {
		return Type{}, fmt.Errorf("%s: needs two f32 values of one shape, got %s and %s", v.Op.Name, a, b)
	}
	return a, nil
}

func bcast2(v *Value) (Type, error) {
	a, b := v.Args[0].Type, v.Args[1].Type
	if a.DType != b.DType {
		return Type{}, fmt.Errorf("%s: mismatched dtypes %s and %s", v.Op.Name, a, b)
	}
	s, ok := Broadcast(a.Shape, b.Shape)
	if !ok {
		return Type{}, fmt.Errorf("%s: cannot broadcast %s and %s", v.Op.Name, a, b)
	}
	return Type{DType: a.DType, Shape: s}, nil
}

func shapeBinaryNum(v *Value) (Type, error) {
	t, err := bcast2(v)
	if err == nil && !isNum(t.DType) {
		err = fmt.Errorf("%s: needs numbers, got %s", v.Op.Name, t.DType)
	}
	return t, err
}

func shapeBinaryFloat(v *Value) (Type, error) {
	t, err := bcast2(v)
	if err == nil && t.DType != F32 {
		err = fmt.Errorf("%s: needs f32, got %s", v.Op.Name, t.DType)
	}
	return t, err
}

func shapeCompare(v *Value) (Type, error) {
	t, err := bcast2(v)
	t.DType = Bool
	return t, err
}

func shapeWhere(v *Value) (Type, error) {
	c, a, b := v.Args[0].Type, v.Args[1].Type, v.Args[2].Type
	if c.DType != Bool {
		return Type{}, fmt.Errorf("where: condition must be bool, got %s", c)
	}
	if a.DType != b.DType {
		return Type{}, fmt.Errorf("where: mismatched dtypes %s and %s", a, b)
	}
	s, ok := Broadcast(c.Shape, a.Shape)
	if ok {
		s, ok = Broadcast(s, b.Shape)
	}
	if !ok {
		return Type{}, fmt.Errorf("where: cannot broadcast %s, %s and %s", c, a, b)
	}
	return Type{DType: a.DType, Shape: s}, nil
}

func shapeCast(v *Value) (Type, error) {
	dt := v.Attrs.DType("dtype")
	if dt == InvalidDType {
		return Type{}, fmt.Errorf("cast: invalid dtype")
	}
	return Type{DType: dt, Shape: v.Args[0].Type.Shape.Clone()}, nil
}

// MatmulDims returns batch dims, M, K, N of a matmul value's operands
// (after the ta/tb transposes).
func MatmulDims(v *Value) (batch Shape, m, k, n Dim, err error) {
	a, b := v.Args[0].Type, v.Args[1].Type
	if a.DType != F32 || b.DType != F32 {
		return nil, 0, 0, 0, fmt.Errorf("matmul: needs f32, got %s and %s", a, b)
	}
	if a.Shape.Rank() < 2 || b.Shape.Rank() < 2 || a.Shape.Rank() != b.Shape.Rank() {
		return nil, 0, 0, 0, fmt.Errorf("matmul: needs two operands of equal rank >= 2, got %s and %s", a, b)
	}
	r := a.Shape.Rank()
	if !a.Shape[:r-2].Equal(b.Shape[:r-2]) {
		return nil, 0, 0, 0, fmt.Errorf("matmul: batch dimensions differ: %s and %s", a, b)
	}
	m, k = a.Shape[r-2], a.Shape[r-1]
	if v.Attrs.Bool("ta") {
		m, k = k, m
	}
	k2, n := b.Shape[r-2], b.Shape[r-1]
	if v.Attrs.Bool("tb") {
		k2, n = n, k2
	}
	if k != k2 {
		return nil, 0, 0, 0, fmt.Errorf("matmul: inner dimensions differ: %s @ %s (%v vs %v)", a, b, k, k2)
	}
	return a.Shape[:r-2].Clone(), m, k, n, nil
}

// flopsMatmul is 2*M*K*N per batch matrix at batch size n.
func flopsMatmul(v *Value, n int) float64 {
	_, _, k, _, err := MatmulDims(v)
	if err != nil {
		return 0
	}
	return 2 * v.Type.Shape.Elements(n) * float64(k.Resolve(n))
}

func shapeMatmul(v *Value) (Type, error) {
	batch, m, _, n, err := MatmulDims(v)
	if err != nil {
		return Type{}, err
	}
	return Type{DType: F32, Shape: append(batch, m, n)}, nil
}

// NormAxes validates axes against rank r and returns them non-negative and sorted.
func NormAxes(axes []int, r int) ([]int, error) {
	out := make([]int, 0, len(axes))
	for _, a := range axes {
		if a < -r || a >= r {
			return nil, fmt.Errorf("axis %d out of range for rank %d", a, r)
		}
		if a < 0 {
			a += r
		}
		if slices.Contains(out, a) {
			return nil, fmt.Errorf("axis %d repeated", a)
		}
		out = append(out, a)
	}
	slices.Sort(out)
	return out, nil
}

// ReducedShape is s with axes removed (or set to 1 with keepdims).
func ReducedShape(s Shape, axes []int, keep bool) Shape {
	var out Shape
	for i, d := range s {
		if slices.Contains(axes, i) {
			if keep {
				out = append(out, 1)
			}
			continue
		}
		out = append(out, d)
	}
	return out
}

func shapeReduce(v *Value) (Type, error) {
	t := v.Args[0].Type
	if !isNum(t.DType) {
		return Type{}, fmt.Errorf("%s: needs numbers, got %s", v.Op.Name, t)
	}
	axes, err := NormAxes(v.Attrs.Ints("axes"), t.Shape.Rank())
	if err != nil {
		return Type{}, fmt.Errorf("%s: %v", v.Op.Name, err)
	}
	if len(axes) == 0 {
		return Type{}, fmt.Errorf("%s: no axes", v.Op.Name)
	}
	return Type{DType: t.DType, Shape: ReducedShape(t.Shape, axes, v.Attrs.Bool("keepdims"))}, nil
}

func shapeReduceFloat(v *Value) (Type, error) {
	if t := v.Args[0].Type; t.DType != F32 {
		return Type{}, fmt.Errorf("%s: needs f32, got %s", v.Op.Name, t)
	}
	return shapeReduce(v)
}

func axisOf(v *Value) (int, error) {
	r := v.Args[0].Type.Shape.Rank()
	ax, err := NormAxes([]int{v.Attrs.Int("axis")}, r)
	if err != nil {
		return 0, fmt.Errorf("%s: %v", v.Op.Name, err)
	}
	return ax[0], nil
}

func shapeArgmax(v *Value) (Type, error) {
	t := v.Args[0].Type
	if !isNum(t.DType) {
		return Type{}, fmt.Errorf("argmax: needs numbers, got %s", t)
	}
	ax, err := axisOf(v)
	if err != nil {
		return Type{}, err
	}
	return Type{DType: I32, Shape: ReducedShape(t.Shape, []int{ax}, false)}, nil
}

func shapeAxisFloat(v *Value) (Type, error) {
	t := v.Args[0].Type
	if t.DType != F32 {
		return Type{}, fmt.Errorf("%s: needs f32, got %s", v.Op.Name, t)
	}
	if _, err := axisOf(v); err != nil {
		return Type{}, err
	}
	return t, nil
}

func shapeReshape(v *Value) (Type, error) {
	t := v.Args[0].Type
	to := v.Attrs.Shape("shape")
	a, ok1 := t.Shape.Size()
	b, ok2 := to.Size()
	if !ok1 || !ok2 || a != b {
		return Type{}, fmt.Errorf("reshape: cannot reshape %s to %v (element counts differ)", t, to)
	}
	for _, d := range to {
		if d == 0 {
			return Type{}, fmt.Errorf("reshape: zero-sized dimension in %v", to)
		}
	}
	return Type{DType: t.DType, Shape: to.Clone()}, nil
}

func shapeTranspose(v *Value) (Type, error) {
	t := v.Args[0].Type
	p := v.Attrs.Ints("perm")
	if len(p) != t.Shape.Rank() {
		return Type{}, fmt.Errorf("transpose: perm %v does not match rank of %s", p, t)
	}
	out := make(Shape, len(p))
	seen := make([]bool, len(p))
	for i, a := range p {
		if a < 0 || a >= len(p) || seen[a] {
			return Type{}, fmt.Errorf("transpose: %v is not a permutation", p)
		}
		seen[a] = true
		out[i] = t.Shape[a]
	}
	return Type{DType: t.DType, Shape: out}, nil
}

func shapeBroadcast(v *Value) (Type, error) {
	t := v.Args[0].Type
	to := v.Attrs.Shape("shape")
	s, ok := Broadcast(t.Shape, to)
	if !ok || !s.Equal(to) {
		return Type{}, fmt.Errorf("broadcast: cannot broadcast %s to %v", t, to)
	}
	return Type{DType: t.DType, Shape: to.Clone()}, nil
}

func shapeSlice(v *Value) (Type, error) {
	t := v.Args[0].Type
	ax, err := axisOf(v)
	if err != nil {
		return Type{}, err
	}
	d := t.Shape[ax]
	s, e := v.Attrs.Int("start"), v.Attrs.Int("end")
	if d.IsBatch() {
		return Type{}, fmt.Errorf("slice: cannot slice the batch axis %d of %s", ax, t)
	}
	if s < 0 || e > int(d) || s >= e {
		return Type{}, fmt.Errorf("slice: range %d:%d out of bounds for axis %d of %s", s, e, ax, t)
	}
	out := t.Shape.Clone()
	out[ax] = Dim(e - s)
	return Type{DType: t.DType, Shape: out}, nil
}

func shapePad(v *Value) (Type, error) {
	t := v.Args[0].Type
	ax, err := axisOf(v)
	if err != nil {
		return Type{}, err
	}
	b, a := v.Attrs.Int("before"), v.Attrs.Int("after")
	if t.Shape[ax].IsBatch() || b < 0 || a < 0 || b > 1<<30 || a > 1<<30 {
		return Type{}, fmt.Errorf("pad: bad padding %d,%d of axis %d of %s", b, a, ax, t)
	}
	out := t.Shape.Clone()
	out[ax] += Dim(a + b)
	if out[ax] > 1<<40 {
		return Type{}, fmt.Errorf("pad: axis %d of %s grows too large", ax, t)
	}
	return Type{DType: t.DType, Shape: out}, nil
}

func shapeConcat(v *Value) (Type, error) {
	first := v.Args[0].Type
	ax, err := axisOf(v)
	if err != nil {
		return Type{}, err
	}
	out := first.Shape.Clone()
	out[ax] = 0
	for _, a := range v.Args {
		t := a.Type
		if t.DType != first.DType || t.Shape.Rank() != first.Shape.Rank() {
			return Type{}, fmt.Errorf("concat: mismatched operands %s and %s", first, t)
		}
		for i := range t.Shape {
			if i != ax && t.Shape[i] != first.Shape[i] {
				return Type{}, fmt.Errorf("concat: operands %s and %s differ outside axis %d", first, t, ax)
			}
		}
		d := t.Shape[ax]
		if (d < 0) != (out[ax] < 0) && out[ax] != 0 {
			return Type{}, fmt.Errorf("concat: cannot join batch and fixed extents on axis %d", ax)
		}
		out[ax] += d
		if out[ax] > 1<<40 || out[ax] < -(1<<40) {
			return Type{}, fmt.Errorf("concat: axis %d grows too large", ax)
		}
	}
	return Type{DType: first.DType, Shape: out}, nil
}

func shapeGather(v *Value) (Type, error) {
	tab, idx := v.Args[0].Type, v.Args[1].Type
	if idx.DType != I32 {
		return Type{}, fmt.Errorf("gather: indices must be i32, got %s", idx)
	}
	if tab.Shape.Rank() < 1 || tab.Shape[0].IsBatch() {
		return Type{}, fmt.Errorf("gather: table must have a fixed first axis, got %s", tab)
	}
	return Type{DType: tab.DType, Shape: append(idx.Shape.Clone(), tab.Shape[1:]...)}, nil
}

func shapeScatterAdd(v *Value) (Type, error) {
	idx, src := v.Args[0].Type, v.Args[1].Type
	rows := v.Attrs.Int("rows")
	if idx.DType != I32 {
		return Type{}, fmt.Errorf("scatter_add: indices must be i32, got %s", idx)
	}
	if rows <= 0 || src.Shape.Rank() < idx.Shape.Rank() || !src.Shape[:idx.Shape.Rank()].Equal(idx.Shape) {
		return Type{}, fmt.Errorf("scatter_add: source %s does not start with index shape %v", src, idx.Shape)
	}
	return Type{DType: src.DType, Shape: append(Shape{Dim(rows)}, src.Shape[idx.Shape.Rank():]...)}, nil
}

func shapeOneHot(v *Value) (Type, error) {
	t := v.Args[0].Type
	if t.DType != I32 {
		return Type{}, fmt.Errorf("one_hot: indices must be i32, got %s", t)
	}
	d := v.Attrs.Int("depth")
	if d <= 0 {
		return Type{}, fmt.Errorf("one_hot: depth must be positive, got %d", d)
	}
	return Type{DType: F32, Shape: append(t.Shape.Clone(), Dim(d))}, nil
}

func shapeNumel(v *Value) (Type, error) {
	if _, ok := v.Attrs.Shape("shape").Size(); !ok {
		return Type{}, fmt.Errorf("numel: bad shape %v", v.Attrs.Shape("shape"))
	}
	return Scalar(F32), nil
}

func shapeRandom(v *Value) (Type, error) {
	k, st := v.Args[0].Type, v.Args[1].Type
	if k.DType != F32 || k.Shape.Rank() != 1 || k.Shape[0] != 4 {
		return Type{}, fmt.Errorf("random_uniform: key must be f32[4], got %s", k)
	}
	if st.DType != F32 || st.Shape.Rank() != 0 {
		return Type{}, fmt.Errorf("random_uniform: step must be a f32 scalar, got %s", st)
	}
	if v.Attrs.Int("stream") < 0 {
		return Type{}, fmt.Errorf("random_uniform: stream must be >= 0, got %d", v.Attrs.Int("stream"))
	}
	return Type{DType: F32, Shape: v.Attrs.Shape("shape").Clone()}, nil
}
