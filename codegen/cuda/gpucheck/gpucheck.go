// Package gpucheck compares the CUDA target of generated models with their
// CPU target: scripts/gpu-check builds a program that runs Run on the
// examples and the all-ops model (codegen/cuda's TestGPUCheckBuild writes
// it), to be run on a machine with an NVIDIA GPU. The checks:
//
//   - every model's forward outputs, eval loss and metrics at two batch
//     sizes, then loss, gradients, parameters and optimizer state after each
//     of 3 training steps, against the CPU model from the same
//     initialization (relative error <= Tol per tensor);
//   - checkpoints crossed GPU -> CPU -> GPU;
//   - a training step of the benchmark model allocates nothing on the host;
//   - without a driver, NewCUDA's error names libcuda and the CPU model
//     still trains;
//   - a model given a one-rank NCCL all-reduce (dist/nccl, Case.NCCL)
//     trains bit for bit as the same model without it (the reduction of one
//     rank scaled by n/N = 1 is the identity); without NCCL the check is
//     skipped with the loader's error;
//   - then the benchmark model's training step is timed on the GPU and the
//     CPU (examples/s).
//
// The package runs on a CPU too: its tests check the checks with the CPU
// model standing in for the GPU.
package gpucheck

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mdlc/mdlc/dist/nccl"
	mdlc "github.com/mdlc/mdlc/runtime"
	cu "github.com/mdlc/mdlc/runtime/cuda"
)

// Tol is the largest relative error allowed between the GPU and the CPU:
// max |gpu - cpu| / max(max |cpu|, Floor) per tensor.
const (
	Tol   = 1e-3
	Floor = 1e-4
)

// Model is what both a Model and a CUDAModel offer.
type Model interface {
	mdlc.Model
	Grads() []mdlc.Tensor
	State() []mdlc.Tensor
}

// GPUModel is a model on a device.
type GPUModel interface {
	Model
	Close() error
}

// Case is one generated package: its two constructors and the exclusive
// upper bounds of its i32 inputs (class labels, table rows; 2 if absent).
// Bad, if set, is an i32 input's value that makes a computed index out of
// range: a training step with it must fail on both targets with the same
// error and leave the parameters as they were.
type Case struct {
	Name   string
	CPU    func(seed uint64) Model
	GPU    func(seed uint64) (GPUModel, error)
	Bounds map[string]int32
	Bad    map[string]int32
	// NCCL, if set, makes the GPU model with a one-rank NCCL all-reduce
	// (WithNCCL).
	NCCL func(seed uint64) (GPUModel, error)
}

// reducible is a CUDAModel that trains: it takes a DeviceAllReducer.
type reducible interface {
	GPUModel
	Device() *cu.Device
	SetAllReduce(mdlc.DeviceAllReducer)
}

// ncclError marks an error of loading or starting NCCL.
type ncclError struct{ error }

func (e ncclError) Unwrap() error { return e.error }

// WithNCCL gives the GPU model m (made with err) an NCCL communicator of
// one rank as its all-reduce: WithNCCL(pkg.NewCUDA(0, opts...)).
func WithNCCL[M GPUModel](m M, err error) (GPUModel, error) {
	if err != nil {
		return nil, err
	}
	rm, ok := any(m).(reducible)
	if !ok {
		m.Close()
		return nil, fmt.Errorf("the model has no training step to reduce")
	}
	r, err := nccl.New(nil, rm.Device())
	if err != nil {
		m.Close()
		return nil, ncclError{err}
	}
	rm.SetAllReduce(r)
	return rm, nil
}

// matchNCCL trains the GPU model with and without the one-rank NCCL
// all-reduce on the same batches: the parameters, state and losses must
// be the same bits.
func matchNCCL(w io.Writer, c Case) (bool, error) {
	plain, err := c.GPU(1)
	if err != nil {
		return false, err
	}
	defer plain.Close()
	red, err := c.NCCL(1)
	if err != nil {
		return false, err
	}
	defer red.Close()
	rng := rand.New(rand.NewPCG(3, 3))
	spec := plain.Spec()
	for step := range 3 {
		n := max(1, spec.MaxBatch-step)
		b := Batch(spec, n, c.Bounds, rng)
		l1, err := plain.Train(b, n)
		if err != nil {
			return false, err
		}
		l2, err := red.Train(b, n)
		if err != nil {
			return false, fmt.Errorf("with NCCL: %w", err)
		}
		if math.Float32bits(l1) != math.Float32bits(l2) {
			fmt.Fprintf(w, "FAIL %s: NCCL: step %d loss %v, without NCCL %v\n", c.Name, step, l2, l1)
			return false, nil
		}
	}
	ok := true
	for _, pair := range [][2][]mdlc.Tensor{{plain.Params(), red.Params()}, {plain.State(), red.State()}} {
		for i, t := range pair[0] {
			for j, x := range t.Data {
				if math.Float32bits(x) != math.Float32bits(pair[1][i].Data[j]) {
					fmt.Fprintf(w, "FAIL %s: NCCL: %s[%d] = %v, without NCCL %v\n", c.Name, t.Name, j, pair[1][i].Data[j], x)
					ok = false
					break
				}
			}
		}
	}
	return ok, nil
}

// NoGPU reports whether err says there is no driver or no device.
func NoGPU(err error) bool {
	var e *cu.Error
	return strings.Contains(err.Error(), "cannot load the NVIDIA driver") ||
		errors.As(err, &e) && (e.Name == "CUDA_ERROR_NO_DEVICE" || e.Name == "CUDA_ERROR_STUB_LIBRARY")
}

// Batch makes n random examples for spec's inputs.
func Batch(spec mdlc.Spec, n int, bounds map[string]int32, rng *rand.Rand) mdlc.Batch {
	var b mdlc.Batch
	for _, in := range spec.Inputs {
		per, batched := in.PerExample()
		count := n * per
		if !batched { // the same for every example: its declared size
			count = per
		}
		var v mdlc.Value
		if in.DType == mdlc.I32 {
			hi := bounds[in.Name]
			if hi == 0 {
				hi = 2
			}
			v.I32 = make([]int32, count)
			for i := range v.I32 {
				v.I32[i] = rng.Int32N(hi)
			}
		} else {
			v.F32 = make([]float32, count)
			for i := range v.F32 {
				v.F32[i] = float32(rng.NormFloat64())
			}
		}
		b = append(b, v)
	}
	return b
}

// RelErr is max |got - want| / max(max |want|, Floor); +Inf when the
// lengths or the NaNs differ.
func RelErr(got, want []float32) float64 {
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
	return diff / max(scale, Floor)
}

// checker collects the failures of one case.
type checker struct {
	w      io.Writer
	name   string
	failed bool
}

func (c *checker) errorf(format string, args ...any) {
	c.failed = true
	fmt.Fprintf(c.w, "FAIL %s: %s\n", c.name, fmt.Sprintf(format, args...))
}

func (c *checker) tensors(what string, gpu, cpu []mdlc.Tensor) {
	if len(gpu) != len(cpu) {
		c.errorf("%s: %d tensors on the GPU, %d on the CPU", what, len(gpu), len(cpu))
		return
	}
	for i := range cpu {
		if e := RelErr(gpu[i].Data, cpu[i].Data); !(e <= Tol) {
			c.errorf("%s %s: relative error %.3g > %g", what, cpu[i].Name, e, Tol)
		}
	}
}

// Match runs one case's forward pass, evaluation, three training steps and
// checkpoint round trips on the GPU and the CPU from the same
// initialization and compares them. It reports false when a check failed,
// and an error when the GPU model could not be made.
func Match(w io.Writer, c Case, dir string) (bool, error) {
	gpu, err := c.GPU(3)
	if err != nil {
		return false, err
	}
	defer gpu.Close()
	ck := &checker{w: w, name: c.Name}
	cpu := c.CPU(3)
	spec := cpu.Spec()
	rng := rand.New(rand.NewPCG(1, 2))
	ck.tensors("initial param", gpu.Params(), cpu.Params())
	for _, n := range []int{spec.MaxBatch, max(1, spec.MaxBatch-3)} {
		b := Batch(spec, n, c.Bounds, rng)
		outs := func(m Model) [][]float32 {
			o := make([][]float32, len(spec.Outputs))
			for i := range o {
				o[i] = make([]float32, spec.MaxBatch*1024)
			}
			if err := m.Predict(b, n, o); err != nil {
				ck.errorf("n=%d predict: %v", n, err)
			}
			return o
		}
		og, oc := outs(gpu), outs(cpu)
		for i := range oc {
			if e := RelErr(og[i], oc[i]); !(e <= Tol) {
				ck.errorf("n=%d output %s: relative error %.3g", n, spec.Outputs[i].Name, e)
			}
		}
		mg, mc := make([]float32, len(spec.Metrics)), make([]float32, len(spec.Metrics))
		lg, errg := gpu.Evaluate(b, n, mg)
		lc, errc := cpu.Evaluate(b, n, mc)
		if (errg == nil) != (errc == nil) {
			ck.errorf("n=%d eval: GPU error %v, CPU error %v", n, errg, errc)
			continue
		}
		if errc != nil {
			continue // no loss: inference only
		}
		if e := RelErr([]float32{lg}, []float32{lc}); !(e <= Tol) {
			ck.errorf("n=%d eval loss: GPU %v, CPU %v", n, lg, lc)
		}
		for i := range mc {
			// A metric such as accuracy may flip one example on a near tie.
			if d := math.Abs(float64(mg[i] - mc[i])); !(d <= 1.01/float64(n)+Tol) {
				ck.errorf("n=%d metric %s: GPU %v, CPU %v", n, spec.Metrics[i], mg[i], mc[i])
			}
		}
	}
	b := Batch(spec, spec.MaxBatch, c.Bounds, rng)
	for step := 1; step <= 3; step++ {
		lg, errg := gpu.Train(b, spec.MaxBatch)
		lc, errc := cpu.Train(b, spec.MaxBatch)
		if errg != nil || errc != nil {
			if (errg == nil) != (errc == nil) {
				ck.errorf("step %d: GPU error %v, CPU error %v", step, errg, errc)
			}
			break // not trainable
		}
		if e := RelErr([]float32{lg}, []float32{lc}); !(e <= Tol) {
			ck.errorf("step %d loss: GPU %v, CPU %v", step, lg, lc)
		}
		ck.tensors(fmt.Sprintf("step %d grad", step), gpu.Grads(), cpu.Grads())
		ck.tensors(fmt.Sprintf("step %d param", step), gpu.Params(), cpu.Params())
		ck.tensors(fmt.Sprintf("step %d state", step), gpu.State(), cpu.State())
	}
	if len(c.Bad) > 0 {
		faults(ck, gpu, cpu, spec, c, rng)
	}
	// A checkpoint written on the GPU loads on the CPU and back.
	path := dir + "/" + c.Name + ".safetensors"
	if err := gpu.Save(path); err != nil {
		ck.errorf("save on the GPU: %v", err)
		return false, nil
	}
	fresh := c.CPU(99)
	if err := fresh.Load(path); err != nil {
		ck.errorf("load on the CPU: %v", err)
	}
	ck.tensors("checkpoint", fresh.Params(), cpu.Params())
	gpu2, err := c.GPU(99)
	if err != nil {
		ck.errorf("a second GPU model: %v", err)
		return false, nil
	}
	defer gpu2.Close()
	if err := gpu2.Load(path); err != nil {
		ck.errorf("load on the GPU: %v", err)
	}
	ck.tensors("loaded on GPU", gpu2.Params(), cpu.Params())
	return !ck.failed, nil
}

// faults checks a training step whose computed index is out of range (the
// inputs of c.Bad set to their bad value): both targets fail with the same
// error, and neither changes its parameters or optimizer state.
func faults(ck *checker, gpu, cpu Model, spec mdlc.Spec, c Case, rng *rand.Rand) {
	b := Batch(spec, spec.MaxBatch, c.Bounds, rng)
	for i, in := range spec.Inputs {
		if bad, ok := c.Bad[in.Name]; ok {
			b[i].I32[len(b[i].I32)-1] = bad
		}
	}
	snapshot := func(m Model) []mdlc.Tensor {
		var out []mdlc.Tensor
		for _, t := range append(m.Params(), m.State()...) {
			out = append(out, mdlc.Tensor{Name: t.Name, Data: append([]float32(nil), t.Data...)})
		}
		return out
	}
	pg, pc := snapshot(gpu), snapshot(cpu)
	_, errg := gpu.Train(b, spec.MaxBatch)
	_, errc := cpu.Train(b, spec.MaxBatch)
	switch {
	case errc == nil:
		ck.errorf("an index out of range: the CPU step did not fail")
	case errg == nil || errg.Error() != errc.Error():
		ck.errorf("an index out of range: GPU error %v, CPU error %v", errg, errc)
	}
	ck.tensors("after a failed step", snapshot(gpu), pg)
	ck.tensors("after a failed step (CPU)", snapshot(cpu), pc)
}

// StepAllocs reports the host allocations of one training step of m.
func StepAllocs(m Model, b mdlc.Batch, n int) (float64, error) {
	if _, err := m.Train(b, n); err != nil {
		return 0, err
	}
	var err error
	a := testing.AllocsPerRun(10, func() {
		if _, e := m.Train(b, n); e != nil {
			err = e
		}
	})
	return a, err
}

// StepsPerSecond times training steps of m on one batch of n for about d
// and returns examples per second.
func StepsPerSecond(m Model, b mdlc.Batch, n int, d time.Duration) (float64, error) {
	if _, err := m.Train(b, n); err != nil {
		return 0, err
	}
	steps := 0
	start := time.Now()
	for time.Since(start) < d || steps < 10 {
		if _, err := m.Train(b, n); err != nil {
			return 0, err
		}
		steps++
	}
	return float64(steps*n) / time.Since(start).Seconds(), nil
}

// Run runs every check on every case, then times the training step of the
// case named bench on both targets, reporting to w. It returns false when a
// check failed; without a GPU it checks the error NewCUDA gives and that
// the CPU model still trains.
func Run(w io.Writer, cases []Case, bench string) bool {
	ok := true
	dir, err := os.MkdirTemp("", "gpucheck-")
	if err != nil {
		fmt.Fprintf(w, "FAIL: %v\n", err)
		return false
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(w, "== GPU vs CPU (3 training steps, relative error <= %g)\n", Tol)
	for _, c := range cases {
		pass, err := Match(w, c, dir)
		switch {
		case err != nil && NoGPU(err):
			fmt.Fprintf(w, "SKIP %s: no GPU: %v\n", c.Name, err)
			if !strings.Contains(err.Error(), "libcuda.so.1") && strings.Contains(err.Error(), "driver") {
				fmt.Fprintf(w, "FAIL %s: the error does not name libcuda.so.1\n", c.Name)
				ok = false
			}
			cpu := c.CPU(1)
			if _, err := cpu.Train(Batch(cpu.Spec(), 2, c.Bounds, rand.New(rand.NewPCG(1, 1))), 2); err != nil && !strings.Contains(err.Error(), "cannot be trained") {
				fmt.Fprintf(w, "FAIL %s: the CPU model does not train: %v\n", c.Name, err)
				ok = false
			}
		case err != nil:
			fmt.Fprintf(w, "FAIL %s: %v\n", c.Name, err)
			ok = false
		case pass:
			fmt.Fprintf(w, "ok   %s\n", c.Name)
		default:
			ok = false
		}
	}
	fmt.Fprintf(w, "== NCCL all-reduce of one rank (3 training steps, bit-identical to none)\n")
	for _, c := range cases {
		if c.NCCL == nil {
			continue
		}
		pass, err := matchNCCL(w, c)
		var ne ncclError
		switch {
		case errors.As(err, &ne) && strings.Contains(err.Error(), "cannot load NCCL"):
			fmt.Fprintf(w, "SKIP %s: %v\n", c.Name, err)
		case err != nil && NoGPU(err):
			fmt.Fprintf(w, "SKIP %s: no GPU: %v\n", c.Name, err)
		case err != nil:
			fmt.Fprintf(w, "FAIL %s: NCCL: %v\n", c.Name, err)
			ok = false
		case pass:
			fmt.Fprintf(w, "ok   %s (NCCL)\n", c.Name)
		default:
			ok = false
		}
	}
	for _, c := range cases {
		if c.Name != bench {
			continue
		}
		gpu, err := c.GPU(1)
		if err != nil {
			fmt.Fprintf(w, "SKIP timing: %v\n", err)
			break
		}
		defer gpu.Close()
		cpu := c.CPU(1)
		n := cpu.Spec().MaxBatch
		b := Batch(cpu.Spec(), n, c.Bounds, rand.New(rand.NewPCG(1, 1)))
		if a, err := StepAllocs(gpu, b, n); err != nil || a != 0 {
			fmt.Fprintf(w, "FAIL %s: a training step on the GPU allocates %v times (%v)\n", c.Name, a, err)
			ok = false
		}
		fmt.Fprintf(w, "== %s training step, batch %d\n", c.Name, n)
		for _, t := range []struct {
			target string
			m      Model
		}{{"GPU", gpu}, {"CPU", cpu}} {
			eps, err := StepsPerSecond(t.m, b, n, 2*time.Second)
			if err != nil {
				fmt.Fprintf(w, "FAIL %s on the %s: %v\n", c.Name, t.target, err)
				ok = false
				continue
			}
			fmt.Fprintf(w, "%s: %.0f examples/s (%.3f ms/step)\n", t.target, eps, 1000*float64(n)/eps)
		}
	}
	return ok
}
