//go:build amd64 && !purego

package impl

import "golang.org/x/sys/cpu"

//go:generate go run ./internal/asmgen -out sgemm_amd64.s -vec vec_amd64.s -math math32_amd64.s -conv conv_amd64.s -philox philox_amd64.s

// Assembly kernels (sgemm_amd64.s); see microKernel for the contract.

//go:noescape
func sgemmKernelAVX512(k int, a, b, c []float32, ldc int, alpha, beta float32, bias []float32, flags, sa, sb, ra int)

//go:noescape
func sgemmKernelAVX2(k int, a, b, c []float32, ldc int, alpha, beta float32, bias []float32, flags, sa, sb, ra int)

// sgemvBlockAVX2 computes one k block of a product with one row of C
// (see gemm.gemv): the micro-kernels' arithmetic, element by element.
//
//go:noescape
func sgemvBlockAVX2(k, n int, x *float32, incx int, b *float32, ldb int, c *float32, alpha, beta float32, bias *float32, flags int)

// fmaPeakAVX512 and fmaPeakAVX2 run n iterations of 12 independent vector
// FMAs (16 and 8 floats wide).
func fmaPeakAVX512(n int)
func fmaPeakAVX2(n int)

// The assembly kernels; their blocking comes from the caches (cache.go).
var (
	kernelAVX512 = &microKernel{name: "avx512", mr: 12, nr: 32, fn: sgemmKernelAVX512, gemv: sgemvBlockAVX2}
	kernelAVX2   = &microKernel{name: "avx2", mr: 6, nr: 16, fn: sgemmKernelAVX2, gemv: sgemvBlockAVX2}
)

// archKernels lists the kernels this CPU runs, best first.
func archKernels() []*microKernel {
	var ks []*microKernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, kernelAVX512)
	}
	if hasFMAAVX2 {
		ks = append(ks, kernelAVX2)
	}
	return ks
}

// hasFMAAVX2 reports whether the AVX2 kernel runs here.
var hasFMAAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// fmaPeakAVX2Flops runs n iterations of the AVX2 peak loop and returns the
// flops of one iteration.
func fmaPeakAVX2Flops(n int) int {
	fmaPeakAVX2(n)
	return 12 * 8 * 2
}

// fmaPeak runs n iterations of the widest FMA peak loop and returns the
// flops of one iteration.
func fmaPeak(n int) int {
	switch {
	case cpu.X86.HasAVX512F:
		fmaPeakAVX512(n)
		return 12 * 16 * 2
	case hasFMAAVX2:
		return fmaPeakAVX2Flops(n)
	}
	return fmaPeakGo(n)
}

// cpuid executes CPUID (sgemm_amd64.s).
func cpuid(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)

// readCaches reads the data caches with CPUID: leaf 0x8000001D on AMD
// (with the topology extensions), leaf 4 elsewhere.
func readCaches() caches {
	maxLeaf, b, c, d := cpuid(0, 0)
	vendor := string([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24), byte(d), byte(d >> 8), byte(d >> 16), byte(d >> 24), byte(c), byte(c >> 8), byte(c >> 16), byte(c >> 24)})
	leaf, source := uint32(4), "CPUID leaf 4"
	if vendor == "AuthenticAMD" || vendor == "HygonGenuine" {
		if maxExt, _, _, _ := cpuid(0x80000000, 0); maxExt < 0x8000001d {
			return defaultCaches
		}
		if _, _, ecx, _ := cpuid(0x80000001, 0); ecx&(1<<22) == 0 { // no TOPOEXT
			return defaultCaches
		}
		leaf, source = 0x8000001d, "CPUID leaf 0x8000001D"
	} else if maxLeaf < 4 {
		return defaultCaches
	}
	out := caches{source: source}
	for sub := uint32(0); sub < 16; sub++ {
		eax, ebx, ecx, _ := cpuid(leaf, sub)
		level, size, sharing, data, ok := cacheLevel(eax, ebx, ecx)
		if !ok {
			break
		}
		if !data {
			continue
		}
		switch level {
		case 1:
			out.L1 = size
		case 2:
			out.L2 = size
		case 3:
			out.L3 = size / max(1, sharing/threadsPerCore(leaf))
		}
	}
	if out.L1 == 0 || out.L2 == 0 {
		return defaultCaches
	}
	if out.L3 == 0 {
		out.L3 = out.L2
	}
	return out
}

// threadsPerCore is how many logical processors share the L1: the L3's
// sharing count is in logical processors, the L3 share wanted per core.
func threadsPerCore(leaf uint32) int {
	eax, ebx, ecx, _ := cpuid(leaf, 0)
	if _, _, sharing, _, ok := cacheLevel(eax, ebx, ecx); ok {
		return sharing
	}
	return 1
}
