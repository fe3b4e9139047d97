// Package render holds what both code generators decide the same way about
// computing one op: which kernel template an op is computed with when it is
// not fused (its ir.Family; a backend implements Templates, one method per
// family, so the compiler checks that every backend has every template),
// and how an elementwise op with an operator is written as a scalar
// expression (Go and C share the syntax).
package render

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/mdlc/mdlc/codegen/internal/dims"
	"github.com/mdlc/mdlc/ir"
)

// Templates is a backend's set of kernel templates.
type Templates interface {
	Elementwise(v *ir.Value) // one loop over the result
	Contraction(v *ir.Value) // a GEMM
	Reduce(v *ir.Value)      // over the axes attribute
	Lane(v *ir.Value)        // along the axis attribute
	Transpose(v *ir.Value)
	Slice(v *ir.Value)
	Pad(v *ir.Value)
	Concat(v *ir.Value)
	Gather(v *ir.Value)
	ScatterAdd(v *ir.Value)
	OneHot(v *ir.Value)
	Conv(v *ir.Value)   // conv2d and its backward ops (ir.Conv2DGeometry)
	Pool(v *ir.Value)   // max_pool2d, avg_pool2d and their backward ops
	Random(v *ir.Value) // random_uniform: counter-based draws (runtime/impl/philox.go)
	Scan(v *ir.Value)   // lstm_scan, gru_scan and their gradients (ir.RNNGeometry)
}

// Op writes the kernel of v computed alone with e's template for its family.
func Op(e Templates, v *ir.Value) error {
	switch v.Op.Family {
	case ir.FamilyElementwise:
		e.Elementwise(v)
	case ir.FamilyContraction:
		e.Contraction(v)
	case ir.FamilyReduce:
		e.Reduce(v)
	case ir.FamilyLane:
		e.Lane(v)
	case ir.FamilyTranspose:
		e.Transpose(v)
	case ir.FamilySlice:
		e.Slice(v)
	case ir.FamilyPad:
		e.Pad(v)
	case ir.FamilyConcat:
		e.Concat(v)
	case ir.FamilyGather:
		e.Gather(v)
	case ir.FamilyScatterAdd:
		e.ScatterAdd(v)
	case ir.FamilyOneHot:
		e.OneHot(v)
	case ir.FamilyConv:
		e.Conv(v)
	case ir.FamilyPool:
		e.Pool(v)
	case ir.FamilyRandom:
		e.Random(v)
	case ir.FamilyScan:
		e.Scan(v)
	default:
		return fmt.Errorf("op %s (family %s) has no kernel template", v.Op.Name, v.Op.Family)
	}
	return nil
}

// Handles reports whether a backend can compute op: every op that is not
// computed (bound, inline, a view), every op of a family Op knows, and an
// elementwise op when it has an operator or is an identity, or when the
// backend's table of scalar functions renders it (renders).
func Handles(op *ir.OpDef, renders func(op *ir.OpDef) bool) bool {
	switch {
	case op.Family == ir.FamilyNone:
		return op.Bound || op.Inline || op.View
	case op.Family == ir.FamilyElementwise:
		return op.Operator != "" || op.Identity || renders(op)
	}
	return op.Family < ir.NumFamilies
}

// Scalar writes elementwise v on its args' scalar expressions when its op
// has an operator or is an identity, with paren to parenthesize an
// operand and boolean to turn a comparison into the 0-or-1 a bool is
// stored as. It reports false for any other op: the backend's table of
// scalar functions renders it.
func Scalar(v *ir.Value, args []string, paren, boolean func(string) string) (string, bool) {
	op := v.Op
	switch {
	case op.Identity:
		return args[0], true
	case op.Operator == "":
		return "", false
	case len(args) == 1:
		return op.Operator + paren(args[0]), true
	case v.Type.DType == ir.Bool:
		return boolean(args[0] + " " + op.Operator + " " + args[1]), true
	}
	return paren(args[0]) + " " + op.Operator + " " + paren(args[1]), true
}

// Spelling is how a backend writes constants.
type Spelling struct {
	NaN, Inf, NegInf string                 // float32 NaN, +Inf and -Inf
	Int              string                 // the format of an i32 (one %d)
	Float            func(x float64) string // any other number
	IntToFloat       string                 // the format converting an int expression (one %s) to float32
}

// Literal writes constant x of dtype d with sp: NaN and the infinities (a
// number beyond the float32 range is infinite in f32), an i32 truncated
// toward zero and saturated, any other number by sp.Float.
func Literal(d ir.DType, x float64, sp Spelling) string {
	switch {
	case math.IsNaN(x):
		return sp.NaN
	case math.IsInf(x, 1) || (d != ir.I32 && x > math.MaxFloat32):
		return sp.Inf
	case math.IsInf(x, -1) || (d != ir.I32 && x < -math.MaxFloat32):
		return sp.NegInf
	case d == ir.I32:
		return fmt.Sprintf(sp.Int, int64(math.Max(math.MinInt32, math.Min(math.MaxInt32, math.Trunc(x)))))
	}
	return sp.Float(x)
}

// Inline writes the value of an inline op (ir.OpDef.Inline: a constant,
// an element count in terms of n) with sp, or reports false for another op.
func Inline(v *ir.Value, sp Spelling) (string, bool) {
	switch v.Op.Name {
	case "const":
		return Literal(v.Type.DType, v.Attrs.Float("value"), sp), true
	case "numel":
		return fmt.Sprintf(sp.IntToFloat, dims.Size(v.Attrs.Shape("shape"))), true
	}
	return "", false
}

// FlatOperand is how the loop of a flat optimizer update (ir.FlatUpdate)
// reads arg a at element i: the params, grads or state run arrays of both
// backends' update loops ("params[i]", "grads[i]", run[a]+"[i]"), or ""
// when a is not read at i (a shared scalar, a constant, a chain value).
func FlatOperand(fu *ir.FlatUpdate, a *ir.Value, run map[*ir.Value]string) string {
	switch {
	case a == fu.Param:
		return "params[i]"
	case a == fu.Grad:
		return "grads[i]"
	case run[a] != "":
		return run[a] + "[i]"
	}
	return ""
}

// Faults returns the values whose kernels must check an index where they
// use it, in graph order: a generated model records the first index out
// of range a call meets as a fault, reported by its 1-based position in
// this list. The entry points check an input's indices against the bound
// its uses imply (ir.Graph.IndexBound), but not a computed index
// (gather(w, idx + 1)), nor a view of an input; a one_hot needs no check:
// an index out of range gives a zero row by its semantics.
func Faults(g *ir.Graph) []*ir.Value {
	// The bound each input gets checked against: the smallest its uses
	// imply (one pass; ir.Graph.IndexBound for all inputs at once).
	checked := map[*ir.Value]int{}
	for _, v := range g.Values {
		for a, x := range v.Args {
			if v.Op.IndexBound == nil || x.Op.Name != "input" {
				continue
			}
			if k := v.Op.IndexBound(v, a); k > 0 && (checked[x] == 0 || k < checked[x]) {
				checked[x] = k
			}
		}
	}
	var out []*ir.Value
	for _, v := range g.Values {
		if v.Op.IndexBound == nil || v.Op.Family == ir.FamilyOneHot {
			continue
		}
		for a, x := range v.Args {
			k := v.Op.IndexBound(v, a)
			if k <= 0 {
				continue
			}
			if hi := checked[x]; x.Op.Name != "input" || hi == 0 || hi > k {
				out = append(out, v)
				break
			}
		}
	}
	return out
}

// FaultWhere names a checked op in its fault's error: its position in the
// model's source (file base name) and its op ("model.mdl:5:16: gather").
func FaultWhere(v *ir.Value) string {
	if v.Pos.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", filepath.Base(v.Pos.File), v.Pos.Line, v.Pos.Col, v.Op.Name)
	}
	return v.Op.Name
}

// ScanVars expands the placeholders of a recurrence template (both
// backends write lstm_scan, gru_scan and their gradients as text with
// them; ir/rnn.go has the packed layout): {n} the batch, {T} the steps,
// {u} the units and its multiples {2u} .. {6u}, {S} the slots of one step
// and {TS} one example's stride in the sequence, {G} and {TG} the same of
// the input projection, {W} and {TW} of the gradient op's result, and
// {name} for every buffer of bufs.
func ScanVars(r ir.RNN, bufs map[string]string) *strings.Replacer {
	u, w := r.U, r.GradWidth()
	pairs := []string{"{n}", dims.Extent(r.N), "{T}", fmt.Sprint(r.T), "{S}", fmt.Sprint(r.Slots * u), "{TS}", fmt.Sprint(r.T * r.Slots * u),
		"{G}", fmt.Sprint(r.Gates * u), "{TG}", fmt.Sprint(r.T * r.Gates * u), "{W}", fmt.Sprint(w), "{TW}", fmt.Sprint(r.T * w)}
	for k := 6; k >= 2; k-- {
		pairs = append(pairs, fmt.Sprintf("{%du}", k), fmt.Sprint(k*u))
	}
	pairs = append(pairs, "{u}", fmt.Sprint(u))
	for k, b := range bufs {
		pairs = append(pairs, "{"+k+"}", b)
	}
	return strings.NewReplacer(pairs...)
}
