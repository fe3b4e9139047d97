package impl

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestRNGDeterministic(t *testing.T) {
	a, b, c := NewRNG(7), NewRNG(7), NewRNG(8)
	same := true
	for range 100 {
		x, y, z := a.Float64(), b.Float64(), c.Float64()
		if x != y {
			t.Fatal("same seed, different Float64")
		}
		same = same && x == z
	}
	if same {
		t.Fatal("different seeds, same sequence")
	}
	if a.NormFloat64() != b.NormFloat64() || a.IntN(1000) != b.IntN(1000) {
		t.Fatal("same seed, different NormFloat64 or IntN")
	}
}

func TestPerm(t *testing.T) {
	rng := NewRNG(1)
	dst := make([]int, 20)
	rng.Perm(10, dst)
	got := slices.Clone(dst[:10])
	slices.Sort(got)
	for i, v := range got {
		if v != i {
			t.Fatalf("Perm is not a permutation: %v", dst[:10])
		}
	}
	p1, p2 := make([]int, 50), make([]int, 50)
	NewRNG(3).Perm(50, p1)
	NewRNG(3).Perm(50, p2)
	if !slices.Equal(p1, p2) {
		t.Fatal("Perm not deterministic per seed")
	}
	if allocs := testing.AllocsPerRun(10, func() { rng.Perm(20, dst) }); allocs != 0 {
		t.Fatalf("Perm allocates %v times", allocs)
	}
}

func moments(x []float32) (mean, std, lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range x {
		mean += float64(v)
		lo, hi = min(lo, float64(v)), max(hi, float64(v))
	}
	mean /= float64(len(x))
	for _, v := range x {
		std += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, math.Sqrt(std / float64(len(x))), lo, hi
}

func TestInitParam(t *testing.T) {
	const fanIn, fanOut = 300, 200
	shape := []int{fanIn, fanOut}
	glorot := math.Sqrt(6.0 / (fanIn + fanOut))
	he := math.Sqrt(6.0 / fanIn)
	tests := []struct {
		init      string
		args      []float64
		mean, std float64
		lo, hi    float64 // bounds every value must lie in
	}{
		{"zeros", nil, 0, 0, 0, 0},
		{"ones", nil, 1, 0, 1, 1},
		{"constant", []float64{0.25}, 0.25, 0, 0.25, 0.25},
		{"normal", []float64{0.5, 2}, 2, 0.5, -10, 10},
		{"normal", nil, 0, 0.05, -1, 1},
		{"uniform", []float64{-3, 1}, -1, 4 / math.Sqrt(12), -3, 1},
		{"glorot_uniform", nil, 0, glorot / math.Sqrt(3), -glorot, glorot},
		{"he_uniform", nil, 0, he / math.Sqrt(3), -he, he},
		{"glorot_normal", nil, 0, math.Sqrt(2.0 / (fanIn + fanOut)), -2 * math.Sqrt(2.0/(fanIn+fanOut)) / 0.8796, 2 * math.Sqrt(2.0/(fanIn+fanOut)) / 0.8796},
		{"he_normal", nil, 0, math.Sqrt(2.0 / fanIn), -2 * math.Sqrt(2.0/fanIn) / 0.8796, 2 * math.Sqrt(2.0/fanIn) / 0.8796},
	}
	for _, tc := range tests {
		dst := make([]float32, fanIn*fanOut)
		if err := InitParam(dst, shape, tc.init, tc.args, NewRNG(5)); err != nil {
			t.Fatalf("%s: %v", tc.init, err)
		}
		mean, std, lo, hi := moments(dst)
		tol := 0.02*tc.std + 1e-7
		if math.Abs(mean-tc.mean) > tol+1e-6 || math.Abs(std-tc.std) > tol {
			t.Errorf("%s%v: mean %.5f std %.5f, want %.5f and %.5f", tc.init, tc.args, mean, std, tc.mean, tc.std)
		}
		if lo < tc.lo-1e-6 || hi > tc.hi+1e-6 {
			t.Errorf("%s%v: values in [%v, %v], want within [%v, %v]", tc.init, tc.args, lo, hi, tc.lo, tc.hi)
		}
		again := make([]float32, len(dst))
		InitParam(again, shape, tc.init, tc.args, NewRNG(5))
		if !slices.Equal(dst, again) {
			t.Errorf("%s: not deterministic per seed", tc.init)
		}
	}
}

func TestFans(t *testing.T) {
	tests := []struct {
		shape   []int
		in, out int
	}{
		{nil, 1, 1},
		{[]int{7}, 7, 7},
		{[]int{3, 5}, 3, 5},
		{[]int{3, 3, 16, 32}, 144, 288},
	}
	for _, tc := range tests {
		if in, out := fans(tc.shape); in != tc.in || out != tc.out {
			t.Errorf("fans(%v) = %d, %d; want %d, %d", tc.shape, in, out, tc.in, tc.out)
		}
	}
}

func TestInitParamErrors(t *testing.T) {
	rng := NewRNG(1)
	tests := []struct {
		dst   int
		shape []int
		init  string
		args  []float64
		want  string
	}{
		{4, []int{2, 2}, "glorot_unifrom", nil, `unknown initializer "glorot_unifrom"`},
		{3, []int{2, 2}, "zeros", nil, "3 values for shape [2 2], want 4"},
		{4, []int{2, 2}, "normal", []float64{-1}, "std -1 is negative"},
		{4, []int{2, 2}, "uniform", []float64{1, 0}, "hi 0 < lo 1"},
		{4, []int{2, 2}, "zeros", []float64{1}, "1 arguments, want at most 0"},
		{4, []int{2, 2}, "constant", []float64{math.NaN()}, "not finite"},
	}
	for _, tc := range tests {
		err := InitParam(make([]float32, tc.dst), tc.shape, tc.init, tc.args, rng)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("InitParam(%s, %v) = %v, want an error containing %q", tc.init, tc.args, err, tc.want)
		}
	}
}

// TestOrthogonal checks Keras's Orthogonal: the rows (wide) or columns
// (tall) are orthonormal, and the matrix is the Q of the QR decomposition
// of the same normal draw with R's diagonal positive: Q^T A is upper
// triangular with a positive diagonal, A redrawn from the same seed.
func TestOrthogonal(t *testing.T) {
	for _, shape := range [][]int{{32, 8}, {8, 32}, {3, 4, 5}, {16, 16}, {1, 1}} {
		size := 1
		for _, d := range shape {
			size *= d
		}
		cols := shape[len(shape)-1]
		rows := size / cols
		dst := make([]float32, size)
		if err := InitParam(dst, shape, "orthogonal", nil, NewRNG(9)); err != nil {
			t.Fatal(err)
		}
		again := make([]float32, size)
		InitParam(again, shape, "orthogonal", nil, NewRNG(9))
		if !slices.Equal(dst, again) {
			t.Errorf("%v: not deterministic per seed", shape)
		}
		// q is [m, k] with orthonormal columns: the matrix, or its transpose.
		m, k := max(rows, cols), min(rows, cols)
		q := func(i, j int) float64 {
			if rows >= cols {
				return float64(dst[i*cols+j])
			}
			return float64(dst[j*cols+i])
		}
		rng := NewRNG(9)
		a := make([]float64, m*k) // column-major, as drawn
		for i := range a {
			a[i] = rng.NormFloat64()
		}
		for p := 0; p < k; p++ {
			for c := 0; c < k; c++ {
				var dot, r float64
				for i := 0; i < m; i++ {
					dot += q(i, p) * q(i, c)
					r += q(i, p) * a[c*m+i]
				}
				want := 0.0
				if p == c {
					want = 1
				}
				if math.Abs(dot-want) > 1e-5 {
					t.Errorf("%v: column %d . column %d = %v, want %v", shape, p, c, dot, want)
				}
				if p > c && math.Abs(r) > 1e-4 {
					t.Errorf("%v: R[%d][%d] = %v below the diagonal", shape, p, c, r)
				}
				if p == c && r <= 0 {
					t.Errorf("%v: R[%d][%d] = %v, want positive (sign correction)", shape, p, c, r)
				}
			}
		}
	}
}

func TestUnitForgetBias(t *testing.T) {
	dst := make([]float32, 8)
	if err := InitParam(dst, []int{8}, "unit_forget_bias", nil, NewRNG(1)); err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 0, 1, 1, 0, 0, 0, 0}; !slices.Equal(dst, want) {
		t.Errorf("unit_forget_bias [8] = %v, want %v", dst, want)
	}
	if err := InitParam(make([]float32, 6), []int{6}, "unit_forget_bias", nil, NewRNG(1)); err == nil {
		t.Errorf("unit_forget_bias [6]: no error")
	}
}
