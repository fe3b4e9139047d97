package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	mdlcrt "github.com/mdlc/mdlc/runtime"
)

// mdlc import writes a checkpoint of the model from PyTorch weights; a
// map naming a tensor the file lacks fails with the map's line; mdlc build
// -inference writes a package without TrainStep.
func TestImportAndInferenceBuild(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "cnn.safetensors")
	td := "../../importer/testdata/"
	code, out, errOut := mdlc("import", "-from", "pytorch", "-o", ckpt, td+"cnn.mdl", td+"torch_cnn.safetensors")
	if code != exitOK || !strings.Contains(out, "tensors of model CNN from pytorch") {
		t.Fatalf("mdlc import: %d\n%s%s", code, out, errOut)
	}
	ts, meta, err := mdlcrt.ReadSafetensors(ckpt)
	if err != nil || meta[mdlcrt.MetaModel] != "CNN" || len(ts) < 10 {
		t.Fatalf("checkpoint: %d tensors, %v, %v", len(ts), meta, err)
	}
	mapFile := filepath.Join(dir, "map.txt")
	os.WriteFile(mapFile, []byte("conv9.weight = c2.w\n"), 0o644)
	code, _, errOut = mdlc("import", "-from", "pytorch", "-map", mapFile, "-o", ckpt, td+"cnn.mdl", td+"torch_cnn.safetensors")
	if code != exitError || !strings.Contains(errOut, "map line 1: the file has no tensor conv9.weight") {
		t.Errorf("mdlc import -map: %d %s", code, errOut)
	}
	if code, _, _ := mdlc("import", "-from", "caffe", "-o", ckpt, td+"cnn.mdl", td+"torch_cnn.safetensors"); code != exitUsage {
		t.Errorf("-from caffe: exit %d", code)
	}
	code, _, errOut = mdlc("build", "-inference", "-o", filepath.Join(dir, "pkg"), "-pkg", "cnn", td+"cnn.mdl")
	model, _ := os.ReadFile(filepath.Join(dir, "pkg", "model.go"))
	if code != exitOK || strings.Contains(string(model), "TrainStep(") || !strings.Contains(string(model), "LoadSafetensorsPart") {
		t.Errorf("mdlc build -inference: %d %s", code, errOut)
	}
}
