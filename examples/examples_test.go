package examples

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/lower"
)

// TestExamplesCheck lowers every bundled example without diagnostics.
func TestExamplesCheck(t *testing.T) {
	files, _ := filepath.Glob("*/*.mdl")
	if len(files) < 2 {
		t.Fatalf("found %d examples, want at least 2", len(files))
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		gs, diags := lower.Source(f, src)
		if len(diags) > 0 {
			t.Errorf("%s:\n%s", f, diags.Format(dsl.Sources{f: src}))
		}
		for _, g := range gs {
			if err := ir.Verify(g); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}
