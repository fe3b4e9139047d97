package gogen_test

import (
	"testing"
)

// binary_cross_entropy of saturated predictions: the generated float32 code
// and the float64 interpreter clamp at the same bounds (float32 values), so
// the loss and its gradients agree. With the bound 1-1e-7, which float32
// code rounds to 1-2^-23, -log(1-p) differed by 1% per saturated element.
func TestBCESaturatedMatchesInterpreter(t *testing.T) {
	src := []byte(`model BCE {
    input  x: f32[N, 4]
    target y: f32[N, 1]
    p = sigmoid(dense(x * 100, 1))
    output q = sigmoid(x * 0 + 100)     // 1 in float32 and float64: clamped high
    loss binary_cross_entropy(p, y) + binary_cross_entropy(q, x * 0) + binary_cross_entropy(1 - q, x * 0 + 1)
    optimizer sgd(lr: 0.01)
}
`)
	var cases []harnessCase
	for _, g := range stepGraphs(t, "bce.mdl", src, 9) {
		cases = append(cases, harnessCase{name: "bce.mdl:" + g.Name, g: g, n: 8, max: 9, seed: 3, steps: 2})
	}
	for name, msgs := range runHarness(t, cases, 1e-5) {
		for _, m := range msgs {
			t.Errorf("%s: %s", name, m)
		}
	}
}
