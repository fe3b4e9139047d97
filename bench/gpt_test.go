package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/examples/tinygpt/tinygpt"
	"github.com/mdlc/mdlc/runtime"
)

// The tinygpt example's shape (examples/tinygpt/tinygpt.mdl).
const gptT, gptD, gptL = 64, 128, 4

// opticks returns consecutive windows of the Opticks text as batches of
// tinygpt.MaxBatch inputs and next-byte targets.
func opticks(b *testing.B) (xs, ys [][]int32) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Skipf("go env GOROOT: %v", err)
	}
	text, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "src", "testdata", "Isaac.Newton-Opticks.txt"))
	if err != nil {
		b.Skipf("Opticks text: %v", err)
	}
	per := tinygpt.MaxBatch * gptT
	for off := 0; off+per+1 <= len(text) && len(xs) < 32; off += per {
		x, y := make([]int32, per), make([]int32, per)
		for i := range per {
			x[i], y[i] = int32(text[off+i]), int32(text[off+i+1])
		}
		xs, ys = append(xs, x), append(ys, y)
	}
	return xs, ys
}

// BenchmarkTinyGPTTrainStep times one training step of examples/tinygpt
// (batch 16 windows of 64 bytes) and reports tokens/s and the achieved
// GFLOP/s by llm.c's count: 6 x params x tokens for the weights plus
// 6 x layers x width x context x tokens for attention.
func BenchmarkTinyGPTTrainStep(b *testing.B) {
	xs, ys := opticks(b)
	m := tinygpt.New(tinygpt.WithSeed(1))
	params := 0
	for _, p := range m.Params() {
		params += len(p.Data)
	}
	step := func(i int) {
		if _, err := m.TrainStep(xs[i], ys[i], tinygpt.MaxBatch); err != nil {
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
	tokens := float64(b.N * tinygpt.MaxBatch * gptT)
	flops := tokens * (6*float64(params) + 6*gptL*gptD*gptT)
	b.ReportMetric(tokens/b.Elapsed().Seconds(), "tokens/s")
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	_ = runtime.BLAS
}
