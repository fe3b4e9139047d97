package impl

import "math"

// Vector primitives for generated elementwise code. A fused elementwise
// group whose ops all have one is computed in strips of VecChunk elements:
// each op runs over the strip as one call, with AVX2 on amd64 (vec_amd64.s)
// and a Go loop elsewhere. Both give every element exactly the IEEE
// single-precision result of the generated scalar Go code (no fused
// multiply-add, no approximations), so results do not depend on the path.
//
// Every primitive writes len(dst) elements; the operands must be at least
// that long. dst may be the same slice as an operand but must not
// otherwise overlap one.

// VecChunk is the strip length generated code sizes its temporaries by:
// a strip is 1 KiB, so a loop's strips stay in a 32 KiB L1 data cache.
const VecChunk = 256

// vecAVX2 selects the assembly loops; tests switch it off to check the Go ones.
var vecAVX2 = hasVecAVX2

// VAdd sets dst = a + b.
func VAdd(dst, a, b []float32) { vbinary(dst, a, b, opAdd) }

// VSub sets dst = a - b.
func VSub(dst, a, b []float32) { vbinary(dst, a, b, opSub) }

// VMul sets dst = a * b.
func VMul(dst, a, b []float32) { vbinary(dst, a, b, opMul) }

// VDiv sets dst = a / b.
func VDiv(dst, a, b []float32) { vbinary(dst, a, b, opDiv) }

// VSqrt sets dst = sqrt(a), correctly rounded.
func VSqrt(dst, a []float32) {
	if n := len(dst); n > 0 {
		_ = a[n-1]
		if vecAVX2 {
			vecSqrtAVX2(&dst[0], &a[0], n)
			return
		}
		for i := range dst {
			dst[i] = float32(math.Sqrt(float64(a[i])))
		}
	}
}

// VNeg sets dst = -a.
func VNeg(dst, a []float32) {
	if n := len(dst); n > 0 {
		_ = a[n-1]
		if vecAVX2 {
			vecNegAVX2(&dst[0], &a[0], n)
			return
		}
		for i := range dst {
			dst[i] = -a[i]
		}
	}
}

// VRelu sets dst = a where a > 0, else 0 (NaN and -0 give +0).
func VRelu(dst, a []float32) {
	if n := len(dst); n > 0 {
		_ = a[n-1]
		if vecAVX2 {
			vecReluAVX2(&dst[0], &a[0], n)
			return
		}
		for i, x := range a[:n] {
			dst[i] = 0
			if x > 0 {
				dst[i] = x
			}
		}
	}
}

// binOp names a two-operand primitive; vbinary switches on it (a func
// value would make the operands escape to the heap).
type binOp uint8

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
	cmpEq
	cmpNe
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

// vbinary sets dst = a op b (comparisons: 1 where true, else 0).
func vbinary(dst, a, b []float32, op binOp) {
	n := len(dst)
	if n == 0 {
		return
	}
	_, _ = a[n-1], b[n-1]
	if vecAVX2 {
		d, x, y := &dst[0], &a[0], &b[0]
		switch op {
		case opAdd:
			vecAddAVX2(d, x, y, n)
		case opSub:
			vecSubAVX2(d, x, y, n)
		case opMul:
			vecMulAVX2(d, x, y, n)
		case opDiv:
			vecDivAVX2(d, x, y, n)
		case cmpEq:
			vecEqAVX2(d, x, y, n)
		case cmpNe:
			vecNeAVX2(d, x, y, n)
		case cmpLt:
			vecLtAVX2(d, x, y, n)
		case cmpLe:
			vecLeAVX2(d, x, y, n)
		case cmpGt:
			vecGtAVX2(d, x, y, n)
		case cmpGe:
			vecGeAVX2(d, x, y, n)
		}
		return
	}
	a, b = a[:n], b[:n]
	switch op {
	case opAdd:
		for i := range dst {
			dst[i] = a[i] + b[i]
		}
	case opSub:
		for i := range dst {
			dst[i] = a[i] - b[i]
		}
	case opMul:
		for i := range dst {
			dst[i] = a[i] * b[i]
		}
	case opDiv:
		for i := range dst {
			dst[i] = a[i] / b[i]
		}
	default:
		for i := range dst {
			x, y := a[i], b[i]
			var t bool
			switch op {
			case cmpEq:
				t = x == y
			case cmpNe:
				t = x != y
			case cmpLt:
				t = x < y
			case cmpLe:
				t = x <= y
			case cmpGt:
				t = x > y
			case cmpGe:
				t = x >= y
			}
			var r float32
			if t {
				r = 1
			}
			dst[i] = r
		}
	}
}

// VEq sets dst = 1 where a == b, else 0.
func VEq(dst, a, b []float32) { vbinary(dst, a, b, cmpEq) }

// VNe sets dst = 1 where a != b (NaN included), else 0.
func VNe(dst, a, b []float32) { vbinary(dst, a, b, cmpNe) }

// VLt sets dst = 1 where a < b, else 0.
func VLt(dst, a, b []float32) { vbinary(dst, a, b, cmpLt) }

// VLe sets dst = 1 where a <= b, else 0.
func VLe(dst, a, b []float32) { vbinary(dst, a, b, cmpLe) }

// VGt sets dst = 1 where a > b, else 0.
func VGt(dst, a, b []float32) { vbinary(dst, a, b, cmpGt) }

// VGe sets dst = 1 where a >= b, else 0.
func VGe(dst, a, b []float32) { vbinary(dst, a, b, cmpGe) }

// VWhere sets dst = a where c != 0 (NaN included), else b.
func VWhere(dst, c, a, b []float32) {
	if n := len(dst); n > 0 {
		_, _, _ = c[n-1], a[n-1], b[n-1]
		if vecAVX2 {
			vecWhereAVX2(&dst[0], &a[0], &b[0], &c[0], n)
			return
		}
		for i := range dst {
			if c[i] != 0 {
				dst[i] = a[i]
			} else {
				dst[i] = b[i]
			}
		}
	}
}

// VFill sets every element of dst to x.
func VFill(dst []float32, x float32) {
	for i := range dst {
		dst[i] = x
	}
}

// HasAVX2 reports whether the vector primitives run as AVX2 assembly; a
// generated package uses its own AVX2 loops (model_amd64.s) only then.
func HasAVX2() bool { return vecAVX2 }
