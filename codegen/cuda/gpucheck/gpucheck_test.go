package gpucheck

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/examples/mnist_mlp/mnistmlp"
	mdlc "github.com/mdlc/mdlc/runtime"
)

// cpuAsGPU stands in for a CUDAModel: a CPU model, optionally with its
// gradients (and so its training) perturbed.
type cpuAsGPU struct {
	Model
	skew float32
}

func (m cpuAsGPU) Close() error { return nil }

func (m cpuAsGPU) Train(b mdlc.Batch, n int) (float32, error) {
	loss, err := m.Model.Train(b, n)
	if m.skew != 0 {
		m.Model.Params()[0].Data[0] += m.skew
	}
	return loss, err
}

func mnistCase(skew float32) Case {
	return Case{Name: "mnistmlp", Bounds: map[string]int32{"label": 10},
		CPU: func(s uint64) Model { return mnistmlp.New(mnistmlp.WithSeed(s)) },
		GPU: func(s uint64) (GPUModel, error) { return cpuAsGPU{mnistmlp.New(mnistmlp.WithSeed(s)), skew}, nil }}
}

// The checks pass for a "GPU" that computes exactly what the CPU does.
func TestMatchSame(t *testing.T) {
	var out bytes.Buffer
	ok, err := Match(&out, mnistCase(0), t.TempDir())
	if err != nil || !ok {
		t.Fatalf("ok %v, err %v:\n%s", ok, err, out.String())
	}
}

// A GPU model whose training drifts from the CPU's fails, naming the tensor.
func TestMatchCatchesDrift(t *testing.T) {
	var out bytes.Buffer
	ok, err := Match(&out, mnistCase(0.5), t.TempDir())
	if err != nil || ok {
		t.Fatalf("ok %v, err %v: a drifting model passed:\n%s", ok, err, out.String())
	}
	if !strings.Contains(out.String(), "param hidden.w") {
		t.Errorf("the report does not name hidden.w:\n%s", out.String())
	}
}

func TestRelErr(t *testing.T) {
	if e := RelErr([]float32{1, 2}, []float32{1, 2.002}); e > 1.01e-3 || e < 0.99e-3 {
		t.Errorf("RelErr = %v", e)
	}
	if e := RelErr([]float32{1}, []float32{1, 2}); e < 1e300 {
		t.Errorf("lengths differ: %v", e)
	}
}
