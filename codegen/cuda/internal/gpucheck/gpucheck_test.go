package gpucheck_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/codegen/cuda/internal/gpucheck/allops"
	"github.com/mdlc/mdlc/codegen/cuda/internal/gpucheck/allopso0"
	"github.com/mdlc/mdlc/codegen/cuda/internal/gpucheck/linreg"
	"github.com/mdlc/mdlc/codegen/cuda/internal/gpucheck/mnistmlp"
	rt "github.com/mdlc/mdlc/runtime"
	cu "github.com/mdlc/mdlc/runtime/cuda"
)

// tol is the largest relative error allowed between the GPU and the CPU:
// max |gpu - cpu| / max(max |cpu|, floor) per tensor.
const (
	tol   = 1e-3
	floor = 1e-4
)

// model is what both a Model and a CUDAModel offer.
type model interface {
	rt.Model
	Grads() []rt.Tensor
	State() []rt.Tensor
}

type gpuModel interface {
	model
	Close() error
}

// cases are the generated packages; bounds are the exclusive upper bounds
// of their i32 inputs (class labels, table rows).
var cases = []struct {
	name   string
	cpu    func(seed uint64) model
	gpu    func(seed uint64) (gpuModel, error)
	bounds map[string]int32
}{
	{"linreg", func(s uint64) model { return linreg.New(linreg.WithSeed(s)) },
		func(s uint64) (gpuModel, error) { return linreg.NewCUDA(0, linreg.WithSeed(s)) }, nil},
	{"mnistmlp", func(s uint64) model { return mnistmlp.New(mnistmlp.WithSeed(s)) },
		func(s uint64) (gpuModel, error) { return mnistmlp.NewCUDA(0, mnistmlp.WithSeed(s)) }, map[string]int32{"label": 10}},
	{"allops", func(s uint64) model { return allops.New(allops.WithSeed(s)) },
		func(s uint64) (gpuModel, error) { return allops.NewCUDA(0, allops.WithSeed(s)) }, map[string]int32{"k": 5, "lab": 3}},
	{"allopso0", func(s uint64) model { return allopso0.New(allopso0.WithSeed(s)) },
		func(s uint64) (gpuModel, error) { return allopso0.NewCUDA(0, allopso0.WithSeed(s)) }, map[string]int32{"k": 5, "lab": 3}},
}

// noGPU reports whether err says there is no driver or no device.
func noGPU(err error) bool {
	var e *cu.Error
	return strings.Contains(err.Error(), "cannot load the NVIDIA driver") ||
		errors.As(err, &e) && (e.Name == "CUDA_ERROR_NO_DEVICE" || e.Name == "CUDA_ERROR_STUB_LIBRARY")
}

// batch makes n random examples for spec's inputs.
func batch(spec rt.Spec, n int, bounds map[string]int32, rng *rand.Rand) rt.Batch {
	var b rt.Batch
	for _, in := range spec.Inputs {
		per := 1
		for _, d := range in.Shape {
			if d < 0 {
				per *= -d
			} else {
				per *= d
			}
		}
		var v rt.Value
		if in.DType == rt.I32 {
			hi := bounds[in.Name]
			if hi == 0 {
				hi = 2
			}
			v.I32 = make([]int32, n*per)
			for i := range v.I32 {
				v.I32[i] = rng.Int32N(hi)
			}
		} else {
			v.F32 = make([]float32, n*per)
			for i := range v.F32 {
				v.F32[i] = float32(rng.NormFloat64())
			}
		}
		b = append(b, v)
	}
	return b
}

func relErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var diff, scale float64
	for i := range want {
		diff = max(diff, math.Abs(float64(got[i])-float64(want[i])))
		scale = max(scale, math.Abs(float64(want[i])))
		if math.IsNaN(float64(got[i])) != math.IsNaN(float64(want[i])) {
			return math.Inf(1)
		}
	}
	return diff / max(scale, floor)
}

func compareTensors(t *testing.T, what string, gpu, cpu []rt.Tensor) {
	t.Helper()
	if len(gpu) != len(cpu) {
		t.Fatalf("%s: %d tensors on the GPU, %d on the CPU", what, len(gpu), len(cpu))
	}
	for i := range cpu {
		if e := relErr(gpu[i].Data, cpu[i].Data); e > tol {
			t.Errorf("%s %s: relative error %.3g > %g", what, cpu[i].Name, e, tol)
		} else {
			t.Logf("%s %s: relative error %.3g", what, cpu[i].Name, e)
		}
	}
}

// TestGPUMatchesCPU runs each model's forward pass, evaluation and three
// training steps on the GPU and the CPU from the same initialization and
// compares outputs, loss, metrics, gradients, parameters and state.
func TestGPUMatchesCPU(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gpu, err := c.gpu(3)
			if err != nil {
				if noGPU(err) {
					t.Skipf("no GPU: %v", err)
				}
				t.Fatal(err)
			}
			defer gpu.Close()
			cpu := c.cpu(3)
			spec := cpu.Spec()
			rng := rand.New(rand.NewPCG(1, 2))
			compareTensors(t, "initial param", gpu.Params(), cpu.Params())
			for _, n := range []int{spec.MaxBatch, max(1, spec.MaxBatch-3)} {
				b := batch(spec, n, c.bounds, rng)
				outs := func(m model) [][]float32 {
					o := make([][]float32, len(spec.Outputs))
					for i := range o {
						o[i] = make([]float32, spec.MaxBatch*1024)
					}
					if err := m.Predict(b, n, o); err != nil {
						t.Fatal(err)
					}
					return o
				}
				og, oc := outs(gpu), outs(cpu)
				for i := range oc {
					if e := relErr(og[i], oc[i]); e > tol {
						t.Errorf("n=%d output %s: relative error %.3g", n, spec.Outputs[i].Name, e)
					}
				}
				mg, mc := make([]float32, len(spec.Metrics)), make([]float32, len(spec.Metrics))
				lg, err := gpu.Evaluate(b, n, mg)
				if err != nil {
					t.Fatal(err)
				}
				lc, err := cpu.Evaluate(b, n, mc)
				if err != nil {
					t.Fatal(err)
				}
				if e := relErr([]float32{lg}, []float32{lc}); e > tol {
					t.Errorf("n=%d eval loss: GPU %v, CPU %v", n, lg, lc)
				}
				for i := range mc {
					// A metric such as accuracy may flip one example on a near tie.
					if d := math.Abs(float64(mg[i] - mc[i])); d > 1.01/float64(n)+tol {
						t.Errorf("n=%d metric %s: GPU %v, CPU %v", n, spec.Metrics[i], mg[i], mc[i])
					}
				}
			}
			b := batch(spec, spec.MaxBatch, c.bounds, rng)
			for step := 1; step <= 3; step++ {
				lg, err := gpu.Train(b, spec.MaxBatch)
				if err != nil {
					t.Fatal(err)
				}
				lc, err := cpu.Train(b, spec.MaxBatch)
				if err != nil {
					t.Fatal(err)
				}
				if e := relErr([]float32{lg}, []float32{lc}); e > tol {
					t.Errorf("step %d loss: GPU %v, CPU %v", step, lg, lc)
				}
				compareTensors(t, fmt.Sprintf("step %d grad", step), gpu.Grads(), cpu.Grads())
				compareTensors(t, fmt.Sprintf("step %d param", step), gpu.Params(), cpu.Params())
				compareTensors(t, fmt.Sprintf("step %d state", step), gpu.State(), cpu.State())
			}
			// A checkpoint written on the GPU loads on the CPU and back.
			path := t.TempDir() + "/ckpt.safetensors"
			if err := gpu.Save(path); err != nil {
				t.Fatal(err)
			}
			fresh := c.cpu(99)
			if err := fresh.Load(path); err != nil {
				t.Fatal(err)
			}
			compareTensors(t, "checkpoint", fresh.Params(), cpu.Params())
			gpu2, err := c.gpu(99)
			if err != nil {
				t.Fatal(err)
			}
			defer gpu2.Close()
			if err := gpu2.Load(path); err != nil {
				t.Fatal(err)
			}
			compareTensors(t, "loaded on GPU", gpu2.Params(), cpu.Params())
		})
	}
}

// Without a driver the constructor says so and the CPU model still trains.
func TestNoDriver(t *testing.T) {
	m, err := mnistmlp.NewCUDA(0)
	if err == nil {
		m.Close()
		t.Skip("a GPU is available")
	}
	if !noGPU(err) {
		t.Fatalf("unexpected error: %v", err)
	}
	if !strings.Contains(err.Error(), "libcuda.so.1") {
		t.Errorf("error %q does not name libcuda.so.1", err)
	}
	cpu := mnistmlp.New()
	b := batch(cpu.Spec(), 4, map[string]int32{"label": 10}, rand.New(rand.NewPCG(1, 1)))
	if _, err := cpu.Train(b, 4); err != nil {
		t.Fatal(err)
	}
}

// A training step on the GPU allocates nothing on the host.
func TestStepAllocs(t *testing.T) {
	m, err := mnistmlp.NewCUDA(0)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	defer m.Close()
	b := batch(m.Spec(), 128, map[string]int32{"label": 10}, rand.New(rand.NewPCG(1, 1)))
	x, y := b[0].F32, b[1].I32
	if _, err := m.TrainStep(x, y, 128); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(10, func() { m.TrainStep(x, y, 128) }); a != 0 {
		t.Errorf("TrainStep allocates %v times", a)
	}
}

func benchmarkMnist(b *testing.B, m interface {
	TrainStep([]float32, []int32, int) (float32, error)
}) {
	const n = 128
	bt := batch(mnistmlp.New().Spec(), n, map[string]int32{"label": 10}, rand.New(rand.NewPCG(1, 1)))
	x, y := bt[0].F32, bt[1].I32
	if _, err := m.TrainStep(x, y, n); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := m.TrainStep(x, y, n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "examples/s")
}

// BenchmarkMnistStepGPU times mnist_mlp's training step at batch 128 on the GPU.
func BenchmarkMnistStepGPU(b *testing.B) {
	m, err := mnistmlp.NewCUDA(0)
	if err != nil {
		b.Skipf("no GPU: %v", err)
	}
	defer m.Close()
	benchmarkMnist(b, m)
}

// BenchmarkMnistStepCPU is the same step on the CPU, for comparison.
func BenchmarkMnistStepCPU(b *testing.B) { benchmarkMnist(b, mnistmlp.New()) }
