package onnx_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/mdlc/mdlc/examples/catsdogs/catsdogs"
	"github.com/mdlc/mdlc/examples/fashion_cnn/fashioncnn"
	"github.com/mdlc/mdlc/examples/linreg/linreg"
	"github.com/mdlc/mdlc/examples/mnist_mlp/mnistmlp"
	"github.com/mdlc/mdlc/export/onnx"
)

// forwardCase is an example's committed generated package run by Forward,
// and the weights its export is given.
type forwardCase struct {
	name, mdl string
	n         int
	input     string // the model's input name
	shape     []int  // of one example
	// forward makes the model (seed 1), optionally trains it a step and
	// saves it to ckpt, and returns Forward's result for x.
	forward func(t *testing.T, x []float32, n int, ckpt string) []float32
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// TestExportMatchesGeneratedForward compares ONNX Runtime on the exported
// examples with the committed generated packages' Forward: untrained (the
// export draws InitialWeights as Reset does for seed 1) and after a
// training step (the export reads the checkpoint Save wrote), the latter
// also at batch 1.
func TestExportMatchesGeneratedForward(t *testing.T) {
	cases := []forwardCase{
		{name: "linreg", mdl: "../../examples/linreg/linreg.mdl", n: 5, input: "x", shape: nil,
			forward: func(t *testing.T, x []float32, n int, ckpt string) []float32 {
				m := linreg.New()
				if ckpt != "" {
					must[float32](t)(m.TrainStep(x, []float32{2, 4, 5, 4, 5}, n))
					must[struct{}](t)(struct{}{}, m.Save(ckpt))
				}
				return must[[]float32](t)(m.Forward(x, n))
			}},
		{name: "mnist_mlp", mdl: "../../examples/mnist_mlp/mnist_mlp.mdl", n: 4, input: "image", shape: []int{784},
			forward: func(t *testing.T, x []float32, n int, ckpt string) []float32 {
				m := mnistmlp.New()
				if ckpt != "" {
					must[float32](t)(m.TrainStep(x, []int32{1, 7, 3, 9}, n))
					must[struct{}](t)(struct{}{}, m.Save(ckpt))
				}
				return must[[]float32](t)(m.Forward(x, n))
			}},
		{name: "fashion_cnn", mdl: "../../examples/fashion_cnn/fashion_cnn.mdl", n: 3, input: "image", shape: []int{28, 28, 1},
			forward: func(t *testing.T, x []float32, n int, ckpt string) []float32 {
				m := fashioncnn.New()
				if ckpt != "" {
					must[float32](t)(m.TrainStep(x, []int32{0, 5, 9}, n))
					must[struct{}](t)(struct{}{}, m.Save(ckpt))
				}
				return must[[]float32](t)(m.Forward(x, n))
			}},
		{name: "catsdogs", mdl: "../../examples/catsdogs/catsdogs.mdl", n: 2, input: "image", shape: []int{150, 150, 3},
			forward: func(t *testing.T, x []float32, n int, ckpt string) []float32 {
				m := catsdogs.New()
				if ckpt != "" {
					must[float32](t)(m.TrainStep(x, []float32{0, 1}, n))
					must[struct{}](t)(struct{}{}, m.Save(ckpt))
				}
				return must[[]float32](t)(m.Forward(x, n))
			}},
	}
	ortDir(t)
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(15, 2))
	var ocs []ortCase
	var want [][]float64
	var names []string
	var outputs []string
	for _, c := range cases {
		g := loadModel(t, c.mdl, "")
		size := c.n
		for _, d := range c.shape {
			size *= d
		}
		x := make([]float32, size)
		for i := range x {
			x[i] = r.Float32()
		}
		dims := append([]int{c.n}, c.shape...)
		for _, trained := range []bool{false, true} {
			name, ckpt := c.name+"/initial", ""
			if trained {
				name, ckpt = c.name+"/trained", filepath.Join(dir, c.name+".safetensors")
			}
			got := c.forward(t, x, c.n, ckpt)
			var weights map[string][]float32
			var err error
			if trained {
				weights, err = onnx.CheckpointWeights(g, ckpt)
			} else {
				weights, err = onnx.InitialWeights(g, 1)
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			m, err := onnx.Export(g, weights, onnx.Options{})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			path := filepath.Join(dir, c.name+map[bool]string{false: "-initial", true: "-trained"}[trained]+".onnx")
			if err := os.WriteFile(path, must[[]byte](t)(onnx.Marshal(m)), 0o644); err != nil {
				t.Fatal(err)
			}
			data := make([]float64, len(x))
			for i, v := range x {
				data[i] = float64(v)
			}
			ocs = append(ocs, ortCase{Model: path, Inputs: map[string]ortTensor{c.input: {Type: "float32", Dims: dims, Data: data}}})
			w := make([]float64, len(got))
			for i, v := range got {
				w[i] = float64(v)
			}
			want = append(want, w)
			names = append(names, name)
			outputs = append(outputs, m.Graph.Output[0].GetName())
			if trained {
				// The same file at batch 1 (N is symbolic): the first example's rows.
				one := append([]int{1}, c.shape...)
				ocs = append(ocs, ortCase{Model: path, Inputs: map[string]ortTensor{c.input: {Type: "float32", Dims: one, Data: data[:len(data)/c.n]}}})
				want = append(want, w[:len(w)/c.n])
				names = append(names, name+"/batch1")
				outputs = append(outputs, m.Graph.Output[0].GetName())
			}
		}
	}
	for i, res := range runORT(t, ocs) {
		if res.Error != "" {
			t.Errorf("%s: onnxruntime: %s", names[i], res.Error)
			continue
		}
		got := res.Outputs[outputs[i]]
		if len(got.Data) != len(want[i]) {
			t.Errorf("%s: onnxruntime gave %d values, Forward %d", names[i], len(got.Data), len(want[i]))
			continue
		}
		if e := relErr(got.Data, want[i]); !(e <= 1e-5) {
			t.Errorf("%s: rel err %.3g > 1e-5 against Forward (got %.6g, want %.6g)", names[i], e, head(got.Data), head(want[i]))
		}
	}
}
