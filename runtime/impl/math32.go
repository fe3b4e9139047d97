package impl

import "math"

// Single-precision transcendentals for generated code: e^x, tanh,
// sigmoid, GELU and its gradient. Each has a scalar form (Exp32, ...)
// and a vector form over slices (VExp, ...), AVX-512 or AVX2 on amd64
// (math32_amd64.s, written by internal/asmgen from the same sequence of
// operations). Both
// forms round every operation to float32 in the same order and use no
// fused multiply-add, so they agree bit for bit on every input, whichever
// path the generated code takes and whatever the CPU. (The explicit
// float32 conversions around products below keep the Go compiler from
// fusing them on GOAMD64=v3.)
//
// Accuracy against float64 math, measured by TestMath32Accuracy over
// every 397th float32 bit pattern: Exp32 within 1 ulp, Tanh32 within 2,
// Sigmoid32 within 3; GELU within 5 ulp of its value at x or a neighbour
// (x³ amplifies the input's rounding); its gradient, a sum s + d that
// cancels near x = -0.75, within 8 ulp of the larger term. The float64
// helpers these replace were correctly rounded but several times
// slower, and had no vector form.

// Constants of Exp32: e^x = 2^n e^r with n = round(x log2 e) and
// r = x - n ln 2 (ln 2 split in two, Cody and Waite: n*expLn2Hi is exact),
// then e^r = 1 + r + r² P(r) on |r| <= ln2/2 (Cephes's expf polynomial).
const (
	expLog2e  float32 = 1.44269504088896341
	expLn2Hi  float32 = 0.693359375
	expLn2Lo  float32 = -2.12194440e-4
	expMagic  float32 = 12582912 // 1.5 * 2^23: adding it rounds to an integer
	expMin    float32 = -104     // e^-104 rounds to 0
	expMax    float32 = 89       // e^89 overflows
	expP0     float32 = 1.9875691500e-4
	expP1     float32 = 1.3981999507e-3
	expP2     float32 = 8.3334519073e-3
	expP3     float32 = 4.1665795894e-2
	expP4     float32 = 1.6666665459e-1
	expP5     float32 = 5.0000001201e-1
	tanhSmall float32 = 0.625 // below it tanh is x + x³ Q(x²)
	tanhQ0    float32 = -5.70498872745e-3
	tanhQ1    float32 = 2.06390887954e-2
	tanhQ2    float32 = -5.37397155531e-2
	tanhQ3    float32 = 1.33314422036e-1
	tanhQ4    float32 = -3.33332819422e-1
	geluK     float32 = 1.5957691216057308 // 2 sqrt(2/pi)
	geluC     float32 = 0.044715
	geluC3    float32 = 0.134145 // 3 * 0.044715
)

// Exp32 is e^x. Subnormal results are computed (2^n is applied as two
// factors); x <= -104 gives 0, x >= 89 gives +Inf, NaN gives NaN.
func Exp32(x float32) float32 {
	if x != x {
		return x
	}
	x = min(max(x, expMin), expMax)
	m := float32(x*expLog2e) + expMagic
	fn := m - expMagic
	n := int32(math.Float32bits(m) - math.Float32bits(expMagic))
	r := x - float32(fn*expLn2Hi)
	r -= float32(fn * expLn2Lo)
	z := float32(r * r)
	p := float32(expP0*r) + expP1
	p = float32(p*r) + expP2
	p = float32(p*r) + expP3
	p = float32(p*r) + expP4
	p = float32(p*r) + expP5
	y := float32(float32(p*z)+r) + 1
	h := n >> 1
	s1 := math.Float32frombits(uint32(h+127) << 23)
	s2 := math.Float32frombits(uint32(n-h+127) << 23)
	return float32(y*s1) * s2
}

// Tanh32 is tanh(x): x + x³ Q(x²) for |x| < 0.625 (Cephes's tanhf), else
// 1 - 2/(e^2|x| + 1) with the sign of x.
func Tanh32(x float32) float32 {
	a := math.Float32frombits(math.Float32bits(x) &^ (1 << 31))
	if a < tanhSmall {
		z := float32(x * x)
		q := float32(tanhQ0*z) + tanhQ1
		q = float32(q*z) + tanhQ2
		q = float32(q*z) + tanhQ3
		q = float32(q*z) + tanhQ4
		return float32(float32(q*z)*x) + x
	}
	t := 1 - 2/(Exp32(a+a)+1)
	return math.Float32frombits(math.Float32bits(t) | math.Float32bits(x)&(1<<31))
}

// Sigmoid32 is 1/(1 + e^-x), computed from q = e/(1+e) with e = e^-|x|:
// q for x < 0 and 1 - q for x >= 0, so neither side overflows, and the
// result near 1 is rounded once (1/(1+e) would round 1+e first, losing e
// below 2^-24, and put σ(17) one ulp low: on a clamp bound).
func Sigmoid32(x float32) float32 {
	s, _ := sigmoidPair(x)
	return s
}

// sigmoidPair is σ(x) and 1 - σ(x) = σ(-x), each without cancelling.
func sigmoidPair(x float32) (s, sc float32) {
	e := Exp32(-math.Float32frombits(math.Float32bits(x) &^ (1 << 31)))
	q := e / (1 + e)
	if x >= 0 {
		return 1 - q, q
	}
	return q, 1 - q
}

// Gelu32 is the tanh form of GELU (as GPT-2 uses it), written as
// x σ(2k(x + 0.044715 x³)) with k = sqrt(2/pi): 0.5(1 + tanh y) = σ(2y),
// which does not cancel for negative x.
func Gelu32(x float32) float32 {
	return x * Sigmoid32(geluArg(x))
}

// geluArg is 2k(x + 0.044715 x³).
func geluArg(x float32) float32 {
	c := float32(float32(geluC*x) * float32(x*x))
	return float32(geluK * (x + c))
}

// GeluGrad32 is g d gelu(x)/dx = g (s + x s (1-s) 2k (1 + 3·0.044715 x²))
// with s = σ(2k(x + 0.044715 x³)) and 1-s computed as σ(-2k(...)).
func GeluGrad32(x, g float32) float32 {
	s, sc := sigmoidPair(geluArg(x))
	du := float32(geluK * (1 + float32(geluC3*float32(x*x))))
	d := float32(float32(float32(x*s)*sc) * du)
	return g * (s + d)
}

// VExp sets dst = Exp32(a).
func VExp(dst, a []float32) { vmath(dst, a, nil, mathExp) }

// VTanh sets dst = Tanh32(a).
func VTanh(dst, a []float32) { vmath(dst, a, nil, mathTanh) }

// VSigmoid sets dst = Sigmoid32(a).
func VSigmoid(dst, a []float32) { vmath(dst, a, nil, mathSigmoid) }

// VGelu sets dst = Gelu32(a).
func VGelu(dst, a []float32) { vmath(dst, a, nil, mathGelu) }

// VGeluGrad sets dst = GeluGrad32(x, g).
func VGeluGrad(dst, x, g []float32) { vmath(dst, x, g, mathGeluGrad) }

type mathOp uint8

const (
	mathExp mathOp = iota
	mathTanh
	mathSigmoid
	mathGelu
	mathGeluGrad
)

// mathAVX512 selects the AVX-512 loops; tests switch it off to check the
// AVX2 ones.
var mathAVX512 = hasMathAVX512

// vmath runs op over dst: the AVX-512 assembly takes whole vectors of 16,
// then the AVX2 assembly whole vectors of 8, the Go functions the rest.
func vmath(dst, a, b []float32, op mathOp) {
	n := len(dst)
	if n == 0 {
		return
	}
	_ = a[n-1]
	if b != nil {
		_ = b[n-1]
	}
	done := 0
	var y *float32
	if vecAVX2 && mathAVX512 && n >= 16 {
		done = n &^ 15
		if b != nil {
			y = &b[0]
		}
		mathAsm(op, true, &dst[0], &a[0], y, done)
	}
	if vecAVX2 && n-done >= 8 {
		k := (n - done) &^ 7
		if b != nil {
			y = &b[done]
		}
		mathAsm(op, false, &dst[done], &a[done], y, k)
		done += k
	}
	a = a[:n]
	switch op {
	case mathExp:
		for i := done; i < n; i++ {
			dst[i] = Exp32(a[i])
		}
	case mathTanh:
		for i := done; i < n; i++ {
			dst[i] = Tanh32(a[i])
		}
	case mathSigmoid:
		for i := done; i < n; i++ {
			dst[i] = Sigmoid32(a[i])
		}
	case mathGelu:
		for i := done; i < n; i++ {
			dst[i] = Gelu32(a[i])
		}
	case mathGeluGrad:
		b = b[:n]
		for i := done; i < n; i++ {
			dst[i] = GeluGrad32(a[i], b[i])
		}
	}
}

// mathAsm runs op's assembly over n elements, AVX-512 (wide) or AVX2. (A
// switch, not a table of funcs: through a func value the operands would
// escape to the heap.)
func mathAsm(op mathOp, wide bool, d, x, y *float32, n int) {
	switch op {
	case mathExp:
		if wide {
			vecExpAVX512(d, x, n)
		} else {
			vecExpAVX2(d, x, n)
		}
	case mathTanh:
		if wide {
			vecTanhAVX512(d, x, n)
		} else {
			vecTanhAVX2(d, x, n)
		}
	case mathSigmoid:
		if wide {
			vecSigmoidAVX512(d, x, n)
		} else {
			vecSigmoidAVX2(d, x, n)
		}
	case mathGelu:
		if wide {
			vecGeluAVX512(d, x, n)
		} else {
			vecGeluAVX2(d, x, n)
		}
	case mathGeluGrad:
		if wide {
			vecGeluGradAVX512(d, x, y, n)
		} else {
			vecGeluGradAVX2(d, x, y, n)
		}
	}
}

// VSum is the sum of x in a fixed order, the same on every path: element
// i of the first n - n%32 goes to lane i%32, the lanes are added as a tree
// (see internal/asmgen's reductions), then the rest one at a time.
func VSum(x []float32) float32 { return reduce(x, false) }

// VMax is the largest element of x (-Inf for none; NaN if any is NaN),
// in VSum's order, each step keeping a > b ? a : b.
func VMax(x []float32) float32 { return reduce(x, true) }

func reduce(x []float32, isMax bool) float32 {
	op := func(a, b float32) float32 {
		if isMax {
			if a > b {
				return a
			}
			return b
		}
		return a + b
	}
	n := len(x)
	body := n &^ 31
	var r float32
	nan := false
	switch {
	case body > 0 && vecAVX2 && isMax:
		r, nan = vecMaxAVX2(&x[0], body)
	case body > 0 && vecAVX2:
		r = vecSumAVX2(&x[0], body)
	case body > 0:
		var acc [32]float32
		if isMax {
			for j := range acc {
				acc[j] = float32(math.Inf(-1))
			}
		}
		for i := 0; i < body; i += 32 {
			for j, v := range x[i : i+32] {
				nan = nan || v != v
				acc[j] = op(acc[j], v)
			}
		}
		var q [8]float32
		for j := range q {
			q[j] = op(op(acc[j], acc[8+j]), op(acc[16+j], acc[24+j]))
		}
		for j := range 4 {
			q[j] = op(q[j], q[j+4])
		}
		for j := range 2 {
			q[j] = op(q[j], q[j+2])
		}
		r = op(q[0], q[1])
	case isMax:
		r = float32(math.Inf(-1))
	}
	for _, v := range x[body:] {
		nan = nan || v != v
		r = op(r, v)
	}
	if isMax && nan {
		return float32(math.NaN())
	}
	return r
}

// VAddS sets dst = a + s.
func VAddS(dst, a []float32, s float32) {
	a = a[:len(dst)]
	for i, v := range a {
		dst[i] = v + s
	}
}

// VMulS sets dst = a * s.
func VMulS(dst, a []float32, s float32) {
	a = a[:len(dst)]
	for i, v := range a {
		dst[i] = v * s
	}
}
