//go:build !amd64 || purego

package impl

// archKernels lists the assembly kernels this build has: none.
func archKernels() []*microKernel { return nil }

// fmaPeak runs n iterations of the Go peak loop and returns the flops of one
// iteration.
func fmaPeak(n int) int { return fmaPeakGo(n) }

// readCaches returns the default sizes: this build reads no CPUID.
func readCaches() caches { return defaultCaches }

// hasFMAAVX2 is false: this build has no AVX2 kernel.
var hasFMAAVX2 = false

func fmaPeakAVX2Flops(n int) int { return fmaPeakGo(n) }
