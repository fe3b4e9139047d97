// Package cuda generates the CUDA side of a model package: kernels.cu (one
// __global__ kernel per fused group of the planned step graph, or per value
// when the graph is not fused; GEMMs through cuBLAS), its PTX, built at
// `mdlc build -target cuda` time by nvcc or by clang >= 16 without the CUDA
// toolkit, and model_cuda.go, which embeds the PTX and offers NewCUDA: the
// Model's Forward/TrainStep/Eval/Save/Load with parameters, state and
// activations on the GPU, launched through runtime/cuda without cgo.
//
// Stages: layout (the device allocation mirrors the Go backend's blocks; the
// arena is g.Plan's when the memory planner ran, with group members used only
// in their group in registers, else one slice per value), units (a kernel per
// fused group, a cuBLAS call per GEMM, the optimizer update of all params as
// one kernel over the params block), kernels (one emitter per op, as the Go
// backend's table), then the .cu and Go sources. What it does not do: tensor cores, fp16, convolutions
// beyond the op table, multi-GPU, or CUDA graphs.
package cuda
