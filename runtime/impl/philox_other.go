//go:build !amd64 || purego

package impl

// Builds without assembly draw with the Go loop of philoxFill.

func philoxFillAVX2(dst *float32, n int, i0 uint32, seed uint64, step, stream uint32) {
	panic("unreachable")
}
