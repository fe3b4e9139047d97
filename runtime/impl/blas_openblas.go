//go:build openblas && cgo

package impl

// The "openblas" backend: OpenBLAS's cblas_sgemm through
// gonum.org/v1/netlib/blas/netlib. Built only with -tags openblas (and cgo).
// netlib has no #cgo LDFLAGS and this package cannot use cgo itself (it has
// Go assembly), so the library is named at build time:
//
//	CGO_LDFLAGS=-lopenblas go test -tags openblas ./runtime/
//
// (Debian/Ubuntu: apt-get install libopenblas-dev; an OpenBLAS elsewhere:
// CGO_LDFLAGS="-L/path/to/OpenBLAS/lib -lopenblas" and LD_LIBRARY_PATH at run
// time.) Without CGO_LDFLAGS the link fails with undefined cblas_* symbols.
// OpenBLAS runs its own threads (OPENBLAS_NUM_THREADS, all cores by default),
// separate from the native backend's worker pool.

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/netlib/blas/netlib"
)

// openblasRegistered sets openblasSgemm. It is a package variable, not an
// init func, so the backend exists before blas.go's init reads MDLC_BLAS.
var openblasRegistered = func() bool {
	openblasSgemm = sgemmOpenBLAS
	return true
}()

// sgemmOpenBLAS is Sgemm on OpenBLAS. netlib checks the sizes, strides and
// slice lengths as gonum does (panicking on bad ones) and calls
// cblas_sgemm(CblasRowMajor, ...). alpha == 0 is done here, as gonum and the
// native backend do it (C = beta*C, A and B not read): OpenBLAS 0.3.21
// (Debian 12's) reads them even then, at least for small sizes (1×1×1), so
// a NaN in A or B reached C (TestSgemmOpenBLASAlphaZero).
func sgemmOpenBLAS(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if alpha == 0 {
		g := gemm{tA: tA, tB: tB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
		g.check()
		g.scaleC()
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	netlib.Implementation{}.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
