package ir

import "fmt"

// Builder appends values to a graph, inferring each result type with the op
// table. Lowering uses TryOp and reports errors with positions; gradient
// rules and passes use Op and check Err once at the end.
type Builder struct {
	G   *Graph
	Pos Pos // position given to new values
	err error
}

// NewBuilder returns a builder appending to g.
func NewBuilder(g *Graph) *Builder { return &Builder{G: g} }

// Err returns the first error recorded by Op.
func (b *Builder) Err() error { return b.err }

// NewValue makes (but does not append) a value of op with args and attrs,
// checking the attrs and inferring its type.
func NewValue(op *OpDef, attrs Attrs, args ...*Value) (*Value, error) {
	if op.Arity >= 0 && len(args) != op.Arity {
		return nil, fmt.Errorf("%s: takes %d arguments, got %d", op.Name, op.Arity, len(args))
	}
	if op.Arity < 0 && len(args) == 0 {
		return nil, fmt.Errorf("%s: takes at least one argument", op.Name)
	}
	for i, a := range args {
		if a == nil {
			return nil, fmt.Errorf("%s: argument %d is missing", op.Name, i)
		}
	}
	if attrs == nil {
		attrs = Attrs{}
	}
	if err := checkAttrs(op, attrs); err != nil {
		return nil, err
	}
	v := &Value{Op: op, Args: args, Attrs: attrs}
	t, err := op.Shape(v)
	if err != nil {
		return nil, err
	}
	v.Type = t
	return v, nil
}

// TryOp appends op(args) with attrs and returns it, or an error.
func (b *Builder) TryOp(name string, attrs Attrs, args ...*Value) (*Value, error) {
	op := LookupOp(name)
	if op == nil {
		return nil, fmt.Errorf("unknown op %q", name)
	}
	v, err := NewValue(op, attrs, args...)
	if err != nil {
		return nil, err
	}
	v.Pos = b.Pos
	v.ID = len(b.G.Values)
	b.G.Values = append(b.G.Values, v)
	return v, nil
}

// Op is TryOp that records the first error and returns a placeholder so
// callers can go on building; check Err when done.
func (b *Builder) Op(name string, attrs Attrs, args ...*Value) *Value {
	v, err := b.TryOp(name, attrs, args...)
	if err != nil {
		if b.err == nil {
			b.err = err
		}
		t := Scalar(F32)
		if len(args) > 0 && args[0] != nil {
			t = args[0].Type
		}
		return &Value{ID: -1, Op: LookupOp("const"), Type: t, Attrs: Attrs{"dtype": t.DType, "value": 0.0}}
	}
	return v
}

// Const appends a scalar constant of dtype d.
func (b *Builder) Const(x float64, d DType) *Value {
	return b.Op("const", Attrs{"dtype": d, "value": x})
}

// Shorthands used by gradient rules and passes.

func (b *Builder) Unary(op string, x *Value) *Value     { return b.Op(op, nil, x) }
func (b *Builder) Binary(op string, x, y *Value) *Value { return b.Op(op, nil, x, y) }
func (b *Builder) Add(x, y *Value) *Value               { return b.Op("add", nil, x, y) }
func (b *Builder) Sub(x, y *Value) *Value               { return b.Op("sub", nil, x, y) }
func (b *Builder) Mul(x, y *Value) *Value               { return b.Op("mul", nil, x, y) }
func (b *Builder) Div(x, y *Value) *Value               { return b.Op("div", nil, x, y) }
func (b *Builder) Neg(x *Value) *Value                  { return b.Op("neg", nil, x) }

// Where appends where(c, x, y).
func (b *Builder) Where(c, x, y *Value) *Value { return b.Op("where", nil, c, x, y) }

// Reshape appends reshape(x) unless x already has shape s.
func (b *Builder) Reshape(x *Value, s Shape) *Value {
	if x.Type.Shape.Equal(s) {
		return x
	}
	return b.Op("reshape", Attrs{"shape": s.Clone()}, x)
}

// BroadcastTo appends broadcast(x) unless x already has shape s.
func (b *Builder) BroadcastTo(x *Value, s Shape) *Value {
	if x.Type.Shape.Equal(s) {
		return x
	}
	return b.Op("broadcast", Attrs{"shape": s.Clone()}, x)
}

// Transpose appends transpose(x, perm).
func (b *Builder) Transpose(x *Value, perm []int) *Value {
	return b.Op("transpose", Attrs{"perm": append([]int(nil), perm...)}, x)
}

// Sum appends reduce_sum over axes.
func (b *Builder) Sum(x *Value, axes []int, keep bool) *Value {
	return b.Op("reduce_sum", Attrs{"axes": append([]int(nil), axes...), "keepdims": keep}, x)
}

// SumTo reduces x (of a shape that s broadcasts to) back to shape s: the
// adjoint of broadcasting, used by gradients of broadcasting ops.
func (b *Builder) SumTo(x *Value, s Shape) *Value {
	xs := x.Type.Shape
	if xs.Equal(s) {
		return x
	}
	lead := len(xs) - len(s)
	var axes []int
	for i := range xs {
		if i < lead {
			axes = append(axes, i)
		} else if s[i-lead] == 1 && xs[i] != 1 {
			axes = append(axes, i)
		}
	}
	if len(axes) == 0 {
		return b.Reshape(x, s)
	}
	return b.Reshape(b.Sum(x, axes, false), s)
}
