package gogen_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gogen "github.com/mdlc/mdlc/codegen/go"
	"github.com/mdlc/mdlc/codegen/internal/api"
	"github.com/mdlc/mdlc/internal/gocheck"
)

// The hostile models are testdata/models/allops.mdl (every op, inputs and
// targets read by every kind of kernel) with every name it declares
// replaced by one drawn from hostileNames.
var allopsNames = strings.Fields("AllOps x k t lab p h a b c s sm r f sl g table oh w ci mm am z total acc2")

// hostileNames returns every identifier a user could pick that the code
// generator might also use: its reserved names and the API's, every
// identifier in the Go generated for the examples and test models (locals,
// loop variables, helpers, imports, fields), the list, and Go's
// keywords and predeclared identifiers.
func hostileNames(t *testing.T) map[string]bool {
	set := map[string]bool{}
	for _, s := range append(slices.Clone(gogen.Reserved), api.Reserved...) {
		set[s] = true
	}
	for tok := token.BREAK; tok <= token.VAR; tok++ {
		set[tok.String()] = true
	}
	for _, s := range types.Universe.Names() {
		set[s] = true
	}
	for _, s := range strings.Fields("a0 a1 sum mx base inv lse o vt i0 i1 j0 exp32 pow32 log32 sqrt32 row rows off dst src tmp v t p q g d") {
		set[s] = true
	}
	files, _ := filepath.Glob("../../examples/*/*/*.go")
	more, _ := filepath.Glob("testdata/models/*.mdl")
	for _, f := range more {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range stepGraphs(t, filepath.Base(f), src, 5) {
			gen, err := gogen.Generate(g, gogen.Options{Package: "p", Source: f, Version: "test", VecMinLen: 1})
			if err != nil {
				t.Fatal(err)
			}
			for name, src := range gen {
				if strings.HasSuffix(name, ".go") {
					collectIdents(t, name, src, set)
				}
			}
		}
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		collectIdents(t, f, src, set)
	}
	return set
}

func collectIdents(t *testing.T, name string, src []byte, set map[string]bool) {
	f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			set[id.Name] = true
		}
		return true
	})
}

// TestHostileNames compiles models whose every name is drawn from
// hostileNames and checks that what they compute matches the interpreter:
// no user name may capture or collide with one the generator uses.
func TestHostileNames(t *testing.T) {
	src, err := os.ReadFile("testdata/models/allops.mdl")
	if err != nil {
		t.Fatal(err)
	}
	models, names := gocheck.Hostile(src, allopsNames, hostileNames(t))
	if names < 300 {
		t.Fatalf("only %d hostile names", names)
	}
	var cases []harnessCase
	for i, model := range models {
		for _, g := range stepGraphs(t, fmt.Sprintf("hostile%d.mdl", i), []byte(model), 4) {
			cases = append(cases, harnessCase{name: g.Name, g: g, n: 3, max: 4, seed: uint64(i), steps: 2})
		}
	}
	for _, c := range cases {
		checkScopes(t, c)
	}
	report := runHarness(t, cases, 1e-4)
	for _, c := range cases {
		for _, msg := range report[c.name] {
			t.Errorf("%s: %s", c.name, msg)
		}
	}
	t.Logf("%d names in %d models", names, len(cases))
}

// checkScopes checks the scoping of the Go generated for c's graph, with
// and without vectorized loops: no generated declaration hides another name
// (shadows), and every name the generated code declares is one the
// generator's namer reserved or handed out, so that no name a model gives
// can ever meet one the generator made up.
func checkScopes(t *testing.T, c harnessCase) {
	t.Helper()
	for _, vec := range []int{0, 1} {
		files, known, err := gogen.GenerateNamed(c.g, gogen.Options{Package: "p", Source: c.name + ".mdl", Version: "test", VecMinLen: vec})
		if err != nil {
			t.Fatal(err)
		}
		bad, declared, err := gocheck.Shadows(files, gogen.IsHelper)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, b := range bad {
			t.Errorf("%s: %s", c.name, b)
		}
		for _, d := range declared {
			if !known(d) {
				t.Errorf("%s: the generated code declares %s, which its namer neither reserved nor handed out", c.name, d)
			}
		}
	}
}

// TestGeneratedScopes runs checkScopes on every example and test model.
func TestGeneratedScopes(t *testing.T) {
	for _, c := range modelCases(t) {
		checkScopes(t, c)
	}
}
