package ir

import "fmt"

// Recurrences (Keras LSTM and GRU): a scan over the time axis with carried
// state and shared weights, as a small family of ops (FamilyScan) rather
// than a general scan-with-body construct. The layer lowers to
//
//	xproj = x @ kernel + bias                 one GEMM over every time step: [N, T, G*u]
//	seq   = lstm_scan(xproj, U)               the loop: per step one GEMM h_{t-1} @ U and the gate math
//	h     = slice(seq, axis 2, 0, u)          the hidden states [N, T, u]
//
// and its gradient rule builds the backward of the loop as one op
// (lstm_scan_grad: backpropagation through time, giving the gradient of
// every step's gate pre-activations) followed by plain graph ops: the
// weight gradients are one GEMM each over all time steps
// (dU = Hprev^T dZ over [N*T] rows), the input projection's gradient flows
// back through its matmul. Code size does not depend on T.
//
// The ops carry what the backward needs in their one result, a packed
// tensor with one row of slots per (example, step):
//
//	lstm_scan(xproj [N,T,4u], U [u,4u])                  -> [N,T,6u]: h, c, i, f, g, o (gates after activation)
//	lstm_scan_grad(seq [N,T,6u], U, dseq [N,T,6u])       -> dZ [N,T,4u]: d(pre-activation) of i, f, g, o
//	gru_scan(xproj [N,T,3u], U [u,3u], bias [2,3u])      -> [N,T,5u]: h, z, r, hh, q  (reset_after)
//	gru_scan(xproj [N,T,3u], U [u,3u])                   -> [N,T,5u]: h, z, r, hh, r*h_{t-1}
//	gru_scan_grad(seq, U, dseq)  reset_after             -> [N,T,4u]: d a_z, d a_r, d q, d a_h
//	gru_scan_grad(seq, U, dseq)  reset_after false       -> [N,T,3u]: d a_z, d a_r, d a_h
//
// Gate order and equations are Keras's (sigmoid recurrent activation, tanh
// activation, zero initial state):
//
//	LSTM: z = xproj_t + h_{t-1} U; i, f, o = sigmoid(z_i, z_f, z_o); g = tanh(z_g)
//	      c_t = f c_{t-1} + i g; h_t = o tanh(c_t)
//	GRU:  z = sigmoid(x_z + h_{t-1} U_z + b_z); r = sigmoid(x_r + h_{t-1} U_r + b_r)
//	      reset_after:  q = h_{t-1} U_h + b_h;  hh = tanh(x_h + r q)
//	      (there the op adds both rows of Keras's bias [2, 3u] itself, input
//	      and recurrent, so the bias is one param read whole; xproj is x @ kernel)
//	      reset_before: hh = tanh(x_h + (r h_{t-1}) U_h)
//	      h_t = z h_{t-1} + (1 - z) hh
//
// The gradient ops read the whole packed gradient: every slot of seq may
// carry one (the lowering only reads h, but the ops are exact as ops).

// Attribute schema of the GRU ops.
var gruAttrs = []AttrSpec{{Name: "reset_after", Kind: AttrBool}}

// RNN is the geometry of a scan op: batch N, T steps, u units, the gates G
// (4 for the LSTM, 3 for the GRU) and the slots per step of the packed
// sequence (6 and 5).
type RNN struct {
	N          Dim
	T, U       int
	Gates      int
	Slots      int
	ResetAfter bool // GRU: the reset gate applies after the recurrent matmul
	LSTM       bool
}

// Seq is the packed sequence's shape [N, T, Slots*u].
func (r RNN) Seq() Shape { return Shape{r.N, Dim(r.T), Dim(r.Slots * r.U)} }

// Proj is the input projection's shape [N, T, Gates*u].
func (r RNN) Proj() Shape { return Shape{r.N, Dim(r.T), Dim(r.Gates * r.U)} }

// GradWidth is the last extent of the gradient op's result.
func (r RNN) GradWidth() int {
	if !r.LSTM && r.ResetAfter {
		return 4 * r.U
	}
	return r.Gates * r.U
}

// RNNGeometry returns the geometry of v, a scan op or its gradient, after
// checking its args.
func RNNGeometry(v *Value) (RNN, error) {
	op := v.Op.Name
	r := RNN{LSTM: op == "lstm_scan" || op == "lstm_scan_grad", Gates: 3, Slots: 5}
	if r.LSTM {
		r.Gates, r.Slots = 4, 6
	} else {
		r.ResetAfter = v.Attrs.Bool("reset_after")
	}
	grad := op == "lstm_scan_grad" || op == "gru_scan_grad"
	if len(v.Args) < 2 {
		return r, fmt.Errorf("%s: needs an input projection and a recurrent kernel, got %d args", op, len(v.Args))
	}
	for _, a := range v.Args {
		if a.Type.DType != F32 {
			return r, fmt.Errorf("%s: needs f32 args, got %s", op, a.Type)
		}
	}
	us := v.Args[1].Type.Shape
	if us.Rank() != 2 || us[0] < 1 || us[1] != us[0]*Dim(r.Gates) {
		return r, fmt.Errorf("%s: recurrent kernel must be [units, %d*units], got %s", op, r.Gates, v.Args[1].Type)
	}
	r.U = int(us[0])
	xs := v.Args[0].Type.Shape
	want, what := r.Gates, "input projection"
	if grad {
		want, what = r.Slots, "packed sequence"
	}
	if xs.Rank() != 3 || xs[1].IsBatch() || xs[2].IsBatch() || xs[1] < 1 || int(xs[2]) != want*r.U {
		return r, fmt.Errorf("%s: %s must be [N, T, %d*units] with units %d, got %s", op, what, want, r.U, v.Args[0].Type)
	}
	r.N, r.T = xs[0], int(xs[1])
	switch {
	case grad:
		if len(v.Args) != 3 {
			return r, fmt.Errorf("%s: needs 3 args (seq, recurrent kernel, gradient), got %d", op, len(v.Args))
		}
		if !v.Args[2].Type.Shape.Equal(xs) {
			return r, fmt.Errorf("%s: gradient %s does not match the sequence %s", op, v.Args[2].Type, v.Args[0].Type)
		}
	case r.LSTM:
		if len(v.Args) != 2 {
			return r, fmt.Errorf("%s: needs 2 args (input projection, recurrent kernel), got %d", op, len(v.Args))
		}
	case r.ResetAfter:
		if len(v.Args) != 3 {
			return r, fmt.Errorf("%s: with reset_after needs 3 args (input projection, recurrent kernel, bias), got %d", op, len(v.Args))
		}
		if bs := v.Args[2].Type.Shape; !bs.Equal(Shape{2, Dim(3 * r.U)}) {
			return r, fmt.Errorf("%s: bias must be [2, %d] (input and recurrent), got %s", op, 3*r.U, v.Args[2].Type)
		}
	default:
		if len(v.Args) != 2 {
			return r, fmt.Errorf("%s: without reset_after needs 2 args (input projection, recurrent kernel), got %d", op, len(v.Args))
		}
	}
	if _, ok := r.Seq().Size(); !ok {
		return r, fmt.Errorf("%s: sequence %s is too large", op, r.Seq())
	}
	return r, nil
}

func shapeScan(v *Value) (Type, error) {
	r, err := RNNGeometry(v)
	if err != nil {
		return Type{}, err
	}
	switch v.Op.Name {
	case "lstm_scan", "gru_scan":
		return Type{DType: F32, Shape: r.Seq()}, nil
	}
	return Type{DType: F32, Shape: Shape{r.N, Dim(r.T), Dim(r.GradWidth())}}, nil
}

// scanScratch is the Scratch of the gradient ops' CPU kernels: the carried
// gradients [N, k*u] (LSTM: dh and dc; GRU: dh, and d(r h) without
// reset_after).
func scanScratch(v *Value) Shape {
	r, err := RNNGeometry(v)
	if err != nil {
		return Shape{1}
	}
	k := 2
	if !r.LSTM && r.ResetAfter {
		k = 1
	}
	return Shape{r.N, Dim(k * r.U)}
}

// evalScan is the reference kernel of the scan ops and their gradients.
func evalScan(ctx *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	r, err := RNNGeometry(v)
	if err != nil {
		return nil, err
	}
	n, T, u := r.N.Resolve(ctx.N), r.T, r.U
	U := a[1].Data
	G := r.Gates * u
	// hU returns h @ U[:, lo:hi] for one row h of u values.
	hU := func(h []float64, lo, hi int) []float64 {
		out := make([]float64, hi-lo)
		for k := 0; k < u; k++ {
			for j := lo; j < hi; j++ {
				out[j-lo] += h[k] * U[k*G+j]
			}
		}
		return out
	}
	// dU returns d @ U[:, lo:hi]^T for one row d of hi-lo values.
	dUT := func(d []float64, lo, hi int) []float64 {
		out := make([]float64, u)
		for k := 0; k < u; k++ {
			for j := lo; j < hi; j++ {
				out[k] += d[j-lo] * U[k*G+j]
			}
		}
		return out
	}
	S := r.Slots * u
	switch v.Op.Name {
	case "lstm_scan":
		x := a[0].Data
		out := NewTensor(r.Seq().Resolve(ctx.N))
		for b := 0; b < n; b++ {
			h, c := make([]float64, u), make([]float64, u)
			for t := 0; t < T; t++ {
				z := hU(h, 0, G)
				xs := x[(b*T+t)*G:]
				row := out.Data[(b*T+t)*S:]
				for j := 0; j < u; j++ {
					i := sigmoidF(xs[j] + z[j])
					f := sigmoidF(xs[u+j] + z[u+j])
					g := tanhF(xs[2*u+j] + z[2*u+j])
					o := sigmoidF(xs[3*u+j] + z[3*u+j])
					c[j] = f*c[j] + i*g
					h[j] = o * tanhF(c[j])
					row[j], row[u+j], row[2*u+j], row[3*u+j], row[4*u+j], row[5*u+j] = h[j], c[j], i, f, g, o
				}
			}
		}
		return out, nil
	case "gru_scan":
		x := a[0].Data
		bin, brec := make([]float64, G), make([]float64, G)
		if r.ResetAfter {
			bin, brec = a[2].Data[:G], a[2].Data[G:]
		}
		out := NewTensor(r.Seq().Resolve(ctx.N))
		for b := 0; b < n; b++ {
			h := make([]float64, u)
			for t := 0; t < T; t++ {
				xs := x[(b*T+t)*G:]
				row := out.Data[(b*T+t)*S:]
				zr := hU(h, 0, 2*u)
				var q []float64
				if r.ResetAfter {
					q = hU(h, 2*u, 3*u)
				}
				z, rr := make([]float64, u), make([]float64, u)
				rh := make([]float64, u)
				for j := 0; j < u; j++ {
					z[j] = sigmoidF(xs[j] + bin[j] + zr[j] + brec[j])
					rr[j] = sigmoidF(xs[u+j] + bin[u+j] + zr[u+j] + brec[u+j])
					rh[j] = rr[j] * h[j]
				}
				if !r.ResetAfter {
					q = hU(rh, 2*u, 3*u) // (r h) U_h, stored as r h below
				}
				for j := 0; j < u; j++ {
					var hh, slot float64
					if r.ResetAfter {
						slot = q[j] + brec[2*u+j]
						hh = tanhF(xs[2*u+j] + bin[2*u+j] + rr[j]*slot)
					} else {
						slot = rh[j]
						hh = tanhF(xs[2*u+j] + q[j])
					}
					hn := z[j]*h[j] + (1-z[j])*hh
					row[j], row[u+j], row[2*u+j], row[3*u+j], row[4*u+j] = hn, z[j], rr[j], hh, slot
				}
				for j := 0; j < u; j++ {
					h[j] = row[j]
				}
			}
		}
		return out, nil
	case "lstm_scan_grad":
		seq, gs := a[0].Data, a[2].Data
		W := r.GradWidth()
		out := NewTensor([]int{n, T, W})
		for b := 0; b < n; b++ {
			dhRec, dcRec := make([]float64, u), make([]float64, u)
			for t := T - 1; t >= 0; t-- {
				row, gr := seq[(b*T+t)*S:], gs[(b*T+t)*S:]
				dz := out.Data[(b*T+t)*W:]
				for j := 0; j < u; j++ {
					c, i, f, g, o := row[u+j], row[2*u+j], row[3*u+j], row[4*u+j], row[5*u+j]
					cPrev := 0.0
					if t > 0 {
						cPrev = seq[(b*T+t-1)*S+u+j]
					}
					tc := tanhF(c)
					dh := gr[j] + dhRec[j]
					do := dh*tc + gr[5*u+j]
					dc := dcRec[j] + gr[u+j] + dh*o*(1-tc*tc)
					di := dc*g + gr[2*u+j]
					dg := dc*i + gr[4*u+j]
					df := dc*cPrev + gr[3*u+j]
					dz[j], dz[u+j], dz[2*u+j], dz[3*u+j] = di*i*(1-i), df*f*(1-f), dg*(1-g*g), do*o*(1-o)
					dcRec[j] = dc * f
				}
				dhRec = dUT(dz[:G], 0, G)
			}
		}
		return out, nil
	default: // gru_scan_grad
		seq, gs := a[0].Data, a[2].Data
		W := r.GradWidth()
		out := NewTensor([]int{n, T, W})
		for b := 0; b < n; b++ {
			dhRec := make([]float64, u)
			for t := T - 1; t >= 0; t-- {
				row, gr := seq[(b*T+t)*S:], gs[(b*T+t)*S:]
				d := out.Data[(b*T+t)*W:]
				hPrev := make([]float64, u)
				if t > 0 {
					copy(hPrev, seq[(b*T+t-1)*S:][:u])
				}
				dh := make([]float64, u)
				next := make([]float64, u)
				for j := 0; j < u; j++ {
					z, hh := row[u+j], row[3*u+j]
					dh[j] = gr[j] + dhRec[j]
					dz := dh[j]*(hPrev[j]-hh) + gr[u+j]
					dhh := dh[j]*(1-z) + gr[3*u+j]
					d[j] = dz * z * (1 - z)
					dah := dhh * (1 - hh*hh)
					if r.ResetAfter {
						d[3*u+j] = dah
					} else {
						d[2*u+j] = dah
					}
					next[j] = dh[j] * z
				}
				if r.ResetAfter {
					for j := 0; j < u; j++ {
						rr, q, dah := row[2*u+j], row[4*u+j], d[3*u+j]
						dr := dah*q + gr[2*u+j]
						d[u+j] = dr * rr * (1 - rr)
						d[2*u+j] = dah*rr + gr[4*u+j] // dq
					}
					dhRec = dUT(d[:3*u], 0, 3*u)
				} else {
					drh := dUT(d[2*u:3*u], 2*u, 3*u)
					for j := 0; j < u; j++ {
						rr := row[2*u+j]
						drh[j] += gr[4*u+j]
						dr := drh[j]*hPrev[j] + gr[2*u+j]
						d[u+j] = dr * rr * (1 - rr)
						next[j] += drh[j] * rr
					}
					dhRec = dUT(d[:2*u], 0, 2*u)
				}
				for j := 0; j < u; j++ {
					dhRec[j] += next[j]
				}
			}
		}
		return out, nil
	}
}

// Gradient rules: the reverse loop is one op; what follows it is graph ops.

// hPrev returns the hidden states shifted by one step, [N*T, u] with zero
// rows at t = 0 (nil when T = 1: every h_{t-1} is the zero initial state),
// and the same of slot k of the sequence.
func scanPrev(b *Builder, seq *Value, r RNN, slot int) *Value {
	s := b.Op("slice", Attrs{"axis": 2, "start": slot * r.U, "end": (slot + 1) * r.U}, seq)
	return b.Reshape(s, Shape{r.N * Dim(r.T), Dim(r.U)})
}

func hPrevRows(b *Builder, seq *Value, r RNN) *Value {
	if r.T == 1 {
		return nil
	}
	h := b.Op("slice", Attrs{"axis": 2, "start": 0, "end": r.U}, seq)
	h = b.Op("slice", Attrs{"axis": 1, "start": 0, "end": r.T - 1}, h)
	h = b.Op("pad", Attrs{"axis": 1, "before": 1, "after": 0}, h)
	return b.Reshape(h, Shape{r.N * Dim(r.T), Dim(r.U)})
}

// rowsT returns a^T d over [N*T] rows, or zeros of [u, width] when a is nil.
func rowsT(b *Builder, a, d *Value, r RNN, width int) *Value {
	if a == nil {
		return b.BroadcastTo(b.f32(0), Shape{Dim(r.U), Dim(width)})
	}
	d = b.Reshape(d, Shape{r.N * Dim(r.T), Dim(width)})
	return b.Op("matmul", Attrs{"ta": true}, a, d)
}

func gradLSTMScan(b *Builder, v, g *Value) []*Value {
	r, err := RNNGeometry(v)
	if err != nil {
		b.fail(err)
		return []*Value{nil, nil}
	}
	dz := b.Op("lstm_scan_grad", nil, v, v.Args[1], g)
	return []*Value{dz, rowsT(b, hPrevRows(b, v, r), dz, r, 4*r.U)}
}

func gradGRUScan(b *Builder, v, g *Value) []*Value {
	r, err := RNNGeometry(v)
	if err != nil {
		b.fail(err)
		return make([]*Value, len(v.Args))
	}
	u := r.U
	d := b.Op("gru_scan_grad", Attrs{"reset_after": r.ResetAfter}, v, v.Args[1], g)
	cut := func(x *Value, lo, hi int) *Value {
		return b.Op("slice", Attrs{"axis": 2, "start": lo * u, "end": hi * u}, x)
	}
	hp := hPrevRows(b, v, r)
	if r.ResetAfter {
		// d = [d a_z, d a_r, d q, d a_h]: the input projection's gradient
		// is (d a_z, d a_r, d a_h); the recurrent matmul's is the first 3u.
		dx := b.Op("concat", Attrs{"axis": 2}, cut(d, 0, 2), cut(d, 3, 4))
		rec := cut(d, 0, 3)
		row := func(x *Value) *Value { return b.Reshape(b.Sum(x, []int{0, 1}, false), Shape{1, Dim(3 * u)}) }
		db := b.Op("concat", Attrs{"axis": 0}, row(dx), row(rec))
		return []*Value{dx, rowsT(b, hp, rec, r, 3*u), db}
	}
	// d = [d a_z, d a_r, d a_h]: U_z and U_r multiply h_{t-1}, U_h
	// multiplies r h_{t-1} (slot 4 of the sequence).
	dzr := rowsT(b, hp, cut(d, 0, 2), r, 2*u)
	dh := rowsT(b, scanPrev(b, v, r, 4), cut(d, 2, 3), r, u)
	return []*Value{d, b.Op("concat", Attrs{"axis": 1}, dzr, dh)}
}
