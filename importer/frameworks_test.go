package importer_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/importer"
	"github.com/mdlc/mdlc/internal/gotool"
	"github.com/mdlc/mdlc/runtime"
)

// fixtures are the committed files of gen_torch.py and tfjs/gen_tfjs.js:
// weights and predictions of the models of mlp.mdl and cnn.mdl.
var fixtures = []struct{ from, prefix, model string }{
	{importer.PyTorch, "torch", "mlp"},
	{importer.PyTorch, "torch", "cnn"},
	{importer.Keras, "tfjs", "mlp"},
	{importer.Keras, "tfjs", "cnn"},
}

// predictDriver loads a checkpoint into a model's training build and its
// inference build and prints both builds' Predict outputs on the inputs x
// of a predictions file, as JSON.
const predictDriver = `package main

import (
	"encoding/json"
	"fmt"
	"os"

	mdlc "github.com/mdlc/mdlc/runtime"
IMPORTS)

func predict(m mdlc.Model, ckpt string, x mdlc.Tensor, full bool) ([]float32, error) {
	if err := m.Load(ckpt); err != nil {
		return nil, err
	}
	n := x.Shape[0]
	b := mdlc.Batch{{F32: x.Data}}
	if full {
		b = append(b, mdlc.Value{I32: make([]int32, n)}) // the target, unused by Predict
	}
	out := [][]float32{make([]float32, 10*n)}
	if err := m.Predict(b, n, out); err != nil {
		return nil, err
	}
	return out[0], nil
}

func main() {
	ckpt, pred, name := os.Args[1], os.Args[2], os.Args[3]
	ts, _, err := mdlc.ReadSafetensors(pred)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var x mdlc.Tensor
	for _, t := range ts {
		if t.Name == "x" {
			x = t
		}
	}
	models := map[string][2]mdlc.Model{
CASES	}
	var res [2][]float32
	for i, m := range models[name] {
		if res[i], err = predict(m, ckpt, x, i == 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	json.NewEncoder(os.Stdout).Encode(res)
}
`

// Weights written by PyTorch and TF.js, imported, give the generated
// Forward (training and inference builds) the frameworks' predictions.
func TestFrameworkPredictions(t *testing.T) {
	dir := gotool.TempModule(t, "imported")
	var imports, cases strings.Builder
	for _, model := range []string{"mlp", "cnn"} {
		src, err := os.ReadFile(filepath.Join("testdata", model+".mdl"))
		if err != nil {
			t.Fatal(err)
		}
		for _, inf := range []bool{false, true} {
			pkg := model + "train"
			if inf {
				pkg = model + "infer"
			}
			res, err := compile.Build(model+".mdl", src, "", compile.BuildOptions{Package: pkg, Inference: inf, Options: compile.Options{MaxBatch: 4}})
			if err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(filepath.Join(dir, pkg), 0o755)
			for file, data := range res.Files {
				if err := os.WriteFile(filepath.Join(dir, pkg, file), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			imports.WriteString("\t\"imported/" + pkg + "\"\n")
		}
		fmt.Fprintf(&cases, "\t\t%q: {%strain.New(), %sinfer.New()},\n", model, model, model)
	}
	driver := strings.NewReplacer("IMPORTS", imports.String(), "CASES", cases.String()).Replace(predictDriver)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(driver), 0o644); err != nil {
		t.Fatal(err)
	}
	gotool.Go(t, dir, nil, "build", "-o", "driver", ".")
	tmp := t.TempDir()
	for _, f := range fixtures {
		name := f.prefix + "_" + f.model
		src, err := os.ReadFile(filepath.Join("testdata", f.model+".mdl"))
		if err != nil {
			t.Fatal(err)
		}
		ts, meta, err := importer.Import(f.model+".mdl", src, "", filepath.Join("testdata", name+".safetensors"), importer.Options{From: f.from})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		ckpt := filepath.Join(tmp, name+".ckpt")
		if err := runtime.SaveSafetensors(ckpt, ts, meta); err != nil {
			t.Fatal(err)
		}
		pred := filepath.Join("testdata", name+"_pred.safetensors")
		cmd := exec.Command(filepath.Join(dir, "driver"), ckpt, pred, f.model)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: driver: %v\n%s", name, err, stderrOf(err))
		}
		var got [2][]float32
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		want := tensor(t, pred, "probs")
		for i, build := range []string{"training", "inference"} {
			worst, where := compare(got[i], want.Data)
			t.Logf("%s, %s build: largest difference from %s %.3g (relative to max(|a|, |b|, 1e-2)) at %d", name, build, f.prefix, worst, where)
			if worst > 1e-5 {
				t.Errorf("%s, %s build: prediction %d is %g, %s says %g", name, build, where, got[i][where], f.prefix, want.Data[where])
			}
		}
	}
}

// compare returns the largest |a-b| / max(|a|, |b|, 1e-2) and where. The
// floor 1e-2 makes the bound absolute, 1e-7, for probabilities below 1%:
// float32 rounding of the logits (about 1e-7 relative) moves a small
// probability by about 1e-7 of the largest one, not of itself.
func compare(got, want []float32) (float64, int) {
	worst, where := 0.0, 0
	if len(got) != len(want) {
		return math.Inf(1), 0
	}
	for i := range got {
		a, b := float64(got[i]), float64(want[i])
		d := math.Abs(a-b) / max(math.Abs(a), math.Abs(b), 1e-2)
		if d > worst || math.IsNaN(d) {
			worst, where = d, i
		}
	}
	return worst, where
}

func tensor(t *testing.T, path, name string) runtime.Tensor {
	t.Helper()
	ts, _, err := runtime.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ts {
		if x.Name == name {
			return x
		}
	}
	t.Fatalf("%s has no tensor %s", path, name)
	return runtime.Tensor{}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// The generator scripts run with the frameworks installed (python3-torch;
// @tensorflow/tfjs from tfjs/package-lock.json) and reproduce the committed
// fixtures: bit for bit where the arithmetic is deterministic, within 1e-5
// where PyTorch's kernels may round differently on another CPU.
func TestFixturesReproduce(t *testing.T) {
	ci := os.Getenv("MDLC_CI") != ""
	need := func(what string, err error) bool {
		if err == nil {
			return true
		}
		if ci {
			t.Errorf("MDLC_CI is set and %s is missing: %v", what, err)
		} else {
			t.Logf("skipping the %s fixtures: %v", what, err)
		}
		return false
	}
	tmp := t.TempDir()
	var gens []string
	if need("python3-torch", exec.Command("/usr/bin/python3", "-c", "import torch").Run()) {
		if out, err := exec.Command("/usr/bin/python3", "testdata/gen_torch.py", tmp).CombinedOutput(); err != nil {
			t.Fatalf("gen_torch.py: %v\n%s", err, out)
		}
		gens = append(gens, "torch")
	}
	_, err := os.Stat("testdata/tfjs/node_modules/@tensorflow/tfjs")
	if err == nil {
		_, err = exec.LookPath("node")
	}
	if need("node and @tensorflow/tfjs (npm ci --ignore-scripts in importer/testdata/tfjs)", err) {
		if out, err := exec.Command("node", "testdata/tfjs/gen_tfjs.js", tmp).CombinedOutput(); err != nil {
			t.Fatalf("gen_tfjs.js: %v\n%s", err, out)
		}
		gens = append(gens, "tfjs")
	}
	if len(gens) == 0 {
		t.Skip("neither framework is installed")
	}
	for _, prefix := range gens {
		for _, suffix := range []string{"mlp", "mlp_pred", "cnn", "cnn_pred"} {
			name := prefix + "_" + suffix + ".safetensors"
			committed, _, err := importer.ReadWeights(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			fresh, _, err := importer.ReadWeights(filepath.Join(tmp, name))
			if err != nil {
				t.Fatal(err)
			}
			if len(fresh) != len(committed) {
				t.Errorf("%s: %d tensors, committed %d", name, len(fresh), len(committed))
				continue
			}
			for i := range fresh {
				a, b := fresh[i], committed[i]
				if a.Name != b.Name || fmt.Sprint(a.Shape) != fmt.Sprint(b.Shape) {
					t.Errorf("%s: tensor %d is %s %v, committed %s %v", name, i, a.Name, a.Shape, b.Name, b.Shape)
					continue
				}
				if worst, where := compare(a.Data, b.Data); worst > 1e-5 {
					t.Errorf("%s: %s[%d] is %g, committed %g", name, a.Name, where, a.Data[where], b.Data[where])
				}
			}
		}
	}
}
