package impl

import "sync"

// The data movement of the CPU convolutions (see CONV.md): Unfold writes
// the patches of a tile of examples as the rows of a matrix (im2col) that
// one GEMM multiplies with the filters; Fold is its adjoint (col2im), which
// sums a GEMM's patch gradients back into the input's gradient. Both split
// their rows across the worker pool; every output element is written by one
// task, always in the same order, so results do not depend on the number of
// cores.

// ConvGeom is the geometry of a convolution over NHWC images, as generated
// code passes it: an input H x W x C per example, a KH x KW window with
// strides SH, SW, dilations DH, DW and leading pads PT, PL (the trailing
// pads follow from OH and OW), output OH x OW, and CG input channels per
// group.
type ConvGeom struct {
	H, W, C    int
	KH, KW     int
	SH, SW     int
	DH, DW     int
	PT, PL     int
	OH, OW, CG int
}

// patch is the length of one row of the unfolded matrix: KH*KW*CG.
func (g *ConvGeom) patch() int { return g.KH * g.KW * g.CG }

// convParallelMin is the number of elements below which Unfold and Fold run
// on the caller alone: a parallel call costs a few microseconds.
const convParallelMin = 1 << 15

// convJob is the one parallel Unfold or Fold in flight; a second caller
// (another model on another goroutine) runs serially instead of waiting.
// Its row functions are made once, so a call allocates nothing.
var convJob struct {
	mu          sync.Mutex
	g           ConvGeom
	dst, src    []float32
	gi          int
	unfold, fld func(lo, hi int)
}

func init() {
	convJob.unfold = func(lo, hi int) { unfoldRows(&convJob.g, convJob.dst, convJob.src, convJob.gi, lo, hi) }
	convJob.fld = func(lo, hi int) { foldRows(&convJob.g, convJob.dst, convJob.src, convJob.gi, lo, hi) }
}

// runConv runs rows(lo, hi) over n rows of size elements in all, in
// parallel when it pays and the job is free.
func runConv(g ConvGeom, dst, src []float32, gi, n, size int, rows func(lo, hi int), serial func(lo, hi int)) {
	if size < convParallelMin || !convJob.mu.TryLock() {
		serial(0, n)
		return
	}
	convJob.g, convJob.dst, convJob.src, convJob.gi = g, dst, src, gi
	ParallelRows(n, rows)
	convJob.dst, convJob.src = nil, nil
	convJob.mu.Unlock()
}

// Unfold writes group gi's patches of cnt examples x (cnt*H*W*C values)
// into col: row (b*OH+oy)*OW+ox holds the window of output (oy, ox) of
// example b, (ky, kx, c) in order, zero where the window is in the padding.
// col holds cnt*OH*OW rows of KH*KW*CG values.
func Unfold(g ConvGeom, col, x []float32, cnt, gi int) {
	n := cnt * g.OH
	runConv(g, col, x, gi, n, n*g.OW*g.patch(), convJob.unfold, func(lo, hi int) { unfoldRows(&g, col, x, gi, lo, hi) })
}

// unfoldRows writes the patches of output rows lo..hi-1 (row r is example
// r/OH, output row r%OH).
func unfoldRows(g *ConvGeom, col, x []float32, gi, lo, hi int) {
	kk, cg := g.patch(), g.CG
	for r := lo; r < hi; r++ {
		b, oy := r/g.OH, r%g.OH
		xb := x[b*g.H*g.W*g.C:]
		for ox := 0; ox < g.OW; ox++ {
			row := col[((b*g.OH+oy)*g.OW+ox)*kk:][:kk]
			for ky := 0; ky < g.KH; ky++ {
				iy := oy*g.SH - g.PT + ky*g.DH
				for kx := 0; kx < g.KW; kx++ {
					ix := ox*g.SW - g.PL + kx*g.DW
					dst := row[(ky*g.KW+kx)*cg:][:cg]
					if iy < 0 || iy >= g.H || ix < 0 || ix >= g.W {
						clear(dst)
						continue
					}
					copy(dst, xb[(iy*g.W+ix)*g.C+gi*cg:])
				}
			}
		}
	}
}

// Fold adds group gi's patch gradients col (laid out as Unfold writes them)
// into dx, the input gradient of cnt examples: each element of dx receives
// the entries of every window that covers it, in (ky, kx) order.
func Fold(g ConvGeom, dx, col []float32, cnt, gi int) {
	n := cnt * g.H
	runConv(g, dx, col, gi, n, n*g.W*g.CG, convJob.fld, func(lo, hi int) { foldRows(&g, dx, col, gi, lo, hi) })
}

// foldRows folds into input rows lo..hi-1 (row r is example r/H, input
// row r%H): a gather, so no two tasks write the same element.
func foldRows(g *ConvGeom, dx, col []float32, gi, lo, hi int) {
	kk, cg := g.patch(), g.CG
	for r := lo; r < hi; r++ {
		b, iy := r/g.H, r%g.H
		for ky := 0; ky < g.KH; ky++ {
			// Output row oy reads input row iy at window row ky when
			// oy*SH = iy + PT - ky*DH.
			t := iy + g.PT - ky*g.DH
			if t < 0 || t%g.SH != 0 || t/g.SH >= g.OH {
				continue
			}
			oy := t / g.SH
			for kx := 0; kx < g.KW; kx++ {
				for ix := 0; ix < g.W; ix++ {
					u := ix + g.PL - kx*g.DW
					if u < 0 || u%g.SW != 0 || u/g.SW >= g.OW {
						continue
					}
					ox := u / g.SW
					src := col[((b*g.OH+oy)*g.OW+ox)*kk+(ky*g.KW+kx)*cg:][:cg]
					dst := dx[((b*g.H+iy)*g.W+ix)*g.C+gi*cg:][:cg]
					for c, v := range src {
						dst[c] += v
					}
				}
			}
		}
	}
}
