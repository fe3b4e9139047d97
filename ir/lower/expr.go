package lower

import (
	"fmt"
	"math"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
)

// valKind is what an expression evaluates to at compile time.
type valKind uint8

const (
	kErr    valKind = iota // an error was already reported
	kTensor                // an IR value
	kNum                   // a compile-time number
	kBool                  // a compile-time bool
	kStr                   // a string literal
	kDim                   // an extent that depends on N (N, 4*N)
)

// val is the result of evaluating an expression.
type val struct {
	k     valKind
	v     *ir.Value
	num   float64
	isInt bool
	b     bool
	s     string
	dim   ir.Dim
	desc  string  // what it is, for messages ("hidden", "dense(...)")
	pos   dsl.Pos // where it came from
}

var errVal = val{k: kErr}

func tensorVal(v *ir.Value, desc string, pos dsl.Pos) val {
	return val{k: kTensor, v: v, desc: desc, pos: pos}
}

func numVal(x float64, isInt bool, pos dsl.Pos) val {
	return val{k: kNum, num: x, isInt: isInt, pos: pos}
}

func (v val) kindName() string {
	switch v.k {
	case kTensor:
		return "a tensor " + v.v.Type.String()
	case kNum:
		if v.isInt {
			return "the integer " + fmt.Sprint(v.num)
		}
		return "the number " + fmt.Sprint(v.num)
	case kBool:
		return "a bool"
	case kStr:
		return "a string"
	case kDim:
		return "the extent " + v.dim.String()
	}
	return "an invalid value"
}

func (v val) typeName() string {
	if v.k == kTensor {
		return v.v.Type.String()
	}
	return v.kindName()
}

// where says what a tensor is and where it came from, for inline use.
func (v val) where() string {
	if v.desc == "" {
		return fmt.Sprintf("%s (from %s)", v.v.Type, short(v.pos))
	}
	return fmt.Sprintf("%s %s (from %s)", v.desc, v.v.Type, short(v.pos))
}

// note is a related diagnostic pointing at where a tensor came from.
func (v val) note() dsl.Related {
	return dsl.Related{Pos: v.pos, Msg: fmt.Sprintf("%s is %s", v.desc, v.v.Type)}
}

// addNotes attaches one note per distinct operand origin.
func addNotes(d *dsl.Diagnostic, vs ...val) {
	for _, v := range vs {
		if v.k != kTensor || v.desc == "" || !v.pos.IsValid() {
			continue
		}
		n := v.note()
		dup := false
		for _, r := range d.Related {
			dup = dup || r == n
		}
		if !dup {
			d.Related = append(d.Related, n)
		}
	}
}

// expr evaluates e in scope sc.
func (l *lowerer) expr(sc *scope, e dsl.Expr) val {
	if l.full {
		return errVal
	}
	if l.g != nil && len(l.g.Values) > maxValues {
		l.full = true
		l.errorf(e.Position(), "model too large: more than %d operations", maxValues)
		return errVal
	}
	switch e := e.(type) {
	case *dsl.Number:
		if math.IsInf(e.Value, 0) || math.IsNaN(e.Value) {
			l.errorf(e.Pos, "number %s is out of range", e.Text)
			return errVal
		}
		return numVal(e.Value, e.IsInt, e.Pos)
	case *dsl.Bool:
		return val{k: kBool, b: e.Value, pos: e.Pos}
	case *dsl.String:
		return val{k: kStr, s: e.Value, pos: e.Pos}
	case *dsl.Ident:
		b := sc.lookup(e.Name)
		if b == nil {
			if e.Name == "N" {
				return val{k: kDim, dim: ir.N, pos: e.Pos}
			}
			if builtins[e.Name] != nil || l.defs[e.Name] != nil {
				l.errorf(e.Pos, "%s is a function; call it: %s(...)", e.Name, e.Name)
				return errVal
			}
			l.unknownName(sc, e)
			return errVal
		}
		v := b.val
		if v.k == kTensor {
			v.desc, v.pos = e.Name, b.pos
		}
		return v
	case *dsl.Unary:
		x := l.expr(sc, e.X)
		switch x.k {
		case kErr:
			return errVal
		case kNum:
			return numVal(-x.num, x.isInt, e.Pos)
		case kTensor:
			return l.op(e.Pos, "neg", nil, x)
		}
		l.errorf(e.Pos, "cannot negate %s", x.kindName())
		return errVal
	case *dsl.Binary:
		return l.binary(sc, e)
	case *dsl.Tuple:
		l.errorf(e.Pos, "a pair %s is only the kernel, stride or dilation of conv2d or the size or stride of a pool", dsl.ExprString(e))
		return errVal
	case *dsl.Call:
		return l.call(sc, e)
	case *dsl.InlineParam:
		var v val
		var ok bool
		l.stmt(e.Decl.Name.Name, e, func() { v, ok = l.paramDecl(sc, e.Decl) })
		if !ok {
			return errVal
		}
		// An inline param is also visible by name to later statements.
		l.define(sc, e.Decl.Name, v, "param")
		return v
	}
	l.errorf(e.Position(), "unsupported expression")
	return errVal
}

var binaryOps = map[string]string{"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow", "@": "matmul"}

func (l *lowerer) binary(sc *scope, e *dsl.Binary) val {
	a := l.expr(sc, e.L)
	b := l.expr(sc, e.R)
	if a.k == kErr || b.k == kErr {
		return errVal
	}
	opPos := e.OpPos
	if !opPos.IsValid() {
		opPos = e.Pos
	}
	if a.k == kNum && b.k == kNum {
		return l.fold(opPos, e.Op, a, b)
	}
	if a.k == kDim || b.k == kDim {
		return l.dimArith(opPos, e.Op, a, b)
	}
	if e.Op == "@" {
		return l.matmul(opPos, a, b)
	}
	return l.op(opPos, binaryOps[e.Op], nil, a, b)
}

// fold computes number op number at compile time.
func (l *lowerer) fold(pos dsl.Pos, op string, a, b val) val {
	x, y := a.num, b.num
	isInt := a.isInt && b.isInt
	var r float64
	switch op {
	case "+":
		r = x + y
	case "-":
		r = x - y
	case "*":
		r = x * y
	case "/":
		if y == 0 {
			l.errorf(pos, "division by zero")
			return errVal
		}
		r = x / y
		isInt = isInt && r == math.Trunc(r)
	case "**":
		r = math.Pow(x, y)
		isInt = isInt && y >= 0
	case "@":
		l.errorf(pos, "@ needs tensors, got two numbers")
		return errVal
	}
	if math.IsInf(r, 0) || math.IsNaN(r) || (isInt && math.Abs(r) > 1<<53) {
		l.errorf(pos, "constant expression overflows")
		return errVal
	}
	return numVal(r, isInt, pos)
}

// dimArith handles products with N (4*N, N*T).
func (l *lowerer) dimArith(pos dsl.Pos, op string, a, b val) val {
	if op == "*" {
		da, okA := l.asDim(a)
		db, okB := l.asDim(b)
		if okA && okB {
			if d, ok := ir.MulDims(da, db); ok {
				return val{k: kDim, dim: d, pos: pos}
			}
			l.errorf(pos, "extent %v * %v is not supported (N may appear once)", da, db)
			return errVal
		}
	}
	l.errorf(pos, "the batch size N can only be multiplied by whole numbers, as in 4*N")
	return errVal
}

func (l *lowerer) asDim(v val) (ir.Dim, bool) {
	switch v.k {
	case kDim:
		return v.dim, true
	case kNum:
		if v.isInt && v.num >= 1 && v.num < maxDim {
			return ir.Dim(v.num), true
		}
	}
	return 0, false
}

// tensor converts v to an IR value; numbers become scalar constants of dtype like.
func (l *lowerer) tensor(pos dsl.Pos, v val, like ir.DType) (val, bool) {
	switch v.k {
	case kTensor:
		return v, true
	case kNum:
		if like == ir.I32 && !v.isInt {
			l.errorf(v.pos, "%v is not a whole number, but it is combined with an i32 value", v.num)
			return errVal, false
		}
		if like == ir.InvalidDType || like == ir.Bool {
			like = ir.F32
		}
		l.b.Pos = irPos(v.pos)
		c := l.b.Const(v.num, like)
		return tensorVal(c, fmt.Sprint(v.num), v.pos), true
	case kBool:
		l.b.Pos = irPos(v.pos)
		x := 0.0
		if v.b {
			x = 1
		}
		return tensorVal(l.b.Const(x, ir.Bool), fmt.Sprint(v.b), v.pos), true
	case kErr:
		return errVal, false
	}
	l.errorf(v.pos, "expected a tensor or a number, got %s", v.kindName())
	return errVal, false
}

// op appends an IR op on vals (numbers become constants of the tensors' dtype)
// and turns a shape error into a diagnostic naming each operand's origin.
func (l *lowerer) op(pos dsl.Pos, name string, attrs ir.Attrs, args ...val) val {
	like := ir.InvalidDType
	for _, a := range args {
		if a.k == kErr {
			return errVal
		}
		if a.k == kTensor && like == ir.InvalidDType && a.v.Type.DType != ir.Bool {
			like = a.v.Type.DType
		}
	}
	vs := make([]*ir.Value, len(args))
	tv := make([]val, len(args))
	for i, a := range args {
		t, ok := l.tensor(pos, a, like)
		if !ok {
			return errVal
		}
		vs[i], tv[i] = t.v, t
	}
	l.b.Pos = irPos(pos)
	v, err := l.b.TryOp(name, attrs, vs...)
	if err != nil {
		d := dsl.Diagnostic{Pos: pos, Msg: err.Error()}
		addNotes(&d, tv...)
		if name == "div" || name == "pow" || name == "exp" || name == "log" || name == "sqrt" {
			for _, a := range tv {
				if a.v.Type.DType == ir.I32 {
					d.Hint = "convert with cast(x, f32)"
				}
			}
		}
		l.diags = append(l.diags, d)
		return errVal
	}
	return tensorVal(v, "", pos)
}

// matmul lowers a @ b; a of rank > 2 with b of rank 2 is flattened around the product.
func (l *lowerer) matmul(pos dsl.Pos, a, b val) val {
	if a.k != kTensor || b.k != kTensor {
		l.errorf(pos, "@ needs two tensors, got %s and %s", a.kindName(), b.kindName())
		return errVal
	}
	ra, rb := a.v.Type.Shape.Rank(), b.v.Type.Shape.Rank()
	if ra > 2 && rb == 2 {
		return l.applyLastAxis(pos, a, func(flat val) val { return l.op(pos, "matmul", nil, flat, b) })
	}
	return l.op(pos, "matmul", nil, a, b)
}

// applyLastAxis flattens x of rank > 2 to [prod(leading), last], applies f,
// and restores the leading axes around f's last axis.
func (l *lowerer) applyLastAxis(pos dsl.Pos, x val, f func(val) val) val {
	s := x.v.Type.Shape
	if s.Rank() <= 2 {
		return f(x)
	}
	lead, ok := s[:s.Rank()-1].Size()
	if !ok {
		l.errorf(pos, "cannot flatten %s", x.v.Type)
		return errVal
	}
	flat := l.op(pos, "reshape", ir.Attrs{"shape": ir.Shape{lead, s[s.Rank()-1]}}, x)
	y := f(flat)
	if y.k != kTensor {
		return y
	}
	out := append(s[:s.Rank()-1].Clone(), y.v.Type.Shape[1])
	return l.op(pos, "reshape", ir.Attrs{"shape": out}, y)
}
