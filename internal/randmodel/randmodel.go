// Package randmodel generates random well-typed models for property tests:
// the code generator's (codegen/go TestRandomModels: through all passes,
// compiled and compared with the interpreter) and the ONNX exporter's
// (export/onnx: exported and run by ONNX Runtime).
package randmodel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/mdlc/mdlc/ir"
)

// Names are names a model may give that generated code also uses
// (locals, fields, API names, Go words): Model names its inputs and
// params with them.
var Names = strings.Fields("x label sum mx base inv lse o vt i0 a0 m0 o0 exp32 pow32 n m b err rng seed params grads " +
	"state arena fault len copy range func type int float32 Model New Spec step lr i j k w r in out")

// Model builds a random well-typed training graph: inputs (one may
// lack the batch axis), params, a random mix of elementwise ops with
// broadcasting, matmuls, reductions, softmax, layout ops and gathers (by
// the labels, or by an index computed from them), with fan-out (values are
// reused), often a convolutional chain over an image input (image),
// often recurrent layers over a sequence input (sequence),
// often a batch_norm or a dropout (two modes: ir/modes.go), and a
// scalar loss over several of its values. Its inputs and
// params are named from Names. Domains are kept safe (log and sqrt
// of x*x+1, exp of tanh), so both sides stay finite.
func Model(r *rand.Rand, id int) *ir.Graph {
	g := &ir.Graph{Name: fmt.Sprintf("Random%d", id)}
	b := ir.NewBuilder(g)
	dim := func() ir.Dim { return ir.Dim(1 + r.IntN(5)) }
	names := slices.Clone(Names)
	r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	name := func() string {
		s := names[0]
		names = append(names[1:], s+"_")
		return s
	}
	param := func(s ir.Shape) *ir.Value {
		v := b.Op("param", ir.Attrs{"dtype": ir.F32, "shape": s, "init": "normal", "init_args": []float64{0.5, 0}})
		v.Name = name()
		return v
	}
	input := func(role string, dt ir.DType, s ir.Shape) *ir.Value {
		v := b.Op("input", ir.Attrs{"role": role, "dtype": dt, "shape": s})
		v.Name = name()
		return v
	}
	a := dim()
	x := input("input", ir.F32, ir.Shape{ir.N, a})
	classes := 2 + r.IntN(4)
	label := input("target", ir.I32, ir.Shape{ir.N})
	pool := []*ir.Value{x}
	if r.IntN(2) == 0 {
		pool = append(pool, input("input", ir.F32, ir.Shape{ir.N, dim(), dim()}))
	}
	var mask *ir.Value // an input without the batch axis
	if r.IntN(2) == 0 {
		mask = input("input", ir.F32, ir.Shape{a, a})
	}
	pick := func() *ir.Value { return pool[r.IntN(len(pool))] }
	all := append([]*ir.Value(nil), pool...)
	last := func(v *ir.Value) ir.Dim { return v.Type.Shape[v.Type.Shape.Rank()-1] }
	rank := func(v *ir.Value) int { return v.Type.Shape.Rank() }
	one := b.Const(1, ir.F32)
	for step, steps := 0, 4+r.IntN(10); step < steps; step++ {
		v := pick()
		var out *ir.Value
		switch r.IntN(13) {
		case 0: // unary with a safe domain
			switch r.IntN(6) {
			case 0:
				out = b.Unary("exp", b.Unary("tanh", v))
			case 1:
				out = b.Unary("log", b.Add(b.Mul(v, v), one))
			case 2:
				out = b.Unary("sqrt", b.Add(b.Mul(v, v), one))
			case 3:
				out = b.Unary("sigmoid", v)
			case 4:
				out = b.Unary("gelu", v)
			default:
				out = b.Unary("relu", v)
			}
		case 1, 2: // binary with broadcasting against a param or another value
			ops := []string{"add", "sub", "mul", "maximum", "minimum"}
			op := ops[r.IntN(len(ops))]
			var w *ir.Value
			switch r.IntN(4) {
			case 0:
				w = param(ir.Shape{last(v)})
			case 1:
				s := v.Type.Shape.Clone()
				s[0] = 1
				w = param(s[1:])
			case 2:
				w = param(ir.Shape{})
			default:
				w = pick()
				if _, ok := ir.Broadcast(v.Type.Shape, w.Type.Shape); !ok {
					w = param(ir.Shape{last(v)})
				}
			}
			if r.IntN(2) == 0 {
				v, w = w, v
			}
			out = b.Binary(op, v, w)
			if op == "add" && r.IntN(3) == 0 {
				out = b.Div(out, b.Add(b.Mul(w, w), one))
			}
		case 3, 4: // dense-like matmul
			if rank(v) != 2 || v.Type.Shape[0] != ir.N {
				continue
			}
			ta := false
			w := param(ir.Shape{last(v), dim()})
			tb := r.IntN(2) == 0
			if tb {
				w = param(ir.Shape{dim(), last(v)})
			}
			out = b.Op("matmul", ir.Attrs{"ta": ta, "tb": tb}, v, w)
		case 5: // reduction
			if rank(v) < 2 {
				continue
			}
			ax := 1 + r.IntN(rank(v)-1)
			ops := []string{"reduce_sum", "reduce_mean", "reduce_max", "logsumexp"}
			out = b.Op(ops[r.IntN(len(ops))], ir.Attrs{"axes": []int{ax}, "keepdims": r.IntN(2) == 0}, v)
		case 6: // softmax family
			if rank(v) < 2 {
				continue
			}
			ops := []string{"softmax", "log_softmax"}
			out = b.Op(ops[r.IntN(2)], ir.Attrs{"axis": -1}, v)
		case 7: // layout
			switch {
			case rank(v) == 3:
				if r.IntN(2) == 0 {
					out = b.Transpose(v, []int{0, 2, 1})
				} else {
					out = b.Reshape(v, ir.Shape{ir.N, v.Type.Shape[1] * v.Type.Shape[2]})
				}
			case rank(v) == 2 && last(v) > 1:
				k := 1 + r.IntN(int(last(v))-1)
				s1 := b.Op("slice", ir.Attrs{"axis": 1, "start": 0, "end": k}, v)
				s2 := b.Op("slice", ir.Attrs{"axis": 1, "start": k, "end": int(last(v))}, v)
				out = b.Op("concat", ir.Attrs{"axis": 1}, b.Unary("tanh", s2), s1)
			default:
				continue
			}
		case 8: // embedding-style gather of a param table by the labels
			if r.IntN(2) == 0 {
				out = b.Op("gather", nil, param(ir.Shape{ir.Dim(classes), dim()}), label)
				break
			}
			// by an index computed from them: checked where it is used
			out = b.Op("gather", nil, param(ir.Shape{ir.Dim(classes + 2), dim()}), b.Add(label, b.Const(2, ir.I32)))
		case 9: // where on a comparison
			w := pick()
			if !w.Type.Shape.Equal(v.Type.Shape) {
				w = param(ir.Shape{last(v)})
			}
			out = b.Where(b.Op("gt", nil, v, w), v, w)
		case 10: // square and scale
			out = b.Mul(b.Mul(v, v), b.Const(0.5, ir.F32))
		case 11: // broadcast a row vector up, or multiply by the mask
			if rank(v) != 2 {
				continue
			}
			if mask != nil && last(v) == a && r.IntN(2) == 0 {
				out = b.Op("matmul", nil, v, mask)
				break
			}
			out = b.BroadcastTo(b.Sum(v, []int{0}, true), v.Type.Shape)
		default: // tanh keeps magnitudes bounded
			out = b.Unary("tanh", v)
		}
		if b.Err() != nil {
			panic(fmt.Sprintf("random model %d: %v", id, b.Err()))
		}
		all = append(all, out)
		if rank(out) >= 2 && !last(out).IsBatch() && out.Type.Shape[0] == ir.N {
			pool = append(pool, out) // a value further ops can build on
		}
	}
	// Modes (ir/modes.go), drawn from a source of their own so the rest of
	// the model is what it was before: batch_norm or dropout on the last
	// value, as the lowering builds them, which the head then reads.
	rm := rand.New(rand.NewPCG(uint64(id), 12))
	twins := map[*ir.Value]*ir.Value{}
	v := pool[len(pool)-1]
	mode := 0 // none, batch_norm, dropout
	if rank(v) == 2 && v.Type.Shape[0] == ir.N && rm.IntN(3) > 0 {
		mode = 1 + rm.IntN(2)
	}
	// Often an image and a convolutional chain over it (image), also
	// from a source of its own; its features join the head, concatenated
	// with the last value, and dropout's input. An image model draws no
	// batch_norm: through one, the gradient of a conv's bias, or of any
	// value constant over the batch (a gather by equal labels), is zero
	// and only rounding is left, which a relative check cannot tell from
	// an error (and Adam and RMSprop turn into whole steps).
	flat := image(b, rand.New(rand.NewPCG(uint64(id), 13)), param, input)
	// Often a sequence and recurrent layers over it (sequence), from a
	// source of its own; its features join the head like the image's, and
	// for the same reason a sequence model draws no batch_norm either.
	sq := sequence(b, rand.New(rand.NewPCG(uint64(id), 14)), param, input)
	if (flat != nil || sq != nil) && mode == 1 {
		mode = 0
	}
	if sq != nil {
		if flat == nil {
			flat = sq
		} else {
			flat = b.Op("concat", ir.Attrs{"axis": 1}, flat, sq)
		}
	}
	join := func(v *ir.Value) *ir.Value {
		if flat == nil {
			return v
		}
		if rank(v) == 2 && v.Type.Shape[0] == ir.N {
			v = b.Op("concat", ir.Attrs{"axis": 1}, v, flat)
		} else {
			v = flat
		}
		flat = nil
		return v
	}
	if mode == 2 {
		v = join(v)
	}
	if mode > 0 {
		state := func(name string, s ir.Shape, init string) *ir.Value {
			st := b.Op("state", ir.Attrs{"dtype": ir.F32, "shape": s, "init": init})
			st.Name = name
			return st
		}
		var infer, train *ir.Value
		if mode == 1 { // batch_norm(v, momentum: 0.9, eps: 0.01)
			nm := name()
			gamma, beta := param(ir.Shape{last(v)}), param(ir.Shape{last(v)})
			mm, mv := state(nm+".moving_mean", ir.Shape{last(v)}, "zeros"), state(nm+".moving_variance", ir.Shape{last(v)}, "ones")
			norm := func(xc, variance *ir.Value) *ir.Value {
				return b.Add(b.Mul(b.Div(xc, b.Unary("sqrt", b.Add(variance, b.Const(0.01, ir.F32)))), gamma), beta)
			}
			mean := b.Op("reduce_mean", ir.Attrs{"axes": []int{0}}, v)
			xc := b.Sub(v, mean)
			variance := b.Op("reduce_mean", ir.Attrs{"axes": []int{0}}, b.Mul(xc, xc))
			train = norm(xc, variance)
			moving := func(st, batch *ir.Value) *ir.Value {
				return b.Add(b.Mul(st, b.Const(0.9, ir.F32)), b.Mul(batch, b.Const(0.1, ir.F32)))
			}
			g.Updates = append(g.Updates, ir.Update{Target: mm, Value: moving(mm, mean)}, ir.Update{Target: mv, Value: moving(mv, variance)})
			infer = norm(b.Sub(v, mm), mv)
		} else { // dropout(v, 0.25)
			step := state("optimizer.step", ir.Shape{}, "zeros")
			key := state("optimizer.random_key", ir.Shape{4}, "random_key")
			u := b.Op("random_uniform", ir.Attrs{"shape": v.Type.Shape.Clone(), "stream": 0}, key, step)
			train = b.Where(b.Op("ge", nil, u, b.Const(0.25, ir.F32)), b.Mul(v, b.Const(1/0.75, ir.F32)), b.Const(0, ir.F32))
			infer = b.Op("broadcast", ir.Attrs{"shape": v.Type.Shape.Clone()}, v) // a value of its own

		}
		twins[infer] = train
		pool = append(pool, infer)
	}
	// Loss: a cross-entropy head on one value plus means over a few others.
	head := pool[len(pool)-1]
	if rank(head) != 2 || head.Type.Shape[0] != ir.N {
		head = x
	}
	head = join(head)
	logits := b.Op("matmul", nil, head, param(ir.Shape{last(head), ir.Dim(classes)}))
	ce := b.Neg(b.Op("reduce_mean", ir.Attrs{"axes": []int{0}},
		b.Sum(b.Mul(b.Op("one_hot", ir.Attrs{"depth": classes}, label), b.Op("log_softmax", ir.Attrs{"axis": -1}, logits)), []int{1}, false)))
	loss := ce
	for i := 0; i < 3; i++ {
		v := all[r.IntN(len(all))]
		axes := make([]int, rank(v))
		for j := range axes {
			axes[j] = j
		}
		if len(axes) == 0 {
			loss = b.Add(loss, v)
			continue
		}
		loss = b.Add(loss, b.Op("reduce_mean", ir.Attrs{"axes": axes}, b.Mul(v, v)))
	}
	// One time in three, attention over a sequence of its own (a source
	// of its own, so the other draws are unchanged).
	if att := attention(b, rand.New(rand.NewPCG(uint64(id), 15)), param, input); att != nil {
		loss = b.Add(loss, b.Op("reduce_mean", ir.Attrs{"axes": []int{0, 1}}, b.Mul(att, att)))
	}
	if b.Err() != nil {
		panic(fmt.Sprintf("random model %d: %v", id, b.Err()))
	}
	g.Results = append(g.Results, ir.Result{Kind: ir.ResultLoss, Name: "loss", Value: loss},
		ir.Result{Kind: ir.ResultOutput, Name: "logits", Value: logits})
	opts := []string{"sgd", "adam", "rmsprop"}
	g.Optimizer = &ir.Optimizer{Name: opts[r.IntN(3)], Attrs: ir.Attrs{"lr": 0.05}}
	ir.SplitModes(g, twins)
	g.Renumber()
	return g
}

// sequence adds, one time in three, a sequence input f32[N, T, D] (T in
// 1..6, D in 1..3) and one or two recurrent layers over it as the lowering
// builds them (ir/lower/rnn.go): an LSTM or a GRU (reset_after or not) of
// 1..3 units, each its input projection as one matmul over the N*T rows,
// the scan, and the slice of its hidden states; it returns the last layer's
// final step or its mean over the steps, [N, u]; nil otherwise.
func sequence(b *ir.Builder, r *rand.Rand, param func(ir.Shape) *ir.Value, input func(string, ir.DType, ir.Shape) *ir.Value) *ir.Value {
	if r.IntN(3) != 0 {
		return nil
	}
	t := 1 + r.IntN(6)
	v := input("input", ir.F32, ir.Shape{ir.N, ir.Dim(t), ir.Dim(1 + r.IntN(3))})
	u := 0
	for layers := 1 + r.IntN(2); layers > 0; layers-- {
		u = 1 + r.IntN(3)
		lstm, after := r.IntN(2) == 0, r.IntN(2) == 0
		gates := 3
		if lstm {
			gates = 4
		}
		k := param(ir.Shape{v.Type.Shape[2], ir.Dim(gates * u)})
		rk := param(ir.Shape{ir.Dim(u), ir.Dim(gates * u)})
		rows := b.Reshape(v, ir.Shape{ir.N * ir.Dim(t), v.Type.Shape[2]})
		xp := b.Reshape(b.Op("matmul", nil, rows, k), ir.Shape{ir.N, ir.Dim(t), ir.Dim(gates * u)})
		var seq *ir.Value
		switch {
		case lstm:
			seq = b.Op("lstm_scan", nil, b.Add(xp, param(ir.Shape{ir.Dim(4 * u)})), rk)
		case after:
			seq = b.Op("gru_scan", ir.Attrs{"reset_after": true}, xp, rk, param(ir.Shape{2, ir.Dim(3 * u)}))
		default:
			seq = b.Op("gru_scan", ir.Attrs{"reset_after": false}, b.Add(xp, param(ir.Shape{ir.Dim(3 * u)})), rk)
		}
		v = b.Op("slice", ir.Attrs{"axis": 2, "start": 0, "end": u}, seq)
	}
	if r.IntN(2) == 0 {
		return b.Op("reduce_mean", ir.Attrs{"axes": []int{1}}, v)
	}
	return b.Reshape(b.Op("slice", ir.Attrs{"axis": 1, "start": t - 1, "end": t}, v), ir.Shape{ir.N, ir.Dim(u)})
}

// image adds, one time in three, an image input f32[N, H, W, C]
// (H, W in 3..7, C in 1..3) and a chain of one to three conv2d (kernel
// 1..3, stride 1..2, sometimes dilation 2 or grouped, with or without a
// bias), max_pool2d and avg_pool2d layers with "valid" or "same" padding
// as the lowering computes it (ir/lower/conv.go), one relu among them,
// and returns the chain reshaped to [N, OH*OW*F]; nil otherwise.
func image(b *ir.Builder, r *rand.Rand, param func(ir.Shape) *ir.Value, input func(string, ir.DType, ir.Shape) *ir.Value) *ir.Value {
	if r.IntN(3) != 0 {
		return nil
	}
	h, w, c := 3+r.IntN(5), 3+r.IntN(5), 1+r.IntN(3)
	v := input("input", ir.F32, ir.Shape{ir.N, ir.Dim(h), ir.Dim(w), ir.Dim(c)})
	if r.IntN(3) == 0 { // a per-channel scale before the first layer
		v = b.Mul(v, param(ir.Shape{ir.Dim(c)}))
	}
	// pads is Keras's padding of one axis of extent in, for a window of
	// (dilated) extent k and stride s: "same" gives ceil(in/s) outputs with
	// the smaller half of the padding first; "valid" none, when it fits.
	pads := func(in, k, s int, same bool) (int, int) {
		if !same && k <= in {
			return 0, 0
		}
		total := max(((in+s-1)/s-1)*s+k-in, 0)
		return total / 2, total - total/2
	}
	steps := 1 + r.IntN(3)
	reluAt := r.IntN(steps)
	for step := 0; step < steps; step++ {
		s := v.Type.Shape
		h, w, c := int(s[1]), int(s[2]), int(s[3])
		kh, kw := 1+r.IntN(3), 1+r.IntN(3)
		if r.IntN(2) == 0 {
			kw = kh
		}
		sh, sw := 1+r.IntN(2), 1+r.IntN(2)
		same := r.IntN(2) == 0
		if step == 0 || r.IntN(2) == 0 { // conv2d
			dh, dw, groups, f := 1, 1, 1, 1+r.IntN(4)
			if sh == 1 && sw == 1 && r.IntN(4) == 0 {
				dh, dw = 2, 1+r.IntN(2)
			}
			if c > 1 && r.IntN(4) == 0 { // depthwise
				groups, f = c, c*(1+r.IntN(2))
			}
			pt, pb := pads(h, (kh-1)*dh+1, sh, same)
			pl, pr := pads(w, (kw-1)*dw+1, sw, same)
			attrs := ir.Attrs{"stride": []int{sh, sw}, "dilation": []int{dh, dw}, "pads": []int{pt, pb, pl, pr}, "groups": groups}
			v = b.Op("conv2d", attrs, v, param(ir.Shape{ir.Dim(kh), ir.Dim(kw), ir.Dim(c / groups), ir.Dim(f)}))
			if r.IntN(3) > 0 {
				v = b.Add(v, param(ir.Shape{ir.Dim(f)}))
			}
		} else { // a pool; its stride the window's or drawn
			if r.IntN(2) == 0 {
				sh, sw = kh, kw
			}
			op := []string{"max_pool2d", "avg_pool2d"}[r.IntN(2)]
			pt, pb := pads(h, kh, sh, same)
			pl, pr := pads(w, kw, sw, same)
			v = b.Op(op, ir.Attrs{"size": []int{kh, kw}, "stride": []int{sh, sw}, "pads": []int{pt, pb, pl, pr}}, v)
		}
		if step == reluAt {
			v = b.Unary("relu", v)
		}
		if b.Err() != nil {
			return nil
		}
	}
	s := v.Type.Shape
	return b.Reshape(v, ir.Shape{ir.N, s[1] * s[2] * s[3]})
}

// Inference builds a random model without params or a loss: an
// inference function of its inputs (one of them without the batch axis).
func Inference(r *rand.Rand, id int) *ir.Graph {
	g := &ir.Graph{Name: fmt.Sprintf("Inference%d", id)}
	b := ir.NewBuilder(g)
	a := ir.Dim(1 + r.IntN(5))
	x := b.Op("input", ir.Attrs{"role": "input", "dtype": ir.F32, "shape": ir.Shape{ir.N, a}})
	x.Name = Names[r.IntN(len(Names))]
	mask := b.Op("input", ir.Attrs{"role": "input", "dtype": ir.F32, "shape": ir.Shape{a, a}})
	mask.Name = x.Name + "_mask"
	v := b.Op("matmul", nil, x, mask)
	for range 1 + r.IntN(4) {
		switch r.IntN(3) {
		case 0:
			v = b.Unary("tanh", b.Mul(v, b.Const(2, ir.F32)))
		case 1:
			v = b.Op("softmax", ir.Attrs{"axis": -1}, v)
		default:
			v = b.Add(v, b.BroadcastTo(b.Sum(v, []int{0}, true), v.Type.Shape))
		}
	}
	if b.Err() != nil {
		panic(fmt.Sprintf("random inference model %d: %v", id, b.Err()))
	}
	g.Results = append(g.Results, ir.Result{Kind: ir.ResultOutput, Name: "y", Value: v})
	g.Renumber()
	return g
}

// attention adds, one time in three, a sequence input f32[N, T, H*dh]
// (T in 1..5, H in 1..3, dh in 1..3) and scaled dot-product attention over
// it as the lowering builds it (ir/lower/attention.go): heads split by a
// reshape and a transpose, batched q @ k^T, masked_softmax with or without
// the causal mask, p @ v, heads joined; keys and values are scaled by
// params. It returns the result as [N, T*H*dh]; nil otherwise.
func attention(b *ir.Builder, r *rand.Rand, param func(ir.Shape) *ir.Value, input func(string, ir.DType, ir.Shape) *ir.Value) *ir.Value {
	if r.IntN(3) != 0 {
		return nil
	}
	t, h, dh := ir.Dim(1+r.IntN(5)), 1+r.IntN(3), 1+r.IntN(3)
	d := ir.Dim(h * dh)
	x := input("input", ir.F32, ir.Shape{ir.N, t, d})
	heads := func(v *ir.Value) *ir.Value {
		return b.Transpose(b.Reshape(v, ir.Shape{ir.N, t, ir.Dim(h), ir.Dim(dh)}), []int{0, 2, 1, 3})
	}
	q := heads(x)
	k := heads(b.Mul(x, param(ir.Shape{d})))
	v := heads(b.Unary("tanh", b.Mul(x, param(ir.Shape{t, d}))))
	scores := b.Op("matmul", ir.Attrs{"tb": true}, q, k)
	p := b.Op("masked_softmax", ir.Attrs{"scale": 1 / math.Sqrt(float64(dh)), "causal": r.IntN(2) == 0}, scores)
	o := b.Transpose(b.Op("matmul", nil, p, v), []int{0, 2, 1, 3})
	return b.Reshape(o, ir.Shape{ir.N, t * d})
}
