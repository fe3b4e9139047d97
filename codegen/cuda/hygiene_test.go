package cuda_test

import (
	"bytes"
	"fmt"
	"go/token"
	"go/types"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/codegen/cuda"
	gogen "github.com/mdlc/mdlc/codegen/go"
	"github.com/mdlc/mdlc/codegen/internal/api"
	"github.com/mdlc/mdlc/internal/gocheck"
	"github.com/mdlc/mdlc/internal/gotool"
	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
)

// allopsNames are the names testdata/models/allops.mdl declares.
var allopsNames = strings.Fields("AllOps x k t lab p h a b c s sm r f sl g table oh w ci mm am z total acc2")

var word = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// TestHostileNames generates the CUDA target of allops.mdl with its names
// replaced by hostile ones: the target's reserved words (C, CUDA, the
// kernels' locals and helpers, the block macros, model_cuda.go's names),
// every word of the kernels and launch code generated for allops, Go's
// keywords and predeclared names. Every kernels.cu must compile, no Go
// declaration may shadow another (gocheck), and model_cuda.go may declare
// only names its namer knows; the first packages are also built and vetted.
func TestHostileNames(t *testing.T) {
	c, err := cuda.FindCompiler()
	if err != nil {
		t.Skipf("no CUDA compiler: %v", err)
	}
	src, err := os.ReadFile("../go/testdata/models/allops.mdl")
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, s := range append(append([]string(nil), cuda.Reserved...), api.Reserved...) {
		set[s] = true
	}
	for tok := token.BREAK; tok <= token.VAR; tok++ {
		set[tok.String()] = true
	}
	for _, s := range types.Universe.Names() {
		set[s] = true
	}
	m := testModel{"allops", "../go/testdata/models/allops.mdl", 8, passes.Default, "", ""}
	cu, goSrc := m.generate(t)
	for _, w := range word.FindAll(append(cu, goSrc...), -1) {
		set[string(w)] = true
		set[strings.ToLower(string(w))] = true
	}
	models, names := gocheck.Hostile(src, allopsNames, set)
	if names < 300 {
		t.Fatalf("only %d hostile names", names)
	}
	dir := gotool.TempModule(t, "hostile")
	var imports strings.Builder
	for i, model := range models {
		gs, diags := lower.Source("hostile.mdl", []byte(model))
		if diags.HasErrors() {
			t.Fatalf("%s", diags.Format(nil))
		}
		g := gs[0]
		if _, err := passes.Run(g, passes.Options{VerifyEach: true, MaxBatch: 8}); err != nil {
			t.Fatalf("%s: %v", g.Name, err)
		}
		pkg := fmt.Sprintf("h%d", i)
		// model_cuda.go builds on model.go's Model: no declaration of
		// either may shadow another, and model_cuda.go declares only
		// names its namer reserved or handed out.
		host, err := gogen.Generate(g, gogen.Options{Package: pkg, Source: "hostile.mdl"})
		if err != nil {
			t.Fatalf("%s: %v", g.Name, err)
		}
		files, known, err := cuda.GenerateNamed(g, cuda.Options{Package: pkg, Source: "hostile.mdl", Host: host})
		if err != nil {
			t.Fatalf("%s: %v", g.Name, err)
		}
		if err := syntaxCheck(c, t.TempDir(), files[cuda.CUFile]); err != nil {
			t.Errorf("%s: %v\n%s", g.Name, err, model)
		}
		maps.Copy(files, host)
		bad, _, err := gocheck.Shadows(files, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, declared, err := gocheck.Shadows(map[string][]byte{cuda.GoFile: files[cuda.GoFile]}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range declared {
			if !known(d) {
				bad = append(bad, fmt.Sprintf("%s declares %s, which its namer neither reserved nor handed out", cuda.GoFile, d))
			}
		}
		for _, b := range bad {
			t.Errorf("%s: %s\n%s", g.Name, b, model)
		}
		if i >= 3 {
			continue // building every package takes a minute; the checks above see what it would
		}
		files[cuda.PTXFile] = nil // go:embed needs the file, vet does not read it
		os.MkdirAll(filepath.Join(dir, pkg), 0o755)
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, pkg, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintf(&imports, "\t_ %q\n", "hostile/"+pkg)
	}
	main := fmt.Sprintf("package main\n\nimport (\n%s)\n\nfunc main() {}\n", imports.String())
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	gotool.Go(t, dir, nil, "vet", "./...")
	t.Logf("%d names in %d models", names, len(models))
}

// syntaxCheck compiles cu far enough to resolve every name: clang
// -fsyntax-only with the prelude (nvcc: to PTX).
func syntaxCheck(c *cuda.Compiler, dir string, cu []byte) error {
	if c.Kind != "clang" {
		_, err := c.CompilePTX(cu, cuda.DefaultArch)
		return err
	}
	prelude, src := filepath.Join(dir, "prelude.h"), filepath.Join(dir, "kernels.cu")
	if err := os.WriteFile(prelude, []byte(cuda.Prelude), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(src, cu, 0o644); err != nil {
		return err
	}
	cmd := exec.Command(c.Path, "-x", "cuda", "--cuda-device-only", "-nocudainc", "-nocudalib", "--cuda-gpu-arch="+cuda.DefaultArch,
		"-fsyntax-only", "-Wno-unknown-cuda-version", "-include", prelude, src)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v\n%s", err, stderr.String())
	}
	return nil
}
