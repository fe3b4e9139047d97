package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mdlc/mdlc/examples/linreg/linreg"
	"github.com/mdlc/mdlc/examples/mnist_mlp/mnistmlp"
	"github.com/mdlc/mdlc/export/onnx/onnxpb"
)

// TestExport: mdlc export writes an ONNX file (IR 8, opset 17, N symbolic,
// the .mdl's names) with the initial weights or a checkpoint's, and
// refuses what it cannot export with a clear error. export/onnx's tests
// run the files with ONNX Runtime.
func TestExport(t *testing.T) {
	dir := t.TempDir()
	const mlp = "../../examples/mnist_mlp/mnist_mlp.mdl"
	ckpt := filepath.Join(dir, "mlp.safetensors")
	m := mnistmlp.New(mnistmlp.WithSeed(7))
	if err := m.Save(ckpt); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "linreg.safetensors")
	if err := linreg.New().Save(other); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "mlp.onnx")
	cases := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"export", "-h"}, exitOK, "usage: mdlc export"},
		{[]string{"export"}, exitUsage, "usage: mdlc export"},
		{[]string{"export", "-format", "tflite", mlp}, exitUsage, `-format "tflite": the only format is onnx`},
		{[]string{"export", "-checkpoint", filepath.Join(dir, "missing"), "-o", out, mlp}, exitError, "no such file"},
		{[]string{"export", "-checkpoint", other, "-o", out, mlp}, exitError, "saved by model LinReg, not MnistMLP"},
		{[]string{"export", "-o", out, "../../codegen/go/testdata/models/allops.mdl"}, exitError, "model AllOps has no outputs to export"},
		{[]string{"export", "-eval", "-o", filepath.Join(dir, "allops.onnx"), "../../codegen/go/testdata/models/allops.mdl"}, exitOK, ""},
		{[]string{"export", "-o", filepath.Join(dir, "sched.onnx"), "../../codegen/go/testdata/models/schedules.mdl"}, exitUsage, "has 3 models; choose one with -model"},
		{[]string{"export", "-model", "Cosine", "-o", filepath.Join(dir, "sched.onnx"), "../../codegen/go/testdata/models/schedules.mdl"}, exitOK, ""},
		{[]string{"export", "-format", "onnx", "-checkpoint", ckpt, "-o", out, mlp}, exitOK, ""},
	}
	for _, c := range cases {
		code, _, errOut := mdlc(c.args...)
		if code != c.code || !strings.Contains(errOut, c.err) || c.err == "" && errOut != "" {
			t.Errorf("mdlc %s: exit %d, stderr %q; want exit %d, stderr containing %q",
				strings.Join(c.args, " "), code, errOut, c.code, c.err)
		}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var model onnxpb.ModelProto
	if err := proto.Unmarshal(data, &model); err != nil {
		t.Fatal(err)
	}
	if model.GetIrVersion() != 8 || len(model.OpsetImport) != 1 || model.OpsetImport[0].GetVersion() != 17 {
		t.Errorf("IR version %d, opsets %v; want 8 and 17", model.GetIrVersion(), model.OpsetImport)
	}
	g := model.Graph
	if len(g.Input) != 1 || g.Input[0].GetName() != "image" || len(g.Output) != 1 || g.Output[0].GetName() != "probs" {
		t.Fatalf("inputs %v, outputs %v; want image and probs", g.Input, g.Output)
	}
	if d := g.Input[0].Type.GetTensorType().Shape.Dim; len(d) != 2 || d[0].GetDimParam() != "N" || d[1].GetDimValue() != 784 {
		t.Errorf("input image has dims %v, want [N, 784]", d)
	}
	// The initializers are the checkpoint's weights, not seed 1's.
	got := map[string]*onnxpb.TensorProto{}
	for _, init := range g.Initializer {
		got[init.GetName()] = init
	}
	for _, p := range m.Params() {
		init := got[p.Name]
		if init == nil {
			t.Errorf("no initializer %s", p.Name)
			continue
		}
		raw := init.RawData
		if len(raw) != 4*len(p.Data) {
			t.Errorf("initializer %s: %d bytes for %d floats", p.Name, len(raw), len(p.Data))
			continue
		}
		for i, x := range p.Data {
			if b := uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24; b != math.Float32bits(x) {
				t.Errorf("initializer %s[%d] differs from the checkpoint's %v", p.Name, i, x)
				break
			}
		}
	}
}
