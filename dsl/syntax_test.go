package dsl

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the diagnostics sections of testdata/syntax/*.txtar")

// TestSyntaxErrors parses the input.mdl section of each testdata/syntax
// archive and compares the formatted diagnostics with its diagnostics
// section.
func TestSyntaxErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/syntax/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/syntax/*.txtar files")
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			src := section(t, ar, "input.mdl")
			_, diags := Parse("input.mdl", src)
			if !diags.HasErrors() {
				t.Errorf("no errors for input.mdl")
			}
			got := diags.Format(Sources{"input.mdl": src})
			if *update {
				setSection(ar, "diagnostics", got)
				if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want := string(section(t, ar, "diagnostics"))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("diagnostics mismatch (-want +got); rerun with -update if intended:\n%s", diff)
			}
		})
	}
}

func section(t *testing.T, ar *txtar.Archive, name string) []byte {
	t.Helper()
	for _, f := range ar.Files {
		if f.Name == name {
			return f.Data
		}
	}
	if name == "diagnostics" && *update {
		return nil
	}
	t.Fatalf("missing section %q", name)
	return nil
}

func setSection(ar *txtar.Archive, name, data string) {
	for i := range ar.Files {
		if ar.Files[i].Name == name {
			ar.Files[i].Data = []byte(data)
			return
		}
	}
	ar.Files = append(ar.Files, txtar.File{Name: name, Data: []byte(data)})
}
