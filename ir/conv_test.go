package ir_test

// Tests of the convolution and pooling ops (ir/conv.go): shape cases,
// reference kernels against hand-computed values (joined to the tables of
// shapes_test.go and kernels_test.go, whose coverage tests see them) and
// the gradient-check grid (convGradCases, joined in gradCases).

import "github.com/mdlc/mdlc/ir"

// convA and poolA are the attributes of a convolution and a pool.
func convA(stride, dil []int, pads []int, groups int) ir.Attrs {
	return ir.Attrs{"stride": stride, "dilation": dil, "pads": pads, "groups": groups}
}

func poolA(size, stride, pads []int) ir.Attrs {
	return ir.Attrs{"size": size, "stride": stride, "pads": pads}
}

// withShape adds the shape attribute of a backward op.
func withShape(a ir.Attrs, s ir.Shape) ir.Attrs {
	a = a.Clone()
	a["shape"] = s
	return a
}

var (
	one, two       = []int{1, 1}, []int{2, 2}
	noPads, p1111  = []int{0, 0, 0, 0}, []int{1, 1, 1, 1}
	p0101          = []int{0, 1, 0, 1}
	x9             = []float64{1, 2, 3, 4, 5, 6, 7, 8, 9} // a 3x3 image, 1..9
	xMax           = []float64{1, 5, 2, 4, 3, 9, 0, 8, 6} // a 3x3 image with distinct values
	w1234          = []float64{1, 2, 3, 4}                // a 2x2 filter
	img3           = ir.Shape{1, 3, 3, 1}
	filt2          = ir.Shape{2, 2, 1, 1}
	out2           = ir.Shape{1, 2, 2, 1}
	ones4          = []float64{1, 1, 1, 1}
	convValid      = convA(one, one, noPads, 1)
	poolSame2      = poolA(two, two, p0101)
	poolValid2by1  = poolA(two, one, noPads)
	conv2ShapeArgs = []*ir.Value{tf32(ir.N, 5, 5, 3), tf32(3, 3, 3, 8)}
)

func init() {
	shapeCases = append(shapeCases, []scase{
		{op: "conv2d", attrs: convValid, args: conv2ShapeArgs, want: "f32[N, 3, 3, 8]"},
		{op: "conv2d", attrs: convA(two, one, p1111, 1), args: conv2ShapeArgs, want: "f32[N, 3, 3, 8]"},
		{op: "conv2d", attrs: convA(one, one, noPads, 3), args: vals(tf32(ir.N, 5, 5, 3), tf32(1, 1, 1, 6)), want: "f32[N, 5, 5, 6]"},
		{op: "conv2d", attrs: convValid, args: vals(tf32(ir.N, 5, 5, 3), tf32(3, 3, 2, 8)), errs: []string{"f32[N, 5, 5, 3]", "f32[3, 3, 2, 8]", "input channels"}},
		{op: "conv2d", attrs: convA(one, []int{3, 3}, noPads, 1), args: conv2ShapeArgs, errs: []string{"window 3x3 (dilated 7x7)", "padded input 5x5", "f32[N, 5, 5, 3]"}},
		{op: "conv2d", attrs: convA(one, one, noPads, 2), args: conv2ShapeArgs, errs: []string{"groups 2", "f32[N, 5, 5, 3]"}},
		{op: "conv2d", attrs: convValid, args: vals(tf32(ir.N, 5, 5), tf32(3, 3, 3, 8)), errs: []string{"NHWC", "f32[N, 5, 5]"}},
		{op: "conv2d", attrs: convA([]int{1}, one, noPads, 1), args: conv2ShapeArgs, errs: []string{"stride", "[1]"}},
		{op: "conv2d", attrs: convA(one, one, []int{0, -1, 0, 0}, 1), args: conv2ShapeArgs, errs: []string{"pads", "[0 -1 0 0]"}},
		{op: "conv2d_grad_input", attrs: withShape(convValid, ir.Shape{ir.N, 5, 5, 3}), args: vals(tf32(ir.N, 3, 3, 8), tf32(3, 3, 3, 8)), want: "f32[N, 5, 5, 3]"},
		{op: "conv2d_grad_input", attrs: withShape(convValid, ir.Shape{ir.N, 5, 5, 3}), args: vals(tf32(ir.N, 2, 3, 8), tf32(3, 3, 3, 8)), errs: []string{"gradient f32[N, 2, 3, 8]", "[N, 3, 3, 8]"}},
		{op: "conv2d_grad_filter", attrs: withShape(convValid, ir.Shape{3, 3, 3, 8}), args: vals(tf32(ir.N, 5, 5, 3), tf32(ir.N, 3, 3, 8)), want: "f32[3, 3, 3, 8]"},
		{op: "conv2d_grad_filter", attrs: withShape(convValid, ir.Shape{3, 3, ir.N, 8}), args: vals(tf32(ir.N, 5, 5, 3), tf32(ir.N, 3, 3, 8)), errs: []string{"filter shape [3, 3, N, 8]"}},
		{op: "max_pool2d", attrs: poolA(two, two, noPads), args: vals(tf32(ir.N, 5, 4, 2)), want: "f32[N, 2, 2, 2]"},
		{op: "max_pool2d", attrs: poolSame2, args: vals(tf32(ir.N, 5, 5, 2)), want: "f32[N, 3, 3, 2]"},
		{op: "max_pool2d", attrs: poolA(two, two, []int{2, 0, 0, 0}), args: vals(tf32(ir.N, 5, 5, 2)), errs: []string{"pads", "smaller than the window 2x2"}},
		{op: "max_pool2d", attrs: poolA([]int{6, 1}, one, noPads), args: vals(tf32(ir.N, 5, 5, 2)), errs: []string{"window 6x1", "padded input 5x5", "f32[N, 5, 5, 2]"}},
		{op: "max_pool2d", attrs: poolA(two, two, noPads), args: vals(ti32(ir.N, 4, 4, 1)), errs: []string{"f32", "i32[N, 4, 4, 1]"}},
		{op: "max_pool2d_grad", attrs: poolSame2, args: vals(tf32(ir.N, 5, 5, 2), tf32(ir.N, 3, 3, 2)), want: "f32[N, 5, 5, 2]"},
		{op: "max_pool2d_grad", attrs: poolSame2, args: vals(tf32(ir.N, 5, 5, 2), tf32(ir.N, 2, 2, 2)), errs: []string{"gradient f32[N, 2, 2, 2]", "[N, 3, 3, 2]"}},
		{op: "avg_pool2d", attrs: poolA([]int{3, 2}, []int{1, 2}, noPads), args: vals(tf32(2, 7, 7, 4)), want: "f32[2, 5, 3, 4]"},
		{op: "avg_pool2d", attrs: poolA(two, []int{0, 1}, noPads), args: vals(tf32(2, 7, 7, 4)), errs: []string{"stride", "[0 1]"}},
		{op: "avg_pool2d_grad", attrs: withShape(poolSame2, ir.Shape{ir.N, 5, 5, 2}), args: vals(tf32(ir.N, 3, 3, 2)), want: "f32[N, 5, 5, 2]"},
		{op: "avg_pool2d_grad", attrs: withShape(poolSame2, ir.Shape{ir.N, 5, 5, 2}), args: vals(tf32(ir.N, 3, 3, 3)), errs: []string{"gradient f32[N, 3, 3, 3]"}},
	}...)

	kernelCases = append(kernelCases, []kcase{
		// y[oy, ox] = sum w[ky, kx] x[oy+ky, ox+kx]: 1*1 + 2*2 + 3*4 + 4*5 = 37, ...
		{name: "conv2d/valid", build: func(k *kg) *ir.Value {
			return k.op("conv2d", convValid, k.f32("x", img3, x9...), k.f32("w", filt2, w1234...))
		}, shape: []int{1, 2, 2, 1}, want: []float64{37, 47, 67, 77}},
		// Keras "same" with stride 2 on 3: pads 1,1; the ones filter sums each window's valid part.
		{name: "conv2d/stride 2 pads", build: func(k *kg) *ir.Value {
			return k.op("conv2d", convA(two, one, p1111, 1), k.f32("x", img3, x9...), k.f32("w", ir.Shape{3, 3, 1, 1}, 1, 1, 1, 1, 1, 1, 1, 1, 1))
		}, shape: []int{1, 2, 2, 1}, want: []float64{12, 16, 24, 28}},
		// Dilation 2 reads the corners: 1*1 + 2*3 + 3*7 + 4*9.
		{name: "conv2d/dilation 2", build: func(k *kg) *ir.Value {
			return k.op("conv2d", convA(one, two, noPads, 1), k.f32("x", img3, x9...), k.f32("w", filt2, w1234...))
		}, shape: []int{1, 1, 1, 1}, want: []float64{64}},
		// Groups 2: output 0 reads channels 0,1 (1*1 + 2*100), output 1 channels 2,3 (3*10 + 4*1000).
		{name: "conv2d/groups 2", build: func(k *kg) *ir.Value {
			return k.op("conv2d", convA(one, one, noPads, 2), k.f32("x", ir.Shape{1, 1, 1, 4}, 1, 2, 3, 4), k.f32("w", ir.Shape{1, 1, 2, 2}, 1, 10, 100, 1000))
		}, shape: []int{1, 1, 1, 2}, want: []float64{201, 4030}},
		// Batch of 2, two filters: the second example is the first times -1.
		{name: "conv2d/batch N n=2", n: 2, build: func(k *kg) *ir.Value {
			x := append(append([]float64(nil), x9...), -1, -2, -3, -4, -5, -6, -7, -8, -9)
			return k.op("conv2d", convValid, k.f32("x", ir.Shape{ir.N, 3, 3, 1}, x...), k.f32("w", ir.Shape{2, 2, 1, 2}, 1, 0, 2, 0, 3, 0, 4, 1))
		}, shape: []int{2, 2, 2, 2}, want: []float64{37, 5, 47, 6, 67, 8, 77, 9, -37, -5, -47, -6, -67, -8, -77, -9}},
		// dx[i, j] sums the filter taps that read (i, j): the corners 1..4, the center 1+2+3+4.
		{name: "conv2d_grad_input", build: func(k *kg) *ir.Value {
			return k.op("conv2d_grad_input", withShape(convValid, img3), k.f32("g", out2, ones4...), k.f32("w", filt2, w1234...))
		}, shape: []int{1, 3, 3, 1}, want: []float64{1, 3, 2, 4, 10, 6, 3, 7, 4}},
		// Stride 2 and pads with a ones filter: each input element sums the gradients of the windows that read it.
		{name: "conv2d_grad_input/stride 2 pads", build: func(k *kg) *ir.Value {
			return k.op("conv2d_grad_input", withShape(convA(two, one, p1111, 1), img3), k.f32("g", out2, 1, 10, 100, 1000),
				k.f32("w", ir.Shape{3, 3, 1, 1}, 1, 1, 1, 1, 1, 1, 1, 1, 1))
		}, shape: []int{1, 3, 3, 1}, want: []float64{1, 11, 10, 101, 1111, 1010, 100, 1100, 1000}},
		// dw[ky, kx] sums x over the positions tap (ky, kx) reads.
		{name: "conv2d_grad_filter", build: func(k *kg) *ir.Value {
			return k.op("conv2d_grad_filter", withShape(convValid, filt2), k.f32("x", img3, x9...), k.f32("g", out2, ones4...))
		}, shape: []int{2, 2, 1, 1}, want: []float64{12, 16, 24, 28}},
		{name: "conv2d_grad_filter/groups 2", build: func(k *kg) *ir.Value {
			return k.op("conv2d_grad_filter", withShape(convA(one, one, noPads, 2), ir.Shape{1, 1, 2, 2}), k.f32("x", ir.Shape{1, 1, 1, 4}, 1, 2, 3, 4), k.f32("g", ir.Shape{1, 1, 1, 2}, 10, 100))
		}, shape: []int{1, 1, 2, 2}, want: []float64{10, 300, 20, 400}},
		{name: "max_pool2d/overlapping", build: func(k *kg) *ir.Value {
			return k.op("max_pool2d", poolValid2by1, k.f32("x", img3, xMax...))
		}, shape: []int{1, 2, 2, 1}, want: []float64{5, 9, 8, 9}},
		{name: "max_pool2d/same", build: func(k *kg) *ir.Value {
			return k.op("max_pool2d", poolSame2, k.f32("x", img3, xMax...))
		}, shape: []int{1, 2, 2, 1}, want: []float64{5, 9, 8, 6}},
		// Padding never wins: every value is negative.
		{name: "max_pool2d/padding never wins", build: func(k *kg) *ir.Value {
			return k.op("max_pool2d", poolA(two, two, []int{0, 1, 0, 0}), k.f32("x", ir.Shape{1, 1, 2, 1}, -3, -5))
		}, shape: []int{1, 1, 1, 1}, want: []float64{-3}},
		// 9 is the maximum of two windows: it gets both gradients.
		{name: "max_pool2d_grad", build: func(k *kg) *ir.Value {
			return k.op("max_pool2d_grad", poolValid2by1, k.f32("x", img3, xMax...), k.f32("g", out2, 1, 2, 3, 4))
		}, shape: []int{1, 3, 3, 1}, want: []float64{0, 1, 0, 0, 0, 6, 0, 3, 0}},
		// Ties: the first maximum takes the gradient (as PyTorch and TensorFlow on CPU).
		{name: "max_pool2d_grad/tie goes to the first", build: func(k *kg) *ir.Value {
			return k.op("max_pool2d_grad", poolA([]int{1, 2}, []int{1, 2}, noPads), k.f32("x", ir.Shape{1, 1, 2, 1}, 7, 7), k.f32("g", ir.Shape{1, 1, 1, 1}, 5))
		}, shape: []int{1, 1, 2, 1}, want: []float64{5, 0}},
		// "same": the average counts only the valid elements: (1+2+4+5)/4, (3+6)/2, (7+8)/2, 9/1.
		{name: "avg_pool2d/same excludes padding", build: func(k *kg) *ir.Value {
			return k.op("avg_pool2d", poolSame2, k.f32("x", img3, x9...))
		}, shape: []int{1, 2, 2, 1}, want: []float64{3, 4.5, 7.5, 9}},
		{name: "avg_pool2d/overlapping 2 channels", build: func(k *kg) *ir.Value {
			return k.op("avg_pool2d", poolA([]int{2, 1}, one, noPads), k.f32("x", ir.Shape{1, 3, 1, 2}, 1, 10, 3, 30, 6, 60))
		}, shape: []int{1, 2, 1, 2}, want: []float64{2, 20, 4.5, 45}},
		{name: "avg_pool2d_grad/same", build: func(k *kg) *ir.Value {
			return k.op("avg_pool2d_grad", withShape(poolSame2, img3), k.f32("g", out2, 8, 2, 4, 3))
		}, shape: []int{1, 3, 3, 1}, want: []float64{2, 2, 1, 2, 2, 1, 2, 2, 3}},
	}...)
}

// convGradCases is the gradient-check grid of the convolution and pooling
// ops: strides, Keras "same" pads (symmetric and not), dilation, groups
// (depthwise too), odd and non-square sizes, a batch axis.
func convGradCases() []gradCase {
	var cs []gradCase
	conv := func(name string, n int, x, w ir.Shape, stride, dil, pads []int, groups int) {
		cs = append(cs, gradCase{op: "conv2d", name: name, n: n, args: []argSpec{{shape: x}, {shape: w}},
			build: opOf("conv2d", convA(stride, dil, pads, groups))})
	}
	conv("valid 5x4 k3x2", 1, ir.Shape{2, 5, 4, 3}, ir.Shape{3, 2, 3, 4}, one, one, noPads, 1)
	conv("stride 2 same [N,5,5,2]", 2, ir.Shape{ir.N, 5, 5, 2}, ir.Shape{3, 3, 2, 3}, two, one, p1111, 1)
	conv("stride 2 pads 0,1 6x5", 1, ir.Shape{1, 6, 5, 2}, ir.Shape{2, 2, 2, 2}, two, one, p0101, 1)
	conv("stride 3 skips rows", 1, ir.Shape{1, 7, 7, 1}, ir.Shape{2, 2, 1, 2}, []int{3, 3}, one, noPads, 1)
	conv("dilation 2 same", 1, ir.Shape{1, 5, 5, 2}, ir.Shape{3, 3, 2, 2}, one, two, []int{2, 2, 2, 2}, 1)
	conv("dilation 1x2 asymmetric", 1, ir.Shape{1, 4, 6, 1}, ir.Shape{2, 3, 1, 2}, one, []int{1, 2}, []int{0, 1, 2, 2}, 1)
	conv("groups 2 stride 2x1", 1, ir.Shape{1, 4, 5, 4}, ir.Shape{3, 3, 2, 6}, []int{2, 1}, one, []int{1, 1, 0, 1}, 2)
	conv("depthwise same", 1, ir.Shape{1, 5, 5, 3}, ir.Shape{3, 3, 1, 3}, one, one, p1111, 3)
	conv("depthwise multiplier 2 [N,...]", 2, ir.Shape{ir.N, 4, 4, 2}, ir.Shape{2, 2, 1, 4}, one, one, p0101, 2)
	for _, op := range []string{"max_pool2d", "avg_pool2d"} {
		pool := func(name string, n int, x ir.Shape, size, stride, pads []int) {
			cs = append(cs, gradCase{op: op, name: name, n: n, args: []argSpec{{shape: x}}, build: opOf(op, poolA(size, stride, pads))})
		}
		pool("2x2 valid 4x5", 1, ir.Shape{1, 4, 5, 3}, two, two, noPads)
		pool("3x3 stride 1 same [N,5,5,2]", 2, ir.Shape{ir.N, 5, 5, 2}, []int{3, 3}, one, p1111)
		pool("2x2 stride 2 same 5x5", 1, ir.Shape{1, 5, 5, 2}, two, two, p0101)
		pool("3x2 stride 2x1 overlapping", 1, ir.Shape{1, 7, 4, 1}, []int{3, 2}, []int{2, 1}, noPads)
	}
	return cs
}
