package impl

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLSTMCellGrad checks LSTMCellGrad against the equations in float64
// (ir/rnn.go's backward), with and without a previous cell state, for unit
// counts with and without a tail, and that the AVX2 and Go loops give the
// same bits.
func TestLSTMCellGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, u := range []int{1, 7, 8, 13, 32, 130} {
		for _, first := range []bool{false, true} {
			row, gr, carry0 := make([]float32, 6*u), make([]float32, 6*u), make([]float32, 2*u)
			cprev := make([]float32, u)
			for i := range row {
				row[i] = float32(r.Float64()) // gates in (0, 1)
				gr[i] = float32(r.NormFloat64())
			}
			for j := range u {
				row[u+j] = float32(r.NormFloat64()) // c_t
				row[4*u+j] = float32(2*r.Float64() - 1)
				cprev[j] = float32(r.NormFloat64())
			}
			for i := range carry0 {
				carry0[i] = float32(r.NormFloat64())
			}
			cp := cprev
			if first {
				cp = nil
			}
			var outs [][]float32
			for _, asm := range []bool{true, false} {
				if asm && !hasVecAVX2 {
					continue
				}
				old := vecAVX2
				vecAVX2 = asm
				dz, carry := make([]float32, 4*u), append([]float32(nil), carry0...)
				LSTMCellGrad(dz, carry, row, gr, cp, u)
				vecAVX2 = old
				outs = append(outs, append(dz, carry[u:]...))
			}
			for i := range outs[0] {
				if !sameBits(outs[0][i], outs[len(outs)-1][i]) {
					t.Fatalf("u %d first %v: element %d: AVX2 %v, Go %v", u, first, i, outs[0][i], outs[len(outs)-1][i])
				}
			}
			got := outs[0]
			for j := range u {
				f := func(x float32) float64 { return float64(x) }
				ct, ig, fg, gg, og := f(row[u+j]), f(row[2*u+j]), f(row[3*u+j]), f(row[4*u+j]), f(row[5*u+j])
				c := 0.0
				if !first {
					c = f(cprev[j])
				}
				tc := math.Tanh(ct)
				dh := f(gr[j]) + f(carry0[j])
				dc := f(carry0[u+j]) + f(gr[u+j]) + dh*og*(1-tc*tc)
				want := []float64{(dc*gg + f(gr[2*u+j])) * ig * (1 - ig), (dc*c + f(gr[3*u+j])) * fg * (1 - fg),
					(dc*ig + f(gr[4*u+j])) * (1 - gg*gg), (dh*tc + f(gr[5*u+j])) * og * (1 - og), dc * fg}
				for k, w := range want {
					if g := f(got[k*u+j]); math.Abs(g-w) > 1e-5*(1+math.Abs(w)) {
						t.Errorf("u %d first %v unit %d output %d: %v, want %v", u, first, j, k, g, w)
					}
				}
			}
		}
	}
}
