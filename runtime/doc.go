// Package runtime is what generated model packages link against, and nothing
// more. It holds:
//
//   - Sgemm, the row-major single-precision GEMM every generated matmul calls,
//     dispatched to a backend chosen with SetBLAS or MDLC_BLAS: "native" (the
//     default: BLIS-style packing and blocking around generated AVX-512 and
//     AVX2+FMA micro-kernels with a pure-Go fallback, split over a persistent
//     worker pool; no heap allocation per call; see GEMM.md), "gonum"
//     (gonum.org/v1/gonum/blas/gonum, which spawns goroutines per call and so
//     allocates) or, built with -tags openblas, "openblas" (cgo, through
//     gonum.org/v1/netlib). SgemmEpilogue adds a bias and ReLU while a tile is
//     in registers. ParallelRows shares the same pool.
//   - RNG and InitParam: deterministic per seed parameter initializers with
//     Keras semantics.
//   - SaveSafetensors and LoadSafetensors: checkpoints in the safetensors
//     format, written atomically and validated strictly on load.
//   - Model, Spec, IO, Batch and Value: the interface every generated model
//     satisfies, and CheckF32, CheckI32Range, CheckBatch and CheckFinite, the
//     allocation-free input checks generated code runs before a step.
//
// Data loading lives in runtime/data. The training driver, metrics, plots and
// the CUDA bridge stand outside this package so generated code stays thin.
package runtime
