package bench

import (
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/examples/fashion_cnn/fashioncnn"
	rt "github.com/mdlc/mdlc/runtime/impl"
)

// Issue 12's benchmarks (bench/cnn.sh runs them with PyTorch in one run):
//
//	go test ./bench -run '^$' -bench 'CatsDogsStep|FashionCNNStep|ConvLayers|Gemm1024'
//
// BenchmarkFashionCNNStep is examples/fashion_cnn's training step at batch
// 128 (BenchmarkCatsDogsStep, the seed CNN's at 32, is in augment_test.go);
// BenchmarkConvLayers times the CPU path of every convolution of the seed
// CNN (batch 32) and the Fashion-MNIST CNN (batch 128) as the generated code
// runs it: tiles of examples unfolded (rt.Unfold) and multiplied with one
// GEMM each, for the forward product, the input gradient (GEMM then
// rt.Fold) and the filter gradient; BenchmarkGemm1024 is the same run's
// 1024^3 GEMM, their yardstick.

func BenchmarkFashionCNNStep(b *testing.B) {
	const n = fashioncnn.MaxBatch
	rng := rand.New(rand.NewPCG(7, 8))
	x, y := make([]float32, n*28*28), make([]int32, n)
	for i := range x {
		x[i] = rng.Float32()
	}
	for i := range y {
		y[i] = int32(rng.IntN(10))
	}
	m := fashioncnn.New(fashioncnn.WithSeed(1))
	if _, err := m.TrainStep(x, y, n); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.TrainStep(x, y, n); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "examples/s")
}

// convLayer is one convolution (valid padding, stride 1, one group) at a
// batch size.
type convLayer struct {
	name         string
	n, h, w, c   int
	k, f         int
	tile, oh, ow int
}

func (l convLayer) geom() rt.ConvGeom {
	return rt.ConvGeom{H: l.h, W: l.w, C: l.c, KH: l.k, KW: l.k, SH: 1, SW: 1, DH: 1, DW: 1, OH: l.oh, OW: l.ow, CG: l.c}
}

// layer makes a convLayer with the generated code's tile (ir.Geom2D.Tile).
func layer(name string, n, h, w, c, k, f int) convLayer {
	l := convLayer{name: name, n: n, h: h, w: w, c: c, k: k, f: f, oh: h - k + 1, ow: w - k + 1}
	per := l.oh * l.ow
	l.tile = max(1, min((4096+per-1)/per, 32, max(1, (8<<20)/(4*per*k*k*c))))
	return l
}

var convLayers = []convLayer{
	layer("catsdogs/c1", 32, 150, 150, 3, 3, 32),
	layer("catsdogs/c2", 32, 74, 74, 32, 3, 64),
	layer("catsdogs/c3", 32, 36, 36, 64, 3, 128),
	layer("catsdogs/c4", 32, 17, 17, 128, 3, 128),
	layer("fashion/c1", 128, 28, 28, 1, 3, 32),
	layer("fashion/c2", 128, 13, 13, 32, 3, 64),
}

func BenchmarkConvLayers(b *testing.B) {
	for _, l := range convLayers {
		rng := rt.NewRNG(9)
		g, p, kk := l.geom(), l.oh*l.ow, l.k*l.k*l.c
		hwc, out := l.h*l.w*l.c, p*l.f
		x, w, y := randomSlice(rng, l.n*hwc), randomSlice(rng, kk*l.f), make([]float32, l.n*out)
		dy, dx, dw := randomSlice(rng, l.n*out), make([]float32, l.n*hwc), make([]float32, kk*l.f)
		col := make([]float32, l.tile*p*kk)
		bias := randomSlice(rng, l.f)
		flops := 2 * float64(l.n) * float64(p) * float64(l.f) * float64(kk)
		run := func(pass string, f func()) {
			b.Run(l.name+"/"+pass, func(b *testing.B) {
				f()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					f()
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		run("forward", func() {
			for ex0 := 0; ex0 < l.n; ex0 += l.tile {
				cnt := min(l.tile, l.n-ex0)
				rt.ConvForward(g, col, x[ex0*hwc:(ex0+cnt)*hwc], cnt, 0, w, l.f, l.f, y[ex0*out:], l.f, rt.Epilogue{Bias: bias, Act: rt.ActReLU})
			}
		})
		run("input-grad", func() {
			clear(dx)
			for ex0 := 0; ex0 < l.n; ex0 += l.tile {
				cnt := min(l.tile, l.n-ex0)
				rt.Sgemm(false, true, cnt*p, kk, l.f, 1, dy[ex0*out:], l.f, w, l.f, 0, col, kk)
				rt.Fold(g, dx[ex0*hwc:(ex0+cnt)*hwc], col, cnt, 0)
			}
		})
		run("filter-grad", func() {
			clear(dw)
			rt.ConvFilterGrad(g, l.tile, col, x, l.n, 0, dy, l.f, l.f, dw, l.f)
		})
	}
}

func BenchmarkGemm1024(b *testing.B) {
	const n = 1024
	rng := rt.NewRNG(10)
	a, bb, c := randomSlice(rng, n*n), randomSlice(rng, n*n), make([]float32, n*n)
	rt.Sgemm(false, false, n, n, n, 1, a, n, bb, n, 0, c, n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rt.Sgemm(false, false, n, n, n, 1, a, n, bb, n, 0, c, n)
	}
	b.ReportMetric(2*n*n*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// randomSlice is n uniform values in [-1, 1).
func randomSlice(rng *rt.RNG, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(2*rng.Float64() - 1)
	}
	return s
}
