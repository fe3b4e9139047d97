package impl

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

// A microKernel computes one mr×nr tile of C from panels of A and B:
//
//	acc[i][j] = sum over p < k of a[i*ra+p*sa] * b[p*sb+j]
//	C[i][j]   = alpha*acc[i][j] (+ beta*C[i][j] if flags&kLoadC)
//	            (+ bias[j] if flags&kBias), then max(0, .) if flags&kReLU
//
// with C[i][j] at c[i*ldc+j]. The whole tile is written: edge tiles go
// through a scratch tile. Packed (k-major) panels have ra = 1, sa = mr and
// sb = nr; a matrix read in place has its leading dimension as a stride:
// op(A) = A row by row (ra = lda, sa = 1), op(A) = Aᵀ (ra = 1, sa = lda),
// op(B) = B (sb = ldb). bias has nr floats when used.
// The blocking sizes belong to the kernel, derived from this machine's
// caches at start-up (blocking, cache.go): kc is the k extent of a block,
// mc (a multiple of mr) the rows of A per block, nc (a multiple of nr) the
// columns of B.
type microKernel struct {
	name       string
	mr, nr     int
	kc, mc, nc int
	fn         func(k int, a, b, c []float32, ldc int, alpha, beta float32, bias []float32, flags, sa, sb, ra int)
	// gemv, when set, computes one k block of a one-row product with this
	// kernel's arithmetic (fused multiply-adds in the same order), so
	// that m = 1 skips the 11 wasted rows of a tile (gemm.gemv).
	gemv func(k, n int, x *float32, incx int, b *float32, ldb int, c *float32, alpha, beta float32, bias *float32, flags int)
}

// Kernel flags.
const (
	kLoadC = 1 << iota // add beta*C; unset, C is not read
	kBias              // add bias[j]
	kReLU              // max(0, .)
)

// kernelGo is the portable kernel, the only one without assembly.
var kernelGo = &microKernel{name: "go", mr: 4, nr: 4, fn: sgemmKernelGo}

// kernels lists the kernels this machine runs, best first; kernelGo is last.
var kernels = append(archKernels(), kernelGo)

// activeKernel is the kernel Sgemm uses: the best one unless a test forces
// another with useKernel.
var activeKernel atomic.Pointer[microKernel]

func init() {
	for _, k := range kernels {
		k.kc, k.mc, k.nc = blocking(k, machineCaches)
	}
	activeKernel.Store(kernels[0])
}

// useKernel makes Sgemm use the named kernel and returns a function that
// restores the previous one. For tests and benchmarks.
func useKernel(name string) (restore func(), err error) {
	for _, k := range kernels {
		if k.name == name {
			old := activeKernel.Swap(k)
			return func() { activeKernel.Store(old) }, nil
		}
	}
	return nil, fmt.Errorf("kernel %q not available on this machine", name)
}

// sgemmKernelGo is microKernel's contract in Go, a 4×4 tile.
func sgemmKernelGo(k int, a, b, c []float32, ldc int, alpha, beta float32, bias []float32, flags, sa, sb, ra int) {
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := range k {
		bp := b[p*sb : p*sb+4 : p*sb+4]
		a0, a1, a2, a3 := a[p*sa], a[p*sa+ra], a[p*sa+2*ra], a[p*sa+3*ra]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	acc := [4][4]float32{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}}
	for i := range 4 {
		row := c[i*ldc : i*ldc+4]
		for j := range 4 {
			v := alpha * acc[i][j]
			if flags&kLoadC != 0 {
				v += beta * row[j]
			}
			if flags&kBias != 0 {
				v += bias[j]
			}
			if flags&kReLU != 0 {
				v = max(v, 0)
			}
			row[j] = v
		}
	}
}

// fmaPeakGo runs n iterations of 8 independent multiply-adds and returns the
// flops of one iteration.
func fmaPeakGo(n int) int {
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	x, y := float32(0), float32(0)
	for range n {
		s0 += x * y
		s1 += x * y
		s2 += x * y
		s3 += x * y
		s4 += x * y
		s5 += x * y
		s6 += x * y
		s7 += x * y
	}
	runtime.KeepAlive(s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7) // the sums are computed
	return 8 * 2
}
