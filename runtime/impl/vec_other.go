//go:build !amd64 || purego

package impl

// Builds without assembly run the Go loops of vec.go.

const hasVecAVX2 = false

const hasMathAVX512 = false

func vecAddAVX2(dst, a, b *float32, n int)                              { panic("unreachable") }
func vecSubAVX2(dst, a, b *float32, n int)                              { panic("unreachable") }
func vecMulAVX2(dst, a, b *float32, n int)                              { panic("unreachable") }
func vecDivAVX2(dst, a, b *float32, n int)                              { panic("unreachable") }
func vecSqrtAVX2(dst, a *float32, n int)                                { panic("unreachable") }
func vecNegAVX2(dst, a *float32, n int)                                 { panic("unreachable") }
func vecReluAVX2(dst, a *float32, n int)                                { panic("unreachable") }
func vecEqAVX2(dst, a, b *float32, n int)                               { panic("unreachable") }
func vecLtAVX2(dst, a, b *float32, n int)                               { panic("unreachable") }
func vecLeAVX2(dst, a, b *float32, n int)                               { panic("unreachable") }
func vecNeAVX2(dst, a, b *float32, n int)                               { panic("unreachable") }
func vecGeAVX2(dst, a, b *float32, n int)                               { panic("unreachable") }
func vecGtAVX2(dst, a, b *float32, n int)                               { panic("unreachable") }
func vecWhereAVX2(dst, a, b, c *float32, n int)                         { panic("unreachable") }
func vecAllFiniteAVX2(x *float32, n int) bool                           { panic("unreachable") }
func gather8AVX2(dst *float32, w int, src *float32, ld int, blocks int) { panic("unreachable") }
func gather4AVX2(dst *float32, w int, src *float32, ld int, blocks int) { panic("unreachable") }
func gather6AVX2(dst *float32, w int, src *float32, ld int, blocks int) { panic("unreachable") }
func copyRows16AVX2(dst *float32, src *float32, ld int, rows int)       { panic("unreachable") }
func copyRows32AVX2(dst *float32, src *float32, ld int, rows int)       { panic("unreachable") }
func vecExpAVX2(dst, a *float32, n int)                                 { panic("unreachable") }
func vecTanhAVX2(dst, a *float32, n int)                                { panic("unreachable") }
func vecSigmoidAVX2(dst, a *float32, n int)                             { panic("unreachable") }
func vecGeluAVX2(dst, a *float32, n int)                                { panic("unreachable") }
func vecGeluGradAVX2(dst, a, b *float32, n int)                         { panic("unreachable") }
func vecSumAVX2(x *float32, n int) float32                              { panic("unreachable") }
func vecMaxAVX2(x *float32, n int) (m float32, nan bool)                { panic("unreachable") }
func lstmCellGradAVX2(dz, carry, row, gr, cprev *float32, u, n int)     { panic("unreachable") }
func vecExpAVX512(dst, a *float32, n int)                               { panic("unreachable") }
func vecTanhAVX512(dst, a *float32, n int)                              { panic("unreachable") }
func vecSigmoidAVX512(dst, a *float32, n int)                           { panic("unreachable") }
func vecGeluAVX512(dst, a *float32, n int)                              { panic("unreachable") }
func vecGeluGradAVX512(dst, a, b *float32, n int)                       { panic("unreachable") }
