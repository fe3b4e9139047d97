//go:build amd64 && !purego

package impl

import "golang.org/x/sys/cpu"

// The AVX2 loops of vec.go (vec_amd64.s, written by internal/asmgen).

var hasVecAVX2 = cpu.X86.HasAVX2

//go:noescape
func vecAddAVX2(dst, a, b *float32, n int)

//go:noescape
func vecSubAVX2(dst, a, b *float32, n int)

//go:noescape
func vecMulAVX2(dst, a, b *float32, n int)

//go:noescape
func vecDivAVX2(dst, a, b *float32, n int)

//go:noescape
func vecSqrtAVX2(dst, a *float32, n int)

//go:noescape
func vecNegAVX2(dst, a *float32, n int)

//go:noescape
func vecReluAVX2(dst, a *float32, n int)

//go:noescape
func vecEqAVX2(dst, a, b *float32, n int)

//go:noescape
func vecLtAVX2(dst, a, b *float32, n int)

//go:noescape
func vecLeAVX2(dst, a, b *float32, n int)

//go:noescape
func vecNeAVX2(dst, a, b *float32, n int)

//go:noescape
func vecGeAVX2(dst, a, b *float32, n int)

//go:noescape
func vecGtAVX2(dst, a, b *float32, n int)

// vecWhereAVX2 sets dst = a where c != 0, else b.
//
//go:noescape
func vecWhereAVX2(dst, a, b, c *float32, n int)

// vecAllFiniteAVX2 reports whether no element of x[:n] is NaN or ±Inf.
//
//go:noescape
func vecAllFiniteAVX2(x *float32, n int) bool

// gather8AVX2 and gather4AVX2 set dst[p*w+i] = src[i*ld+p] for i < 8 (4)
// and p < 8*blocks: the transposing copy of GEMM packing.
//
//go:noescape
func gather8AVX2(dst *float32, w int, src *float32, ld int, blocks int)

//go:noescape
func gather4AVX2(dst *float32, w int, src *float32, ld int, blocks int)

// gather6AVX2 is gather8AVX2 for 6 rows (the AVX2 kernel's A panels).
//
//go:noescape
func gather6AVX2(dst *float32, w int, src *float32, ld int, blocks int)

// copyRows16AVX2 and copyRows32AVX2 set dst[p*W+x] = src[p*ld+x] for
// x < W (16, 32) and p < rows: a micro-panel already k-major, packed.
//
//go:noescape
func copyRows16AVX2(dst *float32, src *float32, ld int, rows int)

//go:noescape
func copyRows32AVX2(dst *float32, src *float32, ld int, rows int)
