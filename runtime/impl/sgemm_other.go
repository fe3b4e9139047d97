//go:build !amd64 || purego

package impl

// archKernels lists the assembly kernels this build has: none.
func archKernels() []*microKernel { return nil }

// fmaPeak runs n iterations of the Go peak loop and returns the flops of one
// iteration.
func fmaPeak(n int) int { return fmaPeakGo(n) }
