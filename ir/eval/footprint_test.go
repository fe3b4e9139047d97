package eval

import (
	"testing"

	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
)

// Footprint counts every value at the batch size, the loss graph once more
// and one param copy, without overflowing on huge shapes.
func TestFootprint(t *testing.T) {
	gs, diags := lower.Source("f.mdl", []byte("model M {\n    input x: f32[N, 3]\n    param w: f32[3, 2] = 1\n    loss mean(x @ w)\n}\n"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	g := gs[0]
	if _, err := passes.Run(g, passes.Options{Upto: "autodiff", VerifyEach: true}); err != nil {
		t.Fatal(err)
	}
	const n = 5
	var all, fwd float64
	for _, v := range g.Values {
		k := 1.0
		for _, d := range v.Type.Shape.Resolve(n) {
			k *= float64(d)
		}
		all += k
	}
	for _, v := range lossGraph(g, g.Loss()).Values {
		if !v.Op.Bound {
			k := 1.0
			for _, d := range v.Type.Shape.Resolve(n) {
				k *= float64(d)
			}
			fwd += k
		}
	}
	got, largest := Footprint(g, n)
	if want := 8 * (all + fwd + 6); got != want {
		t.Errorf("Footprint = %v bytes, want %v", got, want)
	}
	if largest == nil || largest.Type.Shape.Resolve(n)[0] != n {
		t.Errorf("largest value %v; want one of f32[N, 3]", largest)
	}
	if got, _ := Footprint(g, 1<<62); got < 1e19 || got > 1e25 {
		t.Errorf("Footprint at batch 2^62 = %v; want about 4e20 (no overflow)", got)
	}
}
