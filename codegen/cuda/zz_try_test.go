package cuda

import (
	"os"
	"testing"

	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
	"github.com/mdlc/mdlc/ir"
)

func TestTry(t *testing.T) {
	for _, f := range []string{"../../examples/linreg/linreg.mdl", "../../examples/mnist_mlp/mnist_mlp.mdl", "../go/testdata/models/allops.mdl"} {
		src, _ := os.ReadFile(f)
		gs, d := lower.Source(f, src)
		if d.HasErrors() { t.Fatal(d) }
		g := gs[0]
		if _, err := passes.Run(g, passes.Options{VerifyEach: true}); err != nil { t.Fatal(err) }
		_ = ir.F32
		cu, gosrc, err := Generate(g, Options{Package: "x", Source: f, MaxBatch: 8})
		if err != nil { t.Fatal(err) }
		os.WriteFile("/tmp/out_"+g.Name+".cu", cu, 0o644)
		os.WriteFile("/tmp/out_"+g.Name+".go", gosrc, 0o644)
		for _, arch := range Archs {
			if _, err := CompilePTX(cu, arch); err != nil { t.Fatal(err) }
		}
	}
}
