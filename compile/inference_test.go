package compile_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cudagen "github.com/mdlc/mdlc/codegen/cuda"
	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/internal/gotool"
)

// The inference build of a model has the inference path only: no training
// entry points, no targets, no optimizer state; batch_norm keeps its moving
// statistics.
func TestInferenceGraph(t *testing.T) {
	src := []byte(`model BN {
    input  x: f32[N, 6]
    target y: i32[N]
    h = batch_norm(relu(dense(dropout(x, 0.25), 8)))
    logits = dense(h, 3)
    output probs = softmax(logits)
    loss cross_entropy(logits, y)
    metric accuracy(logits, y)
    optimizer adam(lr: 1e-3)
}`)
	res, err := compile.Build("bn.mdl", src, "", compile.BuildOptions{Package: "bn", Inference: true, Options: compile.Options{VerifyEach: true}})
	if err != nil {
		t.Fatal(err)
	}
	g := res.Graph
	if g.Loss() != nil || g.Optimizer != nil || len(g.Updates) != 0 {
		t.Errorf("inference graph keeps loss %v, optimizer %v, updates %d", g.Loss(), g.Optimizer, len(g.Updates))
	}
	var names []string
	for _, v := range append(g.Inputs(), append(g.Params(), g.State()...)...) {
		names = append(names, v.Name)
	}
	want := "x h.dense0.w h.dense0.b h.batch_norm0.gamma h.batch_norm0.beta logits.w logits.b h.batch_norm0.moving_mean h.batch_norm0.moving_variance"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("inputs, params and state:\n got %s\nwant %s", got, want)
	}
	model := string(res.Files["model.go"])
	for _, no := range []string{"func (m *Model) TrainStep(", "func (m *Model) Eval(", "make([]float32, numParams),\n\t\tgrads"} {
		if strings.Contains(model, no) {
			t.Errorf("the inference build has %q", no)
		}
	}
	for _, yes := range []string{"mdlc.LoadSafetensorsPart(", "is an inference build (mdlc build -inference): it cannot train"} {
		if !strings.Contains(model, yes) {
			t.Errorf("the inference build lacks %q", yes)
		}
	}
	if res.Stats.GradBytes != 0 || res.Stats.StateBytes != 4*2*8 {
		t.Errorf("stats: grads %d bytes, state %d bytes; want 0 and the moving statistics' 64", res.Stats.GradBytes, res.Stats.StateBytes)
	}

	noOut := []byte("model L {\n    input x: f32[N, 2]\n    target y: f32[N, 1]\n    loss mse(dense(x, 1), y)\n    optimizer sgd(lr: 0.1)\n}")
	if _, err := compile.Build("l.mdl", noOut, "", compile.BuildOptions{Package: "l", Inference: true}); err == nil || !strings.Contains(err.Error(), "declares no output") {
		t.Errorf("inference build of a model without output: %v", err)
	}
}

// The CUDA target builds the inference graph too (its PTX is compiled
// when a compiler is installed).
func TestInferenceCUDA(t *testing.T) {
	if _, err := cudagen.FindCompiler(); err != nil {
		if os.Getenv("MDLC_CI") != "" {
			t.Fatalf("MDLC_CI is set and %v", err)
		}
		t.Skip(err)
	}
	src, err := os.ReadFile("../examples/fashion_cnn/fashion_cnn.mdl")
	if err != nil {
		t.Fatal(err)
	}
	res, err := compile.Build("fashion_cnn.mdl", src, "", compile.BuildOptions{Package: "f", Target: "cuda", Inference: true})
	if err != nil {
		t.Fatal(err)
	}
	cu := string(res.Files[cudagen.GoFile])
	if !strings.Contains(cu, "an inference build has no gradients") || strings.Contains(cu, "func (m *CUDAModel) TrainStep(") {
		t.Error("model_cuda.go of the inference build has gradients or TrainStep")
	}
	if len(res.Files[cudagen.PTXFile]) == 0 {
		t.Error("no PTX")
	}
	if strings.Contains(string(res.Files[cudagen.CUFile]), "Gradients.") {
		t.Error("kernels.cu of the inference build lays out a grads block")
	}
	// The package, model_cuda.go included, builds and vets.
	dir := gotool.TempModule(t, "cudainfer")
	os.MkdirAll(filepath.Join(dir, "f"), 0o755)
	for file, data := range res.Files {
		if err := os.WriteFile(filepath.Join(dir, "f", file), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gotool.Go(t, dir, []string{"CGO_ENABLED=0"}, "vet", "./...")
}

// inferenceDriver trains each example's training build for a few steps,
// saves a checkpoint, loads it into the inference build and compares their
// Predict outputs on the same inputs; then it checks that a checkpoint
// missing a tensor the inference build needs is refused, naming it, and
// that the inference build refuses to train. It prints one JSON line per
// model.
const inferenceDriver = `package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	mdlc "github.com/mdlc/mdlc/runtime"
IMPORTS)

type report struct {
	Model    string
	Values   int
	Equal    int     // bit-identical values
	MaxRel   float64 // the largest |a-b| / max(|a|, |b|, 1e-30)
	Missing  string  // the error of a checkpoint without a needed tensor
	Train    string  // the error of Train on the inference build
	Inputs   int     // inputs of the inference build
	State    int     // state tensors of the inference build
}

// batch makes deterministic data for spec's inputs: inputs in [-1, 1),
// targets 0 or 1 (a valid class or a probability).
func batch(spec mdlc.Spec, n int, seed uint32) mdlc.Batch {
	var b mdlc.Batch
	x := seed
	next := func() float32 { x = x*1664525 + 1013904223; return float32(x>>8) / (1 << 24) }
	for _, io := range spec.Inputs {
		per, _ := io.PerExample()
		var v mdlc.Value
		if io.DType == mdlc.I32 {
			v.I32 = make([]int32, per*n)
			for i := range v.I32 {
				v.I32[i] = int32(next() * 2)
			}
		} else {
			v.F32 = make([]float32, per*n)
			for i := range v.F32 {
				if io.Role == "target" {
					v.F32[i] = float32(int(next() * 2))
				} else {
					v.F32[i] = 2*next() - 1
				}
			}
		}
		b = append(b, v)
	}
	return b
}

func outputs(spec mdlc.Spec, n int) [][]float32 {
	var out [][]float32
	for _, io := range spec.Outputs {
		per, _ := io.PerExample()
		out = append(out, make([]float32, per*n))
	}
	return out
}

func check(name string, tr, inf mdlc.Model, dir string) (report, error) {
	r := report{Model: name, Inputs: len(inf.Spec().Inputs), State: len(inf.Spec().State)}
	const n = 3
	for step := range 3 {
		if _, err := tr.Train(batch(tr.Spec(), n, uint32(step)), n); err != nil {
			return r, err
		}
	}
	ckpt := filepath.Join(dir, name+".safetensors")
	if err := tr.Save(ckpt); err != nil {
		return r, err
	}
	if err := inf.Load(ckpt); err != nil {
		return r, err
	}
	full := batch(tr.Spec(), n, 99)
	var in mdlc.Batch // the inference build's inputs, taken by name
	for _, io := range inf.Spec().Inputs {
		for i, t := range tr.Spec().Inputs {
			if t.Name == io.Name {
				in = append(in, full[i])
			}
		}
	}
	a, b := outputs(tr.Spec(), n), outputs(inf.Spec(), n)
	if err := tr.Predict(full, n, a); err != nil {
		return r, err
	}
	if err := inf.Predict(in, n, b); err != nil {
		return r, err
	}
	for i := range a {
		for j := range a[i] {
			x, y := float64(a[i][j]), float64(b[i][j])
			r.Values++
			if math.Float32bits(a[i][j]) == math.Float32bits(b[i][j]) {
				r.Equal++
			}
			r.MaxRel = max(r.MaxRel, math.Abs(x-y)/max(math.Abs(x), math.Abs(y), 1e-30))
		}
	}
	// A checkpoint without the inference build's first parameter.
	ts, meta, err := mdlc.ReadSafetensors(ckpt)
	if err != nil {
		return r, err
	}
	drop := inf.Spec().Params[0].Name
	var kept []mdlc.Tensor
	for _, t := range ts {
		if t.Name != drop {
			kept = append(kept, t)
		}
	}
	short := filepath.Join(dir, name+"-short.safetensors")
	if err := mdlc.SaveSafetensors(short, kept, meta); err != nil {
		return r, err
	}
	if err := inf.Load(short); err == nil || !strings.Contains(err.Error(), drop) {
		return r, fmt.Errorf("loading a checkpoint without %s: %v", drop, err)
	} else {
		r.Missing = err.Error()
	}
	if _, err := inf.Train(in, n); err != nil {
		r.Train = err.Error()
	}
	return r, nil
}

func main() {
	dir := os.Args[1]
	enc := json.NewEncoder(os.Stdout)
	for _, c := range []struct {
		name     string
		tr, inf  mdlc.Model
	}{
CASES	} {
		r, err := check(c.name, c.tr, c.inf, dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", c.name, err)
			os.Exit(1)
		}
		enc.Encode(r)
	}
}
`

// Every example's inference build (and that of a model with batch_norm and
// dropout) compiles, loads a checkpoint its training build saved, and
// computes the training build's Forward bit for bit: the inference graph is the training graph's inference path, and the
// passes compute each value it keeps with the same float32 operations in
// the same order.
func TestInferenceBuildExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every example twice")
	}
	examples, err := filepath.Glob("../examples/*/*.mdl")
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	// And a model with batch_norm (moving statistics trained by TrainStep,
	// read by the inference build) and dropout.
	examples = append(examples, "../codegen/go/testdata/models/modes.mdl")
	dir := gotool.TempModule(t, "inference")
	var imports, cases strings.Builder
	for _, path := range examples {
		name := strings.TrimSuffix(filepath.Base(path), ".mdl")
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, inf := range []bool{false, true} {
			pkg := strings.ReplaceAll(name, "_", "") + "train"
			if inf {
				pkg = strings.ReplaceAll(name, "_", "") + "infer"
			}
			res, err := compile.Build(path, src, "", compile.BuildOptions{Package: pkg, Inference: inf, Options: compile.Options{MaxBatch: 4}})
			if err != nil {
				t.Fatalf("%s (inference %v): %v", path, inf, err)
			}
			if err := os.MkdirAll(filepath.Join(dir, pkg), 0o755); err != nil {
				t.Fatal(err)
			}
			for file, data := range res.Files {
				if err := os.WriteFile(filepath.Join(dir, pkg, file), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			imports.WriteString("\t\"inference/" + pkg + "\"\n")
		}
		p := strings.ReplaceAll(name, "_", "")
		cases.WriteString("\t\t{\"" + name + "\", " + p + "train.New(" + p + "train.WithSeed(3)), " + p + "infer.New()},\n")
	}
	main := []byte(strings.NewReplacer("IMPORTS", imports.String(), "CASES", cases.String()).Replace(inferenceDriver))
	if err := os.WriteFile(filepath.Join(dir, "main.go"), main, 0o644); err != nil {
		t.Fatal(err)
	}
	gotool.Go(t, dir, nil, "vet", "./...")
	out := gotool.Go(t, dir, nil, "run", ".", t.TempDir())
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Model          string
			Values, Equal  int
			MaxRel         float64
			Missing, Train string
			Inputs, State  int
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("driver output %q: %v", line, err)
		}
		seen++
		t.Logf("%s: %d of %d output values bit-identical, largest relative difference %.3g; inputs %d, state %d", r.Model, r.Equal, r.Values, r.MaxRel, r.Inputs, r.State)
		if r.Values == 0 || r.Equal != r.Values {
			t.Errorf("%s: the inference build's Forward differs from the training build's (%d of %d values equal, largest relative difference %.3g)", r.Model, r.Equal, r.Values, r.MaxRel)
		}
		if !strings.Contains(r.Missing, "missing tensor") {
			t.Errorf("%s: a checkpoint missing a tensor: %q", r.Model, r.Missing)
		}
		if !strings.Contains(r.Train, "inference build") {
			t.Errorf("%s: Train on the inference build: %q", r.Model, r.Train)
		}
		if r.Inputs != 1 {
			t.Errorf("%s: the inference build has %d inputs, want 1 (no target)", r.Model, r.Inputs)
		}
		if want := map[string]int{"modes": 4}[r.Model]; r.State != want {
			t.Errorf("%s: the inference build has %d state tensors, want %d (batch_norm's moving statistics only)", r.Model, r.State, want)
		}
	}
	if seen != len(examples) {
		t.Errorf("driver reported %d models, want %d", seen, len(examples))
	}
}
