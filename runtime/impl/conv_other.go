//go:build !amd64 || purego

package impl

// Builds without assembly run the Go loops of conv.go.

func maxPool2x2AVX2(top, bot, y *float32, ow, c int)                  { panic("unreachable") }
func maxPoolGrad2x2AVX2(top, bot, dtop, dbot, gy *float32, ow, c int) { panic("unreachable") }
func maxPoolGradReLU2x2AVX2(top, bot, dtop, dbot, gy *float32, ow, c int, acc *float32) {
	panic("unreachable")
}
func addRowsAVX2(dst, src *float32, n, rows, ldd, lds int)  { panic("unreachable") }
func copyRowsAVX2(dst, src *float32, n, rows, ldd, lds int) { panic("unreachable") }

func convGemm(kr *microKernel, rows, ow, k int, x *float32, ra, rowx int, delta *int, b *float32, sb int, c *float32, ldc int, bias *float32, flags int) {
	panic("unreachable")
}

func hasConvGemm(kr *microKernel) bool { return false }

func convGradWMax(kr *microKernel) int { return 3 }

func convGradWPixels(kr *microKernel) int { return 64 }

func convGradW(kr *microKernel, h, rows, ow int, x *float32, ra, rowx int, offs *int, dy *float32, lddy int, acc *float32, ldacc int) {
	panic("unreachable")
}
