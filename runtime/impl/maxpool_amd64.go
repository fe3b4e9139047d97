//go:build amd64 && !purego

package impl

// The AVX2 kernel of maxPoolGrad2x2Rows (maxpool_amd64.s, written by
// internal/asmgen): one output row of 2x2 windows, c channels a multiple
// of 8.

//go:noescape
func maxPoolGrad2x2AVX2(top, bot, dtop, dbot, gy *float32, ow, c int)
