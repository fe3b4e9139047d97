// Package runtime is the user-facing API of generated models:
//
//   - Model, Spec, IO, Batch and Value: the interface every generated model
//     satisfies (CPU and GPU alike), so one driver can train any of them;
//   - Tensor, SaveSafetensors, LoadSafetensors and ReadSafetensors:
//     checkpoints in the safetensors format, written atomically and
//     validated strictly on load;
//   - SetBLAS and BLAS: the GEMM backend generated code runs on ("native",
//     "gonum" or, built with -tags openblas, "openblas"; MDLC_BLAS selects
//     one at start-up).
//
// Data loading lives in runtime/data and the CUDA driver binding in
// runtime/cuda. What generated code needs beyond this API (GEMM, vector
// primitives, initializers, input checks) is in runtime/impl, which is not
// for direct use.
package runtime
