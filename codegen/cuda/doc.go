// Package cuda generates the CUDA side of a model package from its planned
// step graph (ir.Plan, passes/memplan.go): kernels.cu (one __global__ kernel
// per unit of the plan; GEMMs through cuBLAS), its PTX, built at
// `mdlc build -target cuda` time by nvcc or by clang >= 16 without the CUDA
// toolkit, and model_cuda.go, which embeds the PTX and offers NewCUDA: a
// CUDAModel with the CPU Model's API (codegen/internal/api), its
// parameters, state and activations on the GPU, launched through
// runtime/cuda without cgo.
//
// Stages: layout (the plan's blocks in one device allocation, the host
// Model's layout, plus a staging area per input; names for buffers, locals
// and kernels), launches (a kernel per unit: an elementwise loop, a
// reduction computing its producers in its loop, a contraction's epilogue
// after its cuBLAS call, the optimizer update of all params over the params
// block; one emitter per op otherwise), then the .cu and the Go source. The
// package only names and emits: every storage decision is the plan's. What
// it does not do: tensor cores, fp16, multi-GPU, or CUDA graphs.
package cuda
