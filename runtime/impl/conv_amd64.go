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
