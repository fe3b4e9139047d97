package impl

// Counter-based randomness: Philox4x32-10 (Salmon, Moraes, Dror and Shaw,
// "Parallel Random Numbers: As Easy as 1, 2, 3", SC11; the Random123
// library's philox4x32 with 10 rounds). A draw is a pure function of its
// key and counter, so element i of a step's random tensor is the same on
// any number of cores, on the CPU and the GPU (the CUDA helpers have the
// same function), and after a checkpoint is resumed.

import "sync"

// Philox constants: the round multipliers and the Weyl key increments.
const (
	philoxM0 = 0xD2511F53
	philoxM1 = 0xCD9E8D57
	philoxW0 = 0x9E3779B9
	philoxW1 = 0xBB67AE85
)

// Philox4x32 returns the Philox4x32-10 block of counter ctr under key.
func Philox4x32(ctr [4]uint32, key [2]uint32) [4]uint32 {
	for r := 0; r < 10; r++ {
		if r > 0 {
			key[0] += philoxW0
			key[1] += philoxW1
		}
		p0 := uint64(philoxM0) * uint64(ctr[0])
		p1 := uint64(philoxM1) * uint64(ctr[2])
		ctr = [4]uint32{uint32(p1>>32) ^ ctr[1] ^ key[0], uint32(p1), uint32(p0>>32) ^ ctr[3] ^ key[1], uint32(p0)}
	}
	return ctr
}

// PhiloxUniform is the uniform draw of element i of a random tensor at a
// training step: the first word of the Philox4x32-10 block with key seed
// (low word, high word) and counter (i low, i high, step, stream), as a
// float32 in [0, 1) with 24 random bits (word>>8 times 2^-24: exact in
// float32 and float64, so every backend and the interpreter draw the same
// value). stream tells apart the random ops of one model.
func PhiloxUniform(seed uint64, step, stream uint32, i uint64) float32 {
	b := Philox4x32([4]uint32{uint32(i), uint32(i >> 32), step, stream}, [2]uint32{uint32(seed), uint32(seed >> 32)})
	return float32(b[0]>>8) * (1.0 / (1 << 24))
}

// PhiloxKey reads a model's random key from its state: four f32 words, each
// a 16-bit piece of the 64-bit key, low first (exact in float32).
func PhiloxKey(w []float32) uint64 {
	return uint64(uint16(w[0])) | uint64(uint16(w[1]))<<16 | uint64(uint16(w[2]))<<32 | uint64(uint16(w[3]))<<48
}

// PhiloxFill sets dst[i] = PhiloxUniform(seed, step, stream, i) for every
// i, split across the worker pool when dst is long (each draw depends on i
// alone, so any split gives the same values).
func PhiloxFill(dst []float32, seed uint64, step, stream uint32) {
	if len(dst) < rowsParallelMin || !philoxJob.mu.TryLock() {
		philoxFill(dst, seed, step, stream, 0, len(dst))
		return
	}
	philoxJob.dst, philoxJob.seed, philoxJob.step, philoxJob.stream = dst, seed, step, stream
	ParallelRows(len(dst), philoxJob.run)
	philoxJob.dst = nil
	philoxJob.mu.Unlock()
}

// philoxFill fills dst[lo:hi]. It draws four elements at a time, their
// rounds interleaved: one draw is a chain of dependent multiplies, four are
// independent chains the CPU overlaps.
func philoxFill(dst []float32, seed uint64, step, stream uint32, lo, hi int) {
	i := lo
	if n := (hi - lo) &^ 7; vecAVX2 && n > 0 && uint64(hi) <= 1<<32 {
		// Eight at a time in AVX2 registers (philox_amd64.s): counters
		// whose high word is 0.
		_ = dst[lo+n-1]
		philoxFillAVX2(&dst[lo], n, uint32(lo), seed, step, stream)
		i += n
	}
	for ; i+4 <= hi; i += 4 {
		var c0, c1, c2, c3 [4]uint32
		for l := range 4 {
			u := uint64(i + l)
			c0[l], c1[l], c2[l], c3[l] = uint32(u), uint32(u>>32), step, stream
		}
		k0, k1 := uint32(seed), uint32(seed>>32)
		for r := 0; r < 10; r++ {
			if r > 0 {
				k0 += philoxW0
				k1 += philoxW1
			}
			for l := range 4 {
				p0 := uint64(philoxM0) * uint64(c0[l])
				p1 := uint64(philoxM1) * uint64(c2[l])
				c0[l], c1[l], c2[l], c3[l] = uint32(p1>>32)^c1[l]^k0, uint32(p1), uint32(p0>>32)^c3[l]^k1, uint32(p0)
			}
		}
		d := dst[i : i+4 : i+4]
		for l := range d {
			d[l] = float32(c0[l]>>8) * (1.0 / (1 << 24))
		}
	}
	for ; i < hi; i++ {
		dst[i] = PhiloxUniform(seed, step, stream, uint64(i))
	}
}

// philoxJob is the one parallel PhiloxFill in flight (another caller fills
// serially); run is made once, so a call allocates nothing.
var philoxJob struct {
	mu           sync.Mutex
	dst          []float32
	seed         uint64
	step, stream uint32
	run          func(lo, hi int)
}

func init() {
	philoxJob.run = func(lo, hi int) {
		philoxFill(philoxJob.dst, philoxJob.seed, philoxJob.step, philoxJob.stream, lo, hi)
	}
}
