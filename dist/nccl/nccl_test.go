package nccl

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"
)

// fakeState mirrors `fake` in testdata/fake_nccl.c.
type fakeState struct {
	nranks, rank, idOK                   int32
	scalar                               float32
	dtype, residence, opDType, op        int32
	count                                uint64
	stream, comm                         uintptr
	groups, destroyedOps, destroyedComms int32
	allreduces                           int32
}

type fakeDevice struct{ locks, unlocks int }

func (d *fakeDevice) Lock() error { d.locks++; return nil }
func (d *fakeDevice) Unlock()     { d.unlocks++ }

// TestFakeNCCL loads a fake libnccl (NCCL's signatures, built here with
// clang) through MDLC_LIBNCCL and checks what the binding passes: the
// 128-byte unique id by value to ncclCommInitRank, the PreMulSum scalar
// n/N from host memory, ncclAllReduce's buffer, count, type, op, comm and
// stream; and an NCCL error comes back with NCCL's text.
func TestFakeNCCL(t *testing.T) {
	clang := ""
	for _, c := range []string{"clang-16", "clang", "cc"} {
		if p, err := exec.LookPath(c); err == nil {
			clang = p
			break
		}
	}
	if clang == "" {
		if os.Getenv("MDLC_CI") == "1" {
			t.Fatal("no C compiler to build the fake NCCL (MDLC_CI=1: clang-16 is required)")
		}
		t.Skip("no C compiler to build the fake NCCL")
	}
	so := filepath.Join(t.TempDir(), "libfakenccl.so")
	if out, err := exec.Command(clang, "-shared", "-fPIC", "-O1", "-o", so, "testdata/fake_nccl.c").CombinedOutput(); err != nil {
		t.Fatalf("building the fake NCCL: %v\n%s", err, out)
	}
	t.Setenv(envLib, so)
	if v, err := Version(); err != nil || v != 22304 {
		t.Fatalf("Version: %d, %v", v, err)
	}
	h, err := purego.Dlopen(so, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := purego.Dlsym(h, "fake")
	if err != nil {
		t.Fatal(err)
	}
	fake := *(**fakeState)(unsafe.Pointer(&addr))

	dev := &fakeDevice{}
	r, err := New(nil, dev)
	if err != nil {
		t.Fatal(err)
	}
	if fake.idOK != 1 || fake.nranks != 1 || fake.rank != 0 || dev.locks != 1 || dev.unlocks != 1 {
		t.Fatalf("ncclCommInitRank saw id ok %d, nranks %d, rank %d; device locked %d, unlocked %d", fake.idOK, fake.nranks, fake.rank, dev.locks, dev.unlocks)
	}

	// Heap memory, as a model's blocks: a stack may move under a uintptr.
	grads, loss := onHeap[[5]float32](), onHeap[[1]float32]()
	*grads, *loss = [5]float32{1, 2, 3, 4, 5}, [1]float32{0.5}
	stream := uintptr(0x5eed)
	if err := r.ReduceStepDevice(uintptr(unsafe.Pointer(&grads[0])), len(grads), uintptr(unsafe.Pointer(&loss[0])), 8, stream); err != nil {
		t.Fatal(err)
	}
	if fake.scalar != 1 || fake.opDType != ncclFloat32 || fake.residence != ncclScalarHostImmediate || fake.comm != 0xc0ffee {
		t.Errorf("ncclRedOpCreatePreMulSum saw scalar %v, dtype %d, residence %d, comm %#x", fake.scalar, fake.opDType, fake.residence, fake.comm)
	}
	if fake.allreduces != 2 || fake.count != 1 || fake.dtype != ncclFloat32 || fake.op != 5 || fake.stream != stream || fake.groups != 1 || fake.destroyedOps != 1 {
		t.Errorf("ncclAllReduce: %d calls, last count %d, dtype %d, op %d, stream %#x; %d groups, %d ops destroyed", fake.allreduces, fake.count, fake.dtype, fake.op, fake.stream, fake.groups, fake.destroyedOps)
	}
	if grads[4] != 5 || loss[0] != 0.5 {
		t.Errorf("one rank changed the buffers: %v, %v", grads, loss)
	}
	state := onHeap[[13]float32]()
	err = r.ReduceStateDevice(uintptr(unsafe.Pointer(&state[0])), len(state), stream)
	if err == nil || !strings.Contains(err.Error(), "ncclAllReduce: internal error (fake) (ncclResult_t 3)") {
		t.Errorf("an NCCL failure gave %v", err)
	}
	if err := r.Close(); err != nil || fake.destroyedComms != 1 {
		t.Errorf("Close: %v, %d communicators destroyed", err, fake.destroyedComms)
	}
}

func TestMissingLibrary(t *testing.T) {
	t.Setenv(envLib, "/nonexistent/libnccl.so.2")
	_, err := open()
	if err == nil || !strings.Contains(err.Error(), "MDLC_LIBNCCL") || !strings.Contains(err.Error(), "install NCCL") {
		t.Fatalf("open: %v, want an error naming MDLC_LIBNCCL", err)
	}
}
