package gogen

import (
	"testing"

	"github.com/mdlc/mdlc/ir"
)

// Every op of the op table that is computed has a Go emitter: an
// elementwise op a scalar expression (its line of scalarOps), any other op
// an emitter.
func TestEmitterCoverage(t *testing.T) {
	for _, op := range ir.Ops() {
		switch {
		case op.Bound || op.Inline || op.View:
		case op.Kind == ir.KindElementwise:
			if scalarOps[op.Name] == nil {
				t.Errorf("elementwise op %s has no scalar expression", op.Name)
			}
		case emitters[op.Name] == nil:
			t.Errorf("op %s has no Go emitter", op.Name)
		}
	}
}
