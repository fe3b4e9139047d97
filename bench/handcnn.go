package bench

import (
	"math"
	"math/rand/v2"

	mdlc "github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/impl"
)

// HandCNN is the seed's cats-vs-dogs CNN (examples/catsdogs/catsdogs.mdl)
// written by hand, the baseline of issue 12's CNN benchmark: four stages of
// 3x3 valid convolution + bias + ReLU + 2x2 max pool, flatten, inverted
// dropout, dense + ReLU, dense to one logit, sigmoid, binary cross-entropy
// and RMSprop, on NHWC images and HWIO filters as mdlc lays them out.
//
// It is written the way a careful person writes it: every convolution is a
// per-example im2col into one scratch buffer and one GEMM (forward), and the
// same im2col and two GEMMs (filter gradient; input gradient, folded back by
// col2im) in the backward pass; bias, ReLU, max pool and their gradients are
// plain Go loops on one goroutine; the GEMMs go through a GemmFunc
// (NativeGemm: mdlc's impl.Sgemm, which uses the runtime's workers). The
// forward pass keeps only the pooled outputs and the index of each pool
// window's maximum: the ReLU mask of the backward pass is "pooled value >
// 0", and the un-pooled activations live in a per-example buffer. Nothing
// is allocated after NewHandCNN.
//
// The dropout mask comes from math/rand/v2 (PCG), not mdlc's Philox
// stream: the same rate and scaling, not the same mask.
type HandCNN struct {
	cfg  HandCNNConfig
	gemm GemmFunc
	rng  *rand.Rand

	conv [4]handConv

	flat   int       // features after the last pool: PH*PW*C of stage 4
	w1, b1 []float32 // hidden.w (flat, hidden), hidden.b (hidden)
	w2, b2 []float32 // prob.w (hidden, 1), prob.b (1)
	gw1    []float32
	gb1    []float32
	gw2    []float32
	gb2    []float32
	msw1   []float32 // RMSprop mean squares
	msb1   []float32
	msw2   []float32
	msb2   []float32
	mask   []float32 // dropout scale per feature (N, flat): 0 or 1/(1-rate)
	drop   []float32 // dropped features (N, flat)
	hid    []float32 // relu(drop w1 + b1) (N, hidden), then its gradient
	dhid   []float32 // d loss / d hidden pre-activation (N, hidden)
	z      []float32 // logits (N), then d loss / d logit
	ddrop  []float32 // d loss / d dropped features (N, flat)
	col    []float32 // im2col scratch, one example, the largest stage
	act    []float32 // conv + bias + relu of one example, then its gradient
	dpool  [2][]float32
}

// handConv is one conv + relu + pool stage.
type handConv struct {
	ih, iw, cin int // input
	oh, ow, out int // convolution output (valid, 3x3)
	ph, pw      int // pooled output (2x2, stride 2, floor)

	w, b    []float32 // filter (3, 3, cin, out) and bias (out)
	gw, gb  []float32
	msw     []float32
	msb     []float32
	pool    []float32 // pooled output (N, ph, pw, out)
	arg     []int32   // index in the example's conv output of each pooled value
	colSize int       // oh*ow*9*cin
}

// HandCNNConfig is the geometry of a HandCNN; CatsDogsConfig is the seed's.
// Smaller ones are for tests.
type HandCNNConfig struct {
	Height, Width, Channels int     // input image, NHWC
	Filters                 [4]int  // output channels of the four convolutions
	Hidden                  int     // units of the hidden dense layer
	Dropout                 float32 // dropout rate before the hidden layer, in [0, 1)
	Seed                    uint64  // initialization and dropout seed
}

// CatsDogsConfig is examples/catsdogs: 150x150x3, 32/64/128/128 filters,
// dense 512, dropout 0.5.
var CatsDogsConfig = HandCNNConfig{Height: 150, Width: 150, Channels: 3, Filters: [4]int{32, 64, 128, 128}, Hidden: 512, Dropout: 0.5, Seed: 1}

// HandCNNMaxBatch is the largest batch a HandCNN steps on.
const HandCNNMaxBatch = 32

// RMSprop as the seed (Keras keras.optimizers.RMSprop defaults and lr 1e-4),
// with mdlc's rule (passes/optimizer.go): ms' = rho ms + (1-rho) g^2,
// p' = p - lr g / sqrt(ms' + eps).
const (
	rmsLR  = 1e-4
	rmsRho = 0.9
	rmsEps = 1e-7
)

// Binary cross-entropy clamps probabilities to [bceLo, bceHi], the float32
// values of Keras's epsilon 1e-7 and 1-1e-7, as mdlc does (ir/lower).
var (
	bceLo = float32(1e-7)
	bceHi = float32(1 - 1e-7)
)

// NewHandCNN returns a model of geometry cfg, glorot-uniform weights (from
// impl.NewRNG(cfg.Seed), stage by stage) and zero biases. It panics if four
// conv and pool stages do not fit in the image.
func NewHandCNN(cfg HandCNNConfig, gemm GemmFunc) *HandCNN {
	f := func(n int) []float32 { return make([]float32, n) }
	h := &HandCNN{cfg: cfg, gemm: gemm, rng: rand.New(rand.NewPCG(cfg.Seed, 0x68616e64))}
	init := impl.NewRNG(cfg.Seed)
	height, width, cin := cfg.Height, cfg.Width, cfg.Channels
	maxCol, maxAct := 0, 0
	for i := range h.conv {
		c := &h.conv[i]
		c.ih, c.iw, c.cin, c.out = height, width, cin, cfg.Filters[i]
		c.oh, c.ow = height-2, width-2
		c.ph, c.pw = c.oh/2, c.ow/2
		if c.ph < 1 || c.pw < 1 {
			panic("bench: HandCNN image too small for four 3x3 conv + 2x2 pool stages")
		}
		k := 9 * cin
		c.w, c.b, c.gw, c.gb, c.msw, c.msb = f(k*c.out), f(c.out), f(k*c.out), f(c.out), f(k*c.out), f(c.out)
		glorot(c.w, k, 9*c.out, init)
		c.pool = f(HandCNNMaxBatch * c.ph * c.pw * c.out)
		c.arg = make([]int32, HandCNNMaxBatch*c.ph*c.pw*c.out)
		c.colSize = c.oh * c.ow * k
		maxCol = max(maxCol, c.colSize)
		maxAct = max(maxAct, c.oh*c.ow*c.out)
		height, width, cin = c.ph, c.pw, c.out
	}
	h.flat = height * width * cin
	nh := cfg.Hidden
	h.w1, h.b1, h.gw1, h.gb1, h.msw1, h.msb1 = f(h.flat*nh), f(nh), f(h.flat*nh), f(nh), f(h.flat*nh), f(nh)
	h.w2, h.b2, h.gw2, h.gb2, h.msw2, h.msb2 = f(nh), f(1), f(nh), f(1), f(nh), f(1)
	glorot(h.w1, h.flat, nh, init)
	glorot(h.w2, nh, 1, init)
	h.mask, h.drop, h.ddrop = f(HandCNNMaxBatch*h.flat), f(HandCNNMaxBatch*h.flat), f(HandCNNMaxBatch*h.flat)
	h.hid, h.dhid, h.z = f(HandCNNMaxBatch*nh), f(HandCNNMaxBatch*nh), f(HandCNNMaxBatch)
	h.col, h.act = f(maxCol), f(maxAct)
	for i := range h.dpool {
		h.dpool[i] = f(maxAct)
	}
	return h
}

// Params returns views of the parameters with the generated model's names,
// order and shapes.
func (h *HandCNN) Params() []mdlc.Tensor { return h.tensors(false) }

// Grads returns views of the gradients of the last Step, in Params order.
func (h *HandCNN) Grads() []mdlc.Tensor { return h.tensors(true) }

func (h *HandCNN) tensors(grad bool) []mdlc.Tensor {
	var ts []mdlc.Tensor
	pick := func(p, g []float32) []float32 {
		if grad {
			return g
		}
		return p
	}
	for i := range h.conv {
		c := &h.conv[i]
		name := "c" + string(rune('1'+i))
		ts = append(ts,
			mdlc.Tensor{Name: name + ".w", Shape: []int{3, 3, c.cin, c.out}, Data: pick(c.w, c.gw)},
			mdlc.Tensor{Name: name + ".b", Shape: []int{c.out}, Data: pick(c.b, c.gb)})
	}
	nh := h.cfg.Hidden
	return append(ts,
		mdlc.Tensor{Name: "hidden.w", Shape: []int{h.flat, nh}, Data: pick(h.w1, h.gw1)},
		mdlc.Tensor{Name: "hidden.b", Shape: []int{nh}, Data: pick(h.b1, h.gb1)},
		mdlc.Tensor{Name: "prob.w", Shape: []int{nh, 1}, Data: pick(h.w2, h.gw2)},
		mdlc.Tensor{Name: "prob.b", Shape: []int{1}, Data: pick(h.b2, h.gb2)})
}

// Step runs one RMSprop training step on the first n (<= HandCNNMaxBatch)
// examples of x (n, H, W, C) and labels y (n) in {0, 1}, and returns the
// mean binary cross-entropy before the update. It does not validate its
// inputs.
func (h *HandCNN) Step(x, y []float32, n int) float32 {
	nh, nf := h.cfg.Hidden, h.flat
	last := &h.conv[3]

	// ------------------------------------------------------------------------
	// Forward: the four stages, one example at a time.
	for e := 0; e < n; e++ {
		in := x[e*h.conv[0].ih*h.conv[0].iw*h.conv[0].cin:]
		for i := range h.conv {
			c := &h.conv[i]
			if i > 0 {
				p := &h.conv[i-1]
				in = p.pool[e*p.ph*p.pw*p.out:]
			}
			c.forward(h.gemm, in, h.col, h.act, e)
		}
	}

	// Flatten (the last pool is (N, ph, pw, C) = (N, flat) already) and
	// inverted dropout.
	flat := last.pool[:n*nf]
	drop, mask := h.drop[:n*nf], h.mask[:n*nf]
	if rate := h.cfg.Dropout; rate > 0 {
		keep := 1 / (1 - rate)
		for i := range mask {
			if h.rng.Float32() < rate {
				mask[i] = 0
			} else {
				mask[i] = keep
			}
			drop[i] = flat[i] * mask[i]
		}
	} else {
		copy(drop, flat)
	}

	// hid = relu(drop w1 + b1) (N, hidden)
	hid := h.hid[:n*nh]
	h.gemm(false, false, n, nh, nf, 1, drop, nf, h.w1, nh, 0, hid, nh)
	for i := 0; i < n; i++ {
		row := hid[i*nh : (i+1)*nh]
		for j, b := range h.b1 {
			row[j] = max(row[j]+b, 0)
		}
	}
	// z = hid w2 + b2 (N, 1); p = sigmoid(z); loss = mean BCE(clamp(p), y).
	// z becomes d loss / d z: d/dp of the clamped BCE (zero where the clamp
	// is active) times p (1 - p).
	z := h.z[:n]
	h.gemm(false, false, n, 1, nh, 1, hid, nh, h.w2, 1, 0, z, 1)
	var loss float64
	invN := 1 / float32(n)
	for i := range z {
		p := 1 / (1 + float32(math.Exp(-float64(z[i]+h.b2[0]))))
		pc := min(max(p, bceLo), bceHi)
		t := y[i]
		loss -= float64(t)*math.Log(float64(pc)) + float64(1-t)*math.Log(float64(1-pc))
		var dp float32
		if p > bceLo && p < bceHi {
			dp = (-t/pc + (1-t)/(1-pc)) * invN
		}
		z[i] = dp * p * (1 - p)
	}

	// ------------------------------------------------------------------------
	// Backward through the dense layers.
	// gb2 = sum dz; gw2 = hid^T dz; dhid = dz w2^T masked by relu.
	h.gb2[0] = 0
	for _, v := range z {
		h.gb2[0] += v
	}
	h.gemm(true, false, nh, 1, n, 1, hid, nh, z, 1, 0, h.gw2, 1)
	dhid := h.dhid[:n*nh]
	h.gemm(false, true, n, nh, 1, 1, z, 1, h.w2, 1, 0, dhid, nh)
	clear(h.gb1)
	for i := 0; i < n; i++ {
		drow, hrow := dhid[i*nh:(i+1)*nh], hid[i*nh:(i+1)*nh]
		for j, a := range hrow {
			if a <= 0 {
				drow[j] = 0
			}
			h.gb1[j] += drow[j]
		}
	}
	// gw1 = drop^T dhid; ddrop = dhid w1^T, times the dropout mask.
	h.gemm(true, false, nf, nh, n, 1, drop, nf, dhid, nh, 0, h.gw1, nh)
	ddrop := h.ddrop[:n*nf]
	h.gemm(false, true, n, nf, nh, 1, dhid, nh, h.w1, nh, 0, ddrop, nf)
	if h.cfg.Dropout > 0 {
		for i, m := range mask {
			ddrop[i] *= m
		}
	}

	// Backward through the stages, one example at a time: each stage takes
	// the gradient of its pooled output and, but for the first, returns
	// that of its input (the previous stage's pooled output).
	for i := range h.conv {
		clear(h.conv[i].gw)
		clear(h.conv[i].gb)
	}
	for e := 0; e < n; e++ {
		dout := ddrop[e*nf : (e+1)*nf]
		for i := 3; i >= 0; i-- {
			c := &h.conv[i]
			var in, din []float32
			if i > 0 {
				p := &h.conv[i-1]
				in = p.pool[e*p.ph*p.pw*p.out:]
				din = h.dpool[i%2][:p.ph*p.pw*p.out]
			} else {
				in = x[e*c.ih*c.iw*c.cin:]
			}
			c.backward(h.gemm, in, dout, din, h.col, h.act, e)
			dout = din
		}
	}

	// ------------------------------------------------------------------------
	// RMSprop.
	for i := range h.conv {
		c := &h.conv[i]
		rmsprop(c.w, c.gw, c.msw)
		rmsprop(c.b, c.gb, c.msb)
	}
	rmsprop(h.w1, h.gw1, h.msw1)
	rmsprop(h.b1, h.gb1, h.msb1)
	rmsprop(h.w2, h.gw2, h.msw2)
	rmsprop(h.b2, h.gb2, h.msb2)

	return float32(loss / float64(n))
}

// im2col writes the 3x3 valid patches of one example in (h, w, cin) into
// col (oh*ow, 9*cin), a row per output pixel in (kh, kw, cin) order: the
// rows of the HWIO filter seen as a (9*cin, out) matrix.
func (c *handConv) im2col(in, col []float32) {
	k, row := 9*c.cin, 3*c.cin
	for oy := 0; oy < c.oh; oy++ {
		for ox := 0; ox < c.ow; ox++ {
			dst := col[(oy*c.ow+ox)*k:]
			for ky := 0; ky < 3; ky++ {
				// A kernel row is 3*cin contiguous input values.
				src := in[((oy+ky)*c.iw+ox)*c.cin:]
				copy(dst[ky*row:(ky+1)*row], src[:row])
			}
		}
	}
}

// col2im adds dcol (oh*ow, 9*cin) into din (h, w, cin), the transpose of
// im2col; din is cleared first.
func (c *handConv) col2im(dcol, din []float32) {
	clear(din)
	k, row := 9*c.cin, 3*c.cin
	for oy := 0; oy < c.oh; oy++ {
		for ox := 0; ox < c.ow; ox++ {
			src := dcol[(oy*c.ow+ox)*k:]
			for ky := 0; ky < 3; ky++ {
				dst := din[((oy+ky)*c.iw+ox)*c.cin:]
				s := src[ky*row : (ky+1)*row]
				for j, v := range s {
					dst[j] += v
				}
			}
		}
	}
}

// forward computes example e's pooled output from its input in:
// act = relu(im2col(in) w + b), pool = 2x2 max of act, arg = its indices.
func (c *handConv) forward(gemm GemmFunc, in, col, act []float32, e int) {
	m, k := c.oh*c.ow, 9*c.cin
	col, act = col[:m*k], act[:m*c.out]
	c.im2col(in, col)
	gemm(false, false, m, c.out, k, 1, col, k, c.w, c.out, 0, act, c.out)
	for r := 0; r < m; r++ {
		a := act[r*c.out : (r+1)*c.out]
		for j, b := range c.b {
			a[j] = max(a[j]+b, 0)
		}
	}
	np := c.ph * c.pw * c.out
	pool, arg := c.pool[e*np:(e+1)*np], c.arg[e*np:(e+1)*np]
	for py := 0; py < c.ph; py++ {
		for px := 0; px < c.pw; px++ {
			o := (py*c.pw + px) * c.out
			i00 := ((2*py)*c.ow + 2*px) * c.out
			i01, i10 := i00+c.out, i00+c.ow*c.out
			i11 := i10 + c.out
			for ch := 0; ch < c.out; ch++ {
				best, bi := act[i00+ch], i00+ch
				if v := act[i01+ch]; v > best {
					best, bi = v, i01+ch
				}
				if v := act[i10+ch]; v > best {
					best, bi = v, i10+ch
				}
				if v := act[i11+ch]; v > best {
					best, bi = v, i11+ch
				}
				pool[o+ch], arg[o+ch] = best, int32(bi)
			}
		}
	}
}

// backward takes the gradient dout of example e's pooled output, adds the
// example's filter and bias gradients to gw and gb and, when din is not
// nil, writes the gradient of its input in to din.
func (c *handConv) backward(gemm GemmFunc, in, dout, din, col, dact []float32, e int) {
	m, k := c.oh*c.ow, 9*c.cin
	col, dact = col[:m*k], dact[:m*c.out]
	// Max pool and ReLU: the gradient goes to each window's maximum, if that
	// was positive (relu'(0) = 0).
	clear(dact)
	np := c.ph * c.pw * c.out
	pool, arg := c.pool[e*np:(e+1)*np], c.arg[e*np:(e+1)*np]
	for i, p := range pool {
		if p > 0 {
			dact[arg[i]] = dout[i]
		}
	}
	for r := 0; r < m; r++ {
		for j, v := range dact[r*c.out : (r+1)*c.out] {
			c.gb[j] += v
		}
	}
	// gw += im2col(in)^T dact; dcol = dact w^T, folded into din.
	c.im2col(in, col)
	gemm(true, false, k, c.out, m, 1, col, k, dact, c.out, 1, c.gw, c.out)
	if din != nil {
		gemm(false, true, m, k, c.out, 1, dact, c.out, c.w, c.out, 0, col, k)
		c.col2im(col, din)
	}
}

// rmsprop updates p in place from its gradient g and mean square ms.
func rmsprop(p, g, ms []float32) {
	g, ms = g[:len(p)], ms[:len(p)]
	for i, gi := range g {
		m := rmsRho*ms[i] + (1-rmsRho)*gi*gi
		ms[i] = m
		p[i] -= rmsLR * gi / float32(math.Sqrt(float64(m+rmsEps)))
	}
}
