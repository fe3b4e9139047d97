//go:build amd64 && !purego

package impl

// The AVX2 kernels of conv.go (conv_amd64.s, written by internal/asmgen).

// maxPool2x2AVX2 is maxPool2x2Rows for one output row of 2x2 windows, c
// channels a multiple of 8.
//
//go:noescape
func maxPool2x2AVX2(top, bot, y *float32, ow, c int)

// maxPoolGrad2x2AVX2 is maxPoolGrad2x2Rows for one output row of 2x2
// windows, c channels a multiple of 8.
//
//go:noescape
func maxPoolGrad2x2AVX2(top, bot, dtop, dbot, gy *float32, ow, c int)

// maxPoolGradReLU2x2AVX2 is maxPoolGradReLURows for one output row of 2x2
// windows, c channels a multiple of 8, adding what passes to acc.
//
//go:noescape
func maxPoolGradReLU2x2AVX2(top, bot, dtop, dbot, gy *float32, ow, c int, acc *float32)

// addRowsAVX2 adds src[r*lds+j] to dst[r*ldd+j] for r < rows, j < n.
//
//go:noescape
func addRowsAVX2(dst, src *float32, n, rows, ldd, lds int)

// copyRowsAVX2 sets dst[r*ldd+j] = src[r*lds+j] for r < rows, j < n.
//
//go:noescape
func copyRowsAVX2(dst, src *float32, n, rows, ldd, lds int)

// convGemmAVX512 and convGemmAVX2 are the implicit-GEMM convolutions of
// implicit.go: rows output rows of ow pixels, each pixel's window read
// from x through the byte steps delta (see internal/asmgen/implicit.go).
//
//go:noescape
func convGemmAVX512(rows, ow, k int, x *float32, ra, rowx int, delta *int, b *float32, sb int, c *float32, ldc int, bias *float32, flags int)

//go:noescape
func convGemmAVX2(rows, ow, k int, x *float32, ra, rowx int, delta *int, b *float32, sb int, c *float32, ldc int, bias *float32, flags int)

// convGemm runs kernel kr's implicit-GEMM convolution; hasConvGemm says
// whether it has one.
func convGemm(kr *microKernel, rows, ow, k int, x *float32, ra, rowx int, delta *int, b *float32, sb int, c *float32, ldc int, bias *float32, flags int) {
	if kr == kernelAVX512 {
		convGemmAVX512(rows, ow, k, x, ra, rowx, delta, b, sb, c, ldc, bias, flags)
		return
	}
	convGemmAVX2(rows, ow, k, x, ra, rowx, delta, b, sb, c, ldc, bias, flags)
}

func hasConvGemm(kr *microKernel) bool { return kr == kernelAVX512 || kr == kernelAVX2 }

// convGradWAVX512x3 .. x12 and convGradWAVX2x3, x6 are the implicit-GEMM
// filter gradients of implicit.go for 3 to 12 window values and a panel
// of nr output channels (see internal/asmgen/implicit.go).
//
//go:noescape
func convGradWAVX512x3(rows, ow int, x *float32, ra, rowx int, offs *int, dy *float32, lddy int, acc *float32, ldacc int)

//go:noescape
func convGradWAVX512x6(rows, ow int, x *float32, ra, rowx int, offs *int, dy *float32, lddy int, acc *float32, ldacc int)

//go:noescape
func convGradWAVX512x9(rows, ow int, x *float32, ra, rowx int, offs *int, dy *float32, lddy int, acc *float32, ldacc int)

//go:noescape
func convGradWAVX512x12(rows, ow int, x *float32, ra, rowx int, offs *int, dy *float32, lddy int, acc *float32, ldacc int)

//go:noescape
func convGradWAVX2x3(rows, ow int, x *float32, ra, rowx int, offs *int, dy *float32, lddy int, acc *float32, ldacc int)

//go:noescape
func convGradWAVX2x6(rows, ow int, x *float32, ra, rowx int, offs *int, dy *float32, lddy int, acc *float32, ldacc int)

// convGradWMax is the most window values kernel kr's filter gradient
// takes at once.
func convGradWMax(kr *microKernel) int {
	if kr == kernelAVX512 {
		return 12
	}
	return 6
}

// convGradWPixels is about how many pixels one call of kernel kr's filter
// gradient sums: each tile of window values and panel of channels re-reads
// the pixels' rows of dy, which should stay in L1 (BenchmarkConvPaths on a
// Zen 5, the seed CNN's first layer: AVX-512 with 3 such passes 297
// GFLOP/s at 64 pixels, 322 at 256; AVX2 with 10 passes 167 at 64, 133 at
// 256).
func convGradWPixels(kr *microKernel) int {
	if kr == kernelAVX512 {
		return 256
	}
	return 64
}

// convGradW runs kernel kr's filter gradient for h window values (a
// multiple of 3, at most convGradWMax).
func convGradW(kr *microKernel, h, rows, ow int, x *float32, ra, rowx int, offs *int, dy *float32, lddy int, acc *float32, ldacc int) {
	switch {
	case kr == kernelAVX512 && h == 12:
		convGradWAVX512x12(rows, ow, x, ra, rowx, offs, dy, lddy, acc, ldacc)
	case kr == kernelAVX512 && h == 9:
		convGradWAVX512x9(rows, ow, x, ra, rowx, offs, dy, lddy, acc, ldacc)
	case kr == kernelAVX512 && h == 6:
		convGradWAVX512x6(rows, ow, x, ra, rowx, offs, dy, lddy, acc, ldacc)
	case kr == kernelAVX512:
		convGradWAVX512x3(rows, ow, x, ra, rowx, offs, dy, lddy, acc, ldacc)
	case h == 6:
		convGradWAVX2x6(rows, ow, x, ra, rowx, offs, dy, lddy, acc, ldacc)
	default:
		convGradWAVX2x3(rows, ow, x, ra, rowx, offs, dy, lddy, acc, ldacc)
	}
}
