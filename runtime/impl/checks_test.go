package impl

import (
	"math"
	"testing"
)

func TestChecks(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{CheckF32("input image", make([]float32, 1000), 128, 784), "input image: got 1000 values, want 100352 (n=128 × 784)"},
		{CheckI32Range("target label", []int32{1, 2}, 1, 3, 10), "target label: got 2 values, want 3"},
		{CheckI32Range("target label", []int32{1, 10, -1}, 3, 1, 10), "target label: value 10 at index 1 is out of range [0, 10)"},
		{CheckI32Range("target label", []int32{1, -1}, 2, 1, 10), "target label: value -1 at index 1 is out of range [0, 10)"},
		{CheckBatch(0, 128), "batch size 0 out of range 1..128"},
		{IndexError("m.mdl:5:16: gather", 3, 10, 10), "m.mdl:5:16: gather: index 10 at position 3 is out of range [0, 10)"},
		{CheckBatch(129, 128), "batch size 129 out of range 1..128"},
		{CheckFinite("input x", []float32{0, 1, 2, float32(math.NaN())}), "input x: value 3 is NaN"},
		{CheckFinite("input x", []float32{float32(math.Inf(-1))}), "input x: value 0 is -Inf"},
		{CheckFinite("input x", []float32{float32(math.Inf(1))}), "input x: value 0 is +Inf"},
	}
	for _, tc := range tests {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("got error %v, want %q", tc.err, tc.want)
		}
	}
	x := make([]float32, 128*784)
	y := make([]int32, 128)
	ok := func() {
		if CheckBatch(128, 128) != nil || CheckF32("input image", x, 128, 784) != nil ||
			CheckI32Range("target label", y, 128, 1, 10) != nil || CheckFinite("input image", x) != nil {
			t.Fatal("check failed on valid input")
		}
	}
	if allocs := testing.AllocsPerRun(10, ok); allocs != 0 {
		t.Fatalf("checks allocate %v times on success", allocs)
	}
}
