package gogen_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	gogen "github.com/mdlc/mdlc/codegen/go"
	"github.com/mdlc/mdlc/internal/gotool"
)

// The models of TestGeneratedEdgeCases: computed indices, an input without
// the batch axis, a model without parameters.
const edgeModels = `model Indices {
    input  idx: i32[N]
    input  mask: f32[4, 4]
    target y: f32[N, 4]
    e = embedding(idx - 5, 10, 4)
    output o = gather(param w: f32[10, 4] = normal(0.1), idx + 1) @ mask + e
    loss mse(o, y)
    optimizer adam(lr: 0.1)
}

model NoParams {
    input x: f32[N, 4]
    output y = x * 2
}
`

const edgeDriver = `package main

import (
	"fmt"
	"math"
	"slices"

	"edge/indices"
	"edge/noparams"
)

func check(what string, err error, want string) {
	switch {
	case want == "" && err != nil:
		panic(fmt.Sprintf("%s: unexpected error %v", what, err))
	case want != "" && (err == nil || err.Error() != want):
		panic(fmt.Sprintf("%s: got error %v, want %q", what, err, want))
	}
}

func main() {
	m := indices.New()
	mask := make([]float32, 16)
	for i := range 4 {
		mask[i*5] = 1
	}
	y := make([]float32, 8)
	// idx 5 and 8: gather reads rows 6 and 9, the embedding rows 0 and 3.
	_, err := m.TrainStep([]int32{5, 8}, mask, y, 2)
	check("in range", err, "")
	before := slices.Clone(m.Params()[1].Data)
	state := slices.Clone(m.State()[0].Data)
	// idx 9: gather would read row 10 of 10.
	_, err = m.TrainStep([]int32{5, 9}, mask, y, 2)
	check("gather", err, "edge.mdl:6:16: gather: index 10 at position 1 is out of range [0, 10)")
	after := m.Params()[1].Data
	for i := range before {
		if math.Float32bits(before[i]) != math.Float32bits(after[i]) {
			panic("a step with an index out of range changed the parameters")
		}
	}
	if !slices.Equal(state, m.State()[0].Data) {
		panic("a step with an index out of range changed the optimizer state")
	}
	// idx 4: the gather is in range, the embedding would read row -1.
	_, err = m.Forward([]int32{4, 6}, mask, 2)
	check("embedding", err, "edge.mdl:5:9: gather: index -1 at position 0 is out of range [0, 10)")
	_, err = m.Eval([]int32{5, 15}, mask, y, 2)
	check("eval", err, "edge.mdl:5:9: gather: index 10 at position 1 is out of range [0, 10)")
	// The fault does not outlive its call.
	_, err = m.TrainStep([]int32{6, 7}, mask, y, 2)
	check("after", err, "")
	// The mask has no batch axis: exactly 16 values whatever n.
	_, err = m.Forward([]int32{5, 6, 7}, mask, 3)
	check("mask", err, "")
	_, err = m.Forward([]int32{5, 6, 7}, make([]float32, 48), 3)
	check("mask size", err, "input mask: got 48 values, want 16")
	if s := m.Spec().Inputs[1].Shape; !slices.Equal(s, []int{4, 4}) {
		panic(fmt.Sprintf("mask shape in Spec: %v", s))
	}

	p := noparams.New()
	check("reset", p.Reset(), "")
	out, err := p.Forward([]float32{1, 2, 3, 4}, 1)
	check("noparams", err, "")
	if !slices.Equal(out, []float32{2, 4, 6, 8}) {
		panic(fmt.Sprint("noparams: ", out))
	}
	fmt.Println("ok")
}
`

// TestGeneratedEdgeCases builds and runs models the language accepts at its
// edges: an index computed from an input is checked where it is used (an
// out-of-range index is the entry point's error, positioned in the model's
// source, and a training step that meets one leaves the model unchanged);
// an input without the batch axis has its declared size whatever the batch;
// a model without parameters compiles.
func TestGeneratedEdgeCases(t *testing.T) {
	dir := gotool.TempModule(t, "edge")
	for _, g := range stepGraphs(t, "edge.mdl", []byte(edgeModels), 8) {
		pkg := strings.ToLower(g.Name)
		files, err := gogen.Generate(g, gogen.Options{Package: pkg, Source: "edge.mdl", Version: "test"})
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(dir, pkg), 0o755)
		for name, src := range files {
			if err := os.WriteFile(filepath.Join(dir, pkg, name), src, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(edgeDriver), 0o644); err != nil {
		t.Fatal(err)
	}
	gotool.Go(t, dir, nil, "vet", "./...")
	if out := gotool.Go(t, dir, nil, "run", "."); strings.TrimSpace(out) != "ok" {
		t.Fatalf("driver: %s", out)
	}
}
