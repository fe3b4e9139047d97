package bench

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/examples/tinygpt/tinygpt"
	"github.com/mdlc/mdlc/runtime"
	rt "github.com/mdlc/mdlc/runtime/impl"

	"github.com/mdlc/mdlc/bench/widegpt"
)

// gptConfig is the shape of a GPT benchmark model: its context, width and
// layers (for llm.c's FLOP count) and its generated package's step.
type gptConfig struct {
	batch, t, d, l int
	model          runtime.Model
	step           func(x, y []int32, n int) (float32, error)
}

func tinyGPT() gptConfig {
	m := tinygpt.New(tinygpt.WithSeed(1))
	return gptConfig{tinygpt.MaxBatch, 64, 128, 4, m, m.TrainStep}
}

func wideGPT() gptConfig {
	m := widegpt.New(widegpt.WithSeed(1))
	return gptConfig{widegpt.MaxBatch, 256, 384, 6, m, m.TrainStep}
}

// opticks returns consecutive windows of the Opticks text as up to 32
// batches of batch inputs of t bytes and their next-byte targets.
func opticks(b *testing.B, batch, t int) (xs, ys [][]int32) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Skipf("go env GOROOT: %v", err)
	}
	text, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "src", "testdata", "Isaac.Newton-Opticks.txt"))
	if err != nil {
		b.Skipf("Opticks text: %v", err)
	}
	per := batch * t
	for off := 0; off+per+1 <= len(text) && len(xs) < 32; off += per {
		x, y := make([]int32, per), make([]int32, per)
		for i := range per {
			x[i], y[i] = int32(text[off+i]), int32(text[off+i+1])
		}
		xs, ys = append(xs, x), append(ys, y)
	}
	return xs, ys
}

// benchmarkGPTStep times one training step of c per op and reports tokens/s,
// the achieved GFLOP/s by llm.c's count (6 x params x tokens for the weights
// plus 6 x layers x width x context x tokens for attention), the FMA peak of
// GOMAXPROCS cores measured right after the timed loop (rt.FMAPeak) and the
// step's GFLOP/s as a percentage of it.
func benchmarkGPTStep(b *testing.B, c gptConfig) {
	xs, ys := opticks(b, c.batch, c.t)
	params := 0
	for _, p := range c.model.Params() {
		params += len(p.Data)
	}
	step := func(i int) {
		if _, err := c.step(xs[i], ys[i], c.batch); err != nil {
			b.Fatal(err)
		}
	}
	step(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		step(i % len(xs))
	}
	b.StopTimer()
	tokens := float64(b.N * c.batch * c.t)
	flops := tokens * (6*float64(params) + 6*float64(c.l*c.d*c.t))
	gflops := flops / b.Elapsed().Seconds() / 1e9
	peak := rt.FMAPeak(300 * time.Millisecond)
	b.ReportMetric(tokens/b.Elapsed().Seconds(), "tokens/s")
	b.ReportMetric(gflops, "GFLOP/s")
	b.ReportMetric(peak, "peak-GFLOP/s")
	b.ReportMetric(100*gflops/peak, "%peak")
}

// BenchmarkTinyGPTTrainStep times one training step of examples/tinygpt
// (4 layers, 4 heads, width 128, context 64; batch 16).
func BenchmarkTinyGPTTrainStep(b *testing.B) { benchmarkGPTStep(b, tinyGPT()) }

// BenchmarkWideGPTTrainStep times one training step of bench/widegpt
// (6 layers, 6 heads, width 384, context 256; batch 4).
func BenchmarkWideGPTTrainStep(b *testing.B) { benchmarkGPTStep(b, wideGPT()) }

// TestWideGPTParams checks bench/widegpt's parameter count against the sum
// its .mdl states: 10,834,944.
func TestWideGPTParams(t *testing.T) {
	n := 0
	for _, p := range widegpt.New().Params() {
		n += len(p.Data)
	}
	const V, T, D, L = 256, 256, 384, 6
	if want := V*D + T*D + L*(12*D*D+9*D) + 2*D; n != want || n != 10834944 {
		t.Errorf("widegpt has %d parameters, want %d", n, want)
	}
}

// TestGeneratedWideGPTCurrent rebuilds bench/widegpt as its //go:generate
// line does and fails on any difference.
func TestGeneratedWideGPTCurrent(t *testing.T) {
	const path = "widegpt/widegpt.mdl"
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := compile.Build(path, src, "", compile.BuildOptions{Options: compile.Options{MaxBatch: 4}, Package: "widegpt"})
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range res.Files.Stale("widegpt") {
		t.Errorf("bench/widegpt/%s: run go generate ./bench", msg)
	}
}

// gptHash trains a fresh tinygpt 2 steps on fixed random bytes and hashes
// its params and optimizer state.
func gptHash() string {
	m := tinygpt.New(tinygpt.WithSeed(3))
	rng := rt.NewRNG(5)
	per := tinygpt.MaxBatch * 64 // context 64
	for range 2 {
		x, y := make([]int32, per), make([]int32, per)
		for i := range per {
			x[i], y[i] = int32(rng.IntN(256)), int32(rng.IntN(256))
		}
		if _, err := m.TrainStep(x, y, tinygpt.MaxBatch); err != nil {
			panic(err)
		}
	}
	h := sha256.New()
	for _, p := range append(m.Params(), m.State()...) {
		for _, v := range p.Data {
			binary.Write(h, binary.LittleEndian, math.Float32bits(v))
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestGPTCoresChild is run by TestGPTCoresIdentical in a subprocess.
func TestGPTCoresChild(t *testing.T) {
	out := os.Getenv("MDLC_GPT_HASH_OUT")
	if out == "" {
		t.Skip("run by TestGPTCoresIdentical")
	}
	if err := os.WriteFile(out, []byte(gptHash()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGPTCoresIdentical checks that tinygpt trains to bit-identical params
// and state on 1 and 2 cores: its batched attention products
// (rt.SgemmBatched) and the units split over examples (codegen/go's
// forExamples) run split on 2 cores and whole on 1.
func TestGPTCoresIdentical(t *testing.T) {
	var hashes []string
	for _, procs := range []string{"1", "2"} {
		out := filepath.Join(t.TempDir(), "hash")
		cmd := exec.Command(os.Args[0], "-test.run=^TestGPTCoresChild$")
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+procs, "MDLC_GPT_HASH_OUT="+out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("GOMAXPROCS=%s: %v\n%s", procs, err, b)
		}
		h, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, string(h))
	}
	if hashes[0] != hashes[1] {
		t.Errorf("tinygpt's params after 2 steps differ between 1 and 2 cores")
	}
}
