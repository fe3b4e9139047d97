package bench

import (
	"fmt"
	"sync"
	"testing"

	"github.com/mdlc/mdlc/bench/mnisto0"
	"github.com/mdlc/mdlc/examples/mnist_mlp/mnistmlp"
	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/data"
)

// mnist is the MNIST training set, loaded once for all benchmarks.
var mnist = sync.OnceValues(func() (*data.Dataset, error) {
	dir, err := data.GoMNISTDir()
	if err != nil {
		return nil, err
	}
	train, _, err := data.LoadMNIST(dir)
	return train, err
})

// batches returns the training set's full batches of MaxBatch examples, in
// order, as views of its storage (no copy, nothing to do per step).
func batches(b *testing.B) (xs [][]float32, ys [][]int32) {
	train, err := mnist()
	if err != nil {
		b.Skipf("MNIST unavailable: %v", err)
	}
	for i := 0; i+MaxBatch <= train.N; i += MaxBatch {
		xs = append(xs, train.X[i*train.Dim:(i+MaxBatch)*train.Dim])
		ys = append(ys, train.Y[i:i+MaxBatch])
	}
	return xs, ys
}

// BenchmarkMNISTTrainStep times one training step on a real MNIST batch of
// 128: the generated model on each runtime BLAS backend, and the
// hand-written HandMLP on gonum's blas32 directly and on impl.Sgemm.
func BenchmarkMNISTTrainStep(b *testing.B) {
	mdlc := func(backend string) func(*testing.B) {
		return func(b *testing.B) {
			xs, ys := batches(b)
			prev := runtime.BLAS()
			if err := runtime.SetBLAS(backend); err != nil {
				b.Fatal(err)
			}
			defer runtime.SetBLAS(prev)
			m := mnistmlp.New(mnistmlp.WithSeed(1))
			run(b, len(xs), func(i int) {
				if _, err := m.TrainStep(xs[i], ys[i], MaxBatch); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
	hand := func(gemm GemmFunc) func(*testing.B) {
		return func(b *testing.B) {
			xs, ys := batches(b)
			if runtime.BLAS() != runtime.BLASNative {
				b.Fatalf("runtime BLAS is %q, want %q", runtime.BLAS(), runtime.BLASNative)
			}
			h := NewHandMLP(1, gemm)
			run(b, len(xs), func(i int) { h.TrainStep(xs[i], ys[i], MaxBatch) })
		}
	}
	b.Run("mdlc-O0/native", func(b *testing.B) {
		xs, ys := batches(b)
		m := mnisto0.New(mnisto0.WithSeed(1))
		run(b, len(xs), func(i int) {
			if _, err := m.TrainStep(xs[i], ys[i], MaxBatch); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("mdlc/native", mdlc(runtime.BLASNative))
	b.Run("mdlc/gonum", mdlc(runtime.BLASGonum))
	b.Run("hand/gonum", hand(GonumGemm))
	b.Run("hand/native", hand(NativeGemm))
	for _, e := range extraTrainStep {
		b.Run("mdlc/"+e.backend, mdlc(e.backend))
		b.Run("hand/"+e.backend, hand(e.gemm))
	}
}

// trainStepBackend is a runtime BLAS backend and the GemmFunc that calls the
// same library directly, for the mdlc/ and hand/ sub-benchmarks.
type trainStepBackend struct {
	backend string
	gemm    GemmFunc
}

// extraTrainStep holds backends that build-tagged files add
// (bench_openblas_test.go: "openblas").
var extraTrainStep []trainStepBackend

// run times b.N steps, cycling through nb batches, after one untimed step
// (first-call costs, such as worker start-up, are not per step).
func run(b *testing.B, nb int, step func(i int)) {
	step(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		step(i % nb)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*MaxBatch)/b.Elapsed().Seconds(), "examples/s")
}

// BenchmarkMNISTForward times the generated model's Forward (inference) at
// a batch of one, where every GEMM has a single row of C, and at 128.
func BenchmarkMNISTForward(b *testing.B) {
	for _, n := range []int{1, MaxBatch} {
		b.Run(fmt.Sprintf("batch%d", n), func(b *testing.B) {
			xs, _ := batches(b)
			m := mnistmlp.New(mnistmlp.WithSeed(1))
			forward := func(i int) {
				if _, err := m.Forward(xs[i][:n*784], n); err != nil {
					b.Fatal(err)
				}
			}
			forward(0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				forward(i % len(xs))
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e3, "µs/call")
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "examples/s")
		})
	}
}
