package impl

import (
	"fmt"
	goruntime "runtime"
	"sync"
	"testing"
)

// Run the two together so the ratio to peak is taken in one run:
//
//	go test ./runtime/impl -run '^$' -bench 'SgemmPeak|Sgemm$' -benchtime 2s

// BenchmarkSgemmPeak measures the machine's fp32 peak: the widest FMA loop
// the CPU has (12 independent chains) on every core of GOMAXPROCS at once.
func BenchmarkSgemmPeak(b *testing.B) { benchmarkPeak(b, fmaPeak) }

// BenchmarkSgemmPeakAVX2 is the peak of 256-bit FMAs, which the AVX2 kernel
// is measured against (on an AVX-512 machine too).
func BenchmarkSgemmPeakAVX2(b *testing.B) {
	if !hasFMAAVX2 {
		b.Skip("no AVX2 and FMA")
	}
	benchmarkPeak(b, fmaPeakAVX2Flops)
}

func benchmarkPeak(b *testing.B, peak func(n int) int) {
	procs := goruntime.GOMAXPROCS(0)
	const iters = 1 << 20
	var flops int
	for b.Loop() {
		var wg sync.WaitGroup
		for range procs {
			wg.Go(func() { flops = peak(iters) })
		}
		wg.Wait()
	}
	total := float64(flops) * iters * float64(procs) * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// sgemmShapes are 1024³, the large products of a CNN and a transformer,
// the products of an MNIST MLP (784->256->10, batch 128) training step:
// forward, and both backward products per layer, and its first layer at a
// batch of one (inference).
var sgemmShapes = []struct {
	name    string
	tA, tB  bool
	m, n, k int
}{
	{"1024^3", false, false, 1024, 1024, 1024},
	// The 3×3 convolution of 32 channels to 64 on 74×74 images (the
	// second layer of the cats-vs-dogs CNN), batch 8, as a GEMM of
	// patches (im2col): M = 8·72·72, K = 3·3·32.
	{"conv_41472x288@288x64", false, false, 8 * 72 * 72, 64, 288},
	// A transformer's MLP up-projection: 4096 tokens, width 384 to 1536.
	{"gpt_4096x384@384x1536", false, false, 4096, 1536, 384},
	{"fwd_128x784@784x256", false, false, 128, 256, 784},
	{"dX_128x256@(784x256)T", false, true, 128, 784, 256},
	{"dW_(128x784)T@128x256", true, false, 784, 256, 128},
	{"fwd_128x256@256x10", false, false, 128, 10, 256},
	{"dH_128x10@(256x10)T", false, true, 128, 256, 10},
	{"dW2_(128x256)T@128x10", true, false, 256, 10, 128},
	{"infer_1x784@784x256", false, false, 1, 256, 784},
}

// BenchmarkSgemm reports GFLOP/s of the native backend (its best kernel),
// each other native kernel, gonum, and OpenBLAS when built with -tags
// openblas, at sgemmShapes.
func BenchmarkSgemm(b *testing.B) {
	defer SetBLAS(BLAS())
	rng := NewRNG(4)
	for _, s := range sgemmShapes {
		ar, ac := s.m, s.k
		if s.tA {
			ar, ac = s.k, s.m
		}
		br, bc := s.k, s.n
		if s.tB {
			br, bc = s.n, s.k
		}
		a, bb, c := randSlice(rng, ar*ac), randSlice(rng, br*bc), make([]float32, s.m*s.n)
		variants := []string{BLASNative}
		for _, k := range kernels[1:] {
			variants = append(variants, BLASNative+"-"+k.name)
		}
		variants = append(variants, BLASGonum)
		if openblasSgemm != nil { // built with -tags openblas
			variants = append(variants, BLASOpenBLAS)
		}
		for _, v := range variants {
			b.Run(fmt.Sprintf("%s/%s", s.name, v), func(b *testing.B) {
				switch v {
				case BLASNative, BLASGonum, BLASOpenBLAS:
					SetBLAS(v)
				default:
					SetBLAS(BLASNative)
					restore, err := useKernel(v[len(BLASNative)+1:])
					if err != nil {
						b.Fatal(err)
					}
					defer restore()
				}
				for b.Loop() {
					Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, ac, bb, bc, 0, c, s.n)
				}
				flops := 2 * float64(s.m*s.n*s.k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
