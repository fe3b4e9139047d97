// masked_softmax: the fused scale + causal mask + softmax of attention, and
// its fused backward. Attention's scores s [..., Tq, Tk] (q @ k^T) become
// p = softmax(scale * s) along the last axis with, when causal, key j
// masked out of query row i for j > i (PyTorch's is_causal: the mask is
// tril(ones(Tq, Tk)), aligned at the top left). One pass reads the scores
// and writes p; the mask is never a tensor. The backward reads p and the
// incoming gradient once and writes dscores.

package ir

import (
	"fmt"
	"math"
)

func shapeMaskedSoftmax(v *Value) (Type, error) {
	t := v.Args[0].Type
	if t.DType != F32 || t.Shape.Rank() < 2 {
		return Type{}, fmt.Errorf("%s: needs f32 scores [..., Tq, Tk] of rank >= 2, got %s", v.Op.Name, t)
	}
	if len(v.Args) == 2 && !v.Args[1].Type.Equal(t) {
		return Type{}, fmt.Errorf("%s: needs two f32 values of one shape, got %s and %s", v.Op.Name, t, v.Args[1].Type)
	}
	return t, nil
}

// MaskedRows calls f for each row of a [..., Tq, Tk] tensor of shape s: its
// offset in the flat data and the number of keys the row keeps (Tk, or
// i+1 for query i when causal). Backends and the interpreter agree on it.
func MaskedRows(s []int, causal bool, f func(off, keep int)) {
	r := len(s)
	tq, tk := s[r-2], s[r-1]
	rows := numel(s[:r-1])
	for row := 0; row < rows; row++ {
		keep := tk
		if causal {
			keep = min(row%tq+1, tk)
		}
		f(row*tk, keep)
	}
}

func evalMaskedSoftmax(_ *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	x := a[0]
	scale := v.Attrs.Float("scale")
	out := NewTensor(x.Shape)
	tk := x.Shape[len(x.Shape)-1]
	MaskedRows(x.Shape, v.Attrs.Bool("causal"), func(off, keep int) {
		in, o := x.Data[off:off+keep], out.Data[off:off+tk]
		m := math.Inf(-1)
		for _, s := range in {
			m = max(m, scale*s)
		}
		var sum float64
		for j, s := range in {
			o[j] = math.Exp(scale*s - m)
			sum += o[j]
		}
		for j := range in {
			o[j] /= sum
		}
		// o[keep:] stays 0: masked keys get no weight.
	})
	return out, nil
}

func evalMaskedSoftmaxGrad(_ *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	y, g := a[0], a[1]
	scale := v.Attrs.Float("scale")
	out := NewTensor(y.Shape)
	MaskedRows(y.Shape, v.Attrs.Bool("causal"), func(off, keep int) {
		yr, gr, o := y.Data[off:off+keep], g.Data[off:off+keep], out.Data[off:off+keep]
		var dot float64
		for j := range yr {
			dot += yr[j] * gr[j]
		}
		for j := range yr {
			o[j] = scale * yr[j] * (gr[j] - dot)
		}
	})
	return out, nil
}

// d masked_softmax: scale * y * (g - sum(g * y)) over the kept keys (the
// masked ones have y = 0 and get 0), one fused op.
func gradMaskedSoftmax(b *Builder, v, g *Value) []*Value {
	return []*Value{b.Op("masked_softmax_grad", v.Attrs.Clone(), v, g)}
}
