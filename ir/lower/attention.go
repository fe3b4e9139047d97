package lower

import (
	"math"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
)

// Attention layers. Both lower to primitives plus one fused op:
//
//	qkv    = x @ wqkv + bqkv                  [N*T, 3D] (one GEMM for q, k and v)
//	q,k,v  = slices of qkv, as [N, H, T, D/H] (reshape, transpose)
//	scores = q @ k^T                           [N, H, T, T] (batched matmul)
//	p      = masked_softmax(scores, scale: 1/sqrt(D/H), causal)
//	o      = p @ v, heads joined               [N*T, D]
//	out    = o @ wo + bo                       [N, T, D]
//
// The scores are the one [N, H, T, T] tensor: masked_softmax reads them
// and writes p in place of a scale, a mask and a softmax (three tensors of
// that size), and its backward is one op too. wqkv is [D, 3D], q's columns
// first: GPT-2's c_attn.weight as stored, the transpose of PyTorch's
// nn.MultiheadAttention in_proj_weight [3D, D]; Keras MultiHeadAttention's
// query kernel [D, H, D/H] is wqkv[:, :D] reshaped.

// seqInput checks that arg name is a f32 sequence [B, T, D] with fixed T and D.
func (l *lowerer) seqInput(c *callArgs, name string) (val, bool) {
	x, ok := l.layerInput(c, name)
	if !ok {
		return errVal, false
	}
	s := x.v.Type.Shape
	if s.Rank() != 3 || s[1].IsBatch() || s[2].IsBatch() {
		l.errorf(c.posOf(name), "%s needs a sequence [N, T, D] with fixed T and D, got %s", c.name, x.where())
		return errVal, false
	}
	return x, true
}

// attnParams creates the weight [in, out] (init) and, with bias, the bias
// [out] (zeros) of one projection, named local and "b"+local[1:].
func (l *lowerer) attnParams(c *callArgs, local string, in, out ir.Dim) (w, b val, ok bool) {
	init, iargs, ok := l.initSpec(c.sc, c.raw["init"], ir.Shape{in, out})
	if !ok {
		return errVal, errVal, false
	}
	wv, ok := l.newParam(l.paramName(c.name, local), ir.Shape{in, out}, init, iargs, c.pos)
	if !ok {
		return errVal, errVal, false
	}
	w, b = tensorVal(wv, wv.Name, c.pos), errVal
	if useBias, _ := l.argBool(c, "bias"); useBias {
		bv, ok := l.newParam(l.paramName(c.name, "b"+local[1:]), ir.Shape{out}, "zeros", nil, c.pos)
		if !ok {
			return errVal, errVal, false
		}
		b = tensorVal(bv, bv.Name, c.pos)
	}
	return w, b, true
}

// project is flat @ w (+ b).
func (l *lowerer) project(pos dsl.Pos, flat, w, b val) val {
	y := l.op(pos, "matmul", nil, flat, w)
	if b.k == kErr {
		return y
	}
	return l.op(pos, "add", nil, y, b)
}

// splitHeads takes columns [from, from+D) of flat [B*T, cols] as [B, H, T, D/H].
func (l *lowerer) splitHeads(pos dsl.Pos, flat val, from int, b, t ir.Dim, h, d int) val {
	if cols := int(flat.v.Type.Shape[1]); from != 0 || cols != d {
		flat = l.op(pos, "slice", ir.Attrs{"axis": 1, "start": from, "end": from + d}, flat)
	}
	r := l.op(pos, "reshape", ir.Attrs{"shape": ir.Shape{b, t, ir.Dim(h), ir.Dim(d / h)}}, flat)
	return l.op(pos, "transpose", ir.Attrs{"perm": []int{0, 2, 1, 3}}, r)
}

// attend is softmax(q k^T / sqrt(D/H), masked) v with q [B, H, Tq, D/H] and
// k, v [B, H, Tk, D/H], heads joined back to [B*Tq, D].
func (l *lowerer) attend(pos dsl.Pos, q, k, v val, causal bool, d int) val {
	s := q.v.Type.Shape
	scores := l.op(pos, "matmul", ir.Attrs{"tb": true}, q, k)
	p := l.op(pos, "masked_softmax", ir.Attrs{"scale": 1 / math.Sqrt(float64(s[3])), "causal": causal}, scores)
	o := l.op(pos, "transpose", ir.Attrs{"perm": []int{0, 2, 1, 3}}, l.op(pos, "matmul", nil, p, v))
	bt, _ := ir.Shape{s[0], s[2]}.Size()
	return l.op(pos, "reshape", ir.Attrs{"shape": ir.Shape{bt, ir.Dim(d)}}, o)
}

// headsOf checks that heads divides the width d.
func (l *lowerer) headsOf(c *callArgs, d int) (int, bool) {
	h, ok := l.argInt(c, "heads", 1)
	if ok && d%h != 0 {
		l.errorf(c.posOf("heads"), "%s: %d heads do not divide the width %d", c.name, h, d)
		return 0, false
	}
	return h, ok
}

func layerAttention(l *lowerer, c *callArgs) val {
	x, ok := l.seqInput(c, "x")
	if !ok {
		return errVal
	}
	s := x.v.Type.Shape
	d := int(s[2])
	h, ok := l.headsOf(c, d)
	causal, ok2 := l.argBool(c, "causal")
	_, ok3 := l.argBool(c, "bias")
	if !ok || !ok2 || !ok3 {
		return errVal
	}
	wqkv, bqkv, ok := l.attnParams(c, "wqkv", s[2], ir.Dim(3*d))
	if !ok {
		return errVal
	}
	wo, bo, ok := l.attnParams(c, "wo", s[2], s[2])
	if !ok {
		return errVal
	}
	bt, _ := s[:2].Size()
	qkv := l.project(c.pos, l.op(c.pos, "reshape", ir.Attrs{"shape": ir.Shape{bt, s[2]}}, x), wqkv, bqkv)
	if qkv.k == kErr {
		return errVal
	}
	q := l.splitHeads(c.pos, qkv, 0, s[0], s[1], h, d)
	k := l.splitHeads(c.pos, qkv, d, s[0], s[1], h, d)
	v := l.splitHeads(c.pos, qkv, 2*d, s[0], s[1], h, d)
	o := l.project(c.pos, l.attend(c.pos, q, k, v, causal, d), wo, bo)
	return l.op(c.pos, "reshape", ir.Attrs{"shape": s.Clone()}, o)
}

func layerMultiHeadAttention(l *lowerer, c *callArgs) val {
	qx, ok := l.seqInput(c, "q")
	kvx, ok2 := l.seqInput(c, "kv")
	if !ok || !ok2 {
		return errVal
	}
	qs, ks := qx.v.Type.Shape, kvx.v.Type.Shape
	if qs[0] != ks[0] {
		l.errorf(c.posOf("kv"), "multi_head_attention: q %s and kv %s have different batch axes", qx.where(), kvx.where())
		return errVal
	}
	d := int(qs[2])
	h, ok := l.headsOf(c, d)
	causal, ok2 := l.argBool(c, "causal")
	_, ok3 := l.argBool(c, "bias")
	if !ok || !ok2 || !ok3 {
		return errVal
	}
	wq, bq, ok := l.attnParams(c, "wq", qs[2], qs[2])
	if !ok {
		return errVal
	}
	wkv, bkv, ok := l.attnParams(c, "wkv", ks[2], ir.Dim(2*d))
	if !ok {
		return errVal
	}
	wo, bo, ok := l.attnParams(c, "wo", qs[2], qs[2])
	if !ok {
		return errVal
	}
	bq2, _ := qs[:2].Size()
	bk2, _ := ks[:2].Size()
	qp := l.project(c.pos, l.op(c.pos, "reshape", ir.Attrs{"shape": ir.Shape{bq2, qs[2]}}, qx), wq, bq)
	kvp := l.project(c.pos, l.op(c.pos, "reshape", ir.Attrs{"shape": ir.Shape{bk2, ks[2]}}, kvx), wkv, bkv)
	if qp.k == kErr || kvp.k == kErr {
		return errVal
	}
	q := l.splitHeads(c.pos, qp, 0, qs[0], qs[1], h, d)
	k := l.splitHeads(c.pos, kvp, 0, ks[0], ks[1], h, d)
	v := l.splitHeads(c.pos, kvp, d, ks[0], ks[1], h, d)
	o := l.project(c.pos, l.attend(c.pos, q, k, v, causal, d), wo, bo)
	return l.op(c.pos, "reshape", ir.Attrs{"shape": qs.Clone()}, o)
}
