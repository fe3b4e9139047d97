package augment

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkAugment: one 150x150x3 image per op on one goroutine, every
// transform on (the seed's Keras settings plus vertical flip), bilinear,
// fill nearest, rescaled into a float32 buffer.
//
//	go test ./runtime/data/augment -run '^$' -bench Augment -benchtime 2s
func BenchmarkAugment(b *testing.B) {
	src := randomImage(rand.New(rand.NewPCG(1, 2)), 150, 150, 3)
	dst := make([]float32, len(src.Pix))
	b.SetBytes(int64(len(dst) * 4))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := keras.Apply(dst, src, 1, 0, uint64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
