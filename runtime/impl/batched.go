package impl

import "fmt"

// SgemmBatched computes count products C_i = alpha*op(A_i)op(B_i) + beta*C_i
// of the same shape, i < count, where A_i is the m×k (op) matrix at
// a[i*strideA:] with rows lda apart, B_i is at b[i*strideB:] and C_i at
// c[i*strideC:]: a batched matmul, such as attention's q @ kᵀ and p @ v for
// every example and head. With at least two products per core the
// products are split across the worker pool, whole, each computed serially
// by one goroutine (as many small products fill the cores better than
// each split in turn, which packs and synchronizes once per product);
// otherwise each is one Sgemm call, split as Sgemm splits it. Either way
// every C_i is what Sgemm computes for it alone, bit for bit, on any number
// of cores. Products must not write what another reads or writes.
func SgemmBatched(tA, tB bool, count, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	if count < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		panic(fmt.Sprintf("mdlc runtime: SgemmBatched: negative count %d or stride (%d, %d, %d)", count, strideA, strideB, strideC))
	}
	if count == 0 {
		return
	}
	st := batchStrides{strideA, strideB, strideC}
	for _, x := range []struct {
		name   string
		len, s int
	}{{"A", len(a), strideA}, {"B", len(b), strideB}, {"C", len(c), strideC}} {
		if (count-1)*x.s > x.len {
			panic(fmt.Sprintf("mdlc runtime: SgemmBatched: %s has %d elements, product %d starts at %d", x.name, x.len, count-1, (count-1)*x.s))
		}
	}
	g := gemm{tA: tA, tB: tB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	g.check()
	last := st.product(&g, count-1) // the farthest product lies inside a, b and c
	last.check()
	if backend.Load() != backendNative || m == 0 || n == 0 || alpha == 0 || k == 0 {
		for i := range count {
			p := st.product(&g, i)
			Sgemm(tA, tB, m, n, k, alpha, p.a, lda, p.b, ldb, beta, p.c, ldc)
		}
		return
	}
	threads, ok := 1, false
	if count >= 2 {
		threads, ok = pool.acquire()
	}
	if !ok || count < 2*threads {
		if ok {
			pool.mu.Unlock()
		}
		for i := range count {
			p := st.product(&g, i)
			p.run()
		}
		return
	}
	threads = min(threads, maxThreads)
	g.prepare()
	var ts [maxThreads]task
	for t := range threads {
		ts[t] = task{g: g, lo: count * t / threads, hi: count * (t + 1) / threads, count: count, stride: st}
	}
	pool.growScratch(g.kr.mc*g.kr.kc, g.kr.kc*min(g.kr.nc, (g.n+g.kr.nr-1)/g.kr.nr*g.kr.nr), g.kr.mr*g.kr.nr)
	pool.runHeld(ts[:threads])
}

// batchStrides are the distances between consecutive products' A, B and C.
type batchStrides struct{ a, b, c int }

// product is product i of the batch whose product 0 is g: g with its
// matrices moved i strides on (A and B exchanged in a swapped problem).
func (st batchStrides) product(g *gemm, i int) gemm {
	p := *g
	sa, sb := st.a, st.b
	if g.swap {
		sa, sb = sb, sa
	}
	p.a, p.b, p.c = g.a[i*sa:], g.b[i*sb:], g.c[i*st.c:]
	return p
}
