//go:build !amd64 || purego

package impl

// Builds without assembly run the Go loop of maxPoolGrad2x2Rows.

func maxPoolGrad2x2AVX2(top, bot, dtop, dbot, gy *float32, ow, c int) { panic("unreachable") }
