package ir

import (
	"fmt"
	"math"
)

// Convolution and pooling over NHWC images (Keras's channels_last): shape
// rules, float64 reference kernels and gradient rules of conv2d, max_pool2d,
// avg_pool2d and their backward ops. Padding is explicit in the IR (the
// "pads" attribute: top, bottom, left, right); lowering turns Keras's
// "valid" and "same" into pads. Every op of this file reads its geometry
// with Conv2DGeometry, as the backends do.
//
//   conv2d(x, w)                       x [N, H, W, C], w [KH, KW, C/G, F] -> [N, OH, OW, F]
//   conv2d_grad_input(g, w; shape)     g [N, OH, OW, F] -> dx of shape
//   conv2d_grad_filter(x, g; shape)    -> dw of shape [KH, KW, C/G, F]
//   max_pool2d(x), avg_pool2d(x)       x [N, H, W, C] -> [N, OH, OW, C]
//   max_pool2d_grad(x, g)              -> dx [N, H, W, C] (recomputes each window's argmax from x)
//   avg_pool2d_grad(g; shape)          -> dx of shape
//
// Output extents: OH = (H + top + bottom - ((KH-1)*DH + 1)) / SH + 1, and
// likewise for OW. Group gi of a grouped convolution reads input channels
// gi*C/G .. (gi+1)*C/G-1 and writes output channels gi*F/G .. (gi+1)*F/G-1.
// Max pooling ignores padded elements (they never win) and takes the first
// maximum of a window in row-major order (NaN wins, the first NaN); average
// pooling divides by the number of non-padded elements of each window
// (Keras AveragePooling2D, count_include_pad=False). A pool's pads must be
// smaller than its window, so every window holds an input element.

// Attribute schemas of the convolution and pooling ops.
var (
	convAttrs = []AttrSpec{{Name: "stride", Kind: AttrInts}, {Name: "dilation", Kind: AttrInts},
		{Name: "pads", Kind: AttrInts}, {Name: "groups", Kind: AttrInt}}
	convGradAttrs = append([]AttrSpec{{Name: "shape", Kind: AttrShape}}, convAttrs...)
	poolAttrs     = []AttrSpec{{Name: "size", Kind: AttrInts}, {Name: "stride", Kind: AttrInts}, {Name: "pads", Kind: AttrInts}}
	poolGradAttrs = append([]AttrSpec{{Name: "shape", Kind: AttrShape}}, poolAttrs...)
)

// Geom2D is the geometry of a convolution or pooling op: an NHWC input
// [N, H, W, C], a KH x KW window with strides, dilations and pads, and an
// output [N, OH, OW, F] (F = C for pooling).
type Geom2D struct {
	N              Dim
	H, W, C        int
	KH, KW         int
	SH, SW         int
	DH, DW         int
	PT, PB, PL, PR int
	OH, OW, F      int
	Groups         int // 1 for pooling
}

// CG and FG are the input and output channels of one group.
func (g Geom2D) CG() int { return g.C / g.Groups }
func (g Geom2D) FG() int { return g.F / g.Groups }

// In, Out and Filter are the shapes of the input, output and conv filter.
func (g Geom2D) In() Shape     { return Shape{g.N, Dim(g.H), Dim(g.W), Dim(g.C)} }
func (g Geom2D) Out() Shape    { return Shape{g.N, Dim(g.OH), Dim(g.OW), Dim(g.F)} }
func (g Geom2D) Filter() Shape { return Shape{Dim(g.KH), Dim(g.KW), Dim(g.CG()), Dim(g.F)} }

// flopsConv2D is the multiply-adds of the convolution v belongs to, twice:
// 2*N*OH*OW*F*KH*KW*C/G for conv2d and for each of its backward ops (the
// input gradient is the transposed convolution, the filter gradient the
// same products summed over the batch).
func flopsConv2D(v *Value, n int) float64 {
	g, err := Conv2DGeometry(v)
	if err != nil {
		return 0
	}
	return 2 * float64(g.N.Resolve(n)) * float64(g.OH*g.OW*g.F) * float64(g.KH*g.KW*g.CG())
}

// pair reads a two-element int attribute that must be at least lo.
func pair(v *Value, name string, lo int) (int, int, error) {
	p := v.Attrs.Ints(name)
	if len(p) != 2 || p[0] < lo || p[1] < lo || p[0] > 1<<20 || p[1] > 1<<20 {
		return 0, 0, fmt.Errorf("%s: %s must be two whole numbers >= %d, got %v", v.Op.Name, name, lo, p)
	}
	return p[0], p[1], nil
}

// Conv2DGeometry returns the geometry of v, a conv2d or pooling op or one
// of their backward ops, after checking its args and attributes.
func Conv2DGeometry(v *Value) (Geom2D, error) {
	op := v.Op.Name
	var g Geom2D
	var err error
	pool := v.Op.Family == FamilyPool
	// The input's shape: arg 0, or the shape attribute of a backward op
	// computing the input's gradient.
	var in Shape
	var inDesc string
	switch op {
	case "conv2d_grad_input", "avg_pool2d_grad":
		in, inDesc = v.Attrs.Shape("shape"), "input shape "+v.Attrs.Shape("shape").String()
	default:
		t := v.Args[0].Type
		if t.DType != F32 {
			return g, fmt.Errorf("%s: needs an f32 input, got %s", op, t)
		}
		in, inDesc = t.Shape, t.String()
	}
	if in.Rank() != 4 || in[1].IsBatch() || in[2].IsBatch() || in[3].IsBatch() {
		return g, fmt.Errorf("%s: needs an NHWC input [N, H, W, C] with fixed H, W and C, got %s", op, inDesc)
	}
	g.N, g.H, g.W, g.C = in[0], int(in[1]), int(in[2]), int(in[3])
	if g.SH, g.SW, err = pair(v, "stride", 1); err != nil {
		return g, err
	}
	p := v.Attrs.Ints("pads")
	if len(p) != 4 || p[0] < 0 || p[1] < 0 || p[2] < 0 || p[3] < 0 || max(p[0], p[1], p[2], p[3]) > 1<<20 {
		return g, fmt.Errorf("%s: pads must be four whole numbers >= 0 (top, bottom, left, right), got %v", op, p)
	}
	g.PT, g.PB, g.PL, g.PR = p[0], p[1], p[2], p[3]
	if pool {
		if g.KH, g.KW, err = pair(v, "size", 1); err != nil {
			return g, err
		}
		g.DH, g.DW, g.F, g.Groups = 1, 1, g.C, 1
		if max(g.PT, g.PB) >= g.KH || max(g.PL, g.PR) >= g.KW {
			return g, fmt.Errorf("%s: pads %v must be smaller than the window %dx%d", op, p, g.KH, g.KW)
		}
	} else {
		if g.DH, g.DW, err = pair(v, "dilation", 1); err != nil {
			return g, err
		}
		g.Groups = v.Attrs.Int("groups")
		var ws Shape
		var wDesc string
		if op == "conv2d_grad_filter" {
			ws, wDesc = v.Attrs.Shape("shape"), "filter shape "+v.Attrs.Shape("shape").String()
		} else {
			t := v.Args[1].Type
			if t.DType != F32 {
				return g, fmt.Errorf("%s: needs an f32 filter, got %s", op, t)
			}
			ws, wDesc = t.Shape, t.String()
		}
		if ws.Rank() != 4 || ws[0].IsBatch() || ws[1].IsBatch() || ws[2].IsBatch() || ws[3].IsBatch() {
			return g, fmt.Errorf("%s: needs a filter [KH, KW, C/groups, F] with fixed extents, got %s", op, wDesc)
		}
		g.KH, g.KW, g.F = int(ws[0]), int(ws[1]), int(ws[3])
		if g.Groups < 1 || g.C%g.Groups != 0 || g.F%g.Groups != 0 {
			return g, fmt.Errorf("%s: groups %d must divide the input channels of %s and the filters of %s", op, g.Groups, inDesc, wDesc)
		}
		if int(ws[2]) != g.C/g.Groups {
			return g, fmt.Errorf("%s: filter %s needs %d input channels per group for input %s with groups %d, has %d",
				op, wDesc, g.C/g.Groups, inDesc, g.Groups, ws[2])
		}
	}
	eh, ew := (g.KH-1)*g.DH+1, (g.KW-1)*g.DW+1
	ph, pw := g.H+g.PT+g.PB, g.W+g.PL+g.PR
	if eh > ph || ew > pw {
		win := fmt.Sprintf("%dx%d", g.KH, g.KW)
		if g.DH > 1 || g.DW > 1 {
			win += fmt.Sprintf(" (dilated %dx%d)", eh, ew)
		}
		return g, fmt.Errorf("%s: window %s is larger than the padded input %dx%d of %s", op, win, ph, pw, inDesc)
	}
	g.OH, g.OW = (ph-eh)/g.SH+1, (pw-ew)/g.SW+1
	// The gradient arg of a backward op has the forward output's shape.
	gi := -1
	switch op {
	case "conv2d_grad_input", "avg_pool2d_grad":
		gi = 0
	case "conv2d_grad_filter", "max_pool2d_grad":
		gi = 1
	}
	if gi >= 0 {
		t := v.Args[gi].Type
		if t.DType != F32 || !t.Shape.Equal(g.Out()) {
			return g, fmt.Errorf("%s: gradient %s does not match the output f32%v of input %s", op, t, g.Out(), inDesc)
		}
	}
	if _, ok := g.In().Size(); !ok {
		return g, fmt.Errorf("%s: input %s is too large", op, inDesc)
	}
	return g, nil
}

// shapeConv2D is the shape rule of every op of this file.
func shapeConv2D(v *Value) (Type, error) {
	g, err := Conv2DGeometry(v)
	if err != nil {
		return Type{}, err
	}
	switch v.Op.Name {
	case "conv2d", "max_pool2d", "avg_pool2d":
		return Type{DType: F32, Shape: g.Out()}, nil
	case "conv2d_grad_filter":
		return Type{DType: F32, Shape: g.Filter()}, nil
	}
	return Type{DType: F32, Shape: g.In()}, nil
}

// Pointwise reports whether the convolution is a plain matrix product
// over the batch's pixels: a 1x1 filter, stride 1, no padding, one group.
func (g Geom2D) Pointwise() bool {
	return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PT+g.PB+g.PL+g.PR == 0 && g.Groups == 1
}

// Tiling of the CPU convolutions (runtime/impl/CONV.md): the examples of a
// batch are unfolded a tile at a time, enough examples that the tile's GEMM
// has about tileRows rows (a GEMM of a few hundred rows runs far below
// peak), but no more than tileBytes of patches and tileMax examples.
const (
	tileRows  = 4096
	tileBytes = 8 << 20
	tileMax   = 32
)

// Tile is the number of examples the CPU kernels of a convolution unfold
// and multiply at once.
func (g Geom2D) Tile() int {
	per := g.OH * g.OW // GEMM rows per example
	t := (tileRows + per - 1) / per
	t = min(t, tileMax, max(1, tileBytes/(4*per*g.KH*g.KW*g.CG())))
	return max(t, 1)
}

// im2colShape is the Scratch of the CPU conv kernels: one tile's unfolded
// patches of one group, [Tile*OH*OW, KH*KW*C/G] (one element for a
// pointwise convolution, which needs none).
func im2colShape(v *Value) Shape {
	g, err := Conv2DGeometry(v)
	if err != nil || g.Pointwise() {
		return Shape{1}
	}
	return Shape{Dim(g.Tile() * g.OH * g.OW), Dim(g.KH * g.KW * g.CG())}
}

// window calls f with the input row and column of every element of the
// window of output (oy, ox) that lies inside the input, in row-major order
// of the window (ky, kx).
func (g Geom2D) window(oy, ox int, f func(ky, kx, iy, ix int)) {
	for ky := 0; ky < g.KH; ky++ {
		iy := oy*g.SH - g.PT + ky*g.DH
		if iy < 0 || iy >= g.H {
			continue
		}
		for kx := 0; kx < g.KW; kx++ {
			ix := ox*g.SW - g.PL + kx*g.DW
			if ix < 0 || ix >= g.W {
				continue
			}
			f(ky, kx, iy, ix)
		}
	}
}

// each calls f for every output position (b, oy, ox).
func (g Geom2D) each(n int, f func(b, oy, ox int)) {
	for b := 0; b < n; b++ {
		for oy := 0; oy < g.OH; oy++ {
			for ox := 0; ox < g.OW; ox++ {
				f(b, oy, ox)
			}
		}
	}
}

// Reference kernels.

func evalConv2D(ctx *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	g, err := Conv2DGeometry(v)
	if err != nil {
		return nil, err
	}
	n := g.N.Resolve(ctx.N)
	cg, fg := g.CG(), g.FG()
	switch v.Op.Name {
	case "conv2d":
		x, w := a[0], a[1]
		out := NewTensor(g.Out().Resolve(ctx.N))
		g.each(n, func(b, oy, ox int) {
			y := out.Data[((b*g.OH+oy)*g.OW+ox)*g.F:]
			for f := 0; f < g.F; f++ {
				gi := f / fg
				var s float64
				g.window(oy, ox, func(ky, kx, iy, ix int) {
					xs := x.Data[((b*g.H+iy)*g.W+ix)*g.C+gi*cg:]
					ws := w.Data[((ky*g.KW+kx)*cg)*g.F+f:]
					for c := 0; c < cg; c++ {
						s += xs[c] * ws[c*g.F]
					}
				})
				y[f] = s
			}
		})
		return out, nil
	case "conv2d_grad_input":
		gr, w := a[0], a[1]
		out := NewTensor(g.In().Resolve(ctx.N))
		g.each(n, func(b, oy, ox int) {
			gy := gr.Data[((b*g.OH+oy)*g.OW+ox)*g.F:]
			g.window(oy, ox, func(ky, kx, iy, ix int) {
				dx := out.Data[((b*g.H+iy)*g.W+ix)*g.C:]
				for f := 0; f < g.F; f++ {
					gi := f / fg
					ws := w.Data[((ky*g.KW+kx)*cg)*g.F+f:]
					for c := 0; c < cg; c++ {
						dx[gi*cg+c] += gy[f] * ws[c*g.F]
					}
				}
			})
		})
		return out, nil
	default: // conv2d_grad_filter
		x, gr := a[0], a[1]
		out := NewTensor(g.Filter().Resolve(ctx.N))
		g.each(n, func(b, oy, ox int) {
			gy := gr.Data[((b*g.OH+oy)*g.OW+ox)*g.F:]
			g.window(oy, ox, func(ky, kx, iy, ix int) {
				xs := x.Data[((b*g.H+iy)*g.W+ix)*g.C:]
				dw := out.Data[((ky*g.KW+kx)*cg)*g.F:]
				for f := 0; f < g.F; f++ {
					gi := f / fg
					for c := 0; c < cg; c++ {
						dw[c*g.F+f] += xs[gi*cg+c] * gy[f]
					}
				}
			})
		})
		return out, nil
	}
}

// argmaxWindow returns the flat input offset (without the channel) of the
// first maximum of channel c in the window of output (b, oy, ox); NaN wins.
func (g Geom2D) argmaxWindow(x []float64, b, oy, ox, c int) int {
	best, at := math.Inf(-1), -1
	g.window(oy, ox, func(_, _, iy, ix int) {
		o := (b*g.H+iy)*g.W + ix
		xv := x[o*g.C+c]
		if at < 0 || xv > best || (xv != xv && best == best) {
			best, at = xv, o
		}
	})
	return at
}

func evalPool2D(ctx *EvalCtx, v *Value, a []*Tensor) (*Tensor, error) {
	g, err := Conv2DGeometry(v)
	if err != nil {
		return nil, err
	}
	n := g.N.Resolve(ctx.N)
	count := func(oy, ox int) float64 {
		k := 0
		g.window(oy, ox, func(_, _, _, _ int) { k++ })
		return float64(k)
	}
	switch v.Op.Name {
	case "max_pool2d":
		x := a[0]
		out := NewTensor(g.Out().Resolve(ctx.N))
		g.each(n, func(b, oy, ox int) {
			for c := 0; c < g.C; c++ {
				out.Data[((b*g.OH+oy)*g.OW+ox)*g.C+c] = x.Data[g.argmaxWindow(x.Data, b, oy, ox, c)*g.C+c]
			}
		})
		return out, nil
	case "max_pool2d_grad":
		x, gr := a[0], a[1]
		out := NewTensor(g.In().Resolve(ctx.N))
		g.each(n, func(b, oy, ox int) {
			for c := 0; c < g.C; c++ {
				out.Data[g.argmaxWindow(x.Data, b, oy, ox, c)*g.C+c] += gr.Data[((b*g.OH+oy)*g.OW+ox)*g.C+c]
			}
		})
		return out, nil
	case "avg_pool2d":
		x := a[0]
		out := NewTensor(g.Out().Resolve(ctx.N))
		g.each(n, func(b, oy, ox int) {
			y := out.Data[((b*g.OH+oy)*g.OW+ox)*g.C:]
			g.window(oy, ox, func(_, _, iy, ix int) {
				xs := x.Data[((b*g.H+iy)*g.W+ix)*g.C:]
				for c := 0; c < g.C; c++ {
					y[c] += xs[c]
				}
			})
			k := count(oy, ox)
			for c := 0; c < g.C; c++ {
				y[c] /= k
			}
		})
		return out, nil
	default: // avg_pool2d_grad
		gr := a[0]
		out := NewTensor(g.In().Resolve(ctx.N))
		g.each(n, func(b, oy, ox int) {
			gy := gr.Data[((b*g.OH+oy)*g.OW+ox)*g.C:]
			k := count(oy, ox)
			g.window(oy, ox, func(_, _, iy, ix int) {
				dx := out.Data[((b*g.H+iy)*g.W+ix)*g.C:]
				for c := 0; c < g.C; c++ {
					dx[c] += gy[c] / k
				}
			})
		})
		return out, nil
	}
}

// Gradient rules: the backward ops carry the forward op's attributes and
// the shape of the gradient they compute.

// convAttrsOf copies v's conv or pool attributes, adding shape when not nil.
func convAttrsOf(v *Value, shape Shape) Attrs {
	a := v.Attrs.Clone()
	if shape != nil {
		a["shape"] = shape.Clone()
	}
	return a
}

func gradConv2D(b *Builder, v, g *Value) []*Value {
	x, w := v.Args[0], v.Args[1]
	return []*Value{
		b.Op("conv2d_grad_input", convAttrsOf(v, x.Type.Shape), g, w),
		b.Op("conv2d_grad_filter", convAttrsOf(v, w.Type.Shape), x, g),
	}
}

func gradMaxPool2D(b *Builder, v, g *Value) []*Value {
	return []*Value{b.Op("max_pool2d_grad", convAttrsOf(v, nil), v.Args[0], g)}
}

func gradAvgPool2D(b *Builder, v, g *Value) []*Value {
	return []*Value{b.Op("avg_pool2d_grad", convAttrsOf(v, v.Args[0].Type.Shape), g)}
}
