package examples

import (
	"errors"
	"math"
	"testing"

	"github.com/mdlc/mdlc/examples/mnist_mlp/mnistmlp"
	"github.com/mdlc/mdlc/runtime"
)

// hook is a runtime.AllReducer that records its calls and applies f.
type hook struct {
	grads, loss []float32
	n, calls    int
	f           func(grads, loss []float32) error
}

func (h *hook) ReduceStep(grads, loss []float32, n int) error {
	h.grads, h.loss, h.n = grads, loss, n
	h.calls++
	if h.f == nil {
		return nil
	}
	return h.f(grads, loss)
}

func (h *hook) ReduceState(state []float32) error { return errors.New("mnist_mlp has no layer state") }

func flat(ts []runtime.Tensor) []float32 {
	var out []float32
	for _, t := range ts {
		out = append(out, t.Data...)
	}
	return out
}

// TestAllReduceHook checks where a generated model calls its all-reduce
// hook (WithAllReduce): once per TrainStep, on the whole gradient block as
// the backward pass left it and on the loss, before the optimizer update
// reads them; an identity hook trains bit for bit as no hook, what the hook
// writes is what the update uses and TrainStep returns, and its error
// stops the step before the update.
func TestAllReduceHook(t *testing.T) {
	x, y := batch(32, 5)
	plain := mnistmlp.New()
	id := &hook{}
	withID := mnistmlp.New(mnistmlp.WithAllReduce(id))
	for step := range 3 {
		l1, err := plain.TrainStep(x, y, 32)
		if err != nil {
			t.Fatal(err)
		}
		l2, err := withID.TrainStep(x, y, 32)
		if err != nil {
			t.Fatal(err)
		}
		if math.Float32bits(l1) != math.Float32bits(l2) || id.calls != step+1 || id.n != 32 || len(id.loss) != 1 || id.loss[0] != l2 {
			t.Fatalf("step %d: loss %v with the hook, %v without; %d calls, n %d, loss %v", step, l2, l1, id.calls, id.n, id.loss)
		}
		// The hook saw the gradient block: the step's gradients, which
		// Grads() views after the step.
		g := flat(withID.Grads())
		if len(id.grads) != len(g) {
			t.Fatalf("the hook got %d gradients, the model has %d", len(id.grads), len(g))
		}
		for i := range g {
			if math.Float32bits(id.grads[i]) != math.Float32bits(g[i]) {
				t.Fatalf("gradient %d: the hook saw %v, Grads has %v", i, id.grads[i], g[i])
			}
		}
	}
	p1, p2 := flat(plain.Params()), flat(withID.Params())
	for i := range p1 {
		if math.Float32bits(p1[i]) != math.Float32bits(p2[i]) {
			t.Fatalf("param %d: %v with an identity hook, %v without", i, p2[i], p1[i])
		}
	}

	// A hook that zeroes the gradients (as if every other rank's canceled
	// them) and sets the loss: Adam's first step moves nothing, and the
	// loss returned is the hook's.
	zero := mnistmlp.New(mnistmlp.WithAllReduce(&hook{f: func(grads, loss []float32) error {
		clear(grads)
		loss[0] = 42
		return nil
	}}))
	before := flat(zero.Params())
	if l, err := zero.TrainStep(x, y, 32); err != nil || l != 42 {
		t.Fatalf("TrainStep: %v, %v; want the hook's loss 42", l, err)
	}
	for i, v := range flat(zero.Params()) {
		if v != before[i] {
			t.Fatalf("param %d moved from %v to %v on zero gradients: the update ran before the hook", i, before[i], v)
		}
	}

	// A failing hook: TrainStep returns its error and the parameters stay.
	fail := errors.New("rank 3 is gone")
	broken := mnistmlp.New(mnistmlp.WithAllReduce(&hook{f: func([]float32, []float32) error { return fail }}))
	before = flat(broken.Params())
	if _, err := broken.TrainStep(x, y, 32); !errors.Is(err, fail) {
		t.Fatalf("TrainStep: %v, want the hook's error", err)
	}
	for i, v := range flat(broken.Params()) {
		if v != before[i] {
			t.Fatalf("param %d changed in a failed step", i)
		}
	}
}
