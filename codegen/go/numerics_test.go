package gogen_test

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
)

// stepGraphs lowers src and runs the whole pipeline on each model.
func stepGraphs(t *testing.T, name string, src []byte, maxBatch int) []*ir.Graph {
	t.Helper()
	gs, diags := lower.Source(name, src)
	if diags.HasErrors() {
		t.Fatalf("%s", diags.Format(dsl.Sources{name: src}))
	}
	for _, g := range gs {
		if _, err := passes.Run(g, passes.Options{VerifyEach: true, MaxBatch: maxBatch}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return gs
}

// modelCases returns the examples, the test models and the golden models of
// the lowering tests, each as a harness case.
func modelCases(t *testing.T) []harnessCase {
	var cases []harnessCase
	add := func(name string, src []byte, n int) {
		for _, g := range stepGraphs(t, name, src, n+1) {
			// split: 1 runs every unit split over examples across the cores
			// (the driver has GOMAXPROCS cores), not only the large ones.
			cases = append(cases, harnessCase{name: name + ":" + g.Name, g: g, n: n, max: n + 1, seed: 7, steps: 3, glorot: attends(g), slack: attends(g) || recurs(g), split: 1})
		}
	}
	files, _ := filepath.Glob("../../examples/*/*.mdl")
	more, _ := filepath.Glob("testdata/models/*.mdl")
	for _, f := range append(files, more...) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		add(filepath.Base(f), src, 4)
	}
	oks, _ := filepath.Glob("../../ir/lower/testdata/ok/*.txtar")
	for _, f := range oks {
		ar, err := txtar.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range ar.Files {
			if file.Name == "input.mdl" {
				add(filepath.Base(f), file.Data, 3)
			}
		}
	}
	return cases
}

// TestGeneratedMatchesInterpreter compiles every example and test model to
// Go and checks outputs, loss, metrics, every gradient, and params and
// state after 3 optimizer steps against the float64 interpreter.
func TestGeneratedMatchesInterpreter(t *testing.T) {
	cases := modelCases(t)
	// Every op with a Go emitter must be exercised by some case.
	seen := map[string]bool{}
	for _, c := range cases {
		for _, v := range c.g.Values {
			seen[v.Op.Name] = true
		}
	}
	var missing []string
	for _, op := range ir.Ops() {
		if !op.Bound && !seen[op.Name] {
			missing = append(missing, op.Name)
		}
	}
	if len(missing) > 0 {
		t.Errorf("ops not covered by any model: %v", missing)
	}
	report := runHarness(t, cases, 1e-4)
	names := make([]string, 0, len(report))
	for n := range report {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, msg := range report[n] {
			t.Errorf("%s: %s", n, msg)
		}
	}
	t.Logf("%d models compared", len(cases))
}

// recurs reports whether g has a recurrence (a scan op).
func recurs(g *ir.Graph) bool {
	return slices.ContainsFunc(g.Values, func(v *ir.Value) bool { return v.Op.Family == ir.FamilyScan })
}

// attends reports whether g computes attention (a masked_softmax).
func attends(g *ir.Graph) bool {
	for _, v := range g.Values {
		if v.Op.Name == "masked_softmax" {
			return true
		}
	}
	return false
}
