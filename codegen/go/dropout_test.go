package gogen_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	gogen "github.com/mdlc/mdlc/codegen/go"
	"github.com/mdlc/mdlc/internal/gotool"
)

// dropModel's gradient of w shows dropout's mask: with x = 1, y = 0 and one
// example, d loss / d w_j is nonzero exactly where element j is kept.
const dropModel = `model Drop {
    input  x: f32[N, 64]
    target y: f32[N, 64]
    param  w: f32[64] = ones
    h = dropout(x * w, 0.5)
    output o = h
    loss mse(h, y)
    optimizer sgd(lr: 0.01)
}
`

const dropDriver = `package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"drop/drop"
)

var x, y = slices.Repeat([]float32{1}, 64), make([]float32, 64)

func step(m *drop.Model) string {
	if _, err := m.TrainStep(x, y, 1); err != nil {
		panic(err)
	}
	b := make([]byte, 64)
	for i, g := range m.Grads()[0].Data {
		b[i] = '0'
		if g != 0 {
			b[i] = '1'
		}
	}
	return string(b)
}

func main() {
	dir, err := os.MkdirTemp("", "drop")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ckpt := filepath.Join(dir, "drop.safetensors")
	m := drop.New(drop.WithSeed(3))
	// Inference is the identity.
	out, err := m.Forward(x, 1)
	if err != nil || !slices.Equal(out, x) {
		panic(fmt.Sprintf("Forward = %v, %v; want x", out, err))
	}
	var masks []string
	for s := range 4 {
		if s == 2 {
			if err := m.Save(ckpt); err != nil {
				panic(err)
			}
		}
		masks = append(masks, step(m))
	}
	// A resumed run (another seed: the checkpoint's key and step win)
	// draws what the uninterrupted one drew.
	r := drop.New(drop.WithSeed(99))
	if err := r.Load(ckpt); err != nil {
		panic(err)
	}
	for s := 2; s < 4; s++ {
		if got := step(r); got != masks[s] {
			panic(fmt.Sprintf("resumed step %d drew %s, want %s", s, got, masks[s]))
		}
	}
	other := step(drop.New(drop.WithSeed(4)))
	fmt.Printf("masks %v\nseed4 %s\n", masks, other)
}
`

// TestDropoutGenerated builds a model with dropout and checks its masks:
// the identity in Forward, a resumed checkpoint continues the same stream,
// the masks are the same with 1 and 2 cores, differ from step to step and
// with the seed, and drop about half the elements at rate 0.5.
func TestDropoutGenerated(t *testing.T) {
	dir := gotool.TempModule(t, "drop")
	g := stepGraphs(t, "drop.mdl", []byte(dropModel), 4)[0]
	files, err := gogen.Generate(g, gogen.Options{Package: "drop", Source: "drop.mdl", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "drop"), 0o755)
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, "drop", name), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(dropDriver), 0o644); err != nil {
		t.Fatal(err)
	}
	one := gotool.Go(t, dir, []string{"GOMAXPROCS=1"}, "run", ".")
	two := gotool.Go(t, dir, []string{"GOMAXPROCS=2"}, "run", ".")
	if one != two {
		t.Fatalf("1 core drew\n%s2 cores drew\n%s", one, two)
	}
	lines := strings.Split(strings.TrimSpace(one), "\n")
	masks := strings.Fields(strings.Trim(strings.TrimPrefix(lines[0], "masks "), "[]"))
	if len(masks) != 4 || len(lines) != 2 {
		t.Fatalf("driver output:\n%s", one)
	}
	for s, m := range masks {
		if k := strings.Count(m, "1"); k < 16 || k > 48 {
			t.Errorf("step %d kept %d of 64 at rate 0.5: %s", s, k, m)
		}
		if s > 0 && m == masks[s-1] {
			t.Errorf("steps %d and %d drew the same mask %s", s-1, s, m)
		}
	}
	if seed4 := strings.TrimPrefix(lines[1], "seed4 "); seed4 == masks[0] {
		t.Errorf("seeds 3 and 4 drew the same first mask %s", seed4)
	}
}
