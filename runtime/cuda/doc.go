// Package cuda binds the parts of the CUDA driver API and cuBLAS that
// generated models use, without cgo: the libraries are opened at run time
// with github.com/ebitengine/purego, so the package builds with
// CGO_ENABLED=0 on machines that have no CUDA at all, and a missing driver
// is an error from Open, never a build or link failure.
//
// The driver is libcuda.so.1 and cuBLAS libcublas.so.13, else
// libcublas.so.12; MDLC_LIBCUDA and MDLC_LIBCUBLAS name other files.
// Only symbols whose signatures are the same in CUDA 12 and 13 are used
// (the _v2 entry points of memory and context calls).
//
// A Device owns a retained primary context, one stream and, once BLAS is
// called, one cuBLAS handle bound to that stream. Work is queued on the
// stream; Sync waits for it. Calls that take host memory read or write it
// before they return. Every CUresult and cublasStatus_t other than success
// becomes an *Error carrying the function and the status name.
package cuda
