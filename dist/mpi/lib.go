package mpi

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/mdlc/mdlc/internal/dlopen"
)

// Library names tried in order (Open MPI's, then MPICH's); MDLC_LIBMPI
// names another file.
var libNames = []string{"libmpi.so.40", "libmpi.so.12", "libmpi.so"}

const envLib = "MDLC_LIBMPI"

// flavor is the MPI implementation a library is: its handles differ.
type flavor int

const (
	openMPI flavor = iota + 1 // handles are addresses of exported globals (ompi_mpi_comm_world, ...)
	mpich                     // handles are integer constants of mpi.h (MPICH and its ABI: Intel MPI, MVAPICH)
)

func (f flavor) String() string {
	switch f {
	case openMPI:
		return "Open MPI"
	case mpich:
		return "MPICH"
	}
	return "unknown MPI"
}

// lib is a loaded MPI library: its functions and the handles they take.
type lib struct {
	flavor flavor
	name   string // the file it was loaded from

	initThread, initialized, finalize, abort               uintptr
	commRank, commSize, commSetErrhandler                  uintptr
	allreduce, bcast, barrier, errorString, getLibraryVers uintptr

	// Handles, as the C calls take them.
	commWorld, float, double, byte, sum, errorsReturn, inPlace uintptr
}

// lookup resolves a symbol of the library (purego.Dlsym on it, or a fake
// table in tests).
type lookup func(name string) (uintptr, error)

// MPICH's handles (mpi.h of MPICH 3 and 4; the MPICH ABI initiative keeps
// them fixed).
const (
	mpichCommWorld    = 0x44000000
	mpichFloat        = 0x4c00040a
	mpichDouble       = 0x4c00080b
	mpichByte         = 0x4c00010d
	mpichSum          = 0x58000003
	mpichErrorsReturn = 0x54000001
	mpichInPlace      = ^uintptr(0) // (void *) -1
	ompiInPlace       = 1           // (void *) 1
)

// bind resolves the functions and tells the flavor by the symbols the
// library exports: Open MPI's handles are the addresses of its
// predefined objects, MPICH's are integers.
func bind(name string, sym lookup, version func(fn uintptr) string) (*lib, error) {
	l := &lib{name: name}
	fns := []struct {
		name string
		addr *uintptr
	}{
		{"MPI_Init_thread", &l.initThread}, {"MPI_Initialized", &l.initialized}, {"MPI_Finalize", &l.finalize},
		{"MPI_Abort", &l.abort}, {"MPI_Comm_rank", &l.commRank}, {"MPI_Comm_size", &l.commSize},
		{"MPI_Comm_set_errhandler", &l.commSetErrhandler}, {"MPI_Allreduce", &l.allreduce},
		{"MPI_Bcast", &l.bcast}, {"MPI_Barrier", &l.barrier}, {"MPI_Error_string", &l.errorString},
		{"MPI_Get_library_version", &l.getLibraryVers},
	}
	for _, f := range fns {
		a, err := sym(f.name)
		if err != nil || a == 0 {
			return nil, fmt.Errorf("mpi: %s lacks %s: is it an MPI library?", name, f.name)
		}
		*f.addr = a
	}
	if world, err := sym("ompi_mpi_comm_world"); err == nil && world != 0 {
		l.flavor, l.commWorld, l.inPlace = openMPI, world, ompiInPlace
		for _, h := range []struct {
			name string
			addr *uintptr
		}{{"ompi_mpi_float", &l.float}, {"ompi_mpi_double", &l.double}, {"ompi_mpi_byte", &l.byte}, {"ompi_mpi_op_sum", &l.sum}, {"ompi_mpi_errors_return", &l.errorsReturn}} {
			a, err := sym(h.name)
			if err != nil || a == 0 {
				return nil, fmt.Errorf("mpi: %s is Open MPI but lacks %s", name, h.name)
			}
			*h.addr = a
		}
		return l, nil
	}
	if v := version(l.getLibraryVers); strings.Contains(v, "MPICH") || strings.Contains(v, "Intel(R) MPI") || strings.Contains(v, "MVAPICH") {
		l.flavor = mpich
		l.commWorld, l.float, l.double, l.byte, l.sum, l.errorsReturn, l.inPlace = mpichCommWorld, mpichFloat, mpichDouble, mpichByte, mpichSum, mpichErrorsReturn, mpichInPlace
		return l, nil
	}
	return nil, fmt.Errorf("mpi: %s is neither Open MPI (no ompi_mpi_comm_world) nor MPICH (MPI_Get_library_version: %q): its handles are unknown", name, version(l.getLibraryVers))
}

// load opens the MPI library named by MDLC_LIBMPI, else the first of
// libNames that opens. RTLD_GLOBAL: Open MPI's plugins, which it dlopens
// itself, resolve libmpi's symbols globally.
func load() (*lib, error) {
	h, name, err := dlopen.First(envLib, libNames)
	if err != nil {
		return nil, fmt.Errorf("mpi: cannot load an MPI library: %v; install Open MPI (Debian: openmpi-bin) or MPICH, or set %s to its path", err, envLib)
	}
	return bind(name, func(s string) (uintptr, error) { return purego.Dlsym(h, s) }, libraryVersion)
}

// call calls the C function fn and returns its int result (an MPI error
// code). Arguments that point at Go memory must point at heap or pinned
// memory that outlives the call.
func call(fn uintptr, args ...uintptr) int {
	r, _, _ := purego.SyscallN(fn, args...)
	return int(int32(r))
}

// libraryVersion calls MPI_Get_library_version (allowed before MPI_Init).
func libraryVersion(fn uintptr) string {
	buf, n := onHeap[[8192]byte](), onHeap[int32]() // MPI_MAX_LIBRARY_VERSION_STRING is 256 (Open MPI) to 8192 (MPICH)
	if call(fn, uintptr(unsafe.Pointer(buf)), uintptr(unsafe.Pointer(n))) != 0 || *n <= 0 || int(*n) > len(buf) {
		return ""
	}
	return strings.TrimRight(string(buf[:*n]), "\x00\n ")
}
