//go:build amd64 && !purego

package impl

// philoxFillAVX2 sets dst[j] = PhiloxUniform(seed, step, stream, i0+j) for
// j < n, n a multiple of 8, eight draws at a time (philox_amd64.s, written
// by internal/asmgen).
//
//go:noescape
func philoxFillAVX2(dst *float32, n int, i0 uint32, seed uint64, step, stream uint32)
