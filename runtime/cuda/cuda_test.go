package cuda

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ebitengine/purego"
)

func TestResultNames(t *testing.T) {
	if err := Result("cuInit", 0); err != nil {
		t.Fatalf("success is an error: %v", err)
	}
	for code, want := range map[int]string{
		1: "CUDA_ERROR_INVALID_VALUE", 2: "CUDA_ERROR_OUT_OF_MEMORY", 100: "CUDA_ERROR_NO_DEVICE",
		218: "CUDA_ERROR_INVALID_PTX", 222: "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", 700: "CUDA_ERROR_ILLEGAL_ADDRESS",
		999: "CUDA_ERROR_UNKNOWN", 12345: "CUDA_ERROR_12345",
	} {
		err := Result("cuMemAlloc_v2", code)
		var e *Error
		if !errors.As(err, &e) || e.Name != want || e.Code != code || e.Func != "cuMemAlloc_v2" {
			t.Errorf("Result(%d) = %#v, want name %s", code, err, want)
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "cuMemAlloc_v2") {
			t.Errorf("Result(%d).Error() = %q lacks the name or the function", code, err)
		}
	}
}

func TestStatusNames(t *testing.T) {
	if err := Status("cublasSgemm_v2", 0); err != nil {
		t.Fatalf("success is an error: %v", err)
	}
	for code, want := range map[int]string{
		1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED", 7: "CUBLAS_STATUS_INVALID_VALUE",
		8: "CUBLAS_STATUS_ARCH_MISMATCH", 13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR",
		15: "CUBLAS_STATUS_NOT_SUPPORTED", 16: "CUBLAS_STATUS_LICENSE_ERROR", 42: "CUBLAS_STATUS_42",
	} {
		var e *Error
		if err := Status("cublasSgemm_v2", code); !errors.As(err, &e) || e.Name != want {
			t.Errorf("Status(%d) = %v, want %s", code, err, want)
		}
	}
}

// The tables hold distinct, well-formed names.
func TestNameTables(t *testing.T) {
	for _, tab := range []struct {
		m      map[int]string
		prefix string
	}{{resultNames, "CUDA_"}, {statusNames, "CUBLAS_STATUS_"}} {
		seen := map[string]bool{}
		for code, name := range tab.m {
			if !strings.HasPrefix(name, tab.prefix) || strings.ToUpper(name) != name || seen[name] {
				t.Errorf("code %d: bad or duplicate name %q", code, name)
			}
			seen[name] = true
		}
	}
}

func haveDriver() bool {
	for _, n := range driverNames {
		if h, err := purego.Dlopen(n, purego.RTLD_NOW); err == nil {
			purego.Dlclose(h)
			return true
		}
	}
	return false
}

// Without libcuda, Open fails with an error that names the library, the
// override and how to fix it.
func TestOpenWithoutDriver(t *testing.T) {
	if os.Getenv(envDriver) != "" || haveDriver() {
		t.Skip("an NVIDIA driver is installed: the no-driver error cannot be observed here")
	}
	d, err := Open(0)
	if err == nil {
		d.Close()
		t.Fatal("Open succeeded without a driver")
	}
	for _, want := range []string{"libcuda.so.1", "MDLC_LIBCUDA", "install the NVIDIA driver", "CPU path"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// The error is stable: a second Open reports it again.
	if _, err2 := Open(0); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("second Open: %v, want %v", err2, err)
	}
}

// An override names exactly the file tried.
func TestOpenOverride(t *testing.T) {
	t.Setenv("MDLC_TEST_LIB", "/nonexistent/libcuda-test.so")
	var a driverAPI
	err := open("the NVIDIA driver library", "MDLC_TEST_LIB", driverNames, a.symbols(), "install it")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/libcuda-test.so") || strings.Contains(err.Error(), "libcuda.so.1") {
		t.Fatalf("override error = %v", err)
	}
	var b blasAPI
	err = open("cuBLAS", "MDLC_NOT_SET_FOR_TEST", []string{"libcublas-mdlc-missing.so.13"}, b.symbols(), "install cuBLAS")
	if err == nil || !strings.Contains(err.Error(), "libcublas-mdlc-missing.so.13") || !strings.Contains(err.Error(), "MDLC_NOT_SET_FOR_TEST") {
		t.Fatalf("cuBLAS error = %v", err)
	}
}

// A library that lacks a symbol is reported by symbol name.
func TestOpenMissingSymbol(t *testing.T) {
	var a driverAPI
	err := open("libc as a driver", "MDLC_NOT_SET_FOR_TEST", []string{"libc.so.6"}, a.symbols(), "")
	if err == nil || !strings.Contains(err.Error(), "lacks cuInit") {
		t.Fatalf("err = %v, want a missing cuInit", err)
	}
}

// call, the path of every driver and cuBLAS call, allocates nothing: a
// training step makes dozens of calls.
func TestCallAllocates0(t *testing.T) {
	h, err := purego.Dlopen("libc.so.6", purego.RTLD_NOW)
	if err != nil {
		t.Skip("no libc.so.6:", err)
	}
	labs, err := purego.Dlsym(h, "labs")
	if err != nil {
		t.Fatal(err)
	}
	d := new(Device)
	if got := d.call(labs, ^uintptr(6)); got != 7 {
		t.Fatalf("labs(-7) = %d", got)
	}
	allocs := testing.AllocsPerRun(100, func() {
		d.call(labs, uintptr(5), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17)
		d.call(labs, uintptr(5))
	})
	if allocs != 0 {
		t.Fatalf("call allocates %v times per call", allocs)
	}
}
