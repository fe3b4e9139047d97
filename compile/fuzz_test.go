package compile_test

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	cudagen "github.com/mdlc/mdlc/codegen/cuda"
	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/internal/gocheck"
)

// typeChecker type-checks a generated package (its .go files) as the Go
// compiler would, importing the runtime from this module's source.
type typeChecker struct {
	fset *token.FileSet
	imp  types.Importer
	dir  string
}

func newTypeChecker(t testing.TB) *typeChecker {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	return &typeChecker{fset: fset, imp: importer.ForCompiler(fset, "source", nil), dir: dir}
}

func (c *typeChecker) check(files map[string][]byte) error {
	var names []string
	for name := range files {
		if strings.HasSuffix(name, ".go") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var parsed []*ast.File
	for _, name := range names {
		f, err := parser.ParseFile(c.fset, filepath.Join(c.dir, name), files[name], parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		parsed = append(parsed, f)
	}
	conf := types.Config{Importer: c.imp}
	_, err := conf.Check("model", c.fset, parsed, nil)
	return err
}

func TestTypeChecker(t *testing.T) {
	src, err := os.ReadFile("../examples/mnist_mlp/mnist_mlp.mdl")
	if err != nil {
		t.Fatal(err)
	}
	res, err := compile.Build("m.mdl", src, "", compile.BuildOptions{Package: "m"})
	if err != nil {
		t.Fatal(err)
	}
	c := newTypeChecker(t)
	if err := c.check(res.Files); err != nil {
		t.Fatal(err)
	}
	res.Files["model.go"] = append(res.Files["model.go"], []byte("\nvar _ = undefinedName\n")...)
	if err := c.check(res.Files); err == nil {
		t.Fatal("an undefined name type-checks")
	}
}

// fuzzChecker is shared by the fuzz target's inputs: its importer keeps the
// runtime's packages once type-checked.
var fuzzChecker *typeChecker

// FuzzBuild takes arbitrary source through the whole compiler: a model
// `mdlc check` accepts must either be refused by the passes with a
// positioned error, or compile to Go (and CUDA launch code) that
// type-checks, never shadows a name (gocheck) and parses; nothing may panic.
// Seeds: the examples, the test models and every model of the lowering and
// syntax goldens.
func FuzzBuild(f *testing.F) {
	var seeds []string
	for _, pat := range []string{"../examples/*/*.mdl", "../codegen/go/testdata/models/*.mdl", "../dsl/testdata/ok/*.mdl"} {
		m, _ := filepath.Glob(pat)
		seeds = append(seeds, m...)
	}
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	ars, _ := filepath.Glob("../ir/lower/testdata/*/*.txtar")
	for _, p := range ars {
		if ar, err := txtar.ParseFile(p); err == nil {
			for _, file := range ar.Files {
				if filepath.Ext(file.Name) == ".mdl" {
					f.Add(file.Data)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		g, diags, err := compile.Load("fuzz.mdl", src, "")
		if err != nil || diags.HasErrors() || len(g.Values) > 3000 {
			return // refused by check (FuzzCheck covers it), or too big to build quickly
		}
		if _, err := compile.Plan(g, compile.Options{VerifyEach: true, MaxBatch: 4}); err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.mdl:") {
				t.Fatalf("a model check accepts fails in the passes without a position: %v\n%s", err, src)
			}
			return
		}
		files, err := compile.Generate(g, "fuzz.mdl", compile.BuildOptions{Package: "fuzz"})
		if err != nil {
			t.Fatalf("a planned model does not generate: %v\n%s", err, src)
		}
		cu, err := cudagen.Generate(g, cudagen.Options{Package: "fuzz", Source: "fuzz.mdl", Host: files})
		if err != nil {
			t.Fatalf("a planned model does not generate for CUDA: %v\n%s", err, src)
		}
		maps.Copy(files, cu)
		bad, _, err := gocheck.Shadows(files, nil)
		if err != nil || len(bad) > 0 {
			t.Fatalf("generated code: %v %v\n%s", err, bad, src)
		}
		if fuzzChecker == nil {
			fuzzChecker = newTypeChecker(t)
		}
		if err := fuzzChecker.check(files); err != nil {
			t.Fatalf("generated code does not type-check: %v\n%s", err, src)
		}
	})
}
