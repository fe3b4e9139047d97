package impl

import (
	"fmt"
	"math"
	"sync"
)

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

// convJob is the one parallel Unfold, Fold or pooling call in flight; a
// second caller (another model on another goroutine) runs serially instead
// of waiting. Its row functions are made once, so a call allocates nothing.
var convJob struct {
	mu             sync.Mutex
	g              ConvGeom
	dst, src, src2 []float32
	gi             int
	rows           [numConvKernels]func(lo, hi int)
}

// The kernels convJob runs, each over rows [lo, hi) of its own kind.
const (
	kUnfold = iota
	kFold
	kMaxPool
	kMaxPoolGrad
	kAvgPool
	kAvgPoolGrad
	numConvKernels
)

// convKernels computes rows lo..hi-1 of kernel k.
func convKernel(k int, g *ConvGeom, dst, src, src2 []float32, gi, lo, hi int) {
	switch k {
	case kUnfold:
		unfoldRows(g, dst, src, gi, lo, hi)
	case kFold:
		foldRows(g, dst, src, gi, lo, hi)
	case kMaxPool:
		maxPoolRows(g, dst, src, lo, hi)
	case kMaxPoolGrad:
		maxPoolGradRows(g, dst, src, src2, lo, hi)
	case kAvgPool:
		avgPoolRows(g, dst, src, lo, hi)
	case kAvgPoolGrad:
		avgPoolGradRows(g, dst, src, lo, hi)
	}
}

func init() {
	for k := range convJob.rows {
		convJob.rows[k] = func(lo, hi int) {
			convKernel(k, &convJob.g, convJob.dst, convJob.src, convJob.src2, convJob.gi, lo, hi)
		}
	}
}

// runConv runs kernel k over n rows, size elements in all: in parallel
// when it pays and the job is free, else on the caller.
func runConv(k int, g ConvGeom, dst, src, src2 []float32, gi, n, size int) {
	if size < convParallelMin || !convJob.mu.TryLock() {
		convKernel(k, &g, dst, src, src2, gi, 0, n)
		return
	}
	convJob.g, convJob.dst, convJob.src, convJob.src2, convJob.gi = g, dst, src, src2, gi
	ParallelRows(n, convJob.rows[k])
	convJob.dst, convJob.src, convJob.src2 = nil, nil, nil
	convJob.mu.Unlock()
}

// Unfold writes group gi's patches of cnt examples x (cnt*H*W*C values)
// into col: row (b*OH+oy)*OW+ox holds the window of output (oy, ox) of
// example b, (ky, kx, c) in order, zero where the window is in the padding.
// col holds cnt*OH*OW rows of KH*KW*CG values.
func Unfold(g ConvGeom, col, x []float32, cnt, gi int) {
	checkCol("Unfold", &g, col, x, cnt, gi)
	n := cnt * g.OH
	runConv(kUnfold, g, col, x, nil, gi, n, n*g.OW*g.patch())
}

// checkCol panics with a clear message when col or x is too short for cnt
// examples of geometry g, or gi is not one of its groups.
func checkCol(op string, g *ConvGeom, col, x []float32, cnt, gi int) {
	checkImage(op, g, x, cnt, gi)
	if want := cnt * g.OH * g.OW * g.patch(); len(col) < want {
		panic(fmt.Sprintf("mdlc runtime: %s: col has %d elements, want %d (%d examples of %d×%d windows of %d)", op, len(col), want, cnt, g.OH, g.OW, g.patch()))
	}
}

// checkImage panics with a clear message when x is too short for cnt
// examples of geometry g, or gi is not one of its groups.
func checkImage(op string, g *ConvGeom, x []float32, cnt, gi int) {
	if cnt < 0 || g.CG <= 0 || gi < 0 || (gi+1)*g.CG > g.C {
		panic(fmt.Sprintf("mdlc runtime: %s: %d examples, group %d of %d channels in groups of %d", op, cnt, gi, g.C, g.CG))
	}
	if want := cnt * g.H * g.W * g.C; len(x) < want {
		panic(fmt.Sprintf("mdlc runtime: %s: image has %d elements, want %d (%d examples of %d×%d×%d)", op, len(x), want, cnt, g.H, g.W, g.C))
	}
}

// windowsInside reports whether every window of g lies inside the image
// (no padding is read).
func (g *ConvGeom) windowsInside() bool {
	return g.OH > 0 && g.OW > 0 && g.PT == 0 && g.PL == 0 &&
		(g.OH-1)*g.SH+(g.KH-1)*g.DH < g.H && (g.OW-1)*g.SW+(g.KW-1)*g.DW < g.W
}

// unfoldRows writes the patches of output rows lo..hi-1 (row r is example
// r/OH, output row r%OH).
func unfoldRows(g *ConvGeom, col, x []float32, gi, lo, hi int) {
	kk, cg := g.patch(), g.CG
	// With one group and no column dilation, a window row inside the image
	// is KW*C contiguous values of x: one copy instead of KW (the first
	// layer of a CNN, C = 1 or 3, is dominated by those copies).
	rowRun := cg == g.C && g.DW == 1
	run := g.KW * cg
	// With AVX2 the window rows inside the image of a row of outputs are
	// copied by one call per window row (copyRowsAVX2): rows of 9 floats
	// (3x3 windows over 3 channels) cost a call of copy each otherwise.
	bulk := rowRun && vecAVX2
	o0, o1 := tapRange(-g.PL, g.SW, g.W-g.KW+1, g.OW) // windows inside the image's width
	for r := lo; r < hi; r++ {
		b, oy := r/g.OH, r%g.OH
		xb := x[b*g.H*g.W*g.C:]
		skip := false // the outputs o0..o1-1 are done
		if bulk && o1 > o0 {
			skip = true
			for ky := 0; ky < g.KH; ky++ {
				iy := oy*g.SH - g.PT + ky*g.DH
				if iy < 0 || iy >= g.H {
					skip = false // their window row in the padding: below
					continue
				}
				d, s := ((b*g.OH+oy)*g.OW+o0)*kk+ky*run, (iy*g.W+o0*g.SW-g.PL)*g.C
				_, _ = col[d+(o1-o0-1)*kk+run-1], xb[s+(o1-o0-1)*g.SW*g.C+run-1] // what the copy touches is in range
				copyRowsAVX2(&col[d], &xb[s], run, o1-o0, kk, g.SW*g.C)
			}
		}
		for ox := 0; ox < g.OW; ox++ {
			if skip && ox == o0 {
				ox = o1 - 1
				continue
			}
			row := col[((b*g.OH+oy)*g.OW+ox)*kk:][:kk]
			ix0 := ox*g.SW - g.PL
			for ky := 0; ky < g.KH; ky++ {
				iy := oy*g.SH - g.PT + ky*g.DH
				if rowRun && iy >= 0 && iy < g.H && ix0 >= 0 && ix0+g.KW <= g.W {
					if !bulk {
						copy(row[ky*run:(ky+1)*run], xb[(iy*g.W+ix0)*g.C:])
					}
					continue
				}
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
	checkCol("Fold", &g, col, dx, cnt, gi)
	n := cnt * g.H
	runConv(kFold, g, dx, col, nil, gi, n, n*g.W*g.CG)
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
			if vecAVX2 {
				// The loop below, one call per window column: the outputs
				// o0..o1-1 read input columns ox*SW+off, SW apart.
				for kx := 0; kx < g.KW; kx++ {
					off := kx*g.DW - g.PL
					o0, o1 := tapRange(off, g.SW, g.W, g.OW)
					if o1 <= o0 {
						continue
					}
					d := ((b*g.H+iy)*g.W+o0*g.SW+off)*g.C + gi*cg
					s := ((b*g.OH+oy)*g.OW+o0)*kk + (ky*g.KW+kx)*cg
					_, _ = dx[d+(o1-o0-1)*g.SW*g.C+cg-1], col[s+(o1-o0-1)*kk+cg-1] // what the sum touches is in range
					addRowsAVX2(&dx[d], &col[s], cg, o1-o0, g.SW*g.C, kk)
				}
				continue
			}
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

// tapRange returns the outputs lo..hi-1 (of ow) whose window tap at
// offset off reads inside an input of width w: 0 <= ox*s + off < w.
func tapRange(off, s, w, ow int) (lo, hi int) {
	if off < 0 {
		lo = (-off + s - 1) / s
	}
	if w-1-off < 0 {
		return lo, lo
	}
	return lo, max(lo, min(ow, (w-1-off)/s+1))
}

// Pooling over NHWC images (ir/conv.go gives the semantics): the geometry is
// a ConvGeom with CG = C and dilations 1. The forward kernels split output
// rows across the workers, the backward ones examples (windows may overlap
// within an example).

// MaxPool writes the maximum of each window of the n examples of x into y;
// padding never wins and a NaN wins. It uses Go's max, branch-free (a
// comparison per element mispredicts half the time on ReLU outputs, which
// made the loop 7x slower): the value is the window's first maximum, except
// that a tie of -0 and +0 gives +0 (equal as numbers) and a NaN's payload
// may be another NaN's. MaxPoolGrad, which routes each gradient, picks the
// first maximum exactly.
func MaxPool(g ConvGeom, y, x []float32, n int) {
	runConv(kMaxPool, g, y, x, nil, 0, n*g.OH, n*g.OH*g.OW*g.C*g.KH*g.KW)
}

func maxPoolRows(g *ConvGeom, y, x []float32, lo, hi int) {
	if g.twoByTwo() {
		maxPool2x2Rows(g.C, g.H, g.W, g.OH, g.OW, y, x, lo, hi)
		return
	}
	maxPoolGeneral(g, y, x, lo, hi)
}

// maxPoolGeneral is maxPoolRows for any window, stride and padding.
func maxPoolGeneral(g *ConvGeom, y, x []float32, lo, hi int) {
	c, h, w, oh, ow := g.C, g.H, g.W, g.OH, g.OW
	for r := lo; r < hi; r++ {
		b, oy := r/oh, r%oh
		xb := x[b*h*w*c : (b+1)*h*w*c]
		yr := y[(b*oh+oy)*ow*c : (b*oh+oy+1)*ow*c]
		for ox := 0; ox < ow; ox++ {
			yo := yr[ox*c : (ox+1)*c]
			iy0, iy1, ix0, ix1 := g.window(oy, ox)
			copy(yo, xb[(iy0*w+ix0)*c:])
			for iy := iy0; iy < iy1; iy++ {
				for ix := ix0; ix < ix1; ix++ {
					xs := xb[(iy*w+ix)*c : (iy*w+ix+1)*c]
					xs = xs[:len(yo)]
					for ch, xv := range xs {
						yo[ch] = max(yo[ch], xv)
					}
				}
			}
		}
	}
}

// twoByTwo reports whether g is a pool of 2x2 windows with stride 2 that
// all lie inside the image (no padding on any side), the most common pool.
func (g *ConvGeom) twoByTwo() bool {
	return g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2 && g.PT == 0 && g.PL == 0 && 2*g.OH <= g.H && 2*g.OW <= g.W
}

// window returns the rows iy0..iy1-1 and columns ix0..ix1-1 of the input
// that the pooling window of output (oy, ox) covers inside the image (a
// pool has no dilation: the part of a window inside the image is a
// rectangle; it is never empty, as a pool's pads are smaller than its
// window).
func (g *ConvGeom) window(oy, ox int) (iy0, iy1, ix0, ix1 int) {
	y, x := oy*g.SH-g.PT, ox*g.SW-g.PL
	return max(y, 0), min(y+g.KH, g.H), max(x, 0), min(x+g.KW, g.W)
}

// maxPool2x2Rows is maxPoolRows for the most common pool, 2x2 windows with
// stride 2 and no padding: every window lies inside the image, read as two
// pairs of adjacent pixels.
func maxPool2x2Rows(c, h, w, oh, ow int, y, x []float32, lo, hi int) {
	for r := lo; r < hi; r++ {
		b, oy := r/oh, r%oh
		top := x[((b*h+2*oy)*w)*c : ((b*h+2*oy)*w+w)*c]
		bot := x[((b*h+2*oy+1)*w)*c : ((b*h+2*oy+1)*w+w)*c]
		yr := y[(b*oh+oy)*ow*c : (b*oh+oy+1)*ow*c]
		if vecAVX2 && c%8 == 0 && ow > 0 {
			// The loop below, 8 channels at a time (conv_amd64.s).
			_, _ = top[2*ow*c-1], bot[2*ow*c-1]
			maxPool2x2AVX2(&top[0], &bot[0], &yr[0], ow, c)
			continue
		}
		for ox := 0; ox < ow; ox++ {
			yo := yr[ox*c : (ox+1)*c]
			a, bb := top[2*ox*c:(2*ox+1)*c], top[(2*ox+1)*c:(2*ox+2)*c]
			cc, d := bot[2*ox*c:(2*ox+1)*c], bot[(2*ox+1)*c:(2*ox+2)*c]
			bb, cc, d = bb[:len(a)], cc[:len(a)], d[:len(a)]
			yo = yo[:len(a)]
			for ch, m := range a {
				yo[ch] = max(m, bb[ch], cc[ch], d[ch])
			}
		}
	}
}

// MaxPoolGrad writes into dx (cleared first) the gradient of MaxPool: each
// output's gradient dy goes to the element its window's maximum came from
// (found again in x).
func MaxPoolGrad(g ConvGeom, dx, x, dy []float32, n int) {
	runConv(kMaxPoolGrad, g, dx, x, dy, 0, n, n*g.OH*g.OW*g.C*g.KH*g.KW)
}

func maxPoolGradRows(g *ConvGeom, dx, x, dy []float32, lo, hi int) {
	c, h, w, oh, ow := g.C, g.H, g.W, g.OH, g.OW
	if g.twoByTwo() {
		maxPoolGrad2x2Rows(c, h, w, oh, ow, dx, x, dy, lo, hi)
		return
	}
	// Each window is read row by row, every channel at once (contiguous),
	// keeping each channel's maximum and where it is in fixed arrays: the
	// same first maximum as reading the window channel by channel.
	const maxC = 512
	if c > maxC {
		maxPoolGradRowsWide(g, dx, x, dy, lo, hi)
		return
	}
	clear(dx[lo*h*w*c : hi*h*w*c])
	var bestBuf [maxC]float32
	var atBuf [maxC]int
	best, at := bestBuf[:c], atBuf[:c]
	for b := lo; b < hi; b++ {
		xb := x[b*h*w*c : (b+1)*h*w*c]
		dxb := dx[b*h*w*c : (b+1)*h*w*c]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				gy := dy[((b*oh+oy)*ow+ox)*c:][:c]
				iy0, iy1, ix0, ix1 := g.window(oy, ox)
				first := (iy0*w + ix0) * c
				copy(best, xb[first:first+c])
				for ch := range at {
					at[ch] = first
				}
				for iy := iy0; iy < iy1; iy++ {
					for ix := ix0; ix < ix1; ix++ {
						off := (iy*w + ix) * c
						xs := xb[off : off+c]
						xs = xs[:len(best)]
						for ch, xv := range xs {
							if bv := best[ch]; xv > bv || (xv != xv && bv == bv) {
								best[ch], at[ch] = xv, off
							}
						}
					}
				}
				for ch, gv := range gy {
					dxb[at[ch]+ch] += gv
				}
			}
		}
	}
}

// maxPoolGrad2x2Rows is maxPoolGradRows for 2x2 windows with stride 2 and
// no padding: the windows do not overlap, so each element of dx is written
// once, the gradient where its window's maximum is (the first, or the
// first NaN) and zero elsewhere, with no clearing pass; rows and columns
// no window covers (an odd H or W) are zero.
func maxPoolGrad2x2Rows(c, h, w, oh, ow int, dx, x, dy []float32, lo, hi int) {
	for b := lo; b < hi; b++ {
		if h > 2*oh {
			clear(dx[((b*h+2*oh)*w)*c : (b+1)*h*w*c])
		}
		for oy := 0; oy < oh; oy++ {
			r0, r1 := ((b*h+2*oy)*w)*c, ((b*h+2*oy+1)*w)*c
			top, bot := x[r0:r0+w*c], x[r1:r1+w*c]
			dtop, dbot := dx[r0:r0+w*c], dx[r1:r1+w*c]
			if w > 2*ow {
				clear(dtop[2*ow*c:])
				clear(dbot[2*ow*c:])
			}
			gr := dy[(b*oh+oy)*ow*c : (b*oh+oy+1)*ow*c]
			if vecAVX2 && c%8 == 0 && ow > 0 {
				// The loop below, 8 channels at a time (conv_amd64.s).
				_, _ = top[2*ow*c-1], bot[2*ow*c-1]
				maxPoolGrad2x2AVX2(&top[0], &bot[0], &dtop[0], &dbot[0], &gr[0], ow, c)
				continue
			}
			for ox := 0; ox < ow; ox++ {
				i0, i1, i2 := 2*ox*c, (2*ox+1)*c, (2*ox+2)*c
				a, bb, cc, d := top[i0:i1], top[i1:i2], bot[i0:i1], bot[i1:i2]
				da, db, dc, dd := dtop[i0:i1], dtop[i1:i2], dbot[i0:i1], dbot[i1:i2]
				gy := gr[ox*c : (ox+1)*c]
				bb, cc, d = bb[:len(a)], cc[:len(a)], d[:len(a)]
				da, db, dc, dd, gy = da[:len(a)], db[:len(a)], dc[:len(a)], dd[:len(a)], gy[:len(a)]
				// Branch-free (which element wins is a coin toss on ReLU
				// outputs): the first element equal to the maximum wins,
				// or the first NaN when there is one (then the maximum is
				// NaN and equals nothing); its gradient goes through a
				// bit mask, so any other element gets exactly 0.
				for ch, av := range a {
					bv, cv, dv := bb[ch], cc[ch], d[ch]
					m := max(av, bv, cv, dv)
					ka := bit(av == m) | bit(av != av)
					kb := (bit(bv == m) | bit(bv != bv)) &^ ka
					kc := (bit(cv == m) | bit(cv != cv)) &^ (ka | kb)
					kd := 1 &^ (ka | kb | kc)
					g := math.Float32bits(gy[ch])
					da[ch] = math.Float32frombits(g & -ka)
					db[ch] = math.Float32frombits(g & -kb)
					dc[ch] = math.Float32frombits(g & -kc)
					dd[ch] = math.Float32frombits(g & -kd)
				}
			}
		}
	}
}

// MaxPoolGradReLU is MaxPoolGrad of a pool of a ReLU's output x followed
// by the ReLU's gradient, in one pass: dx = where(x > 0, MaxPoolGrad(x,
// dy), 0), and db (C elements) the sum of dx over the n examples' pixels:
// the gradient of the bias before the ReLU. It takes 2x2 windows with
// stride 2 and no padding (the generated code calls it for no other).
// db is summed per example and the examples' sums added in order
// (SumRows), so it does not depend on the number of cores; dx is what
// MaxPoolGrad and the mask give, bit for bit.
func MaxPoolGradReLU(g ConvGeom, dx, x, dy []float32, n int, db []float32) {
	db = db[:g.C]
	clear(db)
	work := n * g.H * g.W * g.C
	if !poolReLUJob.mu.TryLock() {
		maxPoolGradReLUOwn(g, dx, x, dy, n, db)
		return
	}
	poolReLUJob.g, poolReLUJob.dx, poolReLUJob.x, poolReLUJob.dy = g, dx, x, dy
	sumRows(db, n, 1, work, poolReLUJob.rows)
	poolReLUJob.dx, poolReLUJob.x, poolReLUJob.dy = nil, nil, nil
	poolReLUJob.mu.Unlock()
}

// maxPoolGradReLUOwn is MaxPoolGradReLU with a rows function of its own
// (allocated: the job's is taken). A function apart, so that the one
// taking the job does not move its arguments to the heap.
func maxPoolGradReLUOwn(g ConvGeom, dx, x, dy []float32, n int, db []float32) {
	sumRows(db, n, 1, n*g.H*g.W*g.C, func(acc []float32, lo, hi int) { maxPoolGradReLURows(&g, dx, x, dy, acc, lo, hi) })
}

// poolReLUJob is the one MaxPoolGradReLU call whose rows function is made
// once (a second caller makes its own).
var poolReLUJob struct {
	mu        sync.Mutex
	g         ConvGeom
	dx, x, dy []float32
	rows      func(acc []float32, lo, hi int)
}

func init() {
	poolReLUJob.rows = func(acc []float32, lo, hi int) {
		maxPoolGradReLURows(&poolReLUJob.g, poolReLUJob.dx, poolReLUJob.x, poolReLUJob.dy, acc, lo, hi)
	}
}

// maxPoolGradReLURows does examples lo..hi-1 of MaxPoolGradReLU, adding
// what each window passes to acc, window by window in order.
func maxPoolGradReLURows(g *ConvGeom, dx, x, dy, acc []float32, lo, hi int) {
	c, h, w, oh, ow := g.C, g.H, g.W, g.OH, g.OW
	acc = acc[:c]
	for b := lo; b < hi; b++ {
		if h > 2*oh {
			clear(dx[((b*h+2*oh)*w)*c : (b+1)*h*w*c])
		}
		for oy := 0; oy < oh; oy++ {
			r0, r1 := ((b*h+2*oy)*w)*c, ((b*h+2*oy+1)*w)*c
			top, bot := x[r0:r0+w*c], x[r1:r1+w*c]
			dtop, dbot := dx[r0:r0+w*c], dx[r1:r1+w*c]
			if w > 2*ow {
				clear(dtop[2*ow*c:])
				clear(dbot[2*ow*c:])
			}
			gr := dy[(b*oh+oy)*ow*c : (b*oh+oy+1)*ow*c]
			if vecAVX2 && c%8 == 0 && ow > 0 {
				// The loop below, 8 channels at a time (conv_amd64.s).
				_, _ = top[2*ow*c-1], bot[2*ow*c-1]
				maxPoolGradReLU2x2AVX2(&top[0], &bot[0], &dtop[0], &dbot[0], &gr[0], ow, c, &acc[0])
				continue
			}
			for ox := 0; ox < ow; ox++ {
				i0, i1, i2 := 2*ox*c, (2*ox+1)*c, (2*ox+2)*c
				a, bb, cc, d := top[i0:i1], top[i1:i2], bot[i0:i1], bot[i1:i2]
				da, db, dc, dd := dtop[i0:i1], dtop[i1:i2], dbot[i0:i1], dbot[i1:i2]
				gy := gr[ox*c : (ox+1)*c]
				bb, cc, d = bb[:len(a)], cc[:len(a)], d[:len(a)]
				da, db, dc, dd, gy = da[:len(a)], db[:len(a)], dc[:len(a)], dd[:len(a)], gy[:len(a)]
				for ch, av := range a {
					bv, cv, dv := bb[ch], cc[ch], d[ch]
					m := max(av, bv, cv, dv)
					ka := bit(av == m) | bit(av != av)
					kb := (bit(bv == m) | bit(bv != bv)) &^ ka
					kc := (bit(cv == m) | bit(cv != cv)) &^ (ka | kb)
					kd := 1 &^ (ka | kb | kc)
					// The ReLU's mask where the gradient goes: its maximum
					// (a NaN maximum is not above 0).
					gv := math.Float32frombits(math.Float32bits(gy[ch]) & -bit(m > 0))
					acc[ch] += gv
					gb := math.Float32bits(gv)
					da[ch] = math.Float32frombits(gb & -ka)
					db[ch] = math.Float32frombits(gb & -kb)
					dc[ch] = math.Float32frombits(gb & -kc)
					dd[ch] = math.Float32frombits(gb & -kd)
				}
			}
		}
	}
}

// bit is 1 for true and 0 for false, without a branch.
func bit(b bool) uint32 {
	var x uint32
	if b {
		x = 1
	}
	return x
}

// maxPoolGradRowsWide is maxPoolGradRows for more channels than its
// arrays hold: each channel's window read on its own.
func maxPoolGradRowsWide(g *ConvGeom, dx, x, dy []float32, lo, hi int) {
	c := g.C
	clear(dx[lo*g.H*g.W*c : hi*g.H*g.W*c])
	for b := lo; b < hi; b++ {
		for oy := 0; oy < g.OH; oy++ {
			for ox := 0; ox < g.OW; ox++ {
				gy := dy[((b*g.OH+oy)*g.OW+ox)*c:][:c]
				iy0, iy1, ix0, ix1 := g.window(oy, ox)
				for ch := 0; ch < c; ch++ {
					var best float32
					at := -1
					for iy := iy0; iy < iy1; iy++ {
						for ix := ix0; ix < ix1; ix++ {
							off := ((b*g.H+iy)*g.W + ix) * c
							if xv := x[off+ch]; at < 0 || xv > best || (xv != xv && best == best) {
								best, at = xv, off
							}
						}
					}
					dx[at+ch] += gy[ch]
				}
			}
		}
	}
}

// AvgPool writes the mean of the non-padded elements of each window into y
// (Keras's AveragePooling2D).
func AvgPool(g ConvGeom, y, x []float32, n int) {
	runConv(kAvgPool, g, y, x, nil, 0, n*g.OH, n*g.OH*g.OW*g.C*g.KH*g.KW)
}

func avgPoolRows(g *ConvGeom, y, x []float32, lo, hi int) {
	c := g.C
	for r := lo; r < hi; r++ {
		b, oy := r/g.OH, r%g.OH
		for ox := 0; ox < g.OW; ox++ {
			yo := y[((b*g.OH+oy)*g.OW+ox)*c:][:c]
			clear(yo)
			iy0, iy1, ix0, ix1 := g.window(oy, ox)
			for iy := iy0; iy < iy1; iy++ {
				for ix := ix0; ix < ix1; ix++ {
					for ch, xv := range x[((b*g.H+iy)*g.W+ix)*c:][:c] {
						yo[ch] += xv
					}
				}
			}
			count := float32((iy1 - iy0) * (ix1 - ix0))
			for ch := range yo {
				yo[ch] /= count
			}
		}
	}
}

// AvgPoolGrad writes into dx (cleared first) the gradient of AvgPool: each
// output's gradient divided by its window's count of non-padded elements,
// added to each of them.
func AvgPoolGrad(g ConvGeom, dx, dy []float32, n int) {
	runConv(kAvgPoolGrad, g, dx, dy, nil, 0, n, n*g.OH*g.OW*g.C*g.KH*g.KW)
}

func avgPoolGradRows(g *ConvGeom, dx, dy []float32, lo, hi int) {
	c := g.C
	clear(dx[lo*g.H*g.W*c : hi*g.H*g.W*c])
	for b := lo; b < hi; b++ {
		for oy := 0; oy < g.OH; oy++ {
			for ox := 0; ox < g.OW; ox++ {
				gy := dy[((b*g.OH+oy)*g.OW+ox)*c:][:c]
				iy0, iy1, ix0, ix1 := g.window(oy, ox)
				count := float32((iy1 - iy0) * (ix1 - ix0))
				for iy := iy0; iy < iy1; iy++ {
					for ix := ix0; ix < ix1; ix++ {
						dxo := dx[((b*g.H+iy)*g.W+ix)*c:][:c]
						for ch, gv := range gy {
							dxo[ch] += gv / count
						}
					}
				}
			}
		}
	}
}
