package runtime

import (
	"fmt"
	"math"
)

// DTypes of model inputs and outputs.
const (
	F32 = "f32"
	I32 = "i32"
)

// IO describes one input, target, output, metric, parameter or state tensor
// of a model.
type IO struct {
	Name  string
	DType string // F32 or I32
	// Shape uses -1 for the batch axis N; a multiple k*N is written -k.
	Shape []int
	Role  string // "input", "target", "output", "metric", "param" or "state"
}

// Spec describes a compiled model.
type Spec struct {
	Name     string
	MaxBatch int
	Inputs   []IO // inputs then targets, in declaration order
	Outputs  []IO
	Metrics  []string
	Params   []IO
	State    []IO
}

// Batch carries one Value per Spec.Inputs entry, in order.
type Batch []Value

// Value holds F32 data for an f32 input and I32 data for an i32 one.
type Value struct {
	F32 []float32
	I32 []int32
}

// Model is what every generated model package's model satisfies.
type Model interface {
	Spec() Spec
	// Train runs one optimizer step on the first n examples of b.
	Train(b Batch, n int) (loss float32, err error)
	// Evaluate computes the loss and fills metrics (len(Spec().Metrics))
	// without updating anything.
	Evaluate(b Batch, n int, metrics []float32) (loss float32, err error)
	// Predict fills outputs, one per Spec().Outputs; targets in b may be nil.
	Predict(b Batch, n int, outputs [][]float32) error
	// Params returns views of the live parameters.
	Params() []Tensor
	Save(path string) error
	Load(path string) error
}

// The checks below are what generated code runs on its inputs before a step.
// name is printed as given, so callers pass the role too ("input image",
// "target label"). They allocate only when they fail.

// CheckBatch reports an error unless 1 <= n <= max.
func CheckBatch(n, max int) error {
	if n < 1 || n > max {
		return fmt.Errorf("batch size %d out of range 1..%d", n, max)
	}
	return nil
}

// CheckF32 reports an error unless len(data) == n*perExample.
func CheckF32(name string, data []float32, n, perExample int) error {
	if len(data) != n*perExample {
		return lengthError(name, len(data), n, perExample)
	}
	return nil
}

// CheckI32Range reports an error unless len(data) == n*perExample and every
// value lies in [0, hi); it names the first bad index and value.
func CheckI32Range(name string, data []int32, n, perExample, hi int) error {
	if len(data) != n*perExample {
		return lengthError(name, len(data), n, perExample)
	}
	for i, v := range data {
		if v < 0 || int(v) >= hi {
			return fmt.Errorf("%s: value %d at index %d is out of range [0, %d)", name, v, i, hi)
		}
	}
	return nil
}

// CheckFinite reports the first NaN or infinite value in data. On amd64
// an AVX2 pass checks the whole slice first (inputs are checked on every
// step: 100K floats per MNIST batch).
func CheckFinite(name string, data []float32) error {
	if len(data) > 0 && vecAVX2 && vecAllFiniteAVX2(&data[0], len(data)) {
		return nil
	}
	for i, v := range data {
		if v-v != 0 { // NaN or ±Inf
			kind := "NaN"
			if math.IsInf(float64(v), 1) {
				kind = "+Inf"
			} else if math.IsInf(float64(v), -1) {
				kind = "-Inf"
			}
			return fmt.Errorf("%s: value %d is %s", name, i, kind)
		}
	}
	return nil
}

func lengthError(name string, got, n, perExample int) error {
	return fmt.Errorf("%s: got %d values, want %d (n=%d × %d)", name, got, n*perExample, n, perExample)
}
