package bench

import (
	"fmt"
	"os"
	"testing"

	"github.com/mdlc/mdlc/bench/fashioninfer"
	"github.com/mdlc/mdlc/bench/mnistinfer"
	"github.com/mdlc/mdlc/compile"
)

// inferenceInput is a deterministic batch of n examples of size per in
// [0, 1) (pixel intensities): inference time does not depend on the values.
func inferenceInput(n, per int) []float32 {
	x := make([]float32, n*per)
	s := uint32(1)
	for i := range x {
		s = s*1664525 + 1013904223
		x[i] = float32(s>>8) / (1 << 24)
	}
	return x
}

// BenchmarkInference times the inference builds' Forward (mdlc build
// -inference) of the MNIST MLP and the Fashion-MNIST CNN at a batch of one
// (latency) and of 128 (throughput). bench/inference.sh runs it beside ONNX
// Runtime on the same models and prints the ratios.
func BenchmarkInference(b *testing.B) {
	models := []struct {
		name    string
		per     int
		forward func(x []float32, n int) error
	}{
		{"mnist_mlp", 784, func() func([]float32, int) error {
			m := mnistinfer.New()
			return func(x []float32, n int) error { _, err := m.Forward(x, n); return err }
		}()},
		{"fashion_cnn", 28 * 28, func() func([]float32, int) error {
			m := fashioninfer.New()
			return func(x []float32, n int) error { _, err := m.Forward(x, n); return err }
		}()},
	}
	for _, m := range models {
		for _, n := range []int{1, 128} {
			b.Run(fmt.Sprintf("%s/batch%d", m.name, n), func(b *testing.B) {
				x := inferenceInput(n, m.per)
				if err := m.forward(x, n); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if err := m.forward(x, n); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "examples/s")
			})
		}
	}
}

// TestInferenceGeneratedCurrent rebuilds bench/mnistinfer and
// bench/fashioninfer as their //go:generate lines do and fails on any
// difference.
func TestInferenceGeneratedCurrent(t *testing.T) {
	for _, c := range []struct{ src, pkg string }{
		{"../examples/mnist_mlp/mnist_mlp.mdl", "mnistinfer"},
		{"../examples/fashion_cnn/fashion_cnn.mdl", "fashioninfer"},
	} {
		src, err := os.ReadFile(c.src)
		if err != nil {
			t.Fatal(err)
		}
		res, err := compile.Build(c.src, src, "", compile.BuildOptions{Package: c.pkg, Inference: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range res.Files.Stale(c.pkg) {
			t.Errorf("bench/%s/%s: run go generate ./bench", c.pkg, msg)
		}
	}
}
