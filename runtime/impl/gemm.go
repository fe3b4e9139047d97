package impl

import (
	"fmt"
	"sync"
)

// The native GEMM backend, structured like BLIS (Van Zee and van de Geijn,
// "BLIS: A Framework for Rapidly Instantiating BLAS Functionality", 2015):
//
//	for jc in steps of nc over n          B block kc×nc packed (L3)
//	  for pc in steps of kc over k        the k blocks, same for every chunk
//	    pack op(B)[pc:pc+kc, jc:jc+nc] into nr-wide k-major micro-panels
//	    for ic in steps of mc over m      A block mc×kc packed (L2)
//	      pack op(A)[ic:ic+mc, pc:pc+kc] into mr-tall k-major micro-panels
//	      for jr, ir over the micro-panels
//	        micro-kernel: one mr×nr tile of C in registers (L1: the B micro-panel)
//
// Transposes are absorbed by packing, so one kernel serves NN, NT, TN and TT.
// The first k block applies the caller's beta, later ones beta = 1; the last
// applies the Epilogue while the tile is still in registers. Tiles that stick
// out of C are computed whole into a scratch tile and the covered part copied.
//
// Parallelism splits C into chunks of whole tiles (rows of C in multiples of
// mr, or columns in multiples of nr) and runs the loop above on each, with
// its own packing buffers. k is split only for a product of a few tiles
// along a long k (splitK), into chunks that depend on k alone; its blocking
// depends only on k and the kernel, so every element of C is summed in the
// same order with any number of workers: results are bit-identical
// whatever GOMAXPROCS is.

// Activation is the elementwise function an Epilogue applies last.
type Activation uint8

const (
	ActNone Activation = iota // identity
	ActReLU                   // max(0, x)
)

// Epilogue is fused into SgemmEpilogue: C = act(alpha*op(A)op(B) + beta*C + bias).
type Epilogue struct {
	Bias []float32 // len >= n, added to every row of C; nil for none
	Act  Activation
}

// SgemmEpilogue is Sgemm followed by the epilogue: bias (broadcast over rows)
// then activation, applied to each tile of C right after its last k block.
// Sgemm is SgemmEpilogue with a zero Epilogue.
func SgemmEpilogue(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, ep Epilogue) {
	g := gemm{tA: tA, tB: tB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, ep: ep}
	g.check()
	if backend.Load() != backendNative {
		Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		g.alpha, g.beta = 0, 1
		g.scaleC()
		return
	}
	g.run()
}

// gemm holds one Sgemm call or a chunk of one.
type gemm struct {
	tA, tB      bool
	m, n, k     int
	alpha, beta float32
	a           []float32
	lda         int
	b           []float32
	ldb         int
	c           []float32
	ldc         int
	ep          Epilogue
	kr          *microKernel // set by run
	// swap marks the transposed problem C^T = op(B)^T op(A)^T that run
	// solves instead when C is too narrow for the kernel's nr: m, n, A and
	// B are swapped, C[i,j] of this problem is c[j*ldc+i] and the bias is
	// indexed by i.
	swap bool
	// oneRow marks a call whose C has one row (op(B) = B): run decides it
	// for the whole call, so a one-row chunk of a row split still goes
	// through tiles, as it would with one worker.
	oneRow bool
}

// parFlops is 2*m*n*k below which a call stays on the caller's goroutine.
const parFlops = 1 << 18

func (g *gemm) check() {
	if g.m < 0 || g.n < 0 || g.k < 0 {
		panic(fmt.Sprintf("mdlc runtime: Sgemm: negative size m=%d n=%d k=%d", g.m, g.n, g.k))
	}
	ar, ac := g.m, g.k
	if g.tA {
		ar, ac = g.k, g.m
	}
	br, bc := g.k, g.n
	if g.tB {
		br, bc = g.n, g.k
	}
	checkMat("A", g.a, ar, ac, g.lda)
	checkMat("B", g.b, br, bc, g.ldb)
	checkMat("C", g.c, g.m, g.n, g.ldc)
	if g.ep.Bias != nil && len(g.ep.Bias) < g.n {
		panic(fmt.Sprintf("mdlc runtime: Sgemm: bias has %d elements, want at least n=%d", len(g.ep.Bias), g.n))
	}
	if g.ep.Act > ActReLU {
		panic(fmt.Sprintf("mdlc runtime: Sgemm: unknown activation %d", g.ep.Act))
	}
}

func checkMat(name string, x []float32, rows, cols, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("mdlc runtime: Sgemm: ld%s=%d < %d columns", name, ld, cols))
	}
	if rows > 0 && cols > 0 && len(x) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("mdlc runtime: Sgemm: %s has %d elements, want at least %d (%d×%d, stride %d)",
			name, len(x), (rows-1)*ld+cols, rows, cols, ld))
	}
}

// run computes the call, split across the worker pool when it is large.
func (g *gemm) run() {
	if g.m == 0 || g.n == 0 {
		return
	}
	if g.alpha == 0 || g.k == 0 {
		g.scaleC()
		return
	}
	g.prepare()
	if g.splitK() {
		g.runSplitK()
		return
	}
	if 2*g.m*g.n*g.k < parFlops {
		g.serialAlone()
		return
	}
	threads, ok := pool.acquire()
	if !ok {
		g.serialAlone()
		return
	}
	threads = min(threads, maxThreads)
	mr, nr := g.kr.mr, g.kr.nr
	rowUnits, colUnits := (g.m+mr-1)/mr, (g.n+nr-1)/nr
	// A row split packs all of op(B) in every chunk, a column split all of
	// op(A): duplicate the smaller one.
	byRows := rowUnits >= threads && (g.n <= g.m || colUnits < threads) || colUnits < 2
	var ts [maxThreads]task
	nt := 0
	if byRows {
		nt = min(threads, rowUnits)
		for t := range nt {
			lo, hi := min(g.m, rowUnits*t/nt*mr), min(g.m, rowUnits*(t+1)/nt*mr)
			s := *g
			s.m = hi - lo
			if g.tA {
				s.a = g.a[lo:]
			} else {
				s.a = g.a[lo*g.lda:]
			}
			if g.swap {
				s.c = g.c[lo:]
				if g.ep.Bias != nil {
					s.ep.Bias = g.ep.Bias[lo:]
				}
			} else {
				s.c = g.c[lo*g.ldc:]
			}
			ts[t].g = s
		}
	} else {
		nt = min(threads, colUnits)
		for t := range nt {
			lo, hi := min(g.n, colUnits*t/nt*nr), min(g.n, colUnits*(t+1)/nt*nr)
			s := *g
			s.n = hi - lo
			if g.tB {
				s.b = g.b[lo*g.ldb:]
			} else {
				s.b = g.b[lo:]
			}
			if g.swap {
				s.c = g.c[lo*g.ldc:]
			} else {
				s.c = g.c[lo:]
				if g.ep.Bias != nil {
					s.ep.Bias = g.ep.Bias[lo:]
				}
			}
			ts[t].g = s
		}
	}
	pool.growScratch(g.kr.mc*g.kr.kc, g.kr.kc*min(g.kr.nc, (g.n+nr-1)/nr*nr), mr*nr)
	pool.runHeld(ts[:nt])
}

// splitKMin is the shortest k chunk of a product split along k (splitK).
const splitKMin = 1024

// splitK reports whether the call is a product of a few tiles along a long
// k (a convolution's filter gradient: a few dozen rows of C summed over
// every pixel of a tile of examples), which a split of C's tiles would
// leave on one or two cores: its k is then cut into chunks of at least
// splitKMin (how many depends on k alone), computed in parallel into
// partial products that are added in chunk order (runSplitK). Calls with
// an epilogue, or that run swapped, are never split.
func (g *gemm) splitK() bool {
	tiles := (g.m + g.kr.mr - 1) / g.kr.mr * ((g.n + g.kr.nr - 1) / g.kr.nr)
	return !g.swap && g.ep.Bias == nil && g.ep.Act == ActNone && tiles <= 4 && g.k >= 2*splitKMin
}

// runSplitK computes the call as min(k/splitKMin, maxThreads) products over
// consecutive chunks of k, each into its own m×n partial C (with alpha,
// without beta), on the worker pool when it is free and on the caller
// otherwise; then C = beta*C + the partials, added in chunk order. The
// chunks depend on k only, so the result is the same on any number of
// cores.
func (g *gemm) runSplitK() {
	nc := min(g.k/splitKMin, maxThreads)
	size := g.m * g.n
	part := getPartials(nc * size)
	defer putPartials(part)
	var ts [maxThreads]task
	for c := range nc {
		p0, p1 := g.k*c/nc, g.k*(c+1)/nc
		s := *g
		s.k, s.beta = p1-p0, 0
		if g.tA {
			s.a = g.a[p0*g.lda:]
		} else {
			s.a = g.a[p0:]
		}
		if g.tB {
			s.b = g.b[p0:]
		} else {
			s.b = g.b[p0*g.ldb:]
		}
		s.c, s.ldc = part.buf[c*size:(c+1)*size], g.n
		ts[c].g = s
	}
	if _, ok := pool.acquire(); ok {
		pool.growScratch(g.kr.mc*g.kr.kc, g.kr.kc*min(g.kr.nc, (g.n+g.kr.nr-1)/g.kr.nr*g.kr.nr), g.kr.mr*g.kr.nr)
		pool.runHeld(ts[:nc])
	} else {
		sc := getScratch()
		for c := range nc {
			ts[c].g.serial(sc)
		}
		putScratch(sc)
	}
	for i := range g.m {
		row := g.c[i*g.ldc : i*g.ldc+g.n]
		for j := range row {
			var v float32
			if g.beta != 0 {
				v = g.beta * row[j]
			}
			for c := range nc {
				v += part.buf[c*size+i*g.n+j]
			}
			row[j] = v
		}
	}
}

// prepare picks the kernel and the form serial computes a nonempty call
// in: the transposed problem when C is too narrow for the kernel (swap), a
// row of C without tiles (oneRow).
func (g *gemm) prepare() {
	g.kr = activeKernel.Load()
	if g.n < g.kr.nr && 4*padded(g.n, g.m, g.kr) < 3*padded(g.m, g.n, g.kr) {
		*g = gemm{tA: !g.tB, tB: !g.tA, m: g.n, n: g.m, k: g.k, alpha: g.alpha, beta: g.beta,
			a: g.b, lda: g.ldb, b: g.a, ldb: g.lda, c: g.c, ldc: g.ldc, ep: g.ep, kr: g.kr, swap: true}
	}
	g.oneRow = g.m == 1 && !g.tB && !g.swap && g.kr.gemv != nil
}

// padded is the work of an m×n product on kernel kr: the area of its tiles.
func padded(m, n int, kr *microKernel) int {
	return (m + kr.mr - 1) / kr.mr * kr.mr * ((n + kr.nr - 1) / kr.nr * kr.nr)
}

// scaleC does a call whose product is zero (alpha == 0 or k == 0):
// C = act(beta*C + bias), not reading C when beta == 0.
func (g *gemm) scaleC() {
	relu := g.ep.Act == ActReLU
	for i := range g.m {
		row := g.c[i*g.ldc : i*g.ldc+g.n]
		for j := range row {
			var v float32
			if g.beta != 0 {
				v = g.beta * row[j]
			}
			if g.ep.Bias != nil {
				v += g.ep.Bias[j]
			}
			if relu {
				v = max(v, 0)
			}
			row[j] = v
		}
	}
}

// serialAlone computes the call on the calling goroutine, outside the pool,
// with packing buffers from the free list.
func (g *gemm) serialAlone() {
	s := getScratch()
	defer putScratch(s)
	g.serial(s)
}

// serial computes the call (or chunk) on the calling goroutine with kernel
// g.kr and packing buffers s: the BLIS loop nest described at the top of
// this file.
func (g *gemm) serial(s *scratch) {
	kr := g.kr
	m, n, k := g.m, g.n, g.k
	if m == 0 || n == 0 {
		return
	}
	if g.oneRow {
		g.gemv()
		return
	}
	mr, nr := kr.mr, kr.nr
	s.grow(kr.mc*kr.kc, kr.kc*min(kr.nc, (n+nr-1)/nr*nr), mr*nr)
	nkb := (k + kr.kc - 1) / kr.kc
	for jc := 0; jc < n; jc += kr.nc {
		nc := min(kr.nc, n-jc)
		for kb := range nkb {
			p0, p1 := k*kb/nkb, k*(kb+1)/nkb
			kc := p1 - p0
			beta, flags := float32(1), kLoadC
			if kb == 0 {
				beta = g.beta
				if beta == 0 {
					flags = 0
				}
			}
			if kb == nkb-1 {
				if g.ep.Bias != nil {
					flags |= kBias
				}
				if g.ep.Act == ActReLU {
					flags |= kReLU
				}
			}
			// Full micro-panels that the kernel can read where they are
			// (inPlace) are not packed: op(B) = B and op(A) = Aᵀ k-major,
			// op(A) = A row by row.
			g.packB(s.b, p0, kc, jc, nc, nr)
			for ic := 0; ic < m; ic += kr.mc {
				mc := min(kr.mc, m-ic)
				g.packA(s.a, ic, mc, p0, kc, mr)
				for jr := 0; jr < nc; jr += nr {
					w := min(nr, nc-jr)
					j := jc + jr
					bp, sb := s.b[jr*kc:(jr+nr)*kc], nr
					if g.bInPlace() && w == nr {
						bp, sb = g.b[p0*g.ldb+j:], g.ldb
					}
					var bias []float32
					if flags&kBias != 0 && !g.swap {
						bias = g.ep.Bias[j:]
					}
					for ir := 0; ir < mc; ir += mr {
						h := min(mr, mc-ir)
						i := ic + ir
						ap, sa, ra := s.a[ir*kc:(ir+mr)*kc], mr, 1
						if g.aInPlace() && h == mr {
							if g.tA {
								ap, sa = g.a[p0*g.lda+i:], g.lda
							} else {
								ap, sa, ra = g.a[i*g.lda+p0:], 1, g.lda
							}
						}
						if h == mr && w == nr && !g.swap {
							kr.fn(kc, ap, bp, g.c[i*g.ldc+j:], g.ldc, g.alpha, beta, bias, flags, sa, sb, ra)
							continue
						}
						kr.fn(kc, ap, bp, s.tile, nr, 1, 0, nil, 0, sa, sb, ra)
						g.edge(s.tile, nr, i, j, h, w, beta, flags)
					}
				}
			}
		}
	}
}

// inPlace reports whether the kernel reads full micro-panels of a matrix
// with leading dimension ld where they are instead of packing them: a
// micro-panel read in place touches a line of every row ld floats apart,
// and at 4 KiB apart or more those lines share an L1 set and a page each
// (1024³ on the AVX2 kernel: 155 GFLOP/s in place, 243 packed), while
// below that packing only costs time (the 128×784·784×256 forward product:
// 223 in place, 197 packed).
func inPlace(ld int) bool { return ld*4 < 4096 }

// bInPlace and aInPlace say whether full micro-panels of op(B) and op(A)
// are read in place.
func (g *gemm) bInPlace() bool { return !g.tB && inPlace(g.ldb) }
func (g *gemm) aInPlace() bool { return inPlace(g.lda) }

// gemv computes a product with one row of C and op(B) = B (a batch of one
// through a dense layer) without tiles: each k block as the tile loop
// splits k, with the kernel's arithmetic in the kernel's order, so the row
// equals what the tiles give for it, bit for bit (TestSgemvMatchesTiles).
func (g *gemm) gemv() {
	incx := 1 // op(A)[0, p] = A[p] or, transposed, A[p*lda]
	if g.tA {
		incx = g.lda
	}
	nkb := (g.k + g.kr.kc - 1) / g.kr.kc
	for kb := range nkb {
		p0, p1 := g.k*kb/nkb, g.k*(kb+1)/nkb
		beta, flags := float32(1), kLoadC
		if kb == 0 {
			beta = g.beta
			if beta == 0 {
				flags = 0
			}
		}
		var bias *float32
		if kb == nkb-1 {
			if g.ep.Bias != nil {
				flags |= kBias
				bias = &g.ep.Bias[0]
			}
			if g.ep.Act == ActReLU {
				flags |= kReLU
			}
		}
		g.kr.gemv(p1-p0, g.n, &g.a[p0*incx], incx, &g.b[p0*g.ldb], g.ldb, &g.c[0], g.alpha, beta, bias, flags)
	}
}

// edge writes the h×w corner of a tile t (rows tn apart) computed with
// alpha = 1 and no C, bias or activation into C at (i0, j0), doing in Go
// what the kernel does for whole tiles. It also writes every tile of a
// swapped problem.
func (g *gemm) edge(t []float32, tn, i0, j0, h, w int, beta float32, flags int) {
	if g.swap {
		g.edgeSwapped(t, tn, i0, j0, h, w, beta, flags)
		return
	}
	for i := range h {
		row := g.c[(i0+i)*g.ldc+j0 : (i0+i)*g.ldc+j0+w]
		tr := t[i*tn : i*tn+w]
		for j := range row {
			v := g.alpha * tr[j]
			if flags&kLoadC != 0 {
				v += beta * row[j]
			}
			if flags&kBias != 0 {
				v += g.ep.Bias[j0+j]
			}
			if flags&kReLU != 0 {
				v = max(v, 0)
			}
			row[j] = v
		}
	}
}

// edgeSwapped is edge for a swapped problem: tile row i goes to column
// i0+i of C, and the bias follows i.
func (g *gemm) edgeSwapped(t []float32, tn, i0, j0, h, w int, beta float32, flags int) {
	if flags&kLoadC == 0 && g.alpha == 1 && vecAVX2 && w >= 8 {
		// A transposed copy, then the epilogue along the rows of C (the
		// narrow products of a training step: one k block, C not read):
		// 8×8 register transposes, then Go for the rows and columns left
		// over. Rows of C beyond h are another part of C and must not be
		// written, so no 4-row blocks.
		blocks := w / 8
		_, _ = g.c[(j0+w-1)*g.ldc+i0+h-1], t[(h-1)*tn+w-1] // what the blocks touch is in range
		i := 0
		for ; i+8 <= h; i += 8 {
			gather8AVX2(&g.c[j0*g.ldc+i0+i], g.ldc, &t[i*tn], tn, blocks)
		}
		for j := range w {
			row := g.c[(j0+j)*g.ldc+i0 : (j0+j)*g.ldc+i0+h]
			lo := i
			if j >= blocks*8 {
				lo = 0
			}
			for ii := lo; ii < h; ii++ {
				row[ii] = t[ii*tn+j]
			}
			if flags&kBias != 0 {
				for ii, b := range g.ep.Bias[i0 : i0+h] {
					row[ii] += b
				}
			}
			if flags&kReLU != 0 {
				for ii, x := range row {
					row[ii] = max(x, 0)
				}
			}
		}
		return
	}
	for j := range w {
		row := g.c[(j0+j)*g.ldc+i0 : (j0+j)*g.ldc+i0+h]
		for i := range row {
			v := g.alpha * t[i*tn+j]
			if flags&kLoadC != 0 {
				v += beta * row[i]
			}
			if flags&kBias != 0 {
				v += g.ep.Bias[i0+i]
			}
			if flags&kReLU != 0 {
				v = max(v, 0)
			}
			row[i] = v
		}
	}
}

// packB packs op(B)[p0:p0+kc, j0:j0+nc] into dst as nr-wide micro-panels,
// each kc×nr row-major (k-major), the last one padded with zeros. Full
// panels of an untransposed B are skipped: serial reads them in place.
func (g *gemm) packB(dst []float32, p0, kc, j0, nc, nr int) {
	b, ldb := g.b, g.ldb
	for jr := 0; jr < nc; jr += nr {
		w := min(nr, nc-jr)
		panel := dst[jr*kc : jr*kc+nr*kc]
		if w == nr && g.bInPlace() {
			continue // read in place
		}
		if !g.tB {
			copyPanel(panel, nr, kc, b, (p0)*ldb+j0+jr, ldb, w)
			continue
		}
		// op(B)[p, j] = B[j, p]: rows of B become columns of the panel.
		gatherPanel(panel, nr, kc, b, (j0+jr)*ldb+p0, ldb, w)
	}
}

// packA packs op(A)[i0:i0+mc, p0:p0+kc] into dst as mr-tall micro-panels,
// each kc×mr row-major (k-major), the last one padded with zeros. Full
// panels of a transposed A are skipped: serial reads them in place.
func (g *gemm) packA(dst []float32, i0, mc, p0, kc, mr int) {
	a, lda := g.a, g.lda
	for ir := 0; ir < mc; ir += mr {
		h := min(mr, mc-ir)
		panel := dst[ir*kc : ir*kc+mr*kc]
		if h == mr && g.aInPlace() {
			continue // read in place
		}
		if g.tA {
			copyPanel(panel, mr, kc, a, p0*lda+i0+ir, lda, h)
			continue
		}
		gatherPanel(panel, mr, kc, a, (i0+ir)*lda+p0, lda, h)
	}
}

// copyPanel writes panel[p*w+i] = src[off+p*ld+i] for p < kc, i < h, and
// zero for h <= i < w: a micro-panel of a matrix that is already k-major
// but not read in place (inPlace), or the partial last one. A full panel
// 16 or 32 wide is copied by AVX2; rows are short (w <= 32), so an element
// loop beats copy's call for the rest.
func copyPanel(panel []float32, w, kc int, src []float32, off, ld, h int) {
	if h == w && vecAVX2 && kc > 0 && (w == 16 || w == 32) {
		_, _ = panel[kc*w-1], src[off+(kc-1)*ld+w-1] // what the copy touches is in range
		if w == 16 {
			copyRows16AVX2(&panel[0], &src[off], ld, kc)
		} else {
			copyRows32AVX2(&panel[0], &src[off], ld, kc)
		}
		return
	}
	for p := range kc {
		d := panel[p*w : p*w+w : p*w+w]
		r := src[off+p*ld:][:h:h]
		copy(d, r)
		for i := h; i < w; i++ {
			d[i] = 0
		}
	}
}

// gatherPanel writes panel[p*w+i] = src[off+i*ld+p] for p < kc, i < h,
// and zero for h <= i < w: h rows of a matrix (ld apart) become the columns
// of a kc×w panel. With AVX2, blocks of 8 (then 6 or 4) rows × 8 columns
// are transposed in registers (gather8AVX2, gather6AVX2, gather4AVX2); the
// rest is Go.
// Writing the panel in order and reading the rows as parallel streams is
// about twice as fast as writing one strided column at a time.
func gatherPanel(panel []float32, w, kc int, src []float32, off, ld, h int) {
	_ = panel[kc*w-1]
	if h > 0 {
		_ = src[off+(h-1)*ld+kc-1]
	}
	i := 0
	if vecAVX2 && kc >= 8 {
		blocks := kc / 8
		for ; i+8 <= h; i += 8 {
			gather8AVX2(&panel[i], w, &src[off+i*ld], ld, blocks)
		}
		if h-i == 6 {
			gather6AVX2(&panel[i], w, &src[off+i*ld], ld, blocks)
			i += 6
		}
		for ; i+4 <= h; i += 4 {
			gather4AVX2(&panel[i], w, &src[off+i*ld], ld, blocks)
		}
		// The columns the blocks did not reach.
		for p := blocks * 8; p < kc; p++ {
			for ii := range i {
				panel[p*w+ii] = src[off+ii*ld+p]
			}
		}
	}
	for ; i+4 <= h; i += 4 {
		r0, r1, r2, r3 := src[off+i*ld:][:kc], src[off+(i+1)*ld:][:kc], src[off+(i+2)*ld:][:kc], src[off+(i+3)*ld:][:kc]
		for p := range kc {
			d := panel[p*w+i : p*w+i+4 : p*w+i+4]
			d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
		}
	}
	for ; i < h; i++ {
		r := src[off+i*ld:][:kc]
		for p, x := range r {
			panel[p*w+i] = x
		}
	}
	if h < w {
		for p := range kc {
			clear(panel[p*w+h : p*w+w])
		}
	}
}

// scratch holds one goroutine's packing buffers.
type scratch struct {
	a, b, tile []float32
}

// grow makes the buffers at least na, nb and nt floats long, reallocating
// only when a larger size than ever before is asked for.
func (s *scratch) grow(na, nb, nt int) {
	if len(s.a) < na {
		s.a = make([]float32, na)
	}
	if len(s.b) < nb {
		s.b = make([]float32, nb)
	}
	if len(s.tile) < nt {
		s.tile = make([]float32, nt)
	}
}

// scratches is the free list of packing buffers for calls that run outside
// the pool (too small to split, or made while another call holds it). A
// call takes one for its duration, so there are as many as calls ever ran
// at once; after warm-up nothing is allocated.
var scratches struct {
	mu   sync.Mutex
	free []*scratch
}

func getScratch() *scratch {
	scratches.mu.Lock()
	defer scratches.mu.Unlock()
	if n := len(scratches.free); n > 0 {
		s := scratches.free[n-1]
		scratches.free = scratches.free[:n-1]
		return s
	}
	return new(scratch)
}

func putScratch(s *scratch) {
	scratches.mu.Lock()
	scratches.free = append(scratches.free, s)
	scratches.mu.Unlock()
}
