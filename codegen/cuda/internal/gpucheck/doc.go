// Package gpucheck holds generated model packages (both backends' output,
// regenerated and compared by codegen/cuda's tests) and the test that runs
// them on a GPU against the CPU: scripts/gpu-check builds that test here
// and runs it on a machine with an NVIDIA GPU.
package gpucheck
