package api_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/mdlc/mdlc/codegen/internal/api"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/eval"
	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
)

// The learning rate a model's Spec reports (runtime.Optimizer.LearningRate
// at the step counter) is the one its update uses: with loss = w, the
// gradient is 1 and SGD moves w by exactly lr_t, measured here through the
// step graph in the float64 interpreter for every schedule, with and
// without warmup.
func TestOptimizerLearningRate(t *testing.T) {
	for _, settings := range []string{
		`lr: 0.1`,
		`lr: 0.1, schedule: "step", step_size: 4, gamma: 0.5`,
		`lr: 0.1, schedule: "exponential", decay_steps: 3, decay_rate: 0.7`,
		`lr: 0.1, schedule: "cosine", total_steps: 9, min_lr: 0.01`,
		`lr: 0.1, schedule: "cosine", total_steps: 9, warmup_steps: 5`,
		`lr: 0.1, schedule: "step", step_size: 2, warmup_steps: 3`,
	} {
		src := fmt.Sprintf("model M {\n input x: f32[N]\n param w: f32 = 0\n loss sum(w + x * 0)\n optimizer sgd(%s)\n}\n", settings)
		gs, diags := lower.Source("m.mdl", []byte(src))
		if len(diags) > 0 {
			t.Fatalf("%s: %v", settings, diags)
		}
		g := gs[0]
		if _, err := passes.Run(g, passes.Options{}); err != nil {
			t.Fatal(err)
		}
		o := api.Optimizer(g)
		if o == nil || o.Name != "sgd" {
			t.Fatalf("%s: optimizer %+v", settings, o)
		}
		bind := map[string]*ir.Tensor{"x": {Shape: []int{1}, Data: []float64{1}}, "w": ir.ScalarTensor(0), "optimizer.step": ir.ScalarTensor(0)}
		for step := int64(0); step < 12; step++ {
			before := bind["w"].Data[0]
			var err error
			if _, bind, err = eval.Step(g, 1, bind); err != nil {
				t.Fatal(err)
			}
			used, reported := before-bind["w"].Data[0], o.LearningRate(step)
			if math.Abs(used-reported) > 1e-12 {
				t.Errorf("%s: step %d: the update uses lr %.15g, Spec reports %.15g", settings, step, used, reported)
			}
		}
	}
}
