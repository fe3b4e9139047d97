package impl

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// BLAS backends. "native" is the default because gonum's Sgemm starts
// goroutines per call for medium sizes (sgemmParallel), which allocates,
// and a generated TrainStep must not allocate after its first call.
//
// "openblas" calls OpenBLAS's cblas_sgemm through gonum.org/v1/netlib. It
// needs cgo, so it is only built with -tags openblas (blas_openblas.go);
// other builds know the name but SetBLAS("openblas") returns an error.
const (
	BLASNative   = "native"
	BLASGonum    = "gonum"
	BLASOpenBLAS = "openblas"
)

const (
	backendNative int32 = iota
	backendGonum
	backendOpenBLAS
)

var backend atomic.Int32

// openblasSgemm is the OpenBLAS Sgemm, with Sgemm's signature. It is set
// while package variables are initialized (before init reads MDLC_BLAS) by
// blas_openblas.go, and is nil when that file is not built.
var openblasSgemm func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// errOpenBLASNotBuilt is SetBLAS("openblas")'s error in builds without it.
var errOpenBLASNotBuilt = errors.New("openblas backend not built: build with -tags openblas (needs cgo and libopenblas-dev)")

func init() {
	if err := setBLASFromEnv(os.Getenv("MDLC_BLAS")); err != nil {
		fmt.Fprintf(os.Stderr, "mdlc runtime: %v; using %q\n", err, BLASNative)
	}
}

// setBLASFromEnv applies MDLC_BLAS's value; empty keeps the default.
func setBLASFromEnv(v string) error {
	if v == "" {
		return nil
	}
	if err := SetBLAS(v); err != nil {
		return fmt.Errorf("MDLC_BLAS: %w", err)
	}
	return nil
}

// SetBLAS selects the backend Sgemm dispatches to: "native", "gonum" or,
// in builds with -tags openblas, "openblas".
func SetBLAS(name string) error {
	switch name {
	case BLASNative:
		backend.Store(backendNative)
	case BLASGonum:
		backend.Store(backendGonum)
	case BLASOpenBLAS:
		if openblasSgemm == nil {
			return errOpenBLASNotBuilt
		}
		backend.Store(backendOpenBLAS)
	default:
		return fmt.Errorf("unknown BLAS backend %q (want %q, %q or %q)", name, BLASNative, BLASGonum, BLASOpenBLAS)
	}
	return nil
}

// BLAS names the selected backend.
func BLAS() string {
	switch backend.Load() {
	case backendGonum:
		return BLASGonum
	case backendOpenBLAS:
		return BLASOpenBLAS
	}
	return BLASNative
}

// Sgemm computes the row-major C = alpha*op(A)*op(B) + beta*C, where op
// transposes when its flag is set, op(A) is m×k, op(B) is k×n and C is m×n.
// lda, ldb and ldc are the row strides of A, B and C as stored. beta == 0
// overwrites C without reading it. Like gonum, the native backend may skip
// terms whose A factor is zero, so a NaN or Inf in B need not reach C through
// a zero in A. Invalid
// sizes, strides or short slices panic: they are bugs in the caller, not
// data errors.
func Sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	switch backend.Load() {
	case backendOpenBLAS:
		openblasSgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	case backendGonum:
		ta, tb := blas.NoTrans, blas.NoTrans
		if tA {
			ta = blas.Trans
		}
		if tB {
			tb = blas.Trans
		}
		blas32.Implementation().Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	g := gemm{tA: tA, tB: tB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	g.check()
	g.run()
}
