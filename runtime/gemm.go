package runtime

import (
	"fmt"

	"gonum.org/v1/gonum/blas/gonum"
)

// The native GEMM backend. A call is split across the worker pool by rows of
// C (by columns when C has few rows); each chunk runs a serial kernel:
//
//	NN, TN: C[i,:] += alpha*op(A)[i,p] * B[p,:]   (Saxpy over rows of B)
//	NT:     C[i,j] += alpha*dot(A[i,:], B[j,:])   (Sdot)
//	TT:     C[i,j] += alpha*dot(A[:,i], B[j,:])   (strided Sdot)
//
// The loops are blocked so the panel of B a block of C reads stays in L2.
// gonum's Saxpy and Sdot run its assembly for unit strides.

var l1 gonum.Implementation

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
}

// Blocking and threading parameters, measured on AMD EPYC (see
// BenchmarkSgemm).
const (
	blockFloats = 64 << 10 // floats of B one block reads (256 KiB)
	minBlockK   = 16       // smallest k panel for NN and TN
	parFlops    = 1 << 18  // 2*m*n*k below which a call stays serial
	colAlign    = 16       // column chunks are multiples of this
	narrow      = 32       // below this length, plain Go loops beat Saxpy/Sdot calls
)

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

// run computes the call, in parallel when it is large enough.
func (g *gemm) run() {
	if g.m == 0 || g.n == 0 {
		return
	}
	if 2*g.m*g.n*g.k < parFlops {
		g.serial()
		return
	}
	threads, ok := pool.acquire()
	if !ok {
		g.serial()
		return
	}
	threads = min(threads, maxThreads)
	var ts [maxThreads]task
	nt := 0
	if g.m >= 2*threads || g.m >= g.n {
		// Split the rows of C.
		nt = min(threads, g.m)
		for t := range nt {
			lo, hi := g.m*t/nt, g.m*(t+1)/nt
			s := *g
			s.m = hi - lo
			if g.tA {
				s.a = g.a[lo:]
			} else {
				s.a = g.a[lo*g.lda:]
			}
			s.c = g.c[lo*g.ldc:]
			ts[t].g = s
		}
	} else {
		// Split the columns of C, in multiples of colAlign.
		units := (g.n + colAlign - 1) / colAlign
		nt = min(threads, units)
		for t := range nt {
			lo := min(g.n, units*t/nt*colAlign)
			hi := min(g.n, units*(t+1)/nt*colAlign)
			s := *g
			s.n = hi - lo
			if g.tB {
				s.b = g.b[lo*g.ldb:]
			} else {
				s.b = g.b[lo:]
			}
			s.c = g.c[lo:]
			ts[t].g = s
		}
	}
	pool.runHeld(ts[:nt])
}

// serial computes the call on the calling goroutine.
func (g *gemm) serial() {
	m, n, k := g.m, g.n, g.k
	if m == 0 || n == 0 {
		return
	}
	c, ldc := g.c, g.ldc
	if g.beta != 1 {
		for i := range m {
			row := c[i*ldc : i*ldc+n]
			if g.beta == 0 {
				clear(row)
			} else {
				for j := range row {
					row[j] *= g.beta
				}
			}
		}
	}
	if g.alpha == 0 || k == 0 {
		return
	}
	switch {
	case !g.tB:
		g.axpyKernel()
	case !g.tA:
		g.dotKernel()
	default:
		g.dotStridedKernel()
	}
}

// axpyKernel does NN and TN: for each row i of C, C[i,:] += a_ip * B[p,:]
// over p, in panels of k (and of n when rows are long) that fit in L2.
func (g *gemm) axpyKernel() {
	m, n, k := g.m, g.n, g.k
	a, b, c := g.a, g.b, g.c
	lda, ldb, ldc := g.lda, g.ldb, g.ldc
	nc := min(n, blockFloats/minBlockK)
	for j0 := 0; j0 < n; j0 += nc {
		j1 := min(j0+nc, n)
		w := j1 - j0
		kc := max(minBlockK, blockFloats/w)
		for p0 := 0; p0 < k; p0 += kc {
			p1 := min(p0+kc, k)
			for i := range m {
				crow := c[i*ldc+j0 : i*ldc+j1]
				if w < narrow {
					g.axpyNarrow(i, j0, p0, p1, crow)
					continue
				}
				if g.tA {
					for p := p0; p < p1; p++ {
						if s := g.alpha * a[p*lda+i]; s != 0 {
							l1.Saxpy(w, s, b[p*ldb+j0:p*ldb+j1], 1, crow, 1)
						}
					}
				} else {
					arow := a[i*lda+p0 : i*lda+p1]
					for q, av := range arow {
						if s := g.alpha * av; s != 0 {
							p := p0 + q
							l1.Saxpy(w, s, b[p*ldb+j0:p*ldb+j1], 1, crow, 1)
						}
					}
				}
			}
		}
	}
}

// axpyNarrow does row i of axpyKernel over p in [p0, p1) for a narrow
// C panel crow, four rows of B at a time in plain Go.
func (g *gemm) axpyNarrow(i, j0, p0, p1 int, crow []float32) {
	a, b, lda, ldb := g.a, g.b, g.lda, g.ldb
	w := len(crow)
	at := func(p int) float32 {
		if g.tA {
			return g.alpha * a[p*lda+i]
		}
		return g.alpha * a[i*lda+p]
	}
	p := p0
	for ; p+4 <= p1; p += 4 {
		s0, s1, s2, s3 := at(p), at(p+1), at(p+2), at(p+3)
		if s0 == 0 && s1 == 0 && s2 == 0 && s3 == 0 {
			continue
		}
		b0 := b[p*ldb+j0 : p*ldb+j0+w]
		b1 := b[(p+1)*ldb+j0 : (p+1)*ldb+j0+w]
		b2 := b[(p+2)*ldb+j0 : (p+2)*ldb+j0+w]
		b3 := b[(p+3)*ldb+j0 : (p+3)*ldb+j0+w]
		for j := range crow {
			crow[j] += s0*b0[j] + s1*b1[j] + s2*b2[j] + s3*b3[j]
		}
	}
	for ; p < p1; p++ {
		if s := at(p); s != 0 {
			brow := b[p*ldb+j0 : p*ldb+j0+w]
			for j := range crow {
				crow[j] += s * brow[j]
			}
		}
	}
}

// dotKernel does NT: C[i,j] += alpha*dot(A[i,:], B[j,:]), in panels of rows
// of B that fit in L2.
func (g *gemm) dotKernel() {
	m, n, k := g.m, g.n, g.k
	a, b, c := g.a, g.b, g.c
	lda, ldb, ldc := g.lda, g.ldb, g.ldc
	jc := max(1, blockFloats/k)
	for j0 := 0; j0 < n; j0 += jc {
		j1 := min(j0+jc, n)
		for i := range m {
			arow := a[i*lda : i*lda+k]
			crow := c[i*ldc : i*ldc+n]
			if k < narrow {
				j := j0
				for ; j+4 <= j1; j += 4 {
					b0 := b[j*ldb : j*ldb+k]
					b1 := b[(j+1)*ldb : (j+1)*ldb+k]
					b2 := b[(j+2)*ldb : (j+2)*ldb+k]
					b3 := b[(j+3)*ldb : (j+3)*ldb+k]
					var s0, s1, s2, s3 float32
					for p, av := range arow {
						s0 += av * b0[p]
						s1 += av * b1[p]
						s2 += av * b2[p]
						s3 += av * b3[p]
					}
					crow[j] += g.alpha * s0
					crow[j+1] += g.alpha * s1
					crow[j+2] += g.alpha * s2
					crow[j+3] += g.alpha * s3
				}
				for ; j < j1; j++ {
					brow := b[j*ldb : j*ldb+k]
					var s float32
					for p, av := range arow {
						s += av * brow[p]
					}
					crow[j] += g.alpha * s
				}
				continue
			}
			for j := j0; j < j1; j++ {
				crow[j] += g.alpha * l1.Sdot(k, arow, 1, b[j*ldb:j*ldb+k], 1)
			}
		}
	}
}

// dotStridedKernel does TT: C[i,j] += alpha*dot(A[:,i], B[j,:]).
func (g *gemm) dotStridedKernel() {
	m, n, k := g.m, g.n, g.k
	a, b, c := g.a, g.b, g.c
	lda, ldb, ldc := g.lda, g.ldb, g.ldc
	for i := range m {
		acol := a[i : i+(k-1)*lda+1]
		crow := c[i*ldc : i*ldc+n]
		for j := range crow {
			crow[j] += g.alpha * l1.Sdot(k, acol, lda, b[j*ldb:j*ldb+k], 1)
		}
	}
}
