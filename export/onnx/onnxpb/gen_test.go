package onnxpb

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGenerated regenerates onnx.pb.go with gen.sh and fails if the
// committed file differs. It needs protoc (Debian's protobuf-compiler):
// without it the test skips, unless MDLC_CI=1, where it fails.
func TestGenerated(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		if os.Getenv("MDLC_CI") == "1" {
			t.Fatal("protoc is not installed (MDLC_CI=1: required)")
		}
		t.Skip("protoc is not installed (apt-get install protobuf-compiler)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("sh", "gen.sh", dir).CombinedOutput(); err != nil {
		t.Fatalf("gen.sh: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "onnx.pb.go"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("onnx.pb.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("onnx.pb.go is stale: run go generate ./export/onnx/onnxpb")
	}
}
