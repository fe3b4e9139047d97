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

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/internal/gotool"
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

// buildTrainerOf builds testdata/trainer with the model of src (compiled
// here into a module of its own) in place of examples/mnist_mlp's.
func buildTrainerOf(t *testing.T, name, src string) string {
	t.Helper()
	dir := gotool.TempModule(t, "trainer")
	res, err := compile.Build(name+".mdl", []byte(src), "", compile.BuildOptions{Options: compile.Options{MaxBatch: 32}, Target: "go", Package: "model"})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	os.MkdirAll(filepath.Join(dir, "model"), 0o755)
	for f, data := range res.Files {
		if err := os.WriteFile(filepath.Join(dir, "model", f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	main, err := os.ReadFile("testdata/trainer/main.go")
	if err != nil {
		t.Fatal(err)
	}
	for f, data := range map[string][]byte{"main.go": main, "model.go": []byte(trainerModelGo)} {
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "trainer")
	gotool.Go(t, dir, []string{"CGO_ENABLED=0"}, "build", "-o", bin, ".")
	return bin
}

// trainerModelGo is testdata/trainer/model.go for the package model.
const trainerModelGo = `package main

import (
	mdlc "github.com/mdlc/mdlc/runtime"
	"trainer/model"
)

func newModel(r mdlc.AllReducer) mdlc.Model {
	if r == nil {
		return model.New()
	}
	return model.New(model.WithAllReduce(r))
}
`

// mlpSGD is examples/mnist_mlp with SGD and momentum: its update is linear
// in the gradient, so the ranks' other order of summation stays at float32
// rounding in the parameters.
const mlpSGD = `model MlpSGD {
    input  image: f32[N, 784]
    target label: i32[N]
    hidden = relu(dense(image, 256))
    logits = dense(hidden, 10)
    loss cross_entropy(logits, label)
    optimizer sgd(lr: 0.1, momentum: 0.9)
}
`

// bnMLP has batch_norm: moving statistics each rank updates from its own
// batch, which the hook averages after every step.
const bnMLP = `model BN {
    input  image: f32[N, 784]
    target label: i32[N]
    hidden = relu(batch_norm(dense(image, 32)))
    logits = dense(hidden, 10)
    loss cross_entropy(logits, label)
    optimizer sgd(lr: 0.1, momentum: 0.9)
}
`

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
	worst := 0.0
	defer func() {
		if tol > 0 {
			t.Logf("%s: largest relative difference %.3g", what, worst)
		}
	}()
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
		if mag > 0 {
			worst = math.Max(worst, diff/mag)
		}
		if diff > tol*mag {
			t.Errorf("%s: %s differs by %.3g (relative %.3g > %g)", what, a[i].Name, diff, diff/mag, tol)
		}
	}
}

// TestDataParallel trains mnist_mlp-like models for 20 steps of batch 16:
// two ranks with 8 examples each end with the parameters and state of one
// process with 16, the two ranks bit-identical; likewise with 7 and 9
// examples (the weighting by example count). With SGD the parameters agree
// within 1e-6 relative (max |diff| / max |value| per tensor: the GEMMs sum
// the batch in another order). examples/mnist_mlp itself trains with Adam,
// whose update g/sqrt(v) turns the rounding of a gradient that cancels to
// near zero into a move of up to lr (bench/README.md measures the same on
// one process): 4e-6 is measured, 1e-4 asserted. A run of it stopped at
// step 10 and resumed from rank 0's checkpoint (loaded on rank 0,
// broadcast by SyncModel) ends bit-identical to the uninterrupted one.
// With batch_norm (local batch statistics, as Keras and PyTorch without
// SyncBatchNorm: no one-process equivalence) the ranks stay bit-identical
// in parameters and moving statistics.
func TestDataParallel(t *testing.T) {
	mpirun(t)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	for _, c := range []struct {
		name, src string
		tol       float64 // against one process; 0: not compared
	}{{"sgd", mlpSGD, 1e-6}, {"bn", bnMLP, 0}} {
		bin := buildTrainerOf(t, c.name, c.src)
		if out, err := launch(t, 0, bin, "-out", p(c.name+".one")); err != nil {
			t.Fatalf("%s alone: %v\n%s", c.name, err, out)
		}
		one := read(t, p(c.name+".one.rank0"))
		for _, split := range []string{"even", "uneven"} {
			out := p(c.name + "." + split)
			if o, err := launch(t, 2, bin, "-out", out, "-uneven="+fmt.Sprint(split == "uneven")); err != nil {
				t.Fatalf("%s %s: %v\n%s", c.name, split, err, o)
			}
			r0, r1 := read(t, out+".rank0"), read(t, out+".rank1")
			compare(t, c.name+" "+split+": rank 1 against rank 0", r0, r1, 0)
			if c.tol > 0 {
				compare(t, c.name+" "+split+": 2 ranks against 1", one, r0, c.tol)
			}
		}
	}

	bin := buildTrainer(t, dir)
	run := func(np int, args ...string) {
		t.Helper()
		if out, err := launch(t, np, bin, args...); err != nil {
			t.Fatalf("trainer %v (np %d): %v\n%s", args, np, err, out)
		}
	}

	run(0, "-out", p("one"))
	one := read(t, p("one.rank0"))
	for _, split := range []string{"even", "uneven"} {
		run(2, "-out", p(split), "-uneven="+fmt.Sprint(split == "uneven"))
		r0, r1 := read(t, p(split+".rank0")), read(t, p(split+".rank1"))
		compare(t, split+": rank 1 against rank 0", r0, r1, 0)
		compare(t, split+": 2 ranks against 1", one, r0, 1e-4)
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
