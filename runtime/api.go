package runtime

import "github.com/mdlc/mdlc/runtime/impl"

// BLAS backends generated code can run its GEMMs on. "native" is the
// default: mdlc's own GEMM, which allocates nothing per call; "gonum"
// starts goroutines per call for medium sizes, which allocates; "openblas"
// calls OpenBLAS's cblas_sgemm through cgo and exists only in builds with
// -tags openblas.
const (
	BLASNative   = impl.BLASNative
	BLASGonum    = impl.BLASGonum
	BLASOpenBLAS = impl.BLASOpenBLAS
)

// SetBLAS selects the GEMM backend of every generated model in the
// process: "native", "gonum" or, in builds with -tags openblas, "openblas".
// MDLC_BLAS names one at start-up.
func SetBLAS(name string) error { return impl.SetBLAS(name) }

// BLAS names the selected backend.
func BLAS() string { return impl.BLAS() }

// RNG is the deterministic random generator of parameter initializers and
// data shuffling (PCG, one stream per seed).
type RNG = impl.RNG

// NewRNG returns the generator for seed.
func NewRNG(seed uint64) *RNG { return impl.NewRNG(seed) }
