// Package runtime is what generated model packages link against, and nothing
// more. It holds:
//
//   - Sgemm, the row-major single-precision GEMM every generated matmul calls,
//     dispatched to a backend chosen with SetBLAS or MDLC_BLAS: "native" (the
//     default: a persistent worker pool over cache-blocked kernels built on
//     gonum's assembly level-1 routines; no heap allocation per call) or
//     "gonum" (gonum.org/v1/gonum/blas/gonum, which spawns goroutines per
//     call and so allocates). ParallelRows shares the same pool.
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
