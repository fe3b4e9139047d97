package impl

import (
	"fmt"
	"sync"
)

// The implicit-GEMM convolution (CONV.md): a convolution's forward product
// computed by a micro-kernel that reads each pixel's window straight from
// the image instead of from the unfolded matrix. Where every window lies
// inside the image (no padding), the window of output pixel (oy, ox) of
// example b starts at x[b*H*W*C + oy*SH*W*C + ox*SW*C + gi*CG] and its
// value p = (ky, kx, c) is koff(p) = ky*DH*W*C + kx*DW*C + c floats
// further: along an output row the windows are SW*C floats apart, which is
// the A matrix of a GEMM read in place with a row stride, except that its
// k steps are the differences of koff instead of 1. The kernel
// (internal/asmgen/implicit.go) walks them from a table and loops over a
// whole run of output rows in one call, so neither the unfolded matrix
// (the first layer of the seed CNN writes and reads 2.4 MB of it per
// example) nor a Go call per 12x32 tile costs anything. Its arithmetic is
// the micro-kernel's, element for element, so the result is bit-identical
// to Unfold followed by SgemmEpilogue; ConvForward takes that path when
// the geometry or the kernel does not fit.

// implicitMaxK is the longest window the implicit kernel takes (its table
// of steps lives on the stack).
const implicitMaxK = 512

// ConvForward computes group gi's forward product of a convolution for cnt
// examples x (cnt*H*W*C values):
//
//	y[r*ldy+j] = act(sum over p of col[r, p]*w[p*ldw+j] + bias[j])   r < cnt*OH*OW, j < fg
//
// where col is Unfold's matrix (rows of KH*KW*CG values), and bias and act
// are ep's, as SgemmEpilogue(false, false, cnt*OH*OW, fg, KH*KW*CG, 1, col,
// KH*KW*CG, w, ldw, 0, y, ldy, ep) after Unfold(g, col, x, cnt, gi) gives,
// bit for bit. col is the workspace of that path, which is taken when the
// implicit kernel cannot be (padding, a window longer than the kernel's k
// block, fg not a multiple of its width, rows shorter than its height, no
// assembly kernel, or another BLAS backend).
func ConvForward(g ConvGeom, col, x []float32, cnt, gi int, w []float32, ldw, fg int, y []float32, ldy int, ep Epilogue) {
	if cnt > 0 && implicitForward(&g, x, cnt, gi, w, ldw, fg, y, ldy, ep) {
		return
	}
	kk := g.patch()
	Unfold(g, col, x, cnt, gi)
	SgemmEpilogue(false, false, cnt*g.OH*g.OW, fg, kk, 1, col, kk, w, ldw, 0, y, ldy, ep)
}

// implicitFits reports whether kernel kr computes the forward product of
// geometry g with fg output channels by the implicit kernel.
func implicitFits(kr *microKernel, g *ConvGeom, fg int) bool {
	kk := g.patch()
	return hasConvGemm(kr) && backend.Load() == backendNative && kk > 0 && kk <= min(kr.kc, implicitMaxK) &&
		fg > 0 && fg%kr.nr == 0 && g.OW >= kr.mr && g.windowsInside()
}

// implicitJob is the operands of one implicit forward product or filter
// gradient, on the stack of a serial call or in sharedImplicit.
type implicitJob struct {
	kr       *microKernel
	g        ConvGeom
	x, w, y  []float32
	bias     []float32
	ldw, fg  int
	ldy, gi  int
	flags    int
	delta    [implicitMaxK]int
	rowsFunc func(lo, hi int) // rows, made once for the shared job

	// The filter gradient's.
	dy             []float32
	lddy           int
	part           []float32 // the chunks' partial sums, kk×fg each
	rowsPer, perEx int       // output rows per chunk, chunks per example
	rowsCall       int       // output rows per kernel call
	offs           [implicitGradMaxK / 3]int
	n              int              // examples
	dw             []float32        // the gradient itself (ldw apart), when tiles of it are split
	gradFunc       func(lo, hi int) // gradChunks, made once for the shared job
	tilesFunc      func(lo, hi int) // gradTiles, made once for the shared job
}

// sharedImplicit is the one parallel implicit product in flight; a second
// caller runs on its own goroutine with a job on its stack.
var sharedImplicit struct {
	mu  sync.Mutex
	job implicitJob
}

func init() {
	sharedImplicit.job.rowsFunc = sharedImplicit.job.rows
	sharedImplicit.job.gradFunc = sharedImplicit.job.gradChunks
	sharedImplicit.job.tilesFunc = sharedImplicit.job.gradTiles
}

func implicitForward(g *ConvGeom, x []float32, cnt, gi int, w []float32, ldw, fg int, y []float32, ldy int, ep Epilogue) bool {
	kr := activeKernel.Load()
	if !implicitFits(kr, g, fg) || ep.Act > ActReLU {
		return false
	}
	kk, rows := g.patch(), cnt*g.OH
	checkImage("ConvForward", g, x, cnt, gi)
	checkMat("B", w, kk, fg, ldw)
	checkMat("C", y, rows*g.OW, fg, ldy)
	flags := 0
	if ep.Bias != nil {
		if len(ep.Bias) < fg {
			panic(fmt.Sprintf("mdlc runtime: ConvForward: bias has %d elements, want at least %d", len(ep.Bias), fg))
		}
		flags |= kBias
	}
	if ep.Act == ActReLU {
		flags |= kReLU
	}
	set := func(j *implicitJob) {
		j.kr, j.g, j.x, j.w, j.y, j.bias = kr, *g, x, w, y, ep.Bias
		j.ldw, j.fg, j.ldy, j.gi, j.flags = ldw, fg, ldy, gi, flags
		j.steps()
	}
	if 2*rows*g.OW*fg*kk >= parFlops && sharedImplicit.mu.TryLock() {
		j := &sharedImplicit.job
		set(j)
		ParallelRows(rows, j.rowsFunc)
		j.x, j.w, j.y, j.bias = nil, nil, nil, nil
		sharedImplicit.mu.Unlock()
		return true
	}
	var j implicitJob
	set(&j)
	j.rows(0, rows)
	return true
}

// steps fills delta with the byte steps between a window's values.
func (j *implicitJob) steps() {
	g := &j.g
	kk := g.patch()
	prev, p := 0, 0
	for ky := range g.KH {
		for kx := range g.KW {
			for c := range g.CG {
				off := ky*g.DH*g.W*g.C + kx*g.DW*g.C + c
				if p > 0 {
					j.delta[p-1] = 4 * (off - prev)
				}
				prev = off
				p++
			}
		}
	}
	j.delta[kk-1] = 0
}

// rows computes output rows lo..hi-1 (row r is example r/OH, output row
// r%OH), one kernel call per example and column panel.
func (j *implicitJob) rows(lo, hi int) {
	g := &j.g
	kk, hwc, rowx := g.patch(), g.H*g.W*g.C, g.SH*g.W*g.C
	for r := lo; r < hi; {
		b, oy := r/g.OH, r%g.OH
		n := min(hi-r, g.OH-oy)
		xo := b*hwc + oy*rowx + j.gi*g.CG
		for c := 0; c < j.fg; c += j.kr.nr {
			var bias *float32
			if j.bias != nil {
				bias = &j.bias[c]
			}
			convGemm(j.kr, n, g.OW, kk, &j.x[xo], g.SW*g.C, rowx, &j.delta[0], &j.w[c], j.ldw, &j.y[r*g.OW*j.ldy+c], j.ldy, bias, j.flags)
		}
		r += n
	}
}

// The filter gradient dw += col^T dy reads the windows the same way. Its
// kernel keeps a tile of up to 12 window values (rows of dw) by nr output
// channels in registers and sums it over a run of pixels: each pixel's row
// of dy is loaded once and every window value of the tile is broadcast
// from x. A call sums a few hundred pixels, so the pixels' rows of dy stay
// in L1 while every tile of the window passes over them. The tile's values are read as triples of neighbours (three
// channels of a pixel, or three pixels of one channel), each through its
// own offset, so a window whose values do not come in such triples (a
// 5x5 window over one channel) takes the unfolded path.
//
// A short window has few tiles (the seed CNN's first layer: 3), so the
// work is split by pixels: into chunks that depend only on the geometry
// and the batch, about implicitGradChunks of them, each whole output rows
// of one example, summed into its own partial gradient (starting from
// zero, pixel after pixel in order); the partials are added to dw in chunk
// order. A long window has many (implicitGradTiles or more), and the work
// is split by tiles: each worker sums its tiles over every pixel, in
// order, straight into dw. Either way the result is the same on any number
// of cores; it differs from the unfolded path's (another summation
// order), which is taken on machines without the kernel.

// implicitGradChunks is about how many chunks a filter gradient is cut into.
const implicitGradChunks = 64

// implicitGradTiles is the number of register tiles of dw (tiles of window
// values times panels of channels) from which a filter gradient is split
// by tiles instead of pixels: each worker sums its tiles over every pixel,
// in order, straight into dw, with no partials to add (the seed CNN's
// c2-c4 have 48-384 tiles on AVX-512; their partials would be 5-38 MB).
// Either way every element of dw is summed in an order that depends on
// the geometry and the kernel alone.
const implicitGradTiles = 32

// implicitGradMaxK is the longest window whose filter gradient takes the
// implicit kernel (its table of offsets lives on the stack): 3x3 over 128
// channels, the longest of the seed CNN, where it runs at 105% of the
// GEMM against the unfolded path's 80% (BenchmarkConvLayers, c4).
const implicitGradMaxK = 1152

// ConvFilterGrad adds group gi's filter gradient over n examples x to dw:
//
//	dw[p*ldw+j] += sum over r < n*OH*OW of col[r, p]*dy[r*lddy+j]   p < KH*KW*CG, j < fg
//
// where col is Unfold's matrix of x. When the implicit kernel does not
// take the geometry, it unfolds tile examples at a time into col (the
// workspace, tile*OH*OW*KH*KW*CG floats) and multiplies with Sgemm.
func ConvFilterGrad(g ConvGeom, tile int, col, x []float32, n, gi int, dy []float32, lddy, fg int, dw []float32, ldw int) {
	if n > 0 && implicitFilterGrad(&g, x, n, gi, dy, lddy, fg, dw, ldw) {
		return
	}
	kk, p, hwc := g.patch(), g.OH*g.OW, g.H*g.W*g.C
	for ex0 := 0; ex0 < n; ex0 += tile {
		cnt := min(tile, n-ex0)
		Unfold(g, col, x[ex0*hwc:(ex0+cnt)*hwc], cnt, gi)
		Sgemm(true, false, kk, fg, cnt*p, 1, col, kk, dy[ex0*p*lddy:], lddy, 1, dw, ldw)
	}
}

// implicitGradFits reports whether kernel kr computes the filter gradient
// of geometry g with fg output channels by the implicit kernel, and fills
// offs with the byte offsets of the window's triples when it does.
func implicitGradFits(kr *microKernel, g *ConvGeom, fg int, offs []int) bool {
	kk := g.patch()
	if !hasConvGemm(kr) || backend.Load() != backendNative || kk == 0 || kk%3 != 0 || kk > implicitGradMaxK ||
		fg <= 0 || fg%kr.nr != 0 || !g.windowsInside() {
		return false
	}
	p, prev := 0, 0
	for ky := range g.KH {
		for kx := range g.KW {
			for c := range g.CG {
				off := ky*g.DH*g.W*g.C + kx*g.DW*g.C + c
				if p%3 == 0 {
					offs[p/3] = 4 * off
				} else if off != prev+1 {
					return false
				}
				prev = off
				p++
			}
		}
	}
	return true
}

func implicitFilterGrad(g *ConvGeom, x []float32, n, gi int, dy []float32, lddy, fg int, dw []float32, ldw int) bool {
	kr := activeKernel.Load()
	var offs [implicitGradMaxK / 3]int
	if !implicitGradFits(kr, g, fg, offs[:]) {
		return false
	}
	kk, rows := g.patch(), n*g.OH
	checkImage("ConvFilterGrad", g, x, n, gi)
	checkMat("B", dy, rows*g.OW, fg, lddy)
	checkMat("C", dw, kk, fg, ldw)
	tiles := gradTileCount(kr, kk, fg)
	byTiles := tiles >= implicitGradTiles
	chunks, rowsPer, perEx := tiles, 0, 0
	var part *partials
	if !byTiles {
		rowsPer = min(g.OH, (rows+implicitGradChunks-1)/implicitGradChunks)
		perEx = (g.OH + rowsPer - 1) / rowsPer
		chunks = n * perEx
		part = getPartials(chunks * kk * fg)
		defer putPartials(part)
	}
	set := func(j *implicitJob) {
		j.kr, j.g, j.x, j.dy = kr, *g, x, dy
		j.lddy, j.fg, j.gi, j.n = lddy, fg, gi, n
		j.rowsPer, j.perEx, j.rowsCall = rowsPer, perEx, max(1, (convGradWPixels(kr)+g.OW-1)/g.OW)
		j.offs = offs
		j.dw, j.ldw = dw, ldw
		if part != nil {
			j.part = part.buf[:chunks*kk*fg]
		}
	}
	run := func(j *implicitJob, lo, hi int) {
		if byTiles {
			j.gradTiles(lo, hi)
		} else {
			j.gradChunks(lo, hi)
		}
	}
	if 2*rows*g.OW*fg*kk >= parFlops && sharedImplicit.mu.TryLock() {
		j := &sharedImplicit.job
		set(j)
		if byTiles {
			ParallelRows(chunks, j.tilesFunc)
		} else {
			ParallelRows(chunks, j.gradFunc)
		}
		j.x, j.dy, j.part, j.dw = nil, nil, nil, nil
		sharedImplicit.mu.Unlock()
	} else {
		var j implicitJob
		set(&j)
		run(&j, 0, chunks)
	}
	if byTiles {
		return true
	}
	for c := range chunks {
		pc := part.buf[c*kk*fg:]
		for p := range kk {
			d := dw[p*ldw : p*ldw+fg]
			VAdd(d, d, pc[p*fg:p*fg+fg])
		}
	}
	return true
}

// gradChunks computes the partial gradients of chunks lo..hi-1 (chunk c
// is output rows (c%perEx)*rowsPer.. of example c/perEx).
func (j *implicitJob) gradChunks(lo, hi int) {
	g := &j.g
	kk := g.patch()
	for c := lo; c < hi; c++ {
		b, y0 := c/j.perEx, (c%j.perEx)*j.rowsPer
		acc := j.part[c*kk*j.fg : (c+1)*kk*j.fg]
		clear(acc)
		j.gradRows(b, y0, min(g.OH, y0+j.rowsPer), 0, gradTileCount(j.kr, kk, j.fg), acc, j.fg)
	}
}

// gradTileCount is the number of register tiles of a kk×fg filter
// gradient on kernel kr: tiles of window values times panels of channels.
func gradTileCount(kr *microKernel, kk, fg int) int {
	hmax := convGradWMax(kr)
	return (kk + hmax - 1) / hmax * (fg / kr.nr)
}

// gradTiles sums tiles lo..hi-1 of dw (window values t/panels*hmax..,
// channels (t%panels)*nr..) over every pixel of the batch, straight into dw.
func (j *implicitJob) gradTiles(lo, hi int) {
	for b := range j.n {
		j.gradRows(b, 0, j.g.OH, lo, hi, j.dw, j.ldw)
	}
}

// gradRows adds the products of output rows y0..y1-1 of example b to tiles
// lo..hi-1 of acc (rows of dw ldacc floats apart), rowsCall rows per call.
func (j *implicitJob) gradRows(b, y0, y1, lo, hi int, acc []float32, ldacc int) {
	g := &j.g
	kk, hwc, rowx := g.patch(), g.H*g.W*g.C, g.SH*g.W*g.C
	hmax, panels := convGradWMax(j.kr), j.fg/j.kr.nr
	for oy := y0; oy < y1; oy += j.rowsCall {
		nb := min(j.rowsCall, y1-oy)
		xo := b*hwc + oy*rowx + j.gi*g.CG
		do := (b*g.OH + oy) * g.OW * j.lddy
		for t := lo; t < hi; t++ {
			p0, cp := t/panels*hmax, t%panels*j.kr.nr
			h := min(hmax, kk-p0)
			convGradW(j.kr, h, nb, g.OW, &j.x[xo], g.SW*g.C, rowx, &j.offs[p0/3], &j.dy[do+cp], j.lddy, &acc[p0*ldacc+cp], ldacc)
		}
	}
}
