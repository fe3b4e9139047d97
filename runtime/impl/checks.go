package impl

import (
	"fmt"
	"math"
)

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
	if n == 1 {
		return fmt.Errorf("%s: got %d values, want %d", name, got, perExample)
	}
	return fmt.Errorf("%s: got %d values, want %d (n=%d × %d)", name, got, n*perExample, n, perExample)
}

// IndexError is the error of a generated kernel that met an index out of
// range [0, hi) at position i of a computed index (where: the op and its
// position in the model's source).
func IndexError(where string, i int, index int32, hi int) error {
	return fmt.Errorf("%s: index %d at position %d is out of range [0, %d)", where, index, i, hi)
}
