package mpi

import (
	"fmt"
	"strings"
	"testing"
)

// fakeLib is a symbol table: every MPI function, plus extra symbols.
func fakeLib(extra map[string]uintptr) lookup {
	return func(name string) (uintptr, error) {
		if a, ok := extra[name]; ok {
			return a, nil
		}
		if strings.HasPrefix(name, "MPI_") {
			return uintptr(len(name)), nil
		}
		return 0, fmt.Errorf("undefined symbol: %s", name)
	}
}

func TestBind(t *testing.T) {
	noVersion := func(uintptr) string { return "" }
	ompi := map[string]uintptr{"ompi_mpi_comm_world": 0x1000, "ompi_mpi_float": 0x2000, "ompi_mpi_double": 0x2100, "ompi_mpi_byte": 0x2200,
		"ompi_mpi_op_sum": 0x3000, "ompi_mpi_errors_return": 0x4000}
	l, err := bind("libmpi.so.40", fakeLib(ompi), noVersion)
	if err != nil {
		t.Fatal(err)
	}
	if l.flavor != openMPI || l.commWorld != 0x1000 || l.float != 0x2000 || l.double != 0x2100 || l.byte != 0x2200 || l.sum != 0x3000 || l.errorsReturn != 0x4000 || l.inPlace != 1 {
		t.Errorf("Open MPI: handles %+v", l)
	}
	if l.allreduce != uintptr(len("MPI_Allreduce")) || l.bcast != uintptr(len("MPI_Bcast")) {
		t.Errorf("Open MPI: functions %+v", l)
	}

	l, err = bind("libmpi.so.12", fakeLib(nil), func(uintptr) string { return "MPICH Version: 4.0.2" })
	if err != nil {
		t.Fatal(err)
	}
	if l.flavor != mpich || l.commWorld != 0x44000000 || l.float != 0x4c00040a || l.double != 0x4c00080b || l.byte != 0x4c00010d || l.sum != 0x58000003 || l.inPlace != ^uintptr(0) {
		t.Errorf("MPICH: handles %+v", l)
	}

	for _, c := range []struct {
		name    string
		sym     lookup
		version string
		want    string
	}{
		{"unknown MPI", fakeLib(nil), "Some MPI 1.0", `neither Open MPI (no ompi_mpi_comm_world) nor MPICH (MPI_Get_library_version: "Some MPI 1.0")`},
		{"not MPI", func(string) (uintptr, error) { return 0, fmt.Errorf("undefined") }, "", "lacks MPI_Init_thread: is it an MPI library?"},
		{"half Open MPI", fakeLib(map[string]uintptr{"ompi_mpi_comm_world": 1}), "", "is Open MPI but lacks ompi_mpi_float"},
	} {
		_, err := bind("libx.so", c.sym, func(uintptr) string { return c.version })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	t.Setenv(envLib, "/nonexistent/libmpi.so")
	_, err := load()
	if err == nil || !strings.Contains(err.Error(), "MDLC_LIBMPI") || !strings.Contains(err.Error(), "openmpi-bin") {
		t.Fatalf("load: %v, want an error naming MDLC_LIBMPI and the package", err)
	}
}

func TestLaunched(t *testing.T) {
	for _, v := range []string{"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"} {
		t.Setenv(v, "")
	}
	if Launched() {
		t.Fatal("Launched without a launcher's environment")
	}
	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	if !Launched() {
		t.Fatal("not Launched under mpirun's environment")
	}
}
