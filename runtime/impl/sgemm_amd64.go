//go:build amd64 && !purego

package impl

import "golang.org/x/sys/cpu"

//go:generate go run ./internal/asmgen -out sgemm_amd64.s -vec vec_amd64.s

// Assembly kernels (sgemm_amd64.s); see microKernel for the contract.

//go:noescape
func sgemmKernelAVX512(k int, a, b, c []float32, ldc int, alpha, beta float32, bias []float32, flags, sa, sb int)

//go:noescape
func sgemmKernelAVX2(k int, a, b, c []float32, ldc int, alpha, beta float32, bias []float32, flags, sa, sb int)

// sgemvBlockAVX2 computes one k block of a product with one row of C
// (see gemm.gemv): the micro-kernels' arithmetic, element by element.
//
//go:noescape
func sgemvBlockAVX2(k, n int, x *float32, incx int, b *float32, ldb int, c *float32, alpha, beta float32, bias *float32, flags int)

// fmaPeakAVX512 and fmaPeakAVX2 run n iterations of 12 independent vector
// FMAs (16 and 8 floats wide).
func fmaPeakAVX512(n int)
func fmaPeakAVX2(n int)

// Blocking: kc floats of k per packed panel (the B micro-panel, kc×nr,
// stays in L1), mc rows of A per packed block (in L2), nc columns of B per
// packed block (in L3). Measured with BenchmarkSgemm on AMD EPYC (Zen 4).
var (
	kernelAVX512 = &microKernel{name: "avx512", mr: 12, nr: 32, kc: 256, mc: 144, nc: 1024, fn: sgemmKernelAVX512, gemv: sgemvBlockAVX2}
	kernelAVX2   = &microKernel{name: "avx2", mr: 6, nr: 16, kc: 256, mc: 96, nc: 1024, fn: sgemmKernelAVX2, gemv: sgemvBlockAVX2}
)

// archKernels lists the kernels this CPU runs, best first.
func archKernels() []*microKernel {
	var ks []*microKernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, kernelAVX512)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, kernelAVX2)
	}
	return ks
}

// fmaPeak runs n iterations of the widest FMA peak loop and returns the
// flops of one iteration.
func fmaPeak(n int) int {
	switch {
	case cpu.X86.HasAVX512F:
		fmaPeakAVX512(n)
		return 12 * 16 * 2
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		fmaPeakAVX2(n)
		return 12 * 8 * 2
	}
	return fmaPeakGo(n)
}
