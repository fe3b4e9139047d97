package cuda

import (
	"testing"

	"github.com/mdlc/mdlc/ir"
)

// Every op of the op table that is computed has a CUDA emitter: an
// elementwise op a scalar expression (its line of scalarOps), any other op
// an emitter (a contraction: a cuBLAS call).
func TestEmitterCoverage(t *testing.T) {
	for _, op := range ir.Ops() {
		switch {
		case op.Bound || op.Inline || op.View:
		case op.Kind == ir.KindElementwise:
			if scalarOps[op.Name] == nil {
				t.Errorf("elementwise op %s has no scalar expression", op.Name)
			}
		default:
			if _, ok := emitters[op.Name]; !ok {
				t.Errorf("op %s has no CUDA emitter", op.Name)
			}
		}
	}
}
