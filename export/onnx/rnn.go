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
// between Transposes, as ONNX Runtime rejects layout 1) whose Y is h:
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
// ONNX's weights are transposed ([1, G*u, D], [1, G*u, u]) and its B is
// [1, 2*G*u], [Wb, Rb]: Keras's GRU with reset_after has both (its bias
// [2, 3u], input and recurrent rows), and reset_after is
// linear_before_reset 1; the LSTM and the GRU without reset_after have the
// input bias only (Rb is zeros). The equations are otherwise the same
// (sigmoid gates, tanh, zero initial state, h_t = z h_{t-1} + (1 - z) hh).
// A weight param that only its layer reads is stored in ONNX's layout under
// its own name (as conv filters are stored OIHW); one read elsewhere too
// keeps mdlc's and is permuted by nodes (Transpose, Gather, Unsqueeze).
//
// The packed result holds more than h (c and the gates, for the backward);
// a use of it other than the h slice is an error at the scan's position,
// never a wrong file.

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
// the identity W. The layer's weight params that nothing else reads are
// stored in ONNX's layout (relayout); others are permuted by nodes.
func (e *exporter) findRNNs(live map[*ir.Value]bool) map[*ir.Value]*rnn {
	out := map[*ir.Value]*rnn{}
	for _, v := range e.g.Values {
		if !live[v] || v.Op.Name != "lstm_scan" && v.Op.Name != "gru_scan" {
			continue
		}
		geo, err := ir.RNNGeometry(v)
		if err != nil {
			continue // mapScan reports it
		}
		r, inner := matchProjection(v, geo)
		if r != nil && e.private(v, inner) {
			for _, u := range inner {
				e.done[u] = true
			}
		} else {
			r, inner = &rnn{x: v.Args[0]}, nil
		}
		out[v] = r
		perm := gateRows(geo)
		width := geo.Gates * geo.U
		// only reports whether the param p is read by reader alone.
		only := func(p, reader *ir.Value) bool {
			return p != nil && p.Op.Name == "param" && len(e.users[p]) == 1 && e.users[p][0] == reader && !e.results[p]
		}
		if r.kernel != nil && only(r.kernel, inner[len(inner)-2]) { // the matmul
			e.relayout[r.kernel] = func(w []float32, dims []int) ([]float32, []int) { return onnxWeight(w, dims[0], width, perm) }
		}
		if only(v.Args[1], v) {
			e.relayout[v.Args[1]] = func(w []float32, dims []int) ([]float32, []int) { return onnxWeight(w, dims[0], width, perm) }
		}
		switch {
		case geo.ResetAfter:
			if only(v.Args[2], v) { // [Wb, Rb]: the same data
				e.relayout[v.Args[2]] = func(b []float32, _ []int) ([]float32, []int) { return b, []int{1, 2 * width} }
			}
		case r.bias != nil:
			if only(r.bias, inner[0]) { // the add
				e.relayout[r.bias] = func(b []float32, _ []int) ([]float32, []int) {
					out := make([]float32, 2*width) // [Wb, 0]
					for i := range width {
						out[i] = b[row(perm, i)]
					}
					return out, []int{1, 2 * width}
				}
			}
		}
	}
	return out
}

// gateRows returns the rows of mdlc's weights that ONNX's rows 0, 1, ...
// are (LSTM: the gates i, o, f, c of mdlc's i, f, c, o), or nil for the
// same order (GRU).
func gateRows(geo ir.RNN) []int {
	if !geo.LSTM {
		return nil
	}
	var perm []int
	for _, g := range lstmGates {
		for j := range geo.U {
			perm = append(perm, g*geo.U+j)
		}
	}
	return perm
}

// row is ONNX's row i in mdlc's order.
func row(perm []int, i int) int {
	if perm == nil {
		return i
	}
	return perm[i]
}

// onnxWeight is the ONNX weight [1, width, k] (W or R) of mdlc's [k,
// width]: transposed, its rows in ONNX's gate order.
func onnxWeight(w []float32, k, width int, perm []int) ([]float32, []int) {
	out := make([]float32, len(w))
	for i := range width {
		src := row(perm, i)
		for c := range k {
			out[i*k+c] = w[c*width+src]
		}
	}
	return out, []int{1, width, k}
}

// matchProjection matches the lowering's input projection of the scan op
// v, returning the layer and the values inside the projection.
// The inner values are [add,] reshape, matmul, reshape.
func matchProjection(v *ir.Value, geo ir.RNN) (*rnn, []*ir.Value) {
	is := func(v *ir.Value, op string) bool { return v != nil && v.Op.Name == op }
	width := ir.Dim(geo.Gates * geo.U)
	xp := v.Args[0]
	var inner []*ir.Value
	var bias *ir.Value
	if is(xp, "add") && !geo.ResetAfter { // the input bias (lstm, gru without reset_after)
		a, b := xp.Args[0], xp.Args[1]
		if a.Type.Shape.Equal(ir.Shape{width}) {
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
	perm := gateRows(geo)
	// weight returns the [1, G*u, k] ONNX weight of the mdlc weight p [k,
	// G*u]: p itself when stored so, else transposed and permuted by nodes.
	weight := func(p *ir.Value) string {
		if e.relayout[p] != nil {
			return e.names[p]
		}
		t := e.op("Transpose", []string{e.names[p]}, attrInts("perm", 1, 0))
		if perm != nil {
			t = e.op("Gather", []string{t, e.ints(perm...)}, attrInt("axis", 0))
		}
		return e.op("Unsqueeze", []string{t, e.ints(0)})
	}
	x := e.op("Transpose", []string{e.names[r.x]}, attrInts("perm", 1, 0, 2))
	var w string
	if r.kernel != nil {
		w = weight(r.kernel)
	} else {
		w = e.identity(width, perm)
	}
	ins := []string{x, w, weight(v.Args[1])}
	switch {
	case geo.ResetAfter && e.relayout[v.Args[2]] != nil:
		ins = append(ins, in[2])
	case geo.ResetAfter: // [Wb, Rb] = the bias [2, 3u] row by row
		ins = append(ins, e.op("Reshape", []string{in[2], e.ints(1, 2*width)}))
	case r.bias != nil && e.relayout[r.bias] != nil:
		ins = append(ins, e.names[r.bias])
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
