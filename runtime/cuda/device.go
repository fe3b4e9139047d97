package cuda

import (
	"bytes"
	"fmt"
	"runtime"
	"unsafe"
)

// Ptr is a device address (CUdeviceptr).
type Ptr uint64

// Add returns p advanced by bytes.
func (p Ptr) Add(bytes int) Ptr { return p + Ptr(bytes) }

// Module is a loaded PTX module (CUmodule).
type Module uintptr

// Function is a kernel of a loaded module (CUfunction).
type Function uintptr

func (d *Device) call(fn uintptr, args ...uintptr) int { return d.cb.call(fn, args...) }

// Device is one GPU: a retained primary context, one stream, and a cuBLAS
// handle created on first use. A Device is not safe for concurrent use.
type Device struct {
	cb      callBuf // arguments of the C call in progress
	ordinal int
	dev     int32   // CUdevice
	ctx     uintptr // CUcontext (primary)
	stream  uintptr // CUstream
	blas    uintptr // cublasHandle_t, 0 until BLAS is enabled
	name    [256]byte

	// Out-parameters and the host-side scalars cuBLAS reads (host pointer
	// mode): fields, so that calls pass addresses of heap memory and
	// allocate nothing.
	outPtr      uint64
	outInt      int32
	alpha, beta float32
	locked      bool
	closed      bool
}

// Open loads the driver, initializes it and makes device ordinal's primary
// context ready on a new stream. Without a driver or a GPU it returns an
// error that says what is missing.
func Open(ordinal int) (*Device, error) {
	if err := loadDriver(); err != nil {
		return nil, err
	}
	d := &Device{ordinal: ordinal}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := Result("cuDeviceGetCount", d.call(drv.cuDeviceGetCount, uintptr(unsafe.Pointer(&d.outInt)))); err != nil {
		return nil, err
	}
	if d.outInt == 0 {
		return nil, fmt.Errorf("cuda: the driver sees no GPU (%w)", &Error{Func: "cuDeviceGetCount", Code: 100, Name: ResultName(100)})
	}
	if ordinal < 0 || ordinal >= int(d.outInt) {
		return nil, fmt.Errorf("cuda: device %d does not exist (%d GPUs)", ordinal, d.outInt)
	}
	if err := Result("cuDeviceGet", d.call(drv.cuDeviceGet, uintptr(unsafe.Pointer(&d.dev)), uintptr(ordinal))); err != nil {
		return nil, err
	}
	if err := Result("cuDevicePrimaryCtxRetain", d.call(drv.cuDevicePrimaryCtxRetain, uintptr(unsafe.Pointer(&d.ctx)), uintptr(d.dev))); err != nil {
		return nil, err
	}
	if err := Result("cuCtxSetCurrent", d.call(drv.cuCtxSetCurrent, d.ctx)); err != nil {
		d.call(drv.cuDevicePrimaryCtxRelease, uintptr(d.dev))
		return nil, err
	}
	if err := Result("cuStreamCreate", d.call(drv.cuStreamCreate, uintptr(unsafe.Pointer(&d.stream)), 0)); err != nil {
		d.call(drv.cuDevicePrimaryCtxRelease, uintptr(d.dev))
		return nil, err
	}
	d.call(drv.cuDeviceGetName, uintptr(unsafe.Pointer(&d.name[0])), uintptr(len(d.name)-1), uintptr(d.dev))
	return d, nil
}

// Name is the GPU's name as the driver reports it.
func (d *Device) Name() string {
	if i := bytes.IndexByte(d.name[:], 0); i >= 0 {
		return string(d.name[:i])
	}
	return string(d.name[:])
}

// Ordinal is the device number Open was given.
func (d *Device) Ordinal() int { return d.ordinal }

// ComputeCapability returns the major and minor compute capability.
func (d *Device) ComputeCapability() (major, minor int, err error) {
	const attrMajor, attrMinor = 75, 76 // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR/MINOR
	if err := Result("cuDeviceGetAttribute", d.call(drv.cuDeviceGetAttribute, uintptr(unsafe.Pointer(&d.outInt)), attrMajor, uintptr(d.dev))); err != nil {
		return 0, 0, err
	}
	major = int(d.outInt)
	if err := Result("cuDeviceGetAttribute", d.call(drv.cuDeviceGetAttribute, uintptr(unsafe.Pointer(&d.outInt)), attrMinor, uintptr(d.dev))); err != nil {
		return 0, 0, err
	}
	return major, int(d.outInt), nil
}

// Lock pins the calling goroutine to its OS thread and makes the device's
// context current there. Call it before a sequence of calls and Unlock
// after: the driver keeps the current context per thread.
func (d *Device) Lock() error {
	runtime.LockOSThread()
	d.locked = true
	return Result("cuCtxSetCurrent", d.call(drv.cuCtxSetCurrent, d.ctx))
}

// Unlock undoes Lock.
func (d *Device) Unlock() {
	if d.locked {
		d.locked = false
		runtime.UnlockOSThread()
	}
}

// Close releases the stream, the cuBLAS handle and the context. Memory
// and modules must be freed before.
func (d *Device) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	keep(Result("cuCtxSetCurrent", d.call(drv.cuCtxSetCurrent, d.ctx)))
	if d.blas != 0 {
		keep(Status("cublasDestroy_v2", d.call(blas.cublasDestroy, d.blas)))
	}
	keep(Result("cuStreamDestroy_v2", d.call(drv.cuStreamDestroy, d.stream)))
	keep(Result("cuDevicePrimaryCtxRelease_v2", d.call(drv.cuDevicePrimaryCtxRelease, uintptr(d.dev))))
	return first
}

// Alloc allocates bytes of device memory.
func (d *Device) Alloc(bytes int) (Ptr, error) {
	if bytes <= 0 {
		bytes = 4
	}
	if err := Result("cuMemAlloc_v2", d.call(drv.cuMemAlloc, uintptr(unsafe.Pointer(&d.outPtr)), uintptr(bytes))); err != nil {
		return 0, fmt.Errorf("%w (allocating %d bytes)", err, bytes)
	}
	return Ptr(d.outPtr), nil
}

// Free frees memory from Alloc.
func (d *Device) Free(p Ptr) error { return Result("cuMemFree_v2", d.call(drv.cuMemFree, uintptr(p))) }

// Memset32 queues setting n 32-bit words at p to v.
func (d *Device) Memset32(p Ptr, v uint32, n int) error {
	return Result("cuMemsetD32Async", d.call(drv.cuMemsetD32Async, uintptr(p), uintptr(v), uintptr(n), d.stream))
}

// CopyToDevice queues a copy of bytes from host memory src to dst; src may
// be reused when it returns (pageable memory is staged by the driver).
func (d *Device) CopyToDevice(dst Ptr, src unsafe.Pointer, bytes int) error {
	if bytes == 0 {
		return nil
	}
	return Result("cuMemcpyHtoDAsync_v2", d.call(drv.cuMemcpyHtoDAsync, uintptr(dst), uintptr(src), uintptr(bytes), d.stream))
}

// CopyFromDevice queues a copy of bytes from src to host memory dst. Read
// dst only after Sync.
func (d *Device) CopyFromDevice(dst unsafe.Pointer, src Ptr, bytes int) error {
	if bytes == 0 {
		return nil
	}
	return Result("cuMemcpyDtoHAsync_v2", d.call(drv.cuMemcpyDtoHAsync, uintptr(dst), uintptr(src), uintptr(bytes), d.stream))
}

// CopyDevice queues a device-to-device copy.
func (d *Device) CopyDevice(dst, src Ptr, bytes int) error {
	if bytes == 0 {
		return nil
	}
	return Result("cuMemcpyDtoDAsync_v2", d.call(drv.cuMemcpyDtoDAsync, uintptr(dst), uintptr(src), uintptr(bytes), d.stream))
}

// UploadF32 queues copying src to dst.
func (d *Device) UploadF32(dst Ptr, src []float32) error {
	if len(src) == 0 {
		return nil
	}
	return d.CopyToDevice(dst, unsafe.Pointer(&src[0]), 4*len(src))
}

// UploadI32 queues copying src to dst.
func (d *Device) UploadI32(dst Ptr, src []int32) error {
	if len(src) == 0 {
		return nil
	}
	return d.CopyToDevice(dst, unsafe.Pointer(&src[0]), 4*len(src))
}

// DownloadF32 copies len(dst) values from src and waits for the stream:
// every queued operation has finished when it returns.
func (d *Device) DownloadF32(dst []float32, src Ptr) error {
	if len(dst) > 0 {
		if err := d.CopyFromDevice(unsafe.Pointer(&dst[0]), src, 4*len(dst)); err != nil {
			return err
		}
	}
	return d.Sync()
}

// Sync waits until the stream's work is done and reports errors of
// kernels that failed since the last Sync.
func (d *Device) Sync() error {
	return Result("cuStreamSynchronize", d.call(drv.cuStreamSynchronize, d.stream))
}

// LoadModule loads a module from PTX text (the driver JIT-compiles it for
// the device).
func (d *Device) LoadModule(ptx []byte) (Module, error) {
	img := make([]byte, len(ptx)+1) // NUL-terminated
	copy(img, ptx)
	if err := Result("cuModuleLoadData", d.call(drv.cuModuleLoadData, uintptr(unsafe.Pointer(&d.outPtr)), uintptr(unsafe.Pointer(&img[0])))); err != nil {
		return 0, err
	}
	runtime.KeepAlive(img)
	return Module(d.outPtr), nil
}

// Unload unloads a module.
func (d *Device) Unload(m Module) error {
	return Result("cuModuleUnload", d.call(drv.cuModuleUnload, uintptr(m)))
}

// Function looks up the kernel name (an extern "C" __global__) in m.
func (d *Device) Function(m Module, name string) (Function, error) {
	c := append([]byte(name), 0)
	if err := Result("cuModuleGetFunction", d.call(drv.cuModuleGetFunction, uintptr(unsafe.Pointer(&d.outPtr)), uintptr(m), uintptr(unsafe.Pointer(&c[0])))); err != nil {
		return 0, fmt.Errorf("%w (kernel %s)", err, name)
	}
	runtime.KeepAlive(c)
	return Function(d.outPtr), nil
}

// Launch queues f on a one-dimensional grid. params points at an array of
// pointers, one per kernel parameter, each to the parameter's value (the
// cuLaunchKernel convention); it must point into memory that outlives the
// call, such as a field of a long-lived struct.
func (d *Device) Launch(f Function, grid, block, shared int, params unsafe.Pointer) error {
	return Result("cuLaunchKernel", d.call(drv.cuLaunchKernel, uintptr(f),
		uintptr(grid), 1, 1, uintptr(block), 1, 1, uintptr(shared), d.stream, uintptr(params), 0))
}

// Stream is the device's CUstream, on which every copy, kernel and GEMM
// of the device is queued (a collective library such as NCCL queues its
// reductions on it too).
func (d *Device) Stream() uintptr { return d.stream }
