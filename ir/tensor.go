package ir

import "fmt"

// Tensor is a dense row-major float64 array with concrete extents. It is the
// currency of the reference kernels; integer and bool values are stored as
// exact float64 (bool: 0 or 1).
type Tensor struct {
	Shape []int
	Data  []float64
}

// NewTensor returns a zero tensor of the given extents.
func NewTensor(shape []int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float64, numel(shape))}
}

// ScalarTensor returns a rank-0 tensor.
func ScalarTensor(x float64) *Tensor { return &Tensor{Shape: []int{}, Data: []float64{x}} }

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Len is the element count.
func (t *Tensor) Len() int { return len(t.Data) }

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float64(nil), t.Data...)}
}

func (t *Tensor) String() string { return fmt.Sprintf("tensor%v%v", t.Shape, t.Data) }

// strides returns row-major strides.
func strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// bcastStrides returns strides for reading a tensor of shape in as if it had
// shape out (right-aligned broadcasting: size-1 and missing axes get stride 0).
func bcastStrides(in, out []int) []int {
	st := strides(in)
	r := make([]int, len(out))
	off := len(out) - len(in)
	for i := range out {
		j := i - off
		if j >= 0 && in[j] != 1 {
			r[i] = st[j]
		}
	}
	return r
}

// forEachIndex calls f with the flat output index and the flat offsets into
// each input for every element of out, in row-major order.
func forEachIndex(out []int, ins [][]int, f func(o int, offs []int)) {
	bs := make([][]int, len(ins))
	for i, in := range ins {
		bs[i] = bcastStrides(in, out)
	}
	idx := make([]int, len(out))
	offs := make([]int, len(ins))
	total := numel(out)
	for o := 0; o < total; o++ {
		f(o, offs)
		// increment the multi-index and the input offsets
		for ax := len(out) - 1; ax >= 0; ax-- {
			idx[ax]++
			for k := range offs {
				offs[k] += bs[k][ax]
			}
			if idx[ax] < out[ax] {
				break
			}
			for k := range offs {
				offs[k] -= bs[k][ax] * out[ax]
			}
			idx[ax] = 0
		}
	}
}
