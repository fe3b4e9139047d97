package onnx

import (
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/mdlc/mdlc/export/onnx/onnxpb"
	"github.com/mdlc/mdlc/ir"
)

// Normalization layers. batch_norm and layer_norm are not ops: the
// lowering writes them as primitives (ir/lower), which opMap could export
// one by one. They are found here instead, by the exact shape the lowering
// gives them, and each becomes the one ONNX op a reader expects:
//
//	batch_norm (inference): (x - moving_mean) / sqrt(moving_variance + eps) * gamma + beta
//	layer_norm:             xc = x - mean(x); xc / sqrt(mean(xc * xc) + eps) * gamma + beta
//
// with mean over the last axis (keepdims). A value inside the pattern that
// anything else reads (or a result names) keeps the primitives.

// norm is a recognized normalization: the final add of beta computes it.
type norm struct {
	op                         string // BatchNormalization or LayerNormalization
	x, gamma, beta, mean, vari *ir.Value
	eps                        float64
}

// findNorms finds the normalizations among the live values; it marks
// their inner values done and returns the norms by their final add.
func (e *exporter) findNorms(live map[*ir.Value]bool) map[*ir.Value]*norm {
	out := map[*ir.Value]*norm{}
	for _, v := range e.g.Values {
		if !live[v] {
			continue
		}
		if n, inner := matchNorm(v); n != nil && e.private(v, inner) {
			out[v] = n
			for _, u := range inner {
				e.done[u] = true
			}
		}
	}
	return out
}

// private reports whether only the values of inner and top read the values
// of inner, and no result names one.
func (e *exporter) private(top *ir.Value, inner []*ir.Value) bool {
	in := map[*ir.Value]bool{top: true}
	for _, u := range inner {
		in[u] = true
	}
	for _, u := range inner {
		if e.results[u] {
			return false
		}
		for _, w := range e.users[u] {
			if !in[w] {
				return false
			}
		}
	}
	return true
}

// matchNorm matches the normalization whose final add is v, returning it
// and the values inside it (from v's args up to x, params and state
// excluded).
func matchNorm(v *ir.Value) (*norm, []*ir.Value) {
	is := func(v *ir.Value, op string) bool { return v != nil && v.Op.Name == op }
	if !is(v, "add") || !is(v.Args[0], "mul") || !is(v.Args[1], "param") {
		return nil, nil
	}
	scaled, beta := v.Args[0], v.Args[1]
	if !is(scaled.Args[0], "div") || !is(scaled.Args[1], "param") {
		return nil, nil
	}
	div, gamma := scaled.Args[0], scaled.Args[1]
	xc, root := div.Args[0], div.Args[1]
	if !is(xc, "sub") || !is(root, "sqrt") || !is(root.Args[0], "add") {
		return nil, nil
	}
	sum := root.Args[0]
	vari, eps := sum.Args[0], sum.Args[1]
	if !is(eps, "const") || eps.Type.Shape.Rank() != 0 {
		return nil, nil
	}
	x, mean := xc.Args[0], xc.Args[1]
	s := x.Type.Shape
	r := s.Rank()
	if x.Type.DType != ir.F32 || r < 2 || !xc.Type.Shape.Equal(s) || !v.Type.Shape.Equal(s) {
		return nil, nil
	}
	c := s[r-1]
	for _, p := range []*ir.Value{gamma, beta} {
		if !p.Type.Shape.Equal(ir.Shape{c}) {
			return nil, nil
		}
	}
	n := &norm{x: x, gamma: gamma, beta: beta, mean: mean, vari: vari, eps: eps.Attrs.Float("value")}
	inner := []*ir.Value{scaled, div, xc, root, sum, eps}
	lastAxis := func(m *ir.Value) bool {
		a := m.Attrs.Ints("axes")
		return is(m, "reduce_mean") && len(a) == 1 && (a[0] == r-1 || a[0] == -1) && m.Attrs.Bool("keepdims")
	}
	switch {
	case is(mean, "state") && is(vari, "state") && strings.HasSuffix(mean.Name, ".moving_mean") && strings.HasSuffix(vari.Name, ".moving_variance") &&
		mean.Type.Shape.Equal(ir.Shape{c}) && vari.Type.Shape.Equal(ir.Shape{c}):
		n.op = "BatchNormalization"
	case lastAxis(mean) && mean.Args[0] == x && lastAxis(vari) && is(vari.Args[0], "mul") && vari.Args[0].Args[0] == xc && vari.Args[0].Args[1] == xc:
		n.op = "LayerNormalization"
		inner = append(inner, mean, vari, vari.Args[0])
	default:
		return nil, nil
	}
	return n, inner
}

// emitNorm writes n into out.
func (e *exporter) emitNorm(n *norm, out string) {
	eps := &onnxpb.AttributeProto{Name: proto.String("epsilon"), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(float32(n.eps))}
	x := e.names[n.x]
	if n.op == "LayerNormalization" {
		e.node("LayerNormalization", []string{x, n.gamma.Name, n.beta.Name}, []string{out}, attrInt("axis", -1), eps)
		return
	}
	// BatchNormalization normalizes axis 1: move the features there and back.
	r := n.x.Type.Shape.Rank()
	in := []string{x, n.gamma.Name, n.beta.Name, n.mean.Name, n.vari.Name}
	if r == 2 {
		e.node("BatchNormalization", in, []string{out}, eps)
		return
	}
	first, back := make([]int, r), make([]int, r) // [0, r-1, 1, ..., r-2] and its inverse
	first[1], back[r-1] = r-1, 1
	for i := 2; i < r; i++ {
		first[i], back[i-1] = i-1, i
	}
	if r == 4 {
		in[0] = e.toNCHW(x)
	} else {
		in[0] = e.op("Transpose", []string{x}, attrInts("perm", first...))
	}
	y := e.op("BatchNormalization", in, eps)
	e.node("Transpose", []string{y}, []string{out}, attrInts("perm", back...))
}
