package lower

import (
	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
)

// The recurrent layers, Keras semantics (ir/rnn.go has the ops and the
// equations). Parameters, named after the binding as Keras names them:
//
//	lstm: NAME.kernel [D, 4u] (glorot_uniform), NAME.recurrent_kernel [u, 4u]
//	      (orthogonal), NAME.bias [4u] (zeros, the forget gate's ones:
//	      unit_forget_bias); gate order i, f, c, o
//	gru:  NAME.kernel [D, 3u], NAME.recurrent_kernel [u, 3u], NAME.bias
//	      [2, 3u] with reset_after (input bias, recurrent bias) or [3u];
//	      gate order z, r, h
//
// The input projection of every step is one matmul (x @ kernel + bias over
// [N*T, D]); the recurrence is one scan op whose packed result is sliced
// to the hidden states.

// rnnInput checks x [N, T, D] and reads units and return_sequences.
func (l *lowerer) rnnInput(c *callArgs) (x val, units int, seqs, ok bool) {
	x, ok1 := l.layerInput(c, "x")
	units, ok2 := l.argInt(c, "units", 1)
	seqs, ok3 := l.argBool(c, "return_sequences")
	if !ok1 || !ok2 || !ok3 {
		return errVal, 0, false, false
	}
	s := x.v.Type.Shape
	if s.Rank() != 3 || s[1].IsBatch() || s[2].IsBatch() {
		l.errorf(c.posOf("x"), "%s needs a sequence [N, T, features] with fixed T and features, got %s", c.name, x.where())
		return errVal, 0, false, false
	}
	if units > 1<<16 {
		l.errorf(c.posOf("units"), "%s: units %d is too large", c.name, units)
		return errVal, 0, false, false
	}
	return x, units, seqs, true
}

// rnnKernel creates the layer's input kernel [D, width].
func (l *lowerer) rnnKernel(c *callArgs, x val, kind string, width int) (val, bool) {
	k, ok := l.newParam(l.paramName(kind, "kernel"), ir.Shape{x.v.Type.Shape[2], ir.Dim(width)}, "glorot_uniform", nil, c.pos)
	if !ok {
		return errVal, false
	}
	return tensorVal(k, k.Name, c.pos), true
}

// rnnProject returns x @ kernel + bias [N, T, gates*units]: one matmul
// over every step.
func (l *lowerer) rnnProject(c *callArgs, x, kv, bias val) (val, bool) {
	y := l.applyLastAxis(c.pos, x, func(flat val) val { return l.op(c.pos, "matmul", nil, flat, kv) })
	return l.op(c.pos, "add", nil, y, bias), y.k == kTensor
}

// rnnOutput slices the hidden states out of the packed sequence: every
// step's [N, T, u], or the last step's [N, u].
func (l *lowerer) rnnOutput(pos dsl.Pos, seq val, t, units int, seqs bool) val {
	h := l.op(pos, "slice", ir.Attrs{"axis": 2, "start": 0, "end": units}, seq)
	if seqs || h.k != kTensor {
		return h
	}
	last := l.op(pos, "slice", ir.Attrs{"axis": 1, "start": t - 1, "end": t}, h)
	return l.op(pos, "reshape", ir.Attrs{"shape": ir.Shape{h.v.Type.Shape[0], ir.Dim(units)}}, last)
}

func layerLSTM(l *lowerer, c *callArgs) val {
	x, u, seqs, ok := l.rnnInput(c)
	if !ok {
		return errVal
	}
	u4 := ir.Dim(4 * u)
	kv, ok := l.rnnKernel(c, x, "lstm", 4*u)
	if !ok {
		return errVal
	}
	rk, ok := l.newParam(l.paramName("lstm", "recurrent_kernel"), ir.Shape{ir.Dim(u), u4}, "orthogonal", nil, c.pos)
	if !ok {
		return errVal
	}
	b, ok := l.newParam(l.paramName("lstm", "bias"), ir.Shape{u4}, "unit_forget_bias", nil, c.pos)
	if !ok {
		return errVal
	}
	xp, ok := l.rnnProject(c, x, kv, tensorVal(b, b.Name, c.pos))
	if !ok {
		return errVal
	}
	seq := l.op(c.pos, "lstm_scan", nil, xp, tensorVal(rk, rk.Name, c.pos))
	return l.rnnOutput(c.pos, seq, int(x.v.Type.Shape[1]), u, seqs)
}

func layerGRU(l *lowerer, c *callArgs) val {
	x, u, seqs, ok := l.rnnInput(c)
	after, ok2 := l.argBool(c, "reset_after")
	if !ok || !ok2 {
		return errVal
	}
	u3 := ir.Dim(3 * u)
	kv, ok := l.rnnKernel(c, x, "gru", 3*u)
	if !ok {
		return errVal
	}
	rk, ok := l.newParam(l.paramName("gru", "recurrent_kernel"), ir.Shape{ir.Dim(u), u3}, "orthogonal", nil, c.pos)
	if !ok {
		return errVal
	}
	bshape := ir.Shape{u3}
	if after {
		bshape = ir.Shape{2, u3}
	}
	b, ok := l.newParam(l.paramName("gru", "bias"), bshape, "zeros", nil, c.pos)
	if !ok {
		return errVal
	}
	bv := tensorVal(b, b.Name, c.pos)
	var xp val
	args := []val{xp, tensorVal(rk, rk.Name, c.pos)}
	if after {
		// gru_scan adds both rows of the bias (one param read whole).
		xp = l.applyLastAxis(c.pos, x, func(flat val) val { return l.op(c.pos, "matmul", nil, flat, kv) })
		args = append(args, bv)
	} else {
		xp, ok = l.rnnProject(c, x, kv, bv)
		if !ok {
			return errVal
		}
	}
	if xp.k != kTensor {
		return errVal
	}
	args[0] = xp
	seq := l.op(c.pos, "gru_scan", ir.Attrs{"reset_after": after}, args...)
	return l.rnnOutput(c.pos, seq, int(x.v.Type.Shape[1]), u, seqs)
}
