package lower_test

import (
	"math"
	"testing"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/eval"
	"github.com/mdlc/mdlc/ir/lower"
)

// TestKerasRNN checks the lstm and gru layers against Keras's LSTMCell and
// GRUCell equations, written here independently in float64 on the layers'
// own weights in Keras's layout (kernel [D, G*u], recurrent_kernel
// [u, G*u], bias [G*u] or, for the GRU with reset_after, [2, G*u]: input
// row, recurrent row), gate order i, f, c, o and z, r, h. PyTorch differs:
// weight_ih [4u, D] transposed, gate order i, f, g, o (the same for the
// LSTM), two biases b_ih and b_hh (their sum is Keras's one LSTM bias), and
// its GRU is Keras's reset_after=True with gates r, z, n ordered
// differently and h = (1 - z) n + z h_{t-1} with z the same gate.
func TestKerasRNN(t *testing.T) {
	const src = `model K {
    input  x: f32[N, 5, 3]
    target y: f32[N, 2]
    output a = lstm(x, 2, return_sequences: true)
    output b = gru(x, 2, return_sequences: true)
    output c = gru(x, 2, reset_after: false, return_sequences: true)
    output d = lstm(x, 2)
    loss mse(d, y)
    optimizer sgd(lr: 0.1)
}`
	gs, diags := lower.Source("k.mdl", []byte(src))
	if len(diags) > 0 {
		t.Fatalf("%s", diags.Format(dsl.Sources{"k.mdl": []byte(src)}))
	}
	g := gs[0]
	const n, T, D, u = 3, 5, 3, 2
	bind := eval.Random(g, n, 11, nil)
	env, err := eval.Run(g, n, bind)
	if err != nil {
		t.Fatal(err)
	}
	out := func(name string) []float64 {
		for _, r := range g.Results {
			if r.Kind == ir.ResultOutput && r.Name == name {
				return env[r.Value].Data
			}
		}
		t.Fatalf("no output %s", name)
		return nil
	}
	x := bind["x"].Data
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	// mm returns v [k] @ w[:, lo:lo+m] for w of cols columns.
	mm := func(v []float64, w []float64, cols, lo, m int) []float64 {
		o := make([]float64, m)
		for k := range v {
			for j := 0; j < m; j++ {
				o[j] += v[k] * w[k*cols+lo+j]
			}
		}
		return o
	}
	lstm := func(name string) [][]float64 { // the h of every step, example-major
		k, rk, b := bind[name+".kernel"].Data, bind[name+".recurrent_kernel"].Data, bind[name+".bias"].Data
		var hs [][]float64
		for e := 0; e < n; e++ {
			h, c := make([]float64, u), make([]float64, u)
			for s := 0; s < T; s++ {
				xz := mm(x[(e*T+s)*D:(e*T+s+1)*D], k, 4*u, 0, 4*u)
				hz := mm(h, rk, 4*u, 0, 4*u)
				z := make([]float64, 4*u)
				for j := range z {
					z[j] = xz[j] + hz[j] + b[j]
				}
				nh := make([]float64, u)
				for j := 0; j < u; j++ {
					i, f, cc, o := sig(z[j]), sig(z[u+j]), math.Tanh(z[2*u+j]), sig(z[3*u+j])
					c[j] = f*c[j] + i*cc
					nh[j] = o * math.Tanh(c[j])
				}
				h = nh
				hs = append(hs, h)
			}
		}
		return hs
	}
	gru := func(name string, after bool) [][]float64 {
		k, rk, b := bind[name+".kernel"].Data, bind[name+".recurrent_kernel"].Data, bind[name+".bias"].Data
		bin, brec := b, make([]float64, 3*u)
		if after {
			bin, brec = b[:3*u], b[3*u:]
		}
		var hs [][]float64
		for e := 0; e < n; e++ {
			h := make([]float64, u)
			for s := 0; s < T; s++ {
				mx := mm(x[(e*T+s)*D:(e*T+s+1)*D], k, 3*u, 0, 3*u)
				for j := range mx {
					mx[j] += bin[j]
				}
				nh := make([]float64, u)
				if after {
					inner := mm(h, rk, 3*u, 0, 3*u)
					for j := range inner {
						inner[j] += brec[j]
					}
					for j := 0; j < u; j++ {
						z, r := sig(mx[j]+inner[j]), sig(mx[u+j]+inner[u+j])
						hh := math.Tanh(mx[2*u+j] + r*inner[2*u+j])
						nh[j] = z*h[j] + (1-z)*hh
					}
				} else {
					zr := mm(h, rk, 3*u, 0, 2*u)
					rh := make([]float64, u)
					for j := 0; j < u; j++ {
						rh[j] = sig(mx[u+j]+zr[u+j]) * h[j]
					}
					rec := mm(rh, rk, 3*u, 2*u, u)
					for j := 0; j < u; j++ {
						z := sig(mx[j] + zr[j])
						hh := math.Tanh(mx[2*u+j] + rec[j])
						nh[j] = z*h[j] + (1-z)*hh
					}
				}
				h = nh
				hs = append(hs, h)
			}
		}
		return hs
	}
	check := func(name string, got []float64, hs [][]float64, last bool) {
		var want []float64
		for i, h := range hs {
			if !last || i%T == T-1 {
				want = append(want, h...)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
		}
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-12 {
				t.Errorf("%s[%d] = %v, Keras's equations give %v", name, i, got[i], want[i])
			}
		}
	}
	check("a (lstm, return_sequences)", out("a"), lstm("a"), false)
	check("b (gru, reset_after)", out("b"), gru("b", true), false)
	check("c (gru, reset_after false)", out("c"), gru("c", false), false)
	check("d (lstm, last step)", out("d"), lstm("d"), true)

	// The parameters Keras creates, with its shapes.
	for name, shape := range map[string]ir.Shape{"a.kernel": {3, 8}, "a.recurrent_kernel": {2, 8}, "a.bias": {8},
		"b.kernel": {3, 6}, "b.recurrent_kernel": {2, 6}, "b.bias": {2, 6}, "c.bias": {6}} {
		if v := g.Lookup(name); v == nil || v.Op.Name != "param" || !v.Type.Shape.Equal(shape) {
			t.Errorf("param %s: got %v, want f32%v", name, v, shape)
		}
	}
	if v := g.Lookup("a.recurrent_kernel"); v != nil && v.Attrs.String("init") != "orthogonal" {
		t.Errorf("a.recurrent_kernel init %q, want orthogonal", v.Attrs.String("init"))
	}
	if v := g.Lookup("a.bias"); v != nil && v.Attrs.String("init") != "unit_forget_bias" {
		t.Errorf("a.bias init %q, want unit_forget_bias", v.Attrs.String("init"))
	}
}
