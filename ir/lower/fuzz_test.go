package lower_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/lower"
)

// FuzzCheck runs parse + lower + verify on arbitrary input: it must never
// panic or hang, and a file without errors must lower to valid IR.
func FuzzCheck(f *testing.F) {
	seeds, _ := filepath.Glob("../../examples/*/*.mdl")
	more, _ := filepath.Glob("../../dsl/testdata/ok/*.mdl")
	for _, p := range append(seeds, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	ars, _ := filepath.Glob("testdata/*/*.txtar")
	syn, _ := filepath.Glob("../../dsl/testdata/syntax/*.txtar")
	for _, p := range append(ars, syn...) {
		if ar, err := txtar.ParseFile(p); err == nil {
			for _, file := range ar.Files {
				if filepath.Ext(file.Name) == ".mdl" {
					f.Add(file.Data)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		gs, diags := lower.Source("fuzz.mdl", src)
		if diags.HasErrors() {
			return
		}
		for _, g := range gs {
			if err := ir.Verify(g); err != nil {
				t.Fatalf("valid input lowered to invalid IR: %v\n%s", err, src)
			}
			text := ir.Format(g)
			if _, err := ir.ParseText("fuzz.ir", []byte(text)); err != nil {
				t.Fatalf("IR text does not parse back: %v\n%s", err, text)
			}
		}
	})
}
