package impl

import (
	"math"
	"testing"
)

// TestPhilox4x32KnownAnswers checks the Random123 library's known-answer
// vectors (its tests/kat_vectors, the three "philox4x32 10" lines: counter
// words, key words, expected words).
func TestPhilox4x32KnownAnswers(t *testing.T) {
	cases := []struct {
		ctr  [4]uint32
		key  [2]uint32
		want [4]uint32
	}{
		{[4]uint32{0, 0, 0, 0}, [2]uint32{0, 0}, [4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
		{[4]uint32{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, [2]uint32{0xffffffff, 0xffffffff}, [4]uint32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
		{[4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, [2]uint32{0xa4093822, 0x299f31d0}, [4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
	}
	for _, c := range cases {
		if got := Philox4x32(c.ctr, c.key); got != c.want {
			t.Errorf("Philox4x32(%08x, %08x) = %08x, want %08x", c.ctr, c.key, got, c.want)
		}
	}
}

// TestPhiloxUniform checks the range, the 24-bit grid, the mean and the
// variance of 100000 draws (within 5 standard errors of 1/2 and 1/12), and
// that the seed, the step and the stream each change the draw.
func TestPhiloxUniform(t *testing.T) {
	const n = 100000
	var sum, sq float64
	for i := range uint64(n) {
		u := PhiloxUniform(7, 3, 0, i)
		if !(u >= 0 && u < 1) || float64(u)*(1<<24) != math.Trunc(float64(u)*(1<<24)) {
			t.Fatalf("draw %d = %v: not in [0, 1) on the 2^-24 grid", i, u)
		}
		sum += float64(u)
		sq += float64(u) * float64(u)
	}
	mean := sum / n
	variance := sq/n - mean*mean
	if se := math.Sqrt(1.0 / 12 / n); math.Abs(mean-0.5) > 5*se {
		t.Errorf("mean %v, want 0.5 ± %v", mean, 5*se)
	}
	if math.Abs(variance-1.0/12) > 0.002 {
		t.Errorf("variance %v, want 1/12", variance)
	}
	base := PhiloxUniform(7, 3, 0, 42)
	for _, u := range []float32{PhiloxUniform(8, 3, 0, 42), PhiloxUniform(7, 4, 0, 42), PhiloxUniform(7, 3, 1, 42), PhiloxUniform(7|1<<40, 3, 0, 42), PhiloxUniform(7, 3, 0, 42|1<<33)} {
		if u == base {
			t.Errorf("a different seed, step, stream or index drew the same value %v", u)
		}
	}
}

// TestPhiloxFill: PhiloxFill draws PhiloxUniform's values, with any split,
// with and without the AVX2 kernel.
func TestPhiloxFill(t *testing.T) {
	defer func(v bool) { vecAVX2 = v }(vecAVX2)
	for _, asm := range []bool{false, true} {
		vecAVX2 = asm && hasVecAVX2
		for _, n := range []int{0, 5, 13, 1 << 16} {
			for _, threads := range []int{1, 2, 5} {
				dst := make([]float32, n)
				withThreads(threads, func() { PhiloxFill(dst, 0x1234_5678_9abc, 7, 2) })
				for i, v := range dst {
					if w := PhiloxUniform(0x1234_5678_9abc, 7, 2, uint64(i)); v != w {
						t.Fatalf("AVX2 %v, n %d, %d workers: dst[%d] = %v, want %v", vecAVX2, n, threads, i, v, w)
					}
				}
			}
		}
	}
}

// BenchmarkPhiloxFill draws the Fashion-MNIST CNN's dropout mask (128 x
// 1600) on one core.
func BenchmarkPhiloxFill(b *testing.B) {
	dst := make([]float32, 128*1600)
	for b.Loop() {
		philoxFill(dst, 0x1234_5678_9abc, 7, 2, 0, len(dst))
	}
}
