package mpi

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mdlc "github.com/mdlc/mdlc/runtime"
)

// mpirun finds mpirun, or fails (MDLC_CI=1: CI installs openmpi-bin) or
// skips the test.
func mpirun(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("mpirun")
	if err != nil {
		msg := "mpirun not found (Debian: apt-get install openmpi-bin)"
		if os.Getenv("MDLC_CI") == "1" {
			t.Fatal(msg + " (MDLC_CI=1: required)")
		}
		t.Skip(msg)
	}
	return p
}

// buildTrainer builds testdata/trainer (examples/mnist_mlp's model on
// synthetic data) into dir.
func buildTrainer(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "trainer")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/trainer")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build testdata/trainer: %v\n%s", err, out)
	}
	return bin
}

// launch runs bin with args under mpirun -np np (np 0: alone).
func launch(t *testing.T, np int, bin string, args ...string) (string, error) {
	t.Helper()
	var cmd *exec.Cmd
	if np == 0 {
		cmd = exec.Command(bin, args...)
	} else {
		cmd = exec.Command(mpirun(t), append([]string{"--oversubscribe", "-np", fmt.Sprint(np), bin}, args...)...)
	}
	// CI runs as root, which mpirun refuses unless told.
	cmd.Env = append(os.Environ(), "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func read(t *testing.T, path string) []mdlc.Tensor {
	t.Helper()
	ts, _, err := mdlc.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// compare checks b against a tensor by tensor: max |a-b| <= tol * max |a|
// (tol 0: the same bits).
func compare(t *testing.T, what string, a, b []mdlc.Tensor, tol float64) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d tensors against %d", what, len(a), len(b))
	}
	for i := range a {
		var diff, mag float64
		for j, x := range a[i].Data {
			y := b[i].Data[j]
			if tol == 0 && math.Float32bits(x) != math.Float32bits(y) {
				t.Fatalf("%s: %s[%d] = %v against %v: not bit-identical", what, a[i].Name, j, y, x)
			}
			diff = math.Max(diff, math.Abs(float64(x)-float64(y)))
			mag = math.Max(mag, math.Abs(float64(x)))
		}
		if diff > tol*mag {
			t.Errorf("%s: %s differs by %.3g (relative %.3g > %g)", what, a[i].Name, diff, diff/mag, tol)
		}
	}
}

// TestDataParallel trains examples/mnist_mlp's model (Adam) for 20 steps
// of batch 16: two ranks with 8 examples each end with the parameters and
// state of one process with 16 (within 1e-6 relative: the sums run in
// another order), the two ranks bit-identical; likewise with 7 and 9
// examples (the weighting by example count); and a run stopped at step 10
// and resumed from rank 0's checkpoint ends bit-identical to the
// uninterrupted one.
func TestDataParallel(t *testing.T) {
	mpirun(t)
	dir := t.TempDir()
	bin := buildTrainer(t, dir)
	run := func(np int, args ...string) {
		t.Helper()
		if out, err := launch(t, np, bin, args...); err != nil {
			t.Fatalf("trainer %v (np %d): %v\n%s", args, np, err, out)
		}
	}
	p := func(name string) string { return filepath.Join(dir, name) }

	run(0, "-out", p("one"))
	one := read(t, p("one.rank0"))
	for _, split := range []string{"even", "uneven"} {
		run(2, "-out", p(split), "-uneven="+fmt.Sprint(split == "uneven"))
		r0, r1 := read(t, p(split+".rank0")), read(t, p(split+".rank1"))
		compare(t, split+": rank 1 against rank 0", r0, r1, 0)
		// 7 and 9 examples round once more (each rank's mean scaled by
		// n/N): 1.4e-6 measured after 20 Adam steps.
		tol := map[string]float64{"even": 1e-6, "uneven": 1e-5}[split]
		compare(t, split+": 2 ranks against 1", one, r0, tol)
	}

	run(2, "-steps", "10", "-save", p("ckpt"))
	run(2, "-start", "10", "-resume", p("ckpt"), "-out", p("resumed"))
	compare(t, "resumed against uninterrupted", read(t, p("even.rank0")), read(t, p("resumed.rank0")), 0)
	compare(t, "resumed: rank 1 against rank 0", read(t, p("resumed.rank0")), read(t, p("resumed.rank1")), 0)
}

// TestRankDies: a rank that dies mid-run (SIGKILL, or os.Exit without
// MPI_Finalize) ends the whole job with a non-zero status and mpirun's
// message naming the failed process, within seconds, instead of leaving
// the other rank waiting in MPI_Allreduce.
func TestRankDies(t *testing.T) {
	mpirun(t)
	dir := t.TempDir()
	bin := buildTrainer(t, dir)
	for _, how := range []string{"kill", "exit"} {
		start := time.Now()
		out, err := launch(t, 2, bin, "-steps", "100000", "-die-at", "10", "-die-how", how)
		took := time.Since(start)
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("%s: the job did not fail (err %v):\n%s", how, err, out)
		}
		// Generous for a loaded 2-core CI machine; it takes about a second.
		if took > 60*time.Second {
			t.Errorf("%s: the job took %v to end", how, took)
		}
		if !strings.Contains(out, "rank 1") && !strings.Contains(out, "Process name") && !strings.Contains(out, "exited on signal") {
			t.Errorf("%s: mpirun's output does not say which process failed:\n%s", how, out)
		}
		t.Logf("%s: exit status %d after %v", how, exit.ExitCode(), took.Round(time.Millisecond))
	}
}
