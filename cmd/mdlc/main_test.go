package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	cudagen "github.com/mdlc/mdlc/codegen/cuda"
	"github.com/mdlc/mdlc/internal/gotool"
)

func mdlc(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(&o, &e, args)
	return code, o.String(), e.String()
}

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.mdl")
	os.WriteFile(bad, []byte("model M {\n    input x: f32[N, 3]\n    output y = reul(x)\n}\n"), 0o644)
	cases := []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{}, exitUsage, "", "usage: mdlc"},
		{[]string{"-h"}, exitOK, "commands:", ""},
		{[]string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{[]string{"version"}, exitOK, "mdlc " + Version, ""},
		{[]string{"check", "-h"}, exitOK, "", "usage: mdlc check"},
		{[]string{"dump", "-h"}, exitOK, "", "usage: mdlc dump"},
		{[]string{"build", "-h"}, exitOK, "", "usage: mdlc build"},
		{[]string{"gradcheck", "-h"}, exitOK, "", "usage: mdlc gradcheck"},
		{[]string{"version", "-h"}, exitOK, "", "usage: mdlc version"},
		{[]string{"check"}, exitUsage, "", "usage: mdlc check"},
		{[]string{"check", "-nosuchflag", "x.mdl"}, exitUsage, "", "flag provided but not defined"},
		{[]string{"check", "../../examples/linreg/linreg.mdl"}, exitOK, "model LinReg: ", ""},
		{[]string{"check", bad}, exitError, "", "unknown function reul; did you mean relu?"},
		{[]string{"check", filepath.Join(dir, "missing.mdl")}, exitError, "", "no such file"},
		{[]string{"dump", "../../examples/linreg/linreg.mdl"}, exitOK, "graph LinReg {", ""},
		{[]string{"dump", "-after=autodiff", "../../examples/linreg/linreg.mdl"}, exitOK, "grad theta0 =", ""},
		{[]string{"dump", "-after=optimizer", "../../examples/linreg/linreg.mdl"}, exitOK, "update theta0 =", ""},
		{[]string{"dump", "-after=nosuch", "../../examples/linreg/linreg.mdl"}, exitUsage, "", `unknown pass "nosuch"`},
		{[]string{"gradcheck", "../../examples/mnist_mlp/mnist_mlp.mdl"}, exitOK, "hidden.w", ""},
		{[]string{"gradcheck", "../../codegen/go/testdata/models/seq.mdl"}, exitOK, "a.recurrent_kernel", ""}, // lstm, gru over 6 steps
		{[]string{"build", "-o", filepath.Join(dir, "out"), "-pkg", "func", "../../examples/linreg/linreg.mdl"}, exitUsage, "", "not a valid Go package name"},
		{[]string{"build", "-o", filepath.Join(dir, "out"), "-pkg", "_", "../../examples/linreg/linreg.mdl"}, exitUsage, "", "not a valid Go package name"},
		{[]string{"build", "-o", filepath.Join(dir, "out"), "-pkg", "main", "../../examples/linreg/linreg.mdl"}, exitUsage, "", "not a valid Go package name"},
		{[]string{"build", "-batch", "0", "../../examples/linreg/linreg.mdl"}, exitUsage, "", "-batch 0 out of range"},
		{[]string{"build", "-stats", "-batch", "32", "-o", filepath.Join(dir, "catsdogs"), "../../examples/catsdogs/catsdogs.mdl"}, exitOK, "3,453,121 parameters", ""},
		{[]string{"build", "-o", filepath.Join(dir, "out"), bad}, exitError, "", "reul"},
	}
	for _, c := range cases {
		code, out, errOut := mdlc(c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.err) {
			t.Errorf("mdlc %s: exit %d, stdout %q, stderr %q; want exit %d, stdout containing %q, stderr containing %q",
				strings.Join(c.args, " "), code, out, errOut, c.code, c.out, c.err)
		}
	}
}

// positioned fails unless every diagnostic in stderr (a line that does not
// start with a blank) starts with path:line:col:, and there is one.
func positioned(t *testing.T, what, path, stderr string) {
	t.Helper()
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(path) + `:\d+:\d+: `)
	n := 0
	for _, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		if !re.MatchString(line) {
			t.Errorf("%s: diagnostic without file:line:col: first: %q\nstderr:\n%s", what, line, stderr)
		}
		n++
	}
	if n == 0 {
		t.Errorf("%s: no diagnostic", what)
	}
}

// Errors of the passes and size errors put file:line:col: first, with the
// source line, in check, build, dump and gradcheck alike; check prints the
// warnings of the passes (its exit status stays 0); gradcheck refuses a
// model or batch too large for memory before allocating it.
func TestPassDiagnostics(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nesterov := write("nesterov.mdl", "model M {\n    input x: f32[N, 3]\n    target y: f32[N, 1]\n    loss mse(dense(x, 1), y)\n    optimizer sgd(lr: 0.1, nesterov: true)\n}\n")
	huge := write("huge.mdl", "model Huge {\n    input x: f32[N, 1000000]\n    param w: f32[1000000, 1000000] = glorot\n    loss mean(x @ w)\n    optimizer sgd(lr: 0.1)\n}\n")
	wide := write("wide.mdl", "model Wide {\n    input x: f32[N, 4096]\n    output y = relu(x)\n}\n")
	unused := write("unused.mdl", "model M {\n    input x: f32[N, 3]\n    target y: f32[N, 1]\n    param unused: f32[4] = zeros\n    loss mse(dense(x, 1), y)\n    optimizer sgd(lr: 0.1)\n}\n")
	out := filepath.Join(dir, "out")
	mnist := "../../examples/mnist_mlp/mnist_mlp.mdl"
	cases := []struct {
		args []string
		path string
		code int
		err  string
	}{
		{[]string{"check", nesterov}, nesterov, exitError, nesterov + ":5:15: sgd: nesterov needs momentum > 0\n        optimizer sgd("},
		{[]string{"build", "-o", out, nesterov}, nesterov, exitError, nesterov + ":5:15: sgd: nesterov needs momentum > 0\n"},
		{[]string{"dump", "-after=optimizer", nesterov}, nesterov, exitError, nesterov + ":5:15: sgd: nesterov needs momentum > 0\n"},
		{[]string{"build", "-o", out, huge}, huge, exitError, huge + ":3:11: param w f32[1000000, 1000000] is too large at batch 128: 1000000000000 elements (3.64 TiB as f32)"},
		{[]string{"build", "-o", out, "-batch", "1048576", wide}, wide, exitError, wide + ":2:11: input x f32[N, 4096] is too large at batch 1048576: 4294967296 elements (16.0 GiB as f32); a tensor may have at most 2^31\n        input x: f32[N, 4096]\n              ^\n    hint: this tensor fits at batch 524288 or below\n"},
		{[]string{"gradcheck", huge}, huge, exitError, huge + ":3:11: gradcheck of model Huge at batch 3 needs 21.8 TiB of float64 tensors, more than the limit of 1.00 GiB (-max-mib 1024); the largest is param w f32[1000000, 1000000] (7.28 TiB)"},
		{[]string{"gradcheck", "-n", "100000000", mnist}, mnist, exitError, mnist + ":4:12: gradcheck of model MnistMLP at batch 100000000 needs 2.37 TiB of float64 tensors"},
		{[]string{"gradcheck", "-n", "4", "-max-mib", "1", mnist}, mnist, exitError, "more than the limit of 1.00 MiB (-max-mib 1)"},
		{[]string{"check", unused}, unused, exitOK, unused + ":4:11: warning: parameter unused does not affect the loss; its gradient is always zero\n        param unused"},
	}
	for _, c := range cases {
		code, _, errOut := mdlc(c.args...)
		what := "mdlc " + strings.Join(c.args, " ")
		if code != c.code || !strings.Contains(errOut, c.err) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d, stderr containing %q", what, code, errOut, c.code, c.err)
		}
		positioned(t, what, c.path, errOut)
	}
	// The same warning text from check, gradcheck and build.
	var warnings []string
	for _, args := range [][]string{{"check", unused}, {"gradcheck", unused}, {"build", "-o", out, unused}} {
		code, _, errOut := mdlc(args...)
		if code != exitOK {
			t.Errorf("mdlc %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		warnings = append(warnings, errOut)
	}
	if warnings[0] != warnings[1] || warnings[0] != warnings[2] {
		t.Errorf("check, gradcheck and build warn differently:\n%s\n%s\n%s", warnings[0], warnings[1], warnings[2])
	}
}

// TestReadmeTour checks every model of README.md as written: each fenced
// block of .mdl source (no language tag, or mdl, with a line that starts
// with "model ") goes through mdlc check with no diagnostic at all, and
// each of its models builds with mdlc build to a Go package that compiles
// (go vet, in a module of its own).
func TestReadmeTour(t *testing.T) {
	mod := gotool.TempModule(t, "readmetour")
	built := 0
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	fence := regexp.MustCompile("(?ms)^```([a-z]*)\n(.*?)^```")
	model := regexp.MustCompile(`(?m)^model \w+`)
	dir := t.TempDir()
	n := 0
	for i, m := range fence.FindAllStringSubmatch(string(readme), -1) {
		if (m[1] != "" && m[1] != "mdl") || !model.MatchString(m[2]) {
			continue
		}
		n++
		path := filepath.Join(dir, fmt.Sprintf("readme%d.mdl", i))
		if err := os.WriteFile(path, []byte(m[2]), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := mdlc("check", path)
		if code != exitOK || errOut != "" {
			t.Errorf("README.md block %d: mdlc check: exit %d\n%s\nsource:\n%s", i, code, errOut, m[2])
		}
		for _, name := range model.FindAllString(m[2], -1) {
			if !strings.Contains(out, ": "+name+": ") {
				t.Errorf("README.md block %d: check did not report %s: %q", i, name, out)
			}
			model := strings.TrimPrefix(name, "model ")
			pkg := filepath.Join(mod, strings.ToLower(fmt.Sprintf("b%d%s", i, model)))
			if code, _, errOut := mdlc("build", "-batch", "4", "-model", model, "-o", pkg, path); code != exitOK {
				t.Errorf("README.md block %d: mdlc build -model %s: exit %d\n%s", i, model, code, errOut)
				continue
			}
			built++
		}
	}
	if n == 0 {
		t.Fatal("no model in README.md's fenced blocks")
	}
	if built > 0 {
		gotool.Go(t, mod, nil, "vet", "./...")
	}
}

func TestBuildWritesPackage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "linregmodel")
	if code, _, errOut := mdlc("build", "-o", out, "-batch", "8", "../../examples/linreg/linreg.mdl"); code != 0 {
		t.Fatalf("build: %s", errOut)
	}
	src, err := os.ReadFile(filepath.Join(out, "model.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"// Code generated by mdlc v" + Version + " from linreg.mdl. DO NOT EDIT.", "package linregmodel", "MaxBatch = 8"} {
		if !bytes.Contains(src, []byte(want)) {
			t.Errorf("generated file lacks %q", want)
		}
	}
	st1, _ := os.Stat(filepath.Join(out, "model.go"))
	if code, _, errOut := mdlc("build", "-o", out, "-batch", "8", "../../examples/linreg/linreg.mdl"); code != 0 {
		t.Fatalf("rebuild: %s", errOut)
	}
	st2, _ := os.Stat(filepath.Join(out, "model.go"))
	if !st1.ModTime().Equal(st2.ModTime()) {
		t.Errorf("an unchanged rebuild rewrote the file")
	}
}

// TestGoGenerateDownstream makes a module that depends on mdlc through a
// tool line, runs go generate (//go:generate go tool mdlc build model.mdl)
// and then go test on the generated package.
func TestGoGenerateDownstream(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module")
	}
	_, file, _, _ := runtime.Caller(0)
	root, _ := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	dir := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/downstream\n\ngo 1.26\n\ntool github.com/mdlc/mdlc/cmd/mdlc\n\nrequire github.com/mdlc/mdlc v0.0.0\n\nreplace github.com/mdlc/mdlc => "+root+"\n")
	sum, _ := os.ReadFile(filepath.Join(root, "go.sum"))
	write("go.sum", string(sum))
	mdl, _ := os.ReadFile(filepath.Join(root, "examples", "linreg", "linreg.mdl"))
	write("fit/model.mdl", string(mdl))
	write("fit/fit.go", "// Package fit fits a line.\npackage fit\n\n//go:generate go tool mdlc build -batch 5 model.mdl\n")
	write("fit/fit_test.go", `package fit

import "testing"

func TestFit(t *testing.T) {
	m := New(WithSeed(1))
	x := []float32{1, 2, 3, 4, 5}
	y := []float32{2, 4, 5, 4, 5}
	var loss float32
	for i := 0; i < 1000; i++ {
		var err error
		if loss, err = m.TrainStep(x, y, 5); err != nil {
			t.Fatal(err)
		}
	}
	if loss > 0.49 {
		t.Fatalf("loss %v after 1000 steps", loss)
	}
}
`)
	// An inference-only model (no loss) and one without an optimizer build too.
	write("infer/model.mdl", "model Infer {\n    input x: f32[N, 4]\n    output y = softmax(dense(x, 3))\n}\n")
	write("infer/infer.go", "// Package infer only predicts.\npackage infer\n\n//go:generate go tool mdlc build -batch 8 model.mdl\n")
	write("infer/infer_test.go", `package infer

import (
	"strings"
	"testing"

	"github.com/mdlc/mdlc/runtime"
)

func TestInfer(t *testing.T) {
	m := New()
	y, err := m.Forward(make([]float32, 2*4), 2)
	if err != nil || len(y) != 2*3 {
		t.Fatalf("Forward: %v, %d outputs", err, len(y))
	}
	if s := y[0] + y[1] + y[2]; s < 0.999 || s > 1.001 {
		t.Fatalf("softmax row sums to %v", s)
	}
	if _, err := m.Train(runtime.Batch{{F32: make([]float32, 8)}}, 2); err == nil || !strings.Contains(err.Error(), "cannot be trained") {
		t.Fatalf("Train of an inference-only model: %v", err)
	}
}
`)
	gocmd := func(args ...string) string {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	gocmd("mod", "tidy") // what `go get -tool` leaves behind: the tool's requirements in go.mod
	gocmd("generate", "./...")
	if _, err := os.Stat(filepath.Join(dir, "fit", "model.go")); err != nil {
		t.Fatalf("go generate did not write fit/model.go: %v", err)
	}
	if out := gocmd("test", "./..."); !strings.Contains(out, "ok") {
		t.Fatalf("go test: %s", out)
	}
}

// TestBuildAsmFiles: a model with vectorizable loops gets model_amd64.go
// and model_amd64.s next to model.go; rebuilding the directory with a model
// that has none removes them, but not a file of that name mdlc did not write.
func TestBuildAsmFiles(t *testing.T) {
	out := filepath.Join(t.TempDir(), "pkg")
	asmFiles := []string{"model_amd64.go", "model_amd64.s"}
	if code, _, errOut := mdlc("build", "-o", out, "-pkg", "pkg", "../../examples/mnist_mlp/mnist_mlp.mdl"); code != 0 {
		t.Fatalf("build: %s", errOut)
	}
	for _, f := range asmFiles {
		data, err := os.ReadFile(filepath.Join(out, f))
		if err != nil || !bytes.HasPrefix(data, []byte("// Code generated by mdlc v"+Version)) {
			t.Fatalf("%s: %v, header %q", f, err, data[:min(len(data), 40)])
		}
	}
	if code, _, errOut := mdlc("build", "-o", out, "-pkg", "pkg", "-batch", "8", "../../examples/linreg/linreg.mdl"); code != 0 {
		t.Fatalf("rebuild: %s", errOut)
	}
	for _, f := range asmFiles {
		if _, err := os.Stat(filepath.Join(out, f)); !os.IsNotExist(err) {
			t.Errorf("%s survived a rebuild without AVX2 loops: %v", f, err)
		}
	}
	mine := []byte("//go:build amd64\n\npackage pkg\n")
	os.WriteFile(filepath.Join(out, "model_amd64.go"), mine, 0o644)
	if code, _, errOut := mdlc("build", "-o", out, "-pkg", "pkg", "-batch", "8", "../../examples/linreg/linreg.mdl"); code != 0 {
		t.Fatalf("rebuild: %s", errOut)
	}
	if data, err := os.ReadFile(filepath.Join(out, "model_amd64.go")); err != nil || !bytes.Equal(data, mine) {
		t.Errorf("a model_amd64.go mdlc did not write was changed or removed: %v", err)
	}
	// A build that would replace it fails and writes nothing.
	before, _ := os.ReadFile(filepath.Join(out, "model.go"))
	code, _, errOut := mdlc("build", "-o", out, "-pkg", "pkg", "../../examples/mnist_mlp/mnist_mlp.mdl")
	if code != exitError || !strings.Contains(errOut, "model_amd64.go exists and was not generated by mdlc") {
		t.Errorf("build over a user's model_amd64.go: exit %d, %q", code, errOut)
	}
	after, _ := os.ReadFile(filepath.Join(out, "model.go"))
	data, _ := os.ReadFile(filepath.Join(out, "model_amd64.go"))
	if !bytes.Equal(before, after) || !bytes.Equal(data, mine) {
		t.Errorf("the failed build changed files")
	}
}

// -target cuda writes the CUDA files beside the Go package, with the
// generated-code header on each, and a later -target go build removes them.
func TestBuildCUDA(t *testing.T) {
	if _, err := cudagen.FindCompiler(); err != nil {
		t.Skipf("no CUDA compiler: %v", err)
	}
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run(&stdout, &stderr, []string{"build", "-target", "cuda", "-o", dir, "-pkg", "m", "../../examples/linreg/linreg.mdl"}); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, name := range []string{"model.go", "kernels.cu", "kernels.ptx", "model_cuda.go"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.HasPrefix(data, []byte("// Code generated by mdlc ")) {
			t.Errorf("%s: %v, header %q", name, err, firstLine(data))
		}
	}
	if code := run(&stdout, &stderr, []string{"build", "-o", dir, "-pkg", "m", "../../examples/linreg/linreg.mdl"}); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "kernels.cu")); err == nil {
		t.Error("a build for the go target left kernels.cu behind")
	}
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return string(line)
}
