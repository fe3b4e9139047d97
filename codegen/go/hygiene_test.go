package gogen_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	gogen "github.com/mdlc/mdlc/codegen/go"
	"github.com/mdlc/mdlc/codegen/internal/api"
	"github.com/mdlc/mdlc/internal/gocheck"
	"github.com/mdlc/mdlc/ir/lower"
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
func hostileNames(t *testing.T) []string {
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
	var out []string
	for s := range set {
		// A name the language reserves or cannot spell is not one a
		// model can give; everything else it accepts must work.
		probe := fmt.Sprintf("model Probe {\n input %s: f32[N, 2]\n output y = %s * 2\n}\n", s, s)
		if _, diags := lower.Source("probe.mdl", []byte(probe)); diags.HasErrors() || s == "_" {
			continue
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
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
	word := regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
	// Names the model calls stay functions: every other word of its source.
	declared := map[string]bool{}
	for _, s := range allopsNames {
		declared[s] = true
	}
	calls := map[string]bool{}
	for _, w := range word.FindAllString(string(src), -1) {
		calls[w] = !declared[w]
	}
	pool := hostileNames(t)
	var names []string
	for _, s := range pool {
		if !calls[s] {
			names = append(names, s)
		}
	}
	if len(names) < 300 {
		t.Fatalf("only %d hostile names", len(names))
	}
	var cases []harnessCase
	for i := 0; i*len(allopsNames) < len(names); i++ {
		rename := map[string]string{}
		for j, s := range allopsNames {
			rename[s] = names[(i*len(allopsNames)+j)%len(names)]
		}
		rename["AllOps"] = fmt.Sprintf("Hostile%d", i) // the model's name is the generated package's business
		model := word.ReplaceAllStringFunc(string(src), func(w string) string {
			if r, ok := rename[w]; ok {
				return r
			}
			return w
		})
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
	t.Logf("%d names in %d models", len(names), len(cases))
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
