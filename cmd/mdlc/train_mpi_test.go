package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/train"
)

// TestTrainMPI runs `mpirun -np 2 mdlc train` on an image folder: the
// trainer initializes MPI from mpirun's environment, each rank reads its
// share of every epoch, rank 0 alone reports and writes the checkpoint and
// its history, and the model learns.
func TestTrainMPI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds mdlc and a trainer program")
	}
	mpirun, err := exec.LookPath("mpirun")
	if err != nil {
		msg := "mpirun not found (Debian: apt-get install openmpi-bin)"
		if os.Getenv("MDLC_CI") == "1" {
			t.Fatal(msg + " (MDLC_CI=1: required)")
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "mdlc")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	mdl := filepath.Join(dir, "stripes.mdl")
	if err := os.WriteFile(mdl, []byte(stripesModel), 0o644); err != nil {
		t.Fatal(err)
	}
	imgs := filepath.Join(dir, "images")
	stripes(t, imgs, 40)
	ckpt := filepath.Join(dir, "out", "stripes.safetensors")

	cmd := exec.Command(mpirun, "--oversubscribe", "-np", "2", bin, "train", mdl, "-data", imgs, "-epochs", "6", "-batch", "8", "-checkpoint", ckpt)
	cmd.Env = append(os.Environ(), "MDLC_CACHE="+filepath.Join(dir, "cache"), "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mpirun mdlc train: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Logf("train:\n%s", out)
	if !strings.Contains(out, "data parallel: 2 processes, 16 examples per step (8 each)") {
		t.Errorf("train output does not report 2 processes")
	}
	if n := strings.Count(out, "checkpoint: "); n != 1 {
		t.Errorf("%d ranks reported, want rank 0 alone", n)
	}
	b, err := os.ReadFile(train.HistoryPath(ckpt))
	if err != nil {
		t.Fatal(err)
	}
	var hist map[string][]*float64
	if err := json.Unmarshal(b, &hist); err != nil {
		t.Fatal(err)
	}
	if acc := hist["val_accuracy"]; len(acc) != 6 || *acc[5] < 0.9 {
		t.Errorf("validation accuracy %v, want >= 0.9 at epoch 6", deref(acc))
	}
}
