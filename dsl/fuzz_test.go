package dsl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"
)

// FuzzParse checks that Parse never panics, always terminates, and returns a
// File whenever it reports nothing. Seeds: every testdata .mdl file and every
// input.mdl section of testdata/syntax. Crashers found by the fuzzer live in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	oks, _ := filepath.Glob("testdata/ok/*.mdl")
	for _, path := range oks {
		src, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	archives, _ := filepath.Glob("testdata/syntax/*.txtar")
	for _, path := range archives {
		ar, err := txtar.ParseFile(path)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range ar.Files {
			if file.Name == "input.mdl" {
				f.Add(file.Data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		start := time.Now()
		file, diags := Parse("fuzz.mdl", src)
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("Parse took %v on %d bytes", el, len(src))
		}
		if len(diags) == 0 && file == nil {
			t.Fatal("no diagnostics and no file")
		}
		if len(diags) > maxErrors+1 {
			t.Fatalf("%d diagnostics", len(diags))
		}
		for _, d := range diags {
			if d.Pos.File != "fuzz.mdl" || d.Pos.Line < 1 || d.Pos.Col < 1 || d.Pos.Offset > len(src) {
				t.Fatalf("bad position %+v for %q", d.Pos, d.Msg)
			}
			if strings.HasPrefix(d.Msg, "internal error") {
				t.Fatalf("parser panic: %s", d.Msg)
			}
		}
		_ = diags.Format(Sources{"fuzz.mdl": src})
		if file != nil && !diags.HasErrors() {
			Inspect(file, func(n Node) bool {
				if e, ok := n.(Expr); ok {
					_ = ExprString(e)
				}
				return true
			})
		}
	})
}
