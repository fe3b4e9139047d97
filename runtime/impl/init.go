package impl

import (
	"fmt"
	"math"
)

// InitParam fills dst, a parameter of the given shape, with the initializer
// init and its arguments, drawing from rng. len(dst) must equal the product of
// shape. The initializers follow Keras:
//
//	zeros, ones
//	constant(value=0)
//	normal(std=0.05, mean=0)       plain normal
//	uniform(lo=-0.05, hi=0.05)
//	glorot_uniform                 U(-l, l), l = sqrt(6/(fan_in+fan_out))
//	glorot_normal                  std sqrt(2/(fan_in+fan_out))
//	he_uniform                     U(-l, l), l = sqrt(6/fan_in)
//	he_normal                      std sqrt(2/fan_in)
//	orthogonal                     Q of the QR of a normal matrix, signs fixed (gain 1)
//	unit_forget_bias               an LSTM bias [4u]: zeros, the forget gate's u ones
//
// Missing trailing arguments take the Keras defaults shown. glorot_normal and
// he_normal draw, as Keras does, from a normal truncated at two standard
// deviations and widened by 1/0.87962566103423978 so the result has the
// stated std. Fans: rank 0 has fan_in = fan_out = 1; rank 1 has both equal to
// the size; rank 2 has fan_in = shape[0], fan_out = shape[1]; higher ranks
// multiply shape[-2] and shape[-1] by the receptive field prod(shape[:-2]).
func InitParam(dst []float32, shape []int, init string, args []float64, rng *RNG) error {
	size := 1
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("init %s: negative dimension in shape %v", init, shape)
		}
		size *= d
	}
	if len(dst) != size {
		return fmt.Errorf("init %s: %d values for shape %v, want %d", init, len(dst), shape, size)
	}
	for _, a := range args {
		if math.IsNaN(a) || math.IsInf(a, 0) {
			return fmt.Errorf("init %s: argument %v is not finite", init, a)
		}
	}
	arg := func(i int, def float64) float64 {
		if i < len(args) {
			return args[i]
		}
		return def
	}
	nargs := 0
	switch init {
	case "constant":
		nargs = 1
	case "normal", "uniform":
		nargs = 2
	}
	if len(args) > nargs {
		return fmt.Errorf("init %s: %d arguments, want at most %d", init, len(args), nargs)
	}
	fanIn, fanOut := fans(shape)
	switch init {
	case "zeros":
		fill(dst, 0)
	case "ones":
		fill(dst, 1)
	case "constant":
		fill(dst, float32(arg(0, 0)))
	case "normal":
		std, mean := arg(0, 0.05), arg(1, 0)
		if std < 0 {
			return fmt.Errorf("init normal: std %v is negative", std)
		}
		for i := range dst {
			dst[i] = float32(mean + std*rng.NormFloat64())
		}
	case "uniform":
		lo, hi := arg(0, -0.05), arg(1, 0.05)
		if hi < lo {
			return fmt.Errorf("init uniform: hi %v < lo %v", hi, lo)
		}
		uniform(dst, lo, hi, rng)
	case "glorot_uniform":
		l := math.Sqrt(6 / float64(fanIn+fanOut))
		uniform(dst, -l, l, rng)
	case "he_uniform":
		l := math.Sqrt(6 / float64(fanIn))
		uniform(dst, -l, l, rng)
	case "glorot_normal":
		truncNormal(dst, math.Sqrt(2/float64(fanIn+fanOut)), rng)
	case "he_normal":
		truncNormal(dst, math.Sqrt(2/float64(fanIn)), rng)
	case "orthogonal":
		orthogonal(dst, shape, rng)
	case "unit_forget_bias":
		// Keras LSTM's unit_forget_bias: gates i, f, c, o; f starts at 1.
		if len(shape) != 1 || shape[0]%4 != 0 {
			return fmt.Errorf("init unit_forget_bias: shape %v is not an LSTM bias [4*units]", shape)
		}
		u := shape[0] / 4
		fill(dst, 0)
		fill(dst[u:2*u], 1)
	case "random_key":
		// The key of counter-based draws (philox.go): 16-bit words, exact in float32.
		for i := range dst {
			dst[i] = float32(rng.IntN(1 << 16))
		}
	default:
		return fmt.Errorf("unknown initializer %q (want zeros, ones, constant, normal, uniform, glorot_uniform, glorot_normal, he_uniform, he_normal, orthogonal, unit_forget_bias or random_key)", init)
	}
	return nil
}

// fans returns Keras's fan_in and fan_out for a weight shape, at least 1.
func fans(shape []int) (in, out int) {
	switch r := len(shape); r {
	case 0:
		in, out = 1, 1
	case 1:
		in, out = shape[0], shape[0]
	case 2:
		in, out = shape[0], shape[1]
	default:
		recep := 1
		for _, d := range shape[:r-2] {
			recep *= d
		}
		in, out = shape[r-2]*recep, shape[r-1]*recep
	}
	return max(in, 1), max(out, 1)
}

func fill(dst []float32, v float32) {
	for i := range dst {
		dst[i] = v
	}
}

func uniform(dst []float32, lo, hi float64, rng *RNG) {
	for i := range dst {
		dst[i] = float32(lo + (hi-lo)*rng.Float64())
	}
}

// truncStdCorrection is the std of a standard normal truncated to [-2, 2];
// Keras divides by it so the truncated draw has the requested std.
const truncStdCorrection = 0.87962566103423978

func truncNormal(dst []float32, std float64, rng *RNG) {
	s := std / truncStdCorrection
	for i := range dst {
		z := rng.NormFloat64()
		for z < -2 || z > 2 {
			z = rng.NormFloat64()
		}
		dst[i] = float32(s * z)
	}
}

// orthogonal fills dst as Keras's Orthogonal initializer (gain 1): the
// weight seen as a matrix [rows, cols] (rows the product of all but the
// last extent) is the Q factor of the QR decomposition of a
// [max(rows, cols), min(rows, cols)] standard normal matrix, each column
// multiplied by the sign of R's diagonal (so the result is unique for the
// draw), transposed when rows < cols. The rows or the columns are
// orthonormal. Q is computed by modified Gram-Schmidt, twice (stable in
// float64 at these sizes); its R has a positive diagonal, which is the
// sign correction.
func orthogonal(dst []float32, shape []int, rng *RNG) {
	if len(dst) == 0 {
		return
	}
	cols := 1
	if len(shape) > 0 {
		cols = shape[len(shape)-1]
	}
	rows := len(dst) / cols
	m, k := max(rows, cols), min(rows, cols)
	a := make([]float64, m*k) // column-major: column j is a[j*m:(j+1)*m]
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	for j := 0; j < k; j++ {
		cj := a[j*m : (j+1)*m]
		for pass := 0; pass < 2; pass++ {
			for p := 0; p < j; p++ {
				cp := a[p*m : (p+1)*m]
				var d float64
				for i := range cj {
					d += cp[i] * cj[i]
				}
				for i := range cj {
					cj[i] -= d * cp[i]
				}
			}
		}
		var norm float64
		for _, x := range cj {
			norm += x * x
		}
		norm = math.Sqrt(norm)
		if norm == 0 { // a measure-zero draw: leave the column zero
			continue
		}
		for i := range cj {
			cj[i] /= norm
		}
	}
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			if rows >= cols {
				dst[r*cols+c] = float32(a[c*m+r]) // Q [rows, cols]
			} else {
				dst[r*cols+c] = float32(a[r*m+c]) // Q^T: Q is [cols, rows]
			}
		}
	}
}
