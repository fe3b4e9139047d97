package passes_test

import (
	"testing"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
)

// TestTiedParamFlatUpdate: a param used twice (an embedding table tied to
// the output projection) has an elementwise sum of two gradients; the
// fused optimizer update still runs as one loop over the params block,
// reading that sum from the grads block like every other gradient.
func TestTiedParamFlatUpdate(t *testing.T) {
	src := []byte(`model Tied {
    input  x: i32[N, 3]
    target y: i32[N, 3]
    param  emb: f32[7, 4] = normal(0.5)
    logits = tanh(gather(emb, x)) @ transpose(emb) + param b: f32[7] = zeros
    loss cross_entropy(logits, y)
    optimizer adamw(lr: 0.01)
}`)
	gs, diags := lower.Source("tied.mdl", src)
	if len(diags) > 0 {
		t.Fatalf("%s", diags.Format(dsl.Sources{"tied.mdl": src}))
	}
	g := gs[0]
	if _, err := passes.Run(g, passes.Options{VerifyEach: true, MaxBatch: 4}); err != nil {
		t.Fatal(err)
	}
	flat := 0
	for _, u := range g.Plan.Units {
		if u.Flat != nil {
			flat++
			if len(u.Flat.Lanes) != len(g.Params()) {
				t.Errorf("the flat update has %d lanes, want one per param (%d)", len(u.Flat.Lanes), len(g.Params()))
			}
		}
	}
	if flat != 1 {
		t.Errorf("%d flat optimizer updates, want 1", flat)
	}
}
