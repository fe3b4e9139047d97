// Package impl is what generated model code links against beside the
// user-facing runtime package, as protobuf's generated code links against
// protoimpl: it is not for direct use, and its API changes with the code
// generators. It holds:
//
//   - Sgemm, the row-major single-precision GEMM every generated matmul calls,
//     dispatched to the backend chosen with runtime.SetBLAS or MDLC_BLAS:
//     "native" (the default: BLIS-style packing and blocking around generated
//     AVX-512 and AVX2+FMA micro-kernels with a pure-Go fallback, split over a
//     persistent worker pool; no heap allocation per call; see GEMM.md),
//     "gonum" (gonum.org/v1/gonum/blas/gonum, which spawns goroutines per
//     call and so allocates) or, built with -tags openblas, "openblas" (cgo,
//     through gonum.org/v1/netlib). SgemmEpilogue adds a bias and ReLU while
//     a tile is in registers. SgemmBatched computes the products of a
//     batched matmul (attention's, per example and head), whole products
//     per core. ParallelRows shares the same pool. FMAPeak measures the
//     machine's FMA peak for benchmarks to compare against.
//   - The vector primitives of strip-mined elementwise loops (VAdd, ...: AVX2
//     on amd64, Go elsewhere, bit-identical to scalar float32 Go) and
//     HasAVX2, which generated AVX2 loops are installed by.
//   - Float32 transcendentals (Exp32, Tanh32, Sigmoid32, Gelu32, GeluGrad32)
//     and their vector forms (VExp, ...), the row reductions VSum and VMax,
//     and LSTMCellGrad: each AVX2 loop runs the same float32 operations in
//     the same order as its Go twin, so a generated model gives the same
//     bits on every path and CPU (math32.go, rnn.go).
//   - RNG and InitParam: deterministic per seed parameter initializers with
//     Keras semantics.
//   - CheckF32, CheckI32Range, CheckBatch and CheckFinite: the
//     allocation-free input checks generated code runs before a step.
//
// Its assembly is written by internal/asmgen (go generate).
package impl
