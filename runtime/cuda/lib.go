package cuda

import (
	"fmt"
	"sync"

	"github.com/ebitengine/purego"

	"github.com/mdlc/mdlc/internal/dlopen"
)

// Library names, tried in order; the environment variables replace them.
var (
	driverNames = []string{"libcuda.so.1", "libcuda.so"}
	blasNames   = []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so"}
)

const (
	envDriver = "MDLC_LIBCUDA"
	envBLAS   = "MDLC_LIBCUBLAS"
)

// driverAPI holds the addresses of the driver functions we call.
type driverAPI struct {
	cuInit                    uintptr
	cuDriverGetVersion        uintptr
	cuDeviceGetCount          uintptr
	cuDeviceGet               uintptr
	cuDeviceGetName           uintptr
	cuDeviceGetAttribute      uintptr
	cuDevicePrimaryCtxRetain  uintptr
	cuDevicePrimaryCtxRelease uintptr
	cuCtxSetCurrent           uintptr
	cuMemAlloc                uintptr
	cuMemFree                 uintptr
	cuMemcpyHtoD              uintptr
	cuMemcpyDtoH              uintptr
	cuMemcpyHtoDAsync         uintptr
	cuMemcpyDtoHAsync         uintptr
	cuMemcpyDtoDAsync         uintptr
	cuMemsetD32               uintptr
	cuMemsetD32Async          uintptr
	cuModuleLoadData          uintptr
	cuModuleUnload            uintptr
	cuModuleGetFunction       uintptr
	cuLaunchKernel            uintptr
	cuStreamCreate            uintptr
	cuStreamDestroy           uintptr
	cuStreamSynchronize       uintptr
}

func (a *driverAPI) symbols() []sym {
	return []sym{
		{"cuInit", &a.cuInit},
		{"cuDriverGetVersion", &a.cuDriverGetVersion},
		{"cuDeviceGetCount", &a.cuDeviceGetCount},
		{"cuDeviceGet", &a.cuDeviceGet},
		{"cuDeviceGetName", &a.cuDeviceGetName},
		{"cuDeviceGetAttribute", &a.cuDeviceGetAttribute},
		{"cuDevicePrimaryCtxRetain", &a.cuDevicePrimaryCtxRetain},
		{"cuDevicePrimaryCtxRelease_v2", &a.cuDevicePrimaryCtxRelease},
		{"cuCtxSetCurrent", &a.cuCtxSetCurrent},
		{"cuMemAlloc_v2", &a.cuMemAlloc},
		{"cuMemFree_v2", &a.cuMemFree},
		{"cuMemcpyHtoD_v2", &a.cuMemcpyHtoD},
		{"cuMemcpyDtoH_v2", &a.cuMemcpyDtoH},
		{"cuMemcpyHtoDAsync_v2", &a.cuMemcpyHtoDAsync},
		{"cuMemcpyDtoHAsync_v2", &a.cuMemcpyDtoHAsync},
		{"cuMemcpyDtoDAsync_v2", &a.cuMemcpyDtoDAsync},
		{"cuMemsetD32_v2", &a.cuMemsetD32},
		{"cuMemsetD32Async", &a.cuMemsetD32Async},
		{"cuModuleLoadData", &a.cuModuleLoadData},
		{"cuModuleUnload", &a.cuModuleUnload},
		{"cuModuleGetFunction", &a.cuModuleGetFunction},
		{"cuLaunchKernel", &a.cuLaunchKernel},
		{"cuStreamCreate", &a.cuStreamCreate},
		{"cuStreamDestroy_v2", &a.cuStreamDestroy},
		{"cuStreamSynchronize", &a.cuStreamSynchronize},
	}
}

// blasAPI holds the addresses of the cuBLAS functions we call.
type blasAPI struct {
	cublasCreate              uintptr
	cublasDestroy             uintptr
	cublasSetStream           uintptr
	cublasSgemm               uintptr
	cublasSgemmStridedBatched uintptr
}

func (a *blasAPI) symbols() []sym {
	return []sym{
		{"cublasCreate_v2", &a.cublasCreate},
		{"cublasDestroy_v2", &a.cublasDestroy},
		{"cublasSetStream_v2", &a.cublasSetStream},
		{"cublasSgemm_v2", &a.cublasSgemm},
		{"cublasSgemmStridedBatched", &a.cublasSgemmStridedBatched},
	}
}

type sym struct {
	name string
	addr *uintptr
}

var (
	drv     driverAPI
	drvOnce sync.Once
	drvErr  error

	blas     blasAPI
	blasOnce sync.Once
	blasErr  error
)

// loadDriver opens the driver library and calls cuInit once per process.
func loadDriver() error {
	drvOnce.Do(func() {
		if drvErr = open("the NVIDIA driver library", envDriver, driverNames, drv.symbols(),
			"install the NVIDIA driver (it provides libcuda.so.1)"); drvErr != nil {
			return
		}
		drvErr = Result("cuInit", call(drv.cuInit, 0))
	})
	return drvErr
}

// loadBLAS opens cuBLAS once per process.
func loadBLAS() error {
	blasOnce.Do(func() {
		blasErr = open("cuBLAS", envBLAS, blasNames, blas.symbols(),
			"install cuBLAS 12 or 13 (Debian/Ubuntu: libcublas12, or the CUDA toolkit)")
	})
	return blasErr
}

// open loads the first library of names that opens (or the file named by
// the environment variable env) and resolves syms in it.
func open(what, env string, names []string, syms []sym, hint string) error {
	h, name, err := dlopen.First(env, names)
	if err != nil {
		return fmt.Errorf("cuda: cannot load %s: %v; %s, or set %s to its path (the CPU path works without it)", what, err, hint, env)
	}
	for _, s := range syms {
		addr, err := purego.Dlsym(h, s.name)
		if err != nil {
			return fmt.Errorf("cuda: %s (%s) lacks %s: %v", what, name, s.name, err)
		}
		*s.addr = addr
	}
	return nil
}

// maxArgs is the most arguments a bound function takes
// (cublasSgemmStridedBatched: 18).
const maxArgs = 18

// callBuf holds the arguments of one C call. purego.SyscallN allocates
// when handed a fresh variadic slice but not when handed a slice of
// memory already on the heap, so each Device owns one.
type callBuf [maxArgs]uintptr

// call calls the C function fn and returns its int result (CUresult or
// cublasStatus_t). Pointer arguments must point at memory that outlives
// the call (heap fields, not locals) for the call to stay allocation-free.
func (b *callBuf) call(fn uintptr, args ...uintptr) int {
	n := copy(b[:], args)
	r, _, _ := purego.SyscallN(fn, b[:n]...)
	return int(int32(r))
}

// call is callBuf.call for one-off calls.
func call(fn uintptr, args ...uintptr) int { return new(callBuf).call(fn, args...) }
