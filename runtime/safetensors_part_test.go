package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// LoadSafetensorsPart loads the model's tensors from a checkpoint that
// holds more (an inference build reading a training checkpoint), still
// refuses a missing or mis-shaped tensor and a truncated file, and leaves
// the model untouched on error.
func TestLoadSafetensorsPart(t *testing.T) {
	dir := t.TempDir()
	full := append(tinyTensors(), Tensor{Name: "optimizer.m", Shape: []int{3}, Data: []float32{4, 5, 6}}, Tensor{Name: "0first", Shape: []int{1}, Data: []float32{9}})
	path := filepath.Join(dir, "full.safetensors")
	meta := map[string]string{"mdlc.model": "T"}
	if err := SaveSafetensors(path, full, meta); err != nil {
		t.Fatal(err)
	}
	dst := destTensors()
	if err := LoadSafetensors(path, dst, meta); err == nil || !strings.Contains(err.Error(), `unexpected tensor "optimizer.m"`) {
		t.Errorf("LoadSafetensors of a checkpoint with more tensors: %v", err)
	}
	if err := LoadSafetensorsPart(path, dst, meta); err != nil {
		t.Fatal(err)
	}
	for i, want := range tinyTensors() {
		if !slices.Equal(dst[i].Data, want.Data) {
			t.Errorf("%s = %v, want %v", want.Name, dst[i].Data, want.Data)
		}
	}

	missing := append(destTensors(), Tensor{Name: "c", Shape: []int{1}, Data: []float32{-7}})
	if err := LoadSafetensorsPart(path, missing, meta); err == nil || !strings.Contains(err.Error(), `missing tensor "c"`) || !untouched(missing) {
		t.Errorf("a missing tensor: %v (untouched %v)", err, untouched(missing))
	}
	shaped := destTensors()
	shaped[0].Shape = []int{1, 2}
	if err := LoadSafetensorsPart(path, shaped, meta); err == nil || !strings.Contains(err.Error(), "has shape [2], model expects [1 2]") || !untouched(shaped) {
		t.Errorf("a mis-shaped tensor: %v", err)
	}
	if err := LoadSafetensorsPart(path, destTensors(), map[string]string{"mdlc.model": "U"}); err == nil || !strings.Contains(err.Error(), `saved by model "T"`) {
		t.Errorf("another model's checkpoint: %v", err)
	}
	// Truncated inside a skipped tensor's data (optimizer.m comes last).
	raw, _ := os.ReadFile(path)
	cut := filepath.Join(dir, "cut.safetensors")
	os.WriteFile(cut, raw[:len(raw)-4], 0o644)
	d := destTensors()
	if err := LoadSafetensorsPart(cut, d, meta); err == nil || !strings.Contains(err.Error(), "truncated") || !untouched(d) {
		t.Errorf("a truncated checkpoint: %v (untouched %v)", err, untouched(d))
	}
}
