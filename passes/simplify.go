// Simplify: algebraic rewrites run to a fixed point.
//
// Each rule of the table below matches one value and returns what replaces
// it: an existing value or new ones emitted just before it. The pass sweeps
// the graph applying the first rule that matches each value and repeats
// until a sweep changes nothing (at most maxSweeps). Rules only fire when the
// replacement has exactly the value's type, so uses stay well typed.
//
// It folds scalar constants, turns division by a scalar into multiplication
// by its reciprocal, and removes identities (x*1, x+0, x-0, x/1,
// neg(neg x), where(c, x, x), cast to the same dtype, reshape or broadcast
// to the same shape, double transposes, reshape chains, sums over size-1
// axes); it lets elementwise ops read a scalar or a smaller operand directly
// instead of through a broadcast or a reshape of it (the implicit
// broadcasting of elementwise ops does the same work without a buffer); and
// x-x becomes zero. It does not reassociate or distribute (float results
// would change), and it leaves x*0 alone (0*Inf is NaN). Dead values it
// leaves behind are DCE's.

package passes

import (
	"fmt"
	"math"

	"github.com/mdlc/mdlc/ir"
)

const maxSweeps = 16

// Rule is one rewrite: Apply returns the replacement of v or nil.
type Rule struct {
	Name  string
	Apply func(r *rewriter, v *ir.Value) (*ir.Value, error)
}

// Rules is the rule table, tried in order.
var Rules = []Rule{
	{Name: "fold constants", Apply: foldConst},
	{Name: "x*1, 1*x, x/1, x+0, 0+x, x-0", Apply: identityArith},
	{Name: "neg(neg(x))", Apply: negNeg},
	{Name: "x-x", Apply: subSelf},
	{Name: "where(c, x, x)", Apply: whereSame},
	{Name: "cast, reshape, broadcast to the same type", Apply: noopLayout},
	{Name: "reshape(reshape(x))", Apply: reshapeChain},
	{Name: "transpose(transpose(x))", Apply: transposeChain},
	{Name: "sum over size-1 axes", Apply: sumOfOnes},
	{Name: "elementwise reads through broadcast", Apply: elementwiseThroughBroadcast},
	{Name: "x / scalar = x * (1/scalar)", Apply: divByScalar},
}

// Simplify applies Rules to a fixed point.
func Simplify(g *ir.Graph, c *Context) error {
	for sweep := 0; sweep < maxSweeps; sweep++ {
		r := newRewriter(g)
		changed, err := r.run(func(v *ir.Value) (*ir.Value, error) {
			for _, rule := range Rules {
				w, err := rule.Apply(r, v)
				if err != nil {
					return nil, fmt.Errorf("rule %s on %%%d: %w", rule.Name, v.ID, err)
				}
				if w != nil && w != v {
					if !w.Type.Equal(v.Type) {
						return nil, fmt.Errorf("rule %s changed the type of %%%d from %s to %s", rule.Name, v.ID, v.Type, w.Type)
					}
					return w, nil
				}
			}
			return nil, nil
		})
		if err != nil {
			return err
		}
		if !changed {
			return nil
		}
		if err := DCE(g, c); err != nil {
			return err
		}
	}
	return nil
}

// constOf returns the value of a scalar constant (looking through reshapes
// and broadcasts of one), and whether v is one.
func constOf(v *ir.Value) (float64, bool) {
	for v.Op.Name == "reshape" || v.Op.Name == "broadcast" {
		v = v.Args[0]
	}
	if v.Op.Name == "const" {
		return v.Attrs.Float("value"), true
	}
	return 0, false
}

func isConst(v *ir.Value, x float64) bool {
	c, ok := constOf(v)
	return ok && c == x
}

// foldConst evaluates elementwise ops whose args are all scalar constants.
func foldConst(r *rewriter, v *ir.Value) (*ir.Value, error) {
	if v.Op.Kind != ir.KindElementwise || v.Type.Shape.Rank() != 0 || v.Op.Eval == nil {
		return nil, nil
	}
	args := make([]*ir.Tensor, len(v.Args))
	for i, a := range v.Args {
		if a.Op.Name != "const" {
			return nil, nil
		}
		args[i] = ir.ScalarTensor(a.Attrs.Float("value"))
	}
	t, err := v.Op.Eval(&ir.EvalCtx{N: 1}, v, args)
	if err != nil {
		return nil, nil
	}
	x := t.Data[0]
	if v.Type.DType == ir.F32 {
		x = float64(float32(x)) // the value generated f32 code would hold
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil, nil
	}
	return r.emit("const", ir.Attrs{"dtype": v.Type.DType, "value": x})
}

// same returns x if it already has v's type.
func same(v, x *ir.Value) *ir.Value {
	if x.Type.Equal(v.Type) {
		return x
	}
	return nil
}

func identityArith(r *rewriter, v *ir.Value) (*ir.Value, error) {
	if len(v.Args) != 2 {
		return nil, nil
	}
	a, b := v.Args[0], v.Args[1]
	switch v.Op.Name {
	case "mul":
		if isConst(b, 1) {
			return same(v, a), nil
		}
		if isConst(a, 1) {
			return same(v, b), nil
		}
	case "div":
		if isConst(b, 1) {
			return same(v, a), nil
		}
	case "add":
		if isConst(b, 0) {
			return same(v, a), nil
		}
		if isConst(a, 0) {
			return same(v, b), nil
		}
	case "sub":
		if isConst(b, 0) {
			return same(v, a), nil
		}
	}
	return nil, nil
}

func negNeg(r *rewriter, v *ir.Value) (*ir.Value, error) {
	if v.Op.Name == "neg" && v.Args[0].Op.Name == "neg" {
		return v.Args[0].Args[0], nil
	}
	return nil, nil
}

func subSelf(r *rewriter, v *ir.Value) (*ir.Value, error) {
	if v.Op.Name != "sub" || v.Args[0] != v.Args[1] {
		return nil, nil
	}
	z, err := r.emit("const", ir.Attrs{"dtype": v.Type.DType, "value": 0.0})
	if err != nil || v.Type.Shape.Rank() == 0 {
		return z, err
	}
	return r.emit("broadcast", ir.Attrs{"shape": v.Type.Shape.Clone()}, z)
}

func whereSame(r *rewriter, v *ir.Value) (*ir.Value, error) {
	if v.Op.Name == "where" && v.Args[1] == v.Args[2] {
		return same(v, v.Args[1]), nil
	}
	return nil, nil
}

func noopLayout(r *rewriter, v *ir.Value) (*ir.Value, error) {
	switch v.Op.Name {
	case "cast", "reshape", "broadcast":
		return same(v, v.Args[0]), nil
	case "transpose":
		for i, p := range v.Attrs.Ints("perm") {
			if i != p {
				return nil, nil
			}
		}
		return same(v, v.Args[0]), nil
	}
	return nil, nil
}

func reshapeChain(r *rewriter, v *ir.Value) (*ir.Value, error) {
	if v.Op.Name != "reshape" || v.Args[0].Op.Name != "reshape" {
		return nil, nil
	}
	src := v.Args[0].Args[0]
	if src.Type.Shape.Equal(v.Type.Shape) {
		return src, nil
	}
	return r.emit("reshape", ir.Attrs{"shape": v.Type.Shape.Clone()}, src)
}

func transposeChain(r *rewriter, v *ir.Value) (*ir.Value, error) {
	if v.Op.Name != "transpose" || v.Args[0].Op.Name != "transpose" {
		return nil, nil
	}
	inner, outer := v.Args[0].Attrs.Ints("perm"), v.Attrs.Ints("perm")
	perm := make([]int, len(outer))
	identity := true
	for i, p := range outer {
		perm[i] = inner[p]
		identity = identity && perm[i] == i
	}
	src := v.Args[0].Args[0]
	if identity {
		return src, nil
	}
	return r.emit("transpose", ir.Attrs{"perm": perm}, src)
}

// sumOfOnes turns a sum over axes that all have size 1 into a reshape.
func sumOfOnes(r *rewriter, v *ir.Value) (*ir.Value, error) {
	if v.Op.Name != "reduce_sum" && v.Op.Name != "reduce_mean" && v.Op.Name != "reduce_max" {
		return nil, nil
	}
	x := v.Args[0]
	axes, err := ir.NormAxes(v.Attrs.Ints("axes"), x.Type.Shape.Rank())
	if err != nil {
		return nil, nil
	}
	for _, a := range axes {
		if x.Type.Shape[a] != 1 {
			return nil, nil
		}
	}
	if x.Type.Shape.Equal(v.Type.Shape) {
		return x, nil
	}
	return r.emit("reshape", ir.Attrs{"shape": v.Type.Shape.Clone()}, x)
}

// elementwiseThroughBroadcast replaces an elementwise op's arg that is a
// broadcast (or a reshape adding size-1 axes) by its source when the op's
// own broadcasting gives the same result type.
func elementwiseThroughBroadcast(r *rewriter, v *ir.Value) (*ir.Value, error) {
	if v.Op.Kind != ir.KindElementwise || len(v.Args) < 2 {
		return nil, nil
	}
	for i, a := range v.Args {
		if a.Op.Name != "broadcast" && a.Op.Name != "reshape" {
			continue
		}
		src := a.Args[0]
		if root := scalarRoot(a); root != nil {
			src = root // a scalar spread by reshapes and broadcasts is that scalar
		} else if a.Op.Name == "reshape" && !onlyUnitAxesAdded(src.Type.Shape, a.Type.Shape) {
			continue
		}
		args := append([]*ir.Value(nil), v.Args...)
		args[i] = src
		probe := &ir.Value{Op: v.Op, Args: args, Attrs: v.Attrs}
		t, err := v.Op.Shape(probe)
		if err != nil || !t.Equal(v.Type) {
			continue
		}
		return r.emit(v.Op.Name, v.Attrs.Clone(), args...)
	}
	return nil, nil
}

// divByScalar turns a tensor divided by a scalar into a product with the
// scalar's reciprocal, computed once: a division per element costs several
// multiplications (Adam's bias corrections divide every moment). The result
// may differ from the quotient in the last bit.
func divByScalar(r *rewriter, v *ir.Value) (*ir.Value, error) {
	if v.Op.Name != "div" || v.Type.DType != ir.F32 || v.Type.Shape.Rank() == 0 || v.Args[1].Type.Shape.Rank() != 0 {
		return nil, nil
	}
	if _, isConst := constOf(v.Args[1]); isConst {
		return nil, nil // left for constant folding of the reciprocal below
	}
	one, err := r.emit("const", ir.Attrs{"dtype": ir.F32, "value": 1.0})
	if err != nil {
		return nil, err
	}
	inv, err := r.emit("div", nil, one, v.Args[1])
	if err != nil {
		return nil, err
	}
	if s := scalarRoot(v.Args[1]); s != nil && s.Name != "" && inv.Name == "" {
		inv.Name = s.Name + ".inv"
	}
	return r.emit("mul", nil, v.Args[0], inv)
}

// scalarRoot follows reshapes and broadcasts down to a rank-0 value, or
// returns nil if the chain does not start from one.
func scalarRoot(v *ir.Value) *ir.Value {
	for v.Op.Name == "reshape" || v.Op.Name == "broadcast" {
		v = v.Args[0]
	}
	if v.Type.Shape.Rank() == 0 {
		return v
	}
	return nil
}

// onlyUnitAxesAdded reports whether to is from with leading size-1 axes
// added (so numpy broadcasting reads from the same way).
func onlyUnitAxesAdded(from, to ir.Shape) bool {
	if len(to) < len(from) {
		return false
	}
	lead := len(to) - len(from)
	for i := 0; i < lead; i++ {
		if to[i] != 1 {
			return false
		}
	}
	return to[lead:].Equal(from)
}
