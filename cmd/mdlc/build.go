package main

import (
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	cudagen "github.com/mdlc/mdlc/codegen/cuda"
	gogen "github.com/mdlc/mdlc/codegen/go"
	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
)

func cmdBuild(stdout, stderr io.Writer, args []string) int {
	fs := newFlags("build", "[-o DIR] [-pkg NAME] [-batch N] [-model NAME] FILE",
		"Compile a model to a Go package: DIR/model.go (DIR defaults to the current directory,\nso `//go:generate go tool mdlc build model.mdl` writes next to the .mdl file).", stderr)
	out := fs.String("o", ".", "output directory")
	pkg := fs.String("pkg", "", "package name (default: the package already in DIR, else DIR's name)")
	batch := fs.Int("batch", 128, "largest batch size the generated code accepts")
	model := fs.String("model", "", "the model to build when the file has several")
	verify := fs.Bool("verify-each", false, "verify the IR after every pass")
	stats := fs.Bool("stats", false, "print kernel and memory statistics of the planned step")
	target := fs.String("target", "go", "go, or cuda: also write kernels.cu, kernels.ptx and model_cuda.go (NewCUDA)")
	arch := fs.String("arch", cudagen.DefaultArch, "PTX architecture with -target cuda: sm_80 or sm_90")
	olevel := fs.Int("O", 2, "optimization level: 0 no rewrites, fusion or planning; 1 simplify, cse, dce; 2 all")
	dumpAfter := fs.String("dump-after", "", fmt.Sprintf("print the IR after this pass (one of %v) to stderr", passes.Names()))
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	if *batch < 1 || *batch > 1<<20 {
		fmt.Fprintf(stderr, "mdlc: -batch %d out of range 1..%d\n", *batch, 1<<20)
		return exitUsage
	}
	if *target != "go" && *target != "cuda" {
		fmt.Fprintf(stderr, "mdlc: -target %q: targets are go and cuda\n", *target)
		return exitUsage
	}
	if *olevel < 0 || *olevel > 2 {
		fmt.Fprintf(stderr, "mdlc: -O%d: levels are 0, 1 and 2\n", *olevel)
		return exitUsage
	}
	if *dumpAfter != "" && passes.Lookup(*dumpAfter) == nil {
		fmt.Fprintf(stderr, "mdlc: unknown pass %q (passes: %v)\n", *dumpAfter, passes.Names())
		return exitUsage
	}
	path := fs.Arg(0)
	name := *pkg
	if name == "" {
		name = packageName(*out)
	}
	if !validPackage(name) {
		fmt.Fprintf(stderr, "mdlc: %q is not a valid Go package name; choose one with -pkg\n", name)
		return exitUsage
	}
	src, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "mdlc: %v\n", err)
		return exitUsage
	}
	res, err := gogen.Build(path, src, *model,
		passes.Options{VerifyEach: *verify, DumpAfter: *dumpAfter, Dump: stderr, Print: ir.Print, Level: passes.O0 + passes.Level(*olevel), MaxBatch: *batch},
		gogen.Options{Package: name, MaxBatch: *batch, Version: Version})
	if len(res.Diags) > 0 {
		fmt.Fprint(stderr, res.Diags.Format(dsl.Sources{path: src}))
	}
	printWarnings(stderr, path, res.Warnings)
	if err != nil {
		if !res.Diags.HasErrors() {
			fmt.Fprintf(stderr, "mdlc: %v\n", err)
		}
		return exitError
	}
	if *stats {
		st, err := passes.Stats(res.Graph, *batch)
		if err != nil {
			fmt.Fprintf(stderr, "mdlc: %v\n", err)
			return exitError
		}
		fmt.Fprintf(stdout, "%s (model %s, -O%d, batch %d)\n%s", path, res.Graph.Name, *olevel, *batch, st.Format(st.Ops))
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintf(stderr, "mdlc: %v\n", err)
		return exitError
	}
	if err := writeIfChanged(filepath.Join(*out, "model.go"), res.Source); err != nil {
		fmt.Fprintf(stderr, "mdlc: %v\n", err)
		return exitError
	}
	if *target == "cuda" {
		cu, goSrc, err := cudagen.Generate(res.Graph, cudagen.Options{Package: name, Source: path, MaxBatch: *batch, Version: Version, Arch: *arch})
		if err != nil {
			fmt.Fprintf(stderr, "mdlc: %v\n", err)
			return exitError
		}
		ptx, err := cudagen.CompilePTX(cu, *arch)
		if err != nil {
			fmt.Fprintf(stderr, "mdlc: %v\n", err)
			return exitError
		}
		for file, data := range map[string][]byte{cudagen.CUFile: cu, cudagen.PTXFile: ptx, cudagen.GoFile: goSrc} {
			if err := writeIfChanged(filepath.Join(*out, file), data); err != nil {
				fmt.Fprintf(stderr, "mdlc: %v\n", err)
				return exitError
			}
		}
	}
	return exitOK
}

// writeIfChanged writes data to path unless the file already holds it
// (keeping its time stamp, so builds that depend on it stay cached).
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return writeAtomic(path, data)
}

// writeAtomic writes data to path through a temporary file and a rename.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".mdlc-*.go.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// packageName returns the package of the Go files already in dir (other
// than model.go), or a name made from the directory's base name.
func packageName(dir string) string {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if filepath.Base(f) == "model.go" || strings.HasSuffix(f, "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		if af, err := parser.ParseFile(fset, f, nil, parser.PackageClauseOnly); err == nil {
			return af.Name.Name
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "model"
	}
	var b strings.Builder
	for _, r := range strings.ToLower(filepath.Base(abs)) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if s == "" || unicode.IsDigit(rune(s[0])) {
		s = "model" + s
	}
	return s
}

func validPackage(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r < unicode.MaxASCII && unicode.IsLetter(r) || i > 0 && unicode.IsDigit(r)) {
			return false
		}
	}
	return !goKeywords[s]
}

var goKeywords = map[string]bool{"break": true, "case": true, "chan": true, "const": true, "continue": true, "default": true,
	"defer": true, "else": true, "fallthrough": true, "for": true, "func": true, "go": true, "goto": true, "if": true,
	"import": true, "interface": true, "map": true, "package": true, "range": true, "return": true, "select": true,
	"struct": true, "switch": true, "type": true, "var": true}
