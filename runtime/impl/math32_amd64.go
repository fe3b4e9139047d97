//go:build amd64 && !purego

package impl

import "golang.org/x/sys/cpu"

// The AVX2 and AVX-512 loops of math32.go (math32_amd64.s, written by
// internal/asmgen). n is a multiple of 8 (AVX2) or 16 (AVX-512).

var hasMathAVX512 = cpu.X86.HasAVX512F

//go:noescape
func vecExpAVX2(dst, a *float32, n int)

//go:noescape
func vecTanhAVX2(dst, a *float32, n int)

//go:noescape
func vecSigmoidAVX2(dst, a *float32, n int)

//go:noescape
func vecGeluAVX2(dst, a *float32, n int)

//go:noescape
func vecGeluGradAVX2(dst, a, b *float32, n int)

//go:noescape
func vecSumAVX2(x *float32, n int) float32

//go:noescape
func vecMaxAVX2(x *float32, n int) (m float32, nan bool)

//go:noescape
func lstmCellGradAVX2(dz, carry, row, gr, cprev *float32, u, n int)

//go:noescape
func vecExpAVX512(dst, a *float32, n int)

//go:noescape
func vecTanhAVX512(dst, a *float32, n int)

//go:noescape
func vecSigmoidAVX512(dst, a *float32, n int)

//go:noescape
func vecGeluAVX512(dst, a *float32, n int)

//go:noescape
func vecGeluGradAVX512(dst, a, b *float32, n int)
