package passes_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
)

// TestPassGolden runs one pass on the `before` IR of each
// testdata/passes/*.txtar (the pass is named on the archive's first line,
// "pass: NAME"), verifies the result and compares its text with `after`.
func TestPassGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/passes/*.txtar")
	covered := map[string]bool{}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			ar, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(ar.Comment), "\n")
			name := strings.TrimSpace(strings.TrimPrefix(first, "pass:"))
			p := passes.Lookup(name)
			if p == nil {
				t.Fatalf("unknown pass %q", name)
			}
			covered[name] = true
			var before, after *txtar.File
			for i := range ar.Files {
				switch ar.Files[i].Name {
				case "before":
					before = &ar.Files[i]
				case "after":
					after = &ar.Files[i]
				}
			}
			g, err := ir.ParseText("before", before.Data)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Fn(g, &passes.Context{MaxBatch: 8}); err != nil {
				t.Fatal(err)
			}
			g.Renumber()
			if err := ir.Verify(g); err != nil {
				t.Fatalf("after %s: %v", name, err)
			}
			got := ir.Format(g)
			if *update {
				after.Data = []byte(got)
				os.WriteFile(path, txtar.Format(ar), 0o644)
				return
			}
			if diff := cmp.Diff(string(after.Data), got); diff != "" {
				t.Errorf("after %s (-want +got):\n%s", name, diff)
			}
			if _, err := ir.ParseText("after", []byte(got)); err != nil {
				t.Errorf("the result does not parse back: %v", err)
			}
		})
	}
	for _, p := range passes.Pipeline {
		if p.Name != "autodiff" && p.Name != "optimizer" && !covered[p.Name] {
			t.Errorf("pass %s has no before/after test in testdata/passes", p.Name)
		}
	}
}
