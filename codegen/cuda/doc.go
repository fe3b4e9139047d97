// Package cuda owns CUDA code generation: one __global__ kernel per fused
// group of the planned step graph, GEMMs through cuBLAS, PTX built at
// `mdlc build -target cuda` time and embedded in the generated Go package.
// Not implemented yet.
package cuda
