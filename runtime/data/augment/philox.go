package augment

import "math/bits"

// philox4x32 is Philox4x32-10 (Salmon et al., "Parallel random numbers: as
// easy as 1, 2, 3", SC 2011; Random123's reference): a bijection of a 128-bit
// counter under a 64-bit key. Every random number here is one word of
// philox4x32(counter, key) for a counter made of (index, epoch, draw), so a
// draw depends on nothing but its coordinates.
func philox4x32(ctr [4]uint32, key [2]uint32) [4]uint32 {
	const (
		m0 = 0xD2511F53
		m1 = 0xCD9E8D57
		w0 = 0x9E3779B9 // golden ratio
		w1 = 0xBB67AE85 // sqrt(3) - 1
	)
	for r := 0; r < 10; r++ {
		if r > 0 {
			key[0] += w0
			key[1] += w1
		}
		hi0, lo0 := bits.Mul32(m0, ctr[0])
		hi1, lo1 := bits.Mul32(m1, ctr[2])
		ctr = [4]uint32{hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0}
	}
	return ctr
}

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
