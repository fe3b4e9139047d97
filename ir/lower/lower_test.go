package lower_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/lower"
)

var update = flag.Bool("update", false, "rewrite golden files")

// lowerText lowers src and returns the IR text of every model and the
// formatted diagnostics.
func lowerText(t *testing.T, name string, src []byte) (string, string) {
	t.Helper()
	gs, diags := lower.Source(name, src)
	var b strings.Builder
	if !diags.HasErrors() {
		for _, g := range gs {
			if err := ir.Verify(g); err != nil {
				t.Fatalf("%s: lowered graph fails Verify: %v", name, err)
			}
			b.WriteString(ir.Format(g))
		}
	}
	return b.String(), diags.Format(dsl.Sources{name: src})
}

// golden compares got with the section named sec of a txtar archive, or
// rewrites it with -update.
func golden(t *testing.T, path string, ar *txtar.Archive, sec, got string) {
	t.Helper()
	for i := range ar.Files {
		if ar.Files[i].Name != sec {
			continue
		}
		want := string(ar.Files[i].Data)
		if *update {
			ar.Files[i].Data = []byte(got)
			if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: %s mismatch (-want +got); run go test -update to accept:\n%s", path, sec, diff)
		}
		return
	}
	t.Fatalf("%s: no section %q", path, sec)
}

func section(ar *txtar.Archive, name string) []byte {
	for _, f := range ar.Files {
		if f.Name == name {
			return f.Data
		}
	}
	return nil
}

// TestErrors checks the exact diagnostics of malformed inputs.
func TestErrors(t *testing.T) {
	files, _ := filepath.Glob("testdata/errors/*.txtar")
	if len(files) < 25 {
		t.Fatalf("%d error cases; want at least 25", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			ar, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, diags := lowerText(t, "input.mdl", section(ar, "input.mdl"))
			if !*update && !strings.Contains(diags, "input.mdl:") {
				t.Errorf("no diagnostics for a malformed input; got %q", diags)
			}
			golden(t, path, ar, "diagnostics", diags)
		})
	}
}

// TestLower checks the IR text of valid inputs; they must have no diagnostics.
func TestLower(t *testing.T) {
	files, _ := filepath.Glob("testdata/ok/*.txtar")
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			ar, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			text, diags := lowerText(t, "input.mdl", section(ar, "input.mdl"))
			if diags != "" {
				t.Fatalf("unexpected diagnostics:\n%s", diags)
			}
			golden(t, path, ar, "ir", text)
			roundTrip(t, text)
		})
	}
}

// TestExamples lowers every bundled example to its golden IR text.
func TestExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*/*.mdl")
	if len(files) < 2 {
		t.Fatalf("found %d examples", len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			text, diags := lowerText(t, name, src)
			if diags != "" {
				t.Fatalf("diagnostics:\n%s", diags)
			}
			path := filepath.Join("testdata", "examples", strings.TrimSuffix(name, ".mdl")+".txtar")
			ar, err := txtar.ParseFile(path)
			if os.IsNotExist(err) && *update {
				ar = &txtar.Archive{Comment: []byte("IR of examples/" + filepath.Base(filepath.Dir(f)) + "/" + name + " as lowered.\n"),
					Files: []txtar.File{{Name: "ir"}}}
				os.MkdirAll(filepath.Dir(path), 0o755)
			} else if err != nil {
				t.Fatal(err)
			}
			golden(t, path, ar, "ir", text)
			roundTrip(t, text)
		})
	}
}

// roundTrip checks that the IR text parses back to the same text.
func roundTrip(t *testing.T, text string) {
	t.Helper()
	for _, part := range strings.SplitAfter(text, "}\n") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		g, err := ir.ParseText("golden.ir", []byte(part))
		if err != nil {
			t.Fatalf("IR text does not parse back: %v", err)
		}
		if got := ir.Format(g); got != part {
			t.Errorf("IR text round trip differs:\n%s", cmp.Diff(part, got))
		}
	}
}

// binary_cross_entropy clamps its predictions at bounds that are float32
// values (1-1e-7 is not one), so that float32 code and the float64
// interpreter clamp at the same numbers.
func TestBCEClampIsFloat32(t *testing.T) {
	src := []byte("model M {\n    input p: f32[N, 1]\n    target y: f32[N, 1]\n    loss binary_cross_entropy(p, y)\n}\n")
	gs, diags := lower.Source("bce.mdl", src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	bound := map[string]float64{}
	for _, v := range gs[0].Values {
		if v.Op.Name == "minimum" || v.Op.Name == "maximum" {
			bound[v.Op.Name] = v.Args[1].Attrs.Float("value")
		}
	}
	lo, hi := float64(float32(1e-7)), 1-0x1p-23
	if bound["maximum"] != lo || bound["minimum"] != hi {
		t.Errorf("clamp bounds [%v, %v]; want [%v, %v] (float32 values)", bound["maximum"], bound["minimum"], lo, hi)
	}
}
