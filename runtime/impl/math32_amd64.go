//go:build amd64 && !purego

package impl

// The AVX2 loops of math32.go (math32_amd64.s, written by internal/asmgen).
// n is a multiple of 8.

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
