// Package bench measures mdlc's generated code against a hand-written
// baseline: HandMLP, the MNIST MLP of examples/mnist_mlp written the way a
// careful person writes it with gonum (preallocated buffers, fused softmax
// cross-entropy, one loop per Adam tensor), with its GEMMs behind a GemmFunc
// so the same code runs on gonum's blas32 and on mdlc's impl.Sgemm.
//
// The package holds no production code; see README.md for the figures.
package bench

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	mdlc "github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/impl"
)

// GemmFunc is impl.Sgemm's signature: row-major
// C = alpha*op(A)*op(B) + beta*C, op(A) m×k, op(B) k×n.
type GemmFunc func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// GonumGemm calls gonum's blas32 implementation directly, bypassing mdlc's
// runtime.
func GonumGemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	blas32.Implementation().Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// NativeGemm is mdlc's impl.Sgemm; it uses whichever backend
// runtime.SetBLAS selected ("native" by default).
var NativeGemm GemmFunc = impl.Sgemm

// Sizes of the model: 784 -> 256 (relu) -> 10.
const (
	MaxBatch = 128
	nIn      = 784
	nHid     = 256
	nOut     = 10
)

// Adam hyperparameters (Kingma & Ba 2015, Algorithm 1), as mnist_mlp.mdl.
const (
	lr    = 1e-3
	beta1 = 0.9
	beta2 = 0.999
	eps   = 1e-8
)

// HandMLP is a hand-written trainer for the MNIST MLP. It allocates nothing
// after NewHandMLP (beyond what its GemmFunc allocates).
type HandMLP struct {
	gemm GemmFunc

	// Parameters.
	w1 []float32 // hidden.w (784, 256)
	b1 []float32 // hidden.b (256)
	w2 []float32 // logits.w (256, 10)
	b2 []float32 // logits.b (10)

	// Gradients, same shapes.
	gw1, gb1, gw2, gb2 []float32

	// Adam moments, same shapes, and the step count.
	mw1, vw1, mb1, vb1 []float32
	mw2, vw2, mb2, vb2 []float32
	t                  int

	// Activations.
	h  []float32 // relu(x w1 + b1) (N, 256)
	z  []float32 // logits, then d loss / d logits (N, 10)
	dh []float32 // d loss / d hidden pre-activation (N, 256)
}

// NewHandMLP returns a model initialized like the generated one: glorot
// uniform weights and zero biases, drawn in the same order from
// impl.NewRNG(seed), so equal seeds give equal parameters.
func NewHandMLP(seed uint64, gemm GemmFunc) *HandMLP {
	f := func(n int) []float32 { return make([]float32, n) }
	h := &HandMLP{
		gemm: gemm,
		w1:   f(nIn * nHid), b1: f(nHid), w2: f(nHid * nOut), b2: f(nOut),
		gw1: f(nIn * nHid), gb1: f(nHid), gw2: f(nHid * nOut), gb2: f(nOut),
		mw1: f(nIn * nHid), vw1: f(nIn * nHid), mb1: f(nHid), vb1: f(nHid),
		mw2: f(nHid * nOut), vw2: f(nHid * nOut), mb2: f(nOut), vb2: f(nOut),
		h:  f(MaxBatch * nHid),
		z:  f(MaxBatch * nOut),
		dh: f(MaxBatch * nHid),
	}
	rng := impl.NewRNG(seed)
	glorot(h.w1, nIn, nHid, rng)
	glorot(h.w2, nHid, nOut, rng)
	return h
}

// glorot fills w (fanIn, fanOut) from U(-l, l), l = sqrt(6/(fanIn+fanOut)).
func glorot(w []float32, fanIn, fanOut int, rng *impl.RNG) {
	l := math.Sqrt(6 / float64(fanIn+fanOut))
	for i := range w {
		w[i] = float32(-l + 2*l*rng.Float64())
	}
}

// Params returns views of the parameters with the generated model's names,
// order and shapes.
func (h *HandMLP) Params() []mdlc.Tensor {
	return []mdlc.Tensor{
		{Name: "hidden.w", Shape: []int{nIn, nHid}, Data: h.w1},
		{Name: "hidden.b", Shape: []int{nHid}, Data: h.b1},
		{Name: "logits.w", Shape: []int{nHid, nOut}, Data: h.w2},
		{Name: "logits.b", Shape: []int{nOut}, Data: h.b2},
	}
}

// Grads returns views of the gradients of the last TrainStep, in Params order.
func (h *HandMLP) Grads() []mdlc.Tensor {
	return []mdlc.Tensor{
		{Name: "hidden.w", Shape: []int{nIn, nHid}, Data: h.gw1},
		{Name: "hidden.b", Shape: []int{nHid}, Data: h.gb1},
		{Name: "logits.w", Shape: []int{nHid, nOut}, Data: h.gw2},
		{Name: "logits.b", Shape: []int{nOut}, Data: h.gb2},
	}
}

// TrainStep runs one Adam step on the first n examples of x (n, 784) and
// y (n), labels in [0, 10), and returns the mean cross-entropy before the
// update. It does not validate its inputs.
func (h *HandMLP) TrainStep(x []float32, y []int32, n int) float32 {
	hid, z, dh := h.h[:n*nHid], h.z[:n*nOut], h.dh[:n*nHid]

	// ------------------------------------------------------------------------
	// Forward.
	// hid = relu(x w1 + b1) (N, 256)
	h.gemm(false, false, n, nHid, nIn, 1, x, nIn, h.w1, nHid, 0, hid, nHid)
	for i := 0; i < n; i++ {
		row := hid[i*nHid : (i+1)*nHid]
		for j, b := range h.b1 {
			row[j] = max(row[j]+b, 0)
		}
	}
	// z = hid w2 + b2 (N, 10)
	h.gemm(false, false, n, nOut, nHid, 1, hid, nHid, h.w2, nOut, 0, z, nOut)

	// Softmax cross-entropy, forward and backward fused: per row, loss
	// += lse - z[y], and z becomes (softmax(z) - onehot(y)) / n.
	var loss float64
	invN := 1 / float32(n)
	for i := 0; i < n; i++ {
		row := z[i*nOut : (i+1)*nOut]
		mx := float32(math.Inf(-1))
		for j, b := range h.b2 {
			row[j] += b
			mx = max(mx, row[j])
		}
		var sum float32
		for j, v := range row {
			e := float32(math.Exp(float64(v - mx)))
			row[j] = e
			sum += e
		}
		c := y[i]
		// loss_i = lse - z[c] = log(sum) - (z[c] - mx) = -log(e[c] / sum).
		loss -= math.Log(float64(row[c] / sum))
		s := invN / sum
		for j := range row {
			row[j] *= s
		}
		row[c] -= invN
	}

	// ------------------------------------------------------------------------
	// Backward.
	// gb2 = sum over rows of dz; gw2 = hid^T dz; dh = dz w2^T, masked by relu.
	clear(h.gb2)
	for i := 0; i < n; i++ {
		for j, v := range z[i*nOut : (i+1)*nOut] {
			h.gb2[j] += v
		}
	}
	h.gemm(true, false, nHid, nOut, n, 1, hid, nHid, z, nOut, 0, h.gw2, nOut)
	h.gemm(false, true, n, nHid, nOut, 1, z, nOut, h.w2, nOut, 0, dh, nHid)
	clear(h.gb1)
	for i := 0; i < n; i++ {
		drow, hrow := dh[i*nHid:(i+1)*nHid], hid[i*nHid:(i+1)*nHid]
		for j, a := range hrow {
			if a <= 0 {
				drow[j] = 0
			}
			h.gb1[j] += drow[j]
		}
	}
	// gw1 = x^T dh (784, 256)
	h.gemm(true, false, nIn, nHid, n, 1, x, nIn, dh, nHid, 0, h.gw1, nHid)

	// ------------------------------------------------------------------------
	// Adam.
	h.t++
	bc1 := float32(1 - math.Pow(beta1, float64(h.t)))
	bc2 := float32(1 - math.Pow(beta2, float64(h.t)))
	adam(h.w1, h.gw1, h.mw1, h.vw1, bc1, bc2)
	adam(h.b1, h.gb1, h.mb1, h.vb1, bc1, bc2)
	adam(h.w2, h.gw2, h.mw2, h.vw2, bc1, bc2)
	adam(h.b2, h.gb2, h.mb2, h.vb2, bc1, bc2)

	return float32(loss / float64(n))
}

// adam updates p in place from its gradient g and moments m, v; bc1 and bc2
// are the bias corrections 1-beta1^t and 1-beta2^t (Kingma & Ba 2015,
// Algorithm 1).
func adam(p, g, m, v []float32, bc1, bc2 float32) {
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	for i, gi := range g {
		mi := beta1*m[i] + (1-beta1)*gi
		vi := beta2*v[i] + (1-beta2)*gi*gi
		m[i], v[i] = mi, vi
		p[i] -= lr * (mi / bc1) / (float32(math.Sqrt(float64(vi/bc2))) + eps)
	}
}
