package onnx

import (
	"fmt"

	"github.com/mdlc/mdlc/export/onnx/onnxpb"
	"github.com/mdlc/mdlc/ir"
)

// Recurrent layers. The lowering (ir/lower/rnn.go) writes lstm and gru as
//
//	xproj = reshape(matmul(reshape(x, [N*T, D]), kernel), [N, T, G*u]) (+ bias)
//	seq   = lstm_scan(xproj, U) or gru_scan(xproj, U[, bias [2, 3u]])
//	h     = slice(seq, axis 2, 0, u)
//
// and each becomes one ONNX LSTM or GRU (forward, layout 0: time-major,
// between Transposes, as ONNX Runtime runs no batch-major recurrence)
// whose Y is h:
//
//   - when the projection is that pattern and nothing else reads its
//     values, X is the layer input x, W the kernel and B the input bias,
//     as Keras's layer converts;
//   - otherwise X is the projection itself and W a (gate-permuted)
//     identity, so any lstm_scan or gru_scan exports, exactly (a product
//     with ones and zeros rounds nothing).
//
// Gate order: mdlc's (Keras's) LSTM gates are i, f, c, o and ONNX's i, o, f,
// c, so the rows of W, R and B are permuted; the GRU's are z, r, h in both.
// ONNX's weights are transposed ([G*u, D], [G*u, u]) and its B is
// [Wb, Rb]: Keras's GRU with reset_after has both (its bias [2, 3u], input
// and recurrent rows), and reset_after is linear_before_reset 1; the LSTM
// and the GRU without reset_after have the input bias only. The equations
// are otherwise the same (sigmoid gates, tanh, zero initial state, h_t =
// z h_{t-1} + (1 - z) hh). The packed result holds more than h (c and the
// gates, for the backward); a use of it other than the h slice is an error
// at the scan's position, never a wrong file.

// rnn is a recurrent layer found by findRNNs: what its ONNX node reads.
type rnn struct {
	x      *ir.Value // [N, T, D]: the layer input, or the projection (kernel nil)
	kernel *ir.Value // [D, G*u], or nil: W is the identity
	bias   *ir.Value // the input bias [G*u] added to the projection, or nil
}

// lstmGates maps ONNX's LSTM gates (i, o, f, c) to mdlc's (i, f, c, o).
var lstmGates = []int{0, 3, 1, 2}

// findRNNs finds the input projections of the live scan ops; it marks
// their inner values done and returns the layers by their scan op. A scan
// whose projection is not the lowering's, or is read elsewhere, maps with
// the identity W.
func (e *exporter) findRNNs(live map[*ir.Value]bool) map[*ir.Value]*rnn {
	out := map[*ir.Value]*rnn{}
	for _, v := range e.g.Values {
		if !live[v] || v.Op.Name != "lstm_scan" && v.Op.Name != "gru_scan" {
			continue
		}
		r, inner := matchProjection(v)
		if r != nil && e.private(v, inner) {
			for _, u := range inner {
				e.done[u] = true
			}
		} else {
			r = &rnn{x: v.Args[0]}
		}
		out[v] = r
	}
	return out
}

// matchProjection matches the lowering's input projection of the scan op
// v, returning the layer and the values inside the projection.
func matchProjection(v *ir.Value) (*rnn, []*ir.Value) {
	is := func(v *ir.Value, op string) bool { return v != nil && v.Op.Name == op }
	geo, err := ir.RNNGeometry(v)
	if err != nil {
		return nil, nil
	}
	width := ir.Dim(geo.Gates * geo.U)
	xp := v.Args[0]
	var inner []*ir.Value
	var bias *ir.Value
	if is(xp, "add") && !geo.ResetAfter { // the input bias (lstm, gru without reset_after)
		a, b := xp.Args[0], xp.Args[1]
		if is(b, "reshape") {
			a, b = b, a
		}
		if !b.Type.Shape.Equal(ir.Shape{width}) || !a.Type.Shape.Equal(xp.Type.Shape) {
			return nil, nil
		}
		inner, bias, xp = append(inner, xp), b, a
	}
	if !is(xp, "reshape") || !is(xp.Args[0], "matmul") {
		return nil, nil
	}
	mm := xp.Args[0]
	if mm.Attrs.Bool("ta") || mm.Attrs.Bool("tb") || !is(mm.Args[0], "reshape") {
		return nil, nil
	}
	flat, kernel := mm.Args[0], mm.Args[1]
	x := flat.Args[0]
	xs, ks := x.Type.Shape, kernel.Type.Shape
	if x.Type.DType != ir.F32 || xs.Rank() != 3 || xs[0] != geo.N || xs[1] != ir.Dim(geo.T) ||
		ks.Rank() != 2 || ks[0] != xs[2] || ks[1] != width {
		return nil, nil
	}
	return &rnn{x: x, kernel: kernel, bias: bias}, append(inner, xp, mm, flat)
}

// mapScan writes an lstm_scan or gru_scan as ONNX's LSTM or GRU, its Y
// under the names of the op's h slices.
func mapScan(e *exporter, v *ir.Value, in []string, _ string) error {
	geo, err := ir.RNNGeometry(v)
	if err != nil {
		return err
	}
	u, width := geo.U, geo.Gates*geo.U
	if e.results[v] {
		return fmt.Errorf("a result names the packed sequence %s (h, c and the gates), which ONNX's %s does not give; only its hidden states (slice 0:%d of the last axis) export", v.Type.Shape, onnxRNN(geo), u)
	}
	for _, s := range e.users[v] {
		a := s.Attrs
		if s.Op.Name != "slice" || normAxis(a.Int("axis"), 3) != 2 || a.Int("start") != 0 || a.Int("end") != u {
			return fmt.Errorf("%s reads the packed sequence %s (h, c and the gates), which ONNX's %s does not give; only its hidden states (slice 0:%d of the last axis) export", s.Op.Name, v.Type.Shape, onnxRNN(geo), u)
		}
	}
	r := e.rnns[v]
	// The gate order of W, R and B's rows: ONNX's row i is mdlc's perm[i].
	var perm []int
	if geo.LSTM {
		for _, g := range lstmGates {
			for j := range u {
				perm = append(perm, g*u+j)
			}
		}
	}
	// rows returns the [1, G*u, k] ONNX weight of the mdlc weight w [k, G*u].
	rows := func(w string) string {
		t := e.op("Transpose", []string{w}, attrInts("perm", 1, 0))
		if perm != nil {
			t = e.op("Gather", []string{t, e.ints(perm...)}, attrInt("axis", 0))
		}
		return e.op("Unsqueeze", []string{t, e.ints(0)})
	}
	x := e.op("Transpose", []string{e.names[r.x]}, attrInts("perm", 1, 0, 2))
	var w string
	if r.kernel != nil {
		w = rows(e.names[r.kernel])
	} else {
		w = e.identity(width, perm)
	}
	ins := []string{x, w, rows(in[1])}
	switch {
	case geo.ResetAfter: // [Wb, Rb] = the bias [2, 3u] row by row
		ins = append(ins, e.op("Reshape", []string{in[2], e.ints(1, 2*width)}))
	case r.bias != nil: // [Wb, 0]
		b := e.names[r.bias]
		if perm != nil {
			b = e.op("Gather", []string{b, e.ints(perm...)}, attrInt("axis", 0))
		}
		zeros := e.tmp("zeros")
		e.floats(zeros, make([]float32, width), width)
		ins = append(ins, e.op("Unsqueeze", []string{e.op("Concat", []string{b, zeros}, attrInt("axis", 0)), e.ints(0)}))
	}
	attrs := []*onnxpb.AttributeProto{attrInt("hidden_size", u)}
	if !geo.LSTM {
		attrs = append(attrs, attrInt("linear_before_reset", b2i(geo.ResetAfter)))
	}
	y := e.op(onnxRNN(geo), ins, attrs...) // Y [T, 1, N, u]
	h := e.op("Transpose", []string{y}, attrInts("perm", 2, 0, 1, 3))
	// The h slices: the first gets Y, any other a copy.
	first := ""
	for _, s := range e.users[v] {
		if _, ok := e.names[s]; !ok {
			e.names[s] = e.tmpName(s)
		}
		if first == "" {
			first = e.names[s]
			e.node("Squeeze", []string{h, e.ints(2)}, []string{first})
		} else {
			e.node("Identity", []string{first}, []string{e.names[s]})
		}
		e.done[s] = true
	}
	return nil
}

// onnxRNN is the ONNX op of a scan.
func onnxRNN(geo ir.RNN) string {
	if geo.LSTM {
		return "LSTM"
	}
	return "GRU"
}

// identity writes the W [1, n, n] of a recurrence whose X is the input
// projection: the identity, its rows permuted by perm (ONNX's row i picks
// column perm[i]) when perm is not nil.
func (e *exporter) identity(n int, perm []int) string {
	data := make([]float32, n*n)
	for i := range n {
		j := i
		if perm != nil {
			j = perm[i]
		}
		data[i*n+j] = 1
	}
	name := e.tmp("identity")
	e.floats(name, data, 1, n, n)
	return name
}

// floats writes the f32 initializer name of shape dims.
func (e *exporter) floats(name string, data []float32, dims ...int) {
	t := tensor(name, onnxpb.TensorProto_FLOAT, dims...)
	t.FloatData = data
	e.graph.Initializer = append(e.graph.Initializer, t)
}
