//go:build openblas && cgo

package bench

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/netlib/blas/netlib"

	"github.com/mdlc/mdlc/runtime"
)

// With -tags openblas (cgo, libopenblas-dev), BenchmarkMNISTTrainStep also
// runs mdlc/openblas (the generated model on runtime.SetBLAS("openblas")) and
// hand/openblas (HandMLP on OpenBLAS's cblas_sgemm directly):
//
//	CGO_LDFLAGS=-lopenblas go test -tags openblas ./bench -run '^$' -bench MNISTTrainStep
func init() {
	extraTrainStep = append(extraTrainStep, trainStepBackend{runtime.BLASOpenBLAS, OpenBLASGemm})
}

// OpenBLASGemm calls OpenBLAS through gonum.org/v1/netlib directly,
// bypassing mdlc's runtime (HandMLP never passes alpha == 0).
func OpenBLASGemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	netlib.Implementation{}.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
