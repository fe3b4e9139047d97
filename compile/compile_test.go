package compile_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	cudagen "github.com/mdlc/mdlc/codegen/cuda"
	gogen "github.com/mdlc/mdlc/codegen/go"
	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
)

// Every op of the op table is handled by each backend: an elementwise op
// by its operator or a line of the backend's table of scalar functions, any
// other computed op by the backend's template for its family.
func TestBackendsHandleEveryOp(t *testing.T) {
	for _, op := range ir.Ops() {
		if !gogen.Handles(op) {
			t.Errorf("op %s: the Go backend cannot compute it", op.Name)
		}
		if !cudagen.Handles(op) {
			t.Errorf("op %s: the CUDA backend cannot compute it", op.Name)
		}
	}
}

func readExample(t *testing.T) []byte {
	t.Helper()
	src, err := os.ReadFile("../examples/mnist_mlp/mnist_mlp.mdl")
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// Build takes a source through the passes to the files of a target.
func TestBuild(t *testing.T) {
	res, err := compile.Build("mnist_mlp.mdl", readExample(t), "", compile.BuildOptions{Package: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Graph.Plan == nil || res.Stats == nil || res.Stats.Ops == 0 {
		t.Fatalf("plan %v, stats %v", res.Graph.Plan, res.Stats)
	}
	for _, name := range []string{gogen.GoFile, gogen.AsmDeclFile, gogen.AsmFile} {
		if !compile.Ours(res.Files[name]) {
			t.Errorf("%s is missing or lacks the generated-code header", name)
		}
	}
	if res.Files[cudagen.GoFile] != nil {
		t.Error("the go target wrote CUDA files")
	}
	if _, err := compile.Build("mnist_mlp.mdl", readExample(t), "", compile.BuildOptions{Package: "m", Target: "tpu"}); err == nil || !strings.Contains(err.Error(), "unknown target") {
		t.Errorf("unknown target: %v", err)
	}
	if _, err := compile.Build("mnist_mlp.mdl", readExample(t), "", compile.BuildOptions{}); err == nil || !strings.Contains(err.Error(), "no package name") {
		t.Errorf("no package: %v", err)
	}
}

func TestLoad(t *testing.T) {
	two := []byte("model A {\n input x: f32[N, 2]\n output y = x * 2\n}\nmodel B {\n input x: f32[N, 2]\n output y = x + 1\n}\n")
	if _, _, err := compile.Load("two.mdl", two, ""); err == nil || !strings.Contains(err.Error(), "has 2 models") {
		t.Errorf("two models, none chosen: %v", err)
	}
	if g, _, err := compile.Load("two.mdl", two, "B"); err != nil || g.Name != "B" {
		t.Errorf("model B: %v, %v", g, err)
	}
	if _, _, err := compile.Load("two.mdl", two, "C"); err == nil || !strings.Contains(err.Error(), "no model C (models: [A B])") {
		t.Errorf("model C: %v", err)
	}
	if _, diags, err := compile.Load("bad.mdl", []byte("model M { output y = nope }"), ""); err == nil || !diags.HasErrors() {
		t.Errorf("bad source: %v %v", diags, err)
	}
}

// Plan leaves a plan at every level, and none when stopped early.
func TestPlanLevels(t *testing.T) {
	for _, level := range []passes.Level{passes.O0, passes.O1, passes.O2} {
		g, _, err := compile.Load("mnist_mlp.mdl", readExample(t), "")
		if err != nil {
			t.Fatal(err)
		}
		c, err := compile.Plan(g, compile.Options{Level: level, VerifyEach: true})
		if err != nil || g.Plan == nil || c.Stats.Planned != (level == passes.O2) {
			t.Errorf("-O%d: plan %v, err %v", level-passes.O0, g.Plan != nil, err)
		}
	}
	g, _, _ := compile.Load("mnist_mlp.mdl", readExample(t), "")
	if _, err := compile.Plan(g, compile.Options{Upto: "fuse"}); err != nil || g.Plan != nil {
		t.Errorf("stopped after fuse: plan %v, err %v", g.Plan != nil, err)
	}
}

// A pass's error about the source comes back as positioned diagnostics:
// a position from inside the message moves to the front, and memplan's
// size error gets the position of the value it is about.
func TestPlanDiagnostics(t *testing.T) {
	nesterov := []byte("model M {\n    input x: f32[N, 3]\n    target y: f32[N, 1]\n    loss mse(dense(x, 1), y)\n    optimizer sgd(lr: 0.1, nesterov: true)\n}\n")
	g, _, err := compile.Load("m:1.mdl", nesterov, "") // a file name with a colon
	if err != nil {
		t.Fatal(err)
	}
	_, err = compile.Plan(g, compile.Options{})
	var ds dsl.Diagnostics
	if !errors.As(err, &ds) || len(ds) != 1 || ds[0].Pos != (dsl.Pos{File: "m:1.mdl", Line: 5, Col: 15}) || ds[0].Msg != "sgd: nesterov needs momentum > 0" {
		t.Errorf("nesterov without momentum: %#v", err)
	}

	huge := []byte("model Huge {\n    input x: f32[N, 1000000]\n    param w: f32[1000000, 1000000] = glorot\n    loss mean(x @ w)\n    optimizer sgd(lr: 0.1)\n}\n")
	res, err := compile.Build("huge.mdl", huge, "", compile.BuildOptions{Package: "m"})
	want := "huge.mdl:3:11: param w f32[1000000, 1000000] is too large at batch 128: 1000000000000 elements (3.64 TiB as f32); a tensor may have at most 2^31"
	if err == nil || err.Error() != want || !res.Diags.HasErrors() || res.Diags[len(res.Diags)-1].String() != want {
		t.Errorf("huge param: err %v, diags %v; want %q", err, res.Diags, want)
	}
	wide := []byte("model Wide {\n    input x: f32[N, 4096]\n    output y = relu(x)\n}\n")
	_, err = compile.Build("wide.mdl", wide, "", compile.BuildOptions{Package: "m", Options: compile.Options{MaxBatch: 1 << 20}})
	if !errors.As(err, &ds) || ds[0].Pos.Line != 2 || ds[0].Hint != "this tensor fits at batch 524288 or below" {
		t.Errorf("wide input at batch 2^20: %v, hint %q", err, ds[0].Hint)
	}
	if _, err := compile.Build("wide.mdl", wide, "", compile.BuildOptions{Package: "m", Options: compile.Options{MaxBatch: 1 << 19}}); err != nil {
		t.Errorf("wide input at batch 2^19: %v", err)
	}
}

func TestFormatBytes(t *testing.T) {
	for _, c := range []struct {
		n    float64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.00 KiB"}, {1536, "1.50 KiB"}, {10 << 20, "10.0 MiB"}, {1 << 30, "1.00 GiB"},
		{4e12, "3.64 TiB"}, {300 * (1 << 50), "300 PiB"}, {1e30, "867361737988 EiB"}} {
		if got := compile.FormatBytes(c.n); got != c.want {
			t.Errorf("FormatBytes(%v) = %q, want %q", c.n, got, c.want)
		}
	}
}
