package dsl_test

import (
	"strings"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/lower"
)

// TestInlineParamLowers: `x * param s: f32[4] = normal(0.5, 1) + b` used to
// give "unknown function normal" (the initializer took "+ b"); now the
// param is initialized by normal(0.5, 1) and b is added to the product.
func TestInlineParamLowers(t *testing.T) {
	src := []byte("model M {\n    input x: f32[N, 4]\n    input b: f32[N, 4]\n    output y = x * param s: f32[4] = normal(0.5, 1) + b\n}\n")
	gs, diags := lower.Source("m.mdl", src)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	text := ir.Format(gs[0])
	for _, want := range []string{
		`%2 = param {dtype: f32, shape: [4], init: "normal", init_args: [0.5, 1]} : f32[4] "s"`,
		"%3 = mul %0, %2 : f32[N, 4]",
		"%4 = add %3, %1 : f32[N, 4]",
		"output y = %4",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("IR lacks %q:\n%s", want, text)
		}
	}
}
