package impl

import "math/rand/v2"

// RNG is a deterministic random source (math/rand/v2 PCG). The same seed
// gives the same sequence on every platform and Go version that keeps PCG
// and rand.Rand's algorithms, which math/rand/v2 promises.
type RNG struct {
	src rand.PCG
	r   *rand.Rand
}

// pcgStream is PCG's second seed word, fixed so one uint64 names a stream.
const pcgStream = 0x9e3779b97f4a7c15

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG {
	g := &RNG{}
	g.src.Seed(seed, pcgStream)
	g.r = rand.New(&g.src)
	return g
}

// Float64 returns a uniform value in [0, 1).
func (g *RNG) Float64() float64 { return g.r.Float64() }

// NormFloat64 returns a standard normal value.
func (g *RNG) NormFloat64() float64 { return g.r.NormFloat64() }

// IntN returns a uniform value in [0, n); it panics if n <= 0.
func (g *RNG) IntN(n int) int { return g.r.IntN(n) }

// Perm fills dst[:n] with a random permutation of 0..n-1 (Fisher-Yates, in
// place, no allocation). It panics if len(dst) < n.
func (g *RNG) Perm(n int, dst []int) {
	dst = dst[:n]
	for i := range dst {
		dst[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := g.r.IntN(i + 1)
		dst[i], dst[j] = dst[j], dst[i]
	}
}
