package onnx_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/export/onnx"
	"github.com/mdlc/mdlc/internal/randmodel"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/eval"
	"github.com/mdlc/mdlc/ir/lower"
)

var randomModels = flag.Int("random-models", 40, "random models in TestExportRandomModels")

// The tools the tests run the exported files with: ONNX Runtime
// (onnxruntime-node, installed in testdata/ort by npm ci --ignore-scripts)
// and the ONNX checker (Debian's python3-onnx). Without them the tests
// skip, unless MDLC_CI=1, where they fail.

func require(t *testing.T, ok bool, msg string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("MDLC_CI") == "1" {
		t.Fatal(msg + " (MDLC_CI=1: required)")
	}
	t.Skip(msg)
}

func ortDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "ort"))
	if err != nil {
		t.Fatal(err)
	}
	_, errNode := exec.LookPath("node")
	require(t, errNode == nil, "node is not installed")
	_, errMod := os.Stat(filepath.Join(dir, "node_modules", "onnxruntime-node"))
	require(t, errMod == nil, "onnxruntime-node is not installed: run npm ci --ignore-scripts in export/onnx/testdata/ort")
	return dir
}

const python = "/usr/bin/python3"

func requireChecker(t *testing.T) {
	t.Helper()
	err := exec.Command(python, "-c", "import onnx.checker").Run()
	require(t, err == nil, "the ONNX checker is not installed (apt-get install python3-onnx)")
}

// ortTensor is a tensor in run.js's JSON.
type ortTensor struct {
	Type string    `json:"type,omitempty"`
	Dims []int     `json:"dims"`
	Data []float64 `json:"data"`
}

type ortCase struct {
	Model  string               `json:"model"`
	Inputs map[string]ortTensor `json:"inputs"`
}

type ortResult struct {
	Outputs map[string]ortTensor `json:"outputs"`
	Error   string               `json:"error"`
}

// runORT runs the cases with ONNX Runtime, all in one node process.
func runORT(t *testing.T, cases []ortCase) []ortResult {
	t.Helper()
	dir := ortDir(t)
	req, err := json.Marshal(map[string]any{"cases": cases})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "request.json")
	if err := os.WriteFile(path, req, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("node", filepath.Join(dir, "run.js"), path)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node run.js: %v\n%s", err, stderr.String())
	}
	var out []ortResult
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("node run.js: %v\n%.500s", err, stdout.String())
	}
	if len(out) != len(cases) {
		t.Fatalf("node run.js: %d results for %d cases", len(out), len(cases))
	}
	return out
}

// checkModels runs the ONNX checker (full_check: with shape inference) on
// every file, in one python process; it returns the problems by path.
func checkModels(t *testing.T, paths []string) map[string]string {
	t.Helper()
	requireChecker(t)
	script := `import json, sys, onnx
bad = {}
for p in sys.argv[1:]:
    try:
        onnx.checker.check_model(p, full_check=True)
    except Exception as e:
        bad[p] = str(e)
print(json.dumps(bad))
`
	out, err := exec.Command(python, append([]string{"-c", script}, paths...)...).Output()
	if err != nil {
		t.Fatalf("onnx checker: %v", err)
	}
	bad := map[string]string{}
	if err := json.Unmarshal(out, &bad); err != nil {
		t.Fatalf("onnx checker: %v: %s", err, out)
	}
	return bad
}

// exportCase is a model exported and compared: its lowered graph, the
// batch size and the mode.
type exportCase struct {
	name string
	g    *ir.Graph
	n    int
	eval bool // Options.Eval: loss and metrics too

	path   string
	bind   map[string]*ir.Tensor
	expect map[string]*ir.Tensor // by result name: the interpreter's
}

// loadModel lowers the only model of a .mdl file, or the one named.
func loadModel(t *testing.T, path, model string) *ir.Graph {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g, diags, err := compile.Load(path, src, model)
	if err != nil {
		t.Fatalf("%v\n%s", err, diags)
	}
	return g
}

// prepare exports c with random inputs and weights (the interpreter's
// bindings) and computes the interpreter's results.
func prepare(t *testing.T, c *exportCase, dir string, seed uint64) ortCase {
	t.Helper()
	c.bind = eval.Random(c.g, c.n, seed, eval.Classes(c.g))
	for _, v := range c.g.State() {
		if strings.HasSuffix(v.Name, ".moving_variance") { // a variance is positive
			for i, x := range c.bind[v.Name].Data {
				c.bind[v.Name].Data[i] = math.Abs(x) + 0.1
			}
		}
	}
	if hasScan(c.g) {
		// Recurrent layers at Glorot's scale, as trained ones are: with
		// uniform [-1, 1] weights a recurrence of 128 units is chaotic and
		// float32 rounding (of the inputs and weights ONNX Runtime reads)
		// grows over 64 steps to 1e-4 (charlstm's loss).
		for _, v := range c.g.Params() {
			if strings.HasSuffix(v.Name, "kernel") && v.Type.Shape.Rank() == 2 {
				for i := range c.bind[v.Name].Data {
					c.bind[v.Name].Data[i] /= math.Sqrt(float64(v.Type.Shape[0]))
				}
			}
		}
	}
	env, err := eval.Run(c.g, c.n, c.bind)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	weights := map[string][]float32{}
	for _, v := range append(c.g.Params(), c.g.State()...) {
		weights[v.Name] = f32(c.bind[v.Name].Data)
	}
	m, err := onnx.Export(c.g, weights, onnx.Options{Eval: c.eval, Producer: "test"})
	if err != nil {
		t.Fatalf("%s: export: %v", c.name, err)
	}
	b, err := onnx.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	c.path = filepath.Join(dir, strings.ReplaceAll(c.name, "/", "_")+".onnx")
	if err := os.WriteFile(c.path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	oc := ortCase{Model: c.path, Inputs: map[string]ortTensor{}}
	for _, in := range m.Graph.Input {
		v := inputNamed(c.g, in.GetName())
		if v == nil {
			t.Fatalf("%s: the exported input %s is not an input of the model", c.name, in.GetName())
		}
		typ := map[ir.DType]string{ir.F32: "float32", ir.I32: "int32", ir.Bool: "bool"}[v.Type.DType]
		x := c.bind[v.Name]
		oc.Inputs[in.GetName()] = ortTensor{Type: typ, Dims: x.Shape, Data: roundF32(x.Data)}
	}
	c.expect = map[string]*ir.Tensor{}
	for _, r := range c.g.Results {
		if r.Kind == ir.ResultOutput || c.eval && (r.Kind == ir.ResultLoss || r.Kind == ir.ResultMetric) {
			c.expect[r.Name] = env[r.Value]
		}
	}
	return oc
}

// hasScan reports whether g has a recurrence (lstm_scan, gru_scan).
func hasScan(g *ir.Graph) bool {
	for _, v := range g.Values {
		if v.Op.Family == ir.FamilyScan {
			return true
		}
	}
	return false
}

func inputNamed(g *ir.Graph, name string) *ir.Value {
	for _, v := range g.Inputs() {
		if v.Name == name {
			return v
		}
	}
	return nil
}

func f32(xs []float64) []float32 {
	out := make([]float32, len(xs))
	for i, x := range xs {
		out[i] = float32(x)
	}
	return out
}

func roundF32(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(float32(x))
	}
	return out
}

// relErr is max|a-b| / max(max|b|, 1e-6), the numeric harness's measure
// (codegen/go): normwise, so that the tiny elements of a tensor do not
// dominate.
func relErr(a, b []float64) float64 {
	var num, den float64
	for i := range a {
		num = math.Max(num, math.Abs(a[i]-b[i]))
		den = math.Max(den, math.Abs(b[i]))
		if math.IsNaN(a[i]) != math.IsNaN(b[i]) {
			return math.Inf(1)
		}
	}
	return num / math.Max(den, 1e-6)
}

// compare checks ONNX Runtime's results against the interpreter's.
func compare(t *testing.T, c *exportCase, r ortResult, tol float64) {
	t.Helper()
	if r.Error != "" {
		t.Errorf("%s: onnxruntime: %s", c.name, r.Error)
		return
	}
	for name, want := range c.expect {
		got, ok := r.Outputs[name]
		if !ok {
			t.Errorf("%s: onnxruntime gave no output %s", c.name, name)
			continue
		}
		if fmt.Sprint(got.Dims) != fmt.Sprint(want.Shape) || len(got.Data) != len(want.Data) {
			t.Errorf("%s: output %s has shape %v, want %v", c.name, name, got.Dims, want.Shape)
			continue
		}
		if e := relErr(got.Data, want.Data); !(e <= tol) {
			t.Errorf("%s: output %s: rel err %.3g > %g (got %.6g, want %.6g)", c.name, name, e, tol, head(got.Data), head(want.Data))
		}
	}
}

func head(xs []float64) []float64 {
	if len(xs) > 6 {
		return xs[:6]
	}
	return xs
}

// runCases exports, checks and runs the cases, comparing each with the
// interpreter within tol.
func runCases(t *testing.T, cases []*exportCase, tol float64) {
	t.Helper()
	ortDir(t)
	requireChecker(t)
	dir := t.TempDir()
	var ocs []ortCase
	var paths []string
	for i, c := range cases {
		ocs = append(ocs, prepare(t, c, dir, uint64(i+1)))
		paths = append(paths, c.path)
	}
	bad := checkModels(t, paths)
	for _, c := range cases {
		if msg, ok := bad[c.path]; ok {
			t.Errorf("%s: the ONNX checker rejects the file: %s", c.name, msg)
		}
	}
	for i, r := range runORT(t, ocs) {
		compare(t, cases[i], r, tol)
	}
}

// modelFiles are the .mdl files of the examples, of the code generator's
// test models and of testdata (norms.mdl).
func modelFiles(t *testing.T) []string {
	var files []string
	for _, pat := range []string{"../../examples/*/*.mdl", "../../codegen/go/testdata/models/*.mdl", "testdata/*.mdl"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d model files: %v", len(files), files)
	}
	return files
}

// TestExportMatchesInterpreter exports every model of the examples and of
// codegen/go/testdata/models, as Forward (its outputs) and as Eval (its
// loss and metrics too), runs the files with ONNX Runtime and compares
// with the float64 interpreter in inference mode.
func TestExportMatchesInterpreter(t *testing.T) {
	var cases []*exportCase
	for _, path := range modelFiles(t) {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		gs, diags := lower.Source(path, src)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", path, diags)
		}
		for _, g := range gs {
			n := 3
			if g.Name == "CatsDogs" {
				n = 1 // 150x150 RGB through the float64 interpreter's direct convolution
			}
			if g.Name == "CharLSTM" {
				n = 2 // 64 steps of two LSTMs of 128 units in float64
			}
			name := filepath.Base(path) + "/" + g.Name
			if hasOutputs(g) {
				cases = append(cases, &exportCase{name: name, g: g, n: n})
			}
			cases = append(cases, &exportCase{name: name + "/eval", g: g, n: n, eval: true})
		}
	}
	runCases(t, cases, 1e-5)
}

func hasOutputs(g *ir.Graph) bool {
	for _, r := range g.Results {
		if r.Kind == ir.ResultOutput {
			return true
		}
	}
	return false
}

// TestExportRandomModels exports the property test's random models
// (internal/randmodel: elementwise ops with broadcasting, matmuls,
// reductions, softmax, layout ops, gathers, convolutions and pools with
// valid and same padding, batch_norm, dropout) with their loss and
// metrics, and random inference functions, and compares ONNX Runtime with
// the interpreter.
func TestExportRandomModels(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 15))
	var cases []*exportCase
	for i := range *randomModels {
		g := randmodel.Model(r, i)
		cases = append(cases, &exportCase{name: g.Name, g: g, n: 1 + r.IntN(4), eval: true})
	}
	for i := range max(2, *randomModels/6) {
		g := randmodel.Inference(r, i)
		cases = append(cases, &exportCase{name: g.Name, g: g, n: 1 + r.IntN(4)})
	}
	runCases(t, cases, 1e-5)
}

// TestExportHandBuilt covers what no .mdl lowers to and the random models
// draw rarely: numel (N at run time), pad, le, comparisons of bools,
// batched matmuls with ta and tb, reshape to 2*N rows, broadcasts to N,
// casts that truncate, i32 arithmetic and argmax, and one_hot of indices
// out of range (a zero row in mdlc; ONNX's OneHot would wrap -1).
func TestExportHandBuilt(t *testing.T) {
	g := &ir.Graph{Name: "HandBuilt"}
	b := ir.NewBuilder(g)
	input := func(name string, dt ir.DType, s ir.Shape) *ir.Value {
		v := b.Op("input", ir.Attrs{"role": "input", "dtype": dt, "shape": s})
		v.Name = name
		return v
	}
	x := input("x", ir.F32, ir.Shape{ir.N, 3, 4})
	k := input("k", ir.I32, ir.Shape{ir.N})
	p := b.Op("param", ir.Attrs{"dtype": ir.F32, "shape": ir.Shape{3, 4}, "init": "zeros"})
	p.Name = "p"
	out := map[string]*ir.Value{}
	out["numel"] = b.Mul(x, b.Op("numel", ir.Attrs{"shape": ir.Shape{ir.N, 3, 4}}))
	out["numel2"] = b.Op("numel", ir.Attrs{"shape": ir.Shape{-2, 3}})
	out["pad"] = b.Op("pad", ir.Attrs{"axis": 1, "before": 1, "after": 2}, x)
	le := b.Op("le", nil, x, b.Const(0.3, ir.F32))
	gt := b.Op("gt", nil, x, b.Const(-0.2, ir.F32))
	out["where"] = b.Where(le, x, b.Neg(x))
	out["bools"] = b.Op("cast", ir.Attrs{"dtype": ir.F32}, b.Op("lt", nil, le, gt))
	out["boolne"] = b.Op("cast", ir.Attrs{"dtype": ir.F32}, b.Op("ne", nil, le, gt))
	out["ta"] = b.Op("matmul", ir.Attrs{"ta": true}, x, x)
	out["tb"] = b.Op("matmul", ir.Attrs{"tb": true}, x, b.Add(x, b.BroadcastTo(p, ir.Shape{ir.N, 3, 4})))
	out["rows2n"] = b.Reshape(x, ir.Shape{-2, 6})
	trunc := b.Op("cast", ir.Attrs{"dtype": ir.I32}, b.Mul(x, b.Const(5, ir.F32)))
	out["trunc"] = trunc
	out["int"] = b.Op("maximum", nil, b.Sub(b.Mul(trunc, trunc), b.Op("abs", nil, trunc)), b.Op("sign", nil, trunc))
	out["argmax"] = b.Op("argmax", ir.Attrs{"axis": 1}, trunc)
	out["onehot"] = b.Op("one_hot", ir.Attrs{"depth": 3}, k)
	out["bool"] = b.Op("cast", ir.Attrs{"dtype": ir.F32}, b.Op("cast", ir.Attrs{"dtype": ir.Bool}, trunc))
	if b.Err() != nil {
		t.Fatal(b.Err())
	}
	for _, name := range []string{"numel", "numel2", "pad", "where", "bools", "boolne", "ta", "tb", "rows2n", "trunc", "int", "argmax", "onehot", "bool"} {
		g.Results = append(g.Results, ir.Result{Kind: ir.ResultOutput, Name: name, Value: out[name]})
	}
	g.Renumber()
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	c := &exportCase{name: "handbuilt", g: g, n: 4}
	ortDir(t)
	requireChecker(t)
	dir := t.TempDir()
	oc := prepare(t, c, dir, 1)
	// Indices out of range, which the random inputs never are.
	k4 := []float64{-1, 0, 2, 3}
	oc.Inputs["k"] = ortTensor{Type: "int32", Dims: []int{4}, Data: k4}
	c.bind["k"].Data = k4
	env, err := eval.Run(g, c.n, c.bind)
	if err != nil {
		t.Fatal(err)
	}
	c.expect["onehot"] = env[out["onehot"]]
	if d := c.expect["onehot"].Data; d[0] != 0 || d[1] != 0 || d[2] != 0 || d[3] != 1 || d[11] != 0 {
		t.Fatalf("the interpreter's one_hot of -1 and 0 is %v", d[:6])
	}
	if bad := checkModels(t, []string{c.path}); len(bad) > 0 {
		t.Errorf("the ONNX checker rejects the file: %v", bad)
	}
	compare(t, c, runORT(t, []ortCase{oc})[0], 1e-5)
}
