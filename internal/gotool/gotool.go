// Package gotool helps tests build generated packages: a temporary module
// that requires this checkout of mdlc, and the go tool run in it.
package gotool

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// RepoRoot is the module root of this checkout of mdlc.
func RepoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	root, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TempModule makes a module named name that requires mdlc (replaced by
// this checkout) and returns its directory; MDLC_HARNESS_DIR names one to
// keep for inspection.
func TempModule(t testing.TB, name string) string {
	dir := t.TempDir()
	if d := os.Getenv("MDLC_HARNESS_DIR"); d != "" {
		dir = d
	}
	root := RepoRoot(t)
	gomod := fmt.Sprintf("module %s\n\ngo 1.26\n\nrequire github.com/mdlc/mdlc v0.0.0\n\nreplace github.com/mdlc/mdlc => %s\n", name, root)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Go runs the go tool in dir with env added and returns its output; it
// fails the test when the command fails.
func Go(t testing.TB, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOFLAGS=-mod=mod"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out.String())
	}
	return out.String()
}
