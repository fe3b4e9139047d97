package bench

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/examples/catsdogs/catsdogs"
	"github.com/mdlc/mdlc/runtime/data/augment"
)

// Issue 14's benchmark: augmentation must keep up with training. Both run
// in one `go test -bench` run (bench/README.md has the figures):
//
//	go test ./bench -run '^$' -bench 'Augment150|CatsDogsStep' -benchtime 3s
//
// BenchmarkAugment150 is the seed's ImageDataGenerator (every transform)
// at 150x150x3 through augment.Pipeline with 2 workers, batches of 32;
// BenchmarkCatsDogsStep is the seed CNN's training step (examples/catsdogs,
// batch 32, 150x150x3). The goal: images/s of the first >= 3x the second.

// seedAugment is the seed's augmentation: rotation_range 40, shifts 0.2,
// shear_range 0.2 (degrees), zoom_range 0.2, horizontal flip, fill nearest,
// bilinear, rescale 1/255.
var seedAugment = augment.Params{RotationRange: 40, WidthShiftRange: 0.2, HeightShiftRange: 0.2, ShearRange: 0.2,
	ZoomRange: augment.Zoom(0.2), HorizontalFlip: true, Rescale: 1.0 / 255}

// randomImages returns n random h x w x c images, as the decoded-once
// uint8 cache an image folder keeps.
func randomImages(n, h, w, c int) []augment.Image {
	rng := rand.New(rand.NewPCG(3, 4))
	ims := make([]augment.Image, n)
	for i := range ims {
		pix := make([]uint8, h*w*c)
		for j := range pix {
			pix[j] = uint8(rng.IntN(256))
		}
		ims[i] = augment.Image{Height: h, Width: w, Channels: c, Pix: pix}
	}
	return ims
}

func BenchmarkAugment150(b *testing.B) {
	ims := randomImages(64, 150, 150, 3)
	p := &augment.Pipeline{Params: seedAugment, Image: func(i int) (augment.Image, error) { return ims[i%len(ims)], nil },
		Height: 150, Width: 150, Channels: 3, BatchSize: catsdogs.MaxBatch, Workers: 2, Prefetch: 2, Seed: 1}
	order := make([]int, b.N)
	for i := range order {
		order[i] = i
	}
	b.ResetTimer()
	s, err := p.Start(context.Background(), 0, order)
	if err != nil {
		b.Fatal(err)
	}
	for batch := range s.Batches() {
		s.Release(batch)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

func BenchmarkCatsDogsStep(b *testing.B) {
	const n = catsdogs.MaxBatch
	rng := rand.New(rand.NewPCG(5, 6))
	xs, ys := make([][]float32, 4), make([][]float32, 4)
	for i := range xs {
		xs[i], ys[i] = make([]float32, n*150*150*3), make([]float32, n)
		for j := range xs[i] {
			xs[i][j] = rng.Float32()
		}
		for j := range ys[i] {
			ys[i][j] = float32(rng.IntN(2))
		}
	}
	m := catsdogs.New(catsdogs.WithSeed(1))
	if _, err := m.TrainStep(xs[0], ys[0], n); err != nil { // first-call costs are not per step
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.TrainStep(xs[i%len(xs)], ys[i%len(ys)], n); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "images/s")
}
