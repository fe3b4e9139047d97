package augment

import rt "github.com/mdlc/mdlc/runtime/impl"

// philox4x32 is Philox4x32-10 (Salmon et al., "Parallel random numbers: as
// easy as 1, 2, 3", SC 2011; Random123's reference), the generator the
// generated models' dropout draws from too: a bijection of a 128-bit counter
// under a 64-bit key. Every random number here is one word of
// philox4x32(counter, key) for a counter made of (index, epoch, draw), so a
// draw depends on nothing but its coordinates.
var philox4x32 = rt.Philox4x32

// stream is the random numbers of one image: the Philox blocks at counter
// (index lo, index hi, epoch, block) under the key seed.
type stream struct {
	ctr [4]uint32
	key [2]uint32
}

func newStream(seed uint64, epoch uint32, index uint64) stream {
	return stream{
		ctr: [4]uint32{uint32(index), uint32(index >> 32), epoch, 0},
		key: [2]uint32{uint32(seed), uint32(seed >> 32)},
	}
}

// uniforms returns draw slots 2k and 2k+1 of the stream, each uniform in
// [0, 1) with 53 random bits: block k's words (0, 1) and (2, 3).
func (s stream) uniforms(k uint32) (float64, float64) {
	c := s.ctr
	c[3] = k
	w := philox4x32(c, s.key)
	return unit(w[0], w[1]), unit(w[2], w[3])
}

// unit maps 64 random bits to [0, 1) with 53 significant bits.
func unit(hi, lo uint32) float64 {
	return float64((uint64(hi)<<32|uint64(lo))>>11) * 0x1p-53
}
