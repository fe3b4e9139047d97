package bench

import (
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/examples/charlstm/charlstm"
)

// BenchmarkCharLSTMStep is one training step (forward, BPTT, Adam) of
// examples/charlstm: bytes embedded in 32, two LSTMs of 128 units over 64
// steps, dense to 256 logits, batch 32. bench/lstm.sh runs it beside the
// same model in PyTorch (lstm.py). A step allocates nothing (0 allocs/op).
func BenchmarkCharLSTMStep(b *testing.B) {
	const n, T = charlstm.MaxBatch, 64
	rng := rand.New(rand.NewPCG(3, 4))
	x, y := make([]int32, n*T), make([]int32, n*T)
	for i := range x {
		x[i], y[i] = int32(rng.IntN(256)), int32(rng.IntN(256))
	}
	m := charlstm.New(charlstm.WithSeed(1))
	if _, err := m.TrainStep(x, y, n); err != nil { // first-call costs are not per step
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.TrainStep(x, y, n); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*n*T)/b.Elapsed().Seconds(), "tokens/s")
}
