package lower

import (
	"fmt"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
)

// The convolution layer and the pooling functions over NHWC images, with
// Keras's defaults and padding rules (Conv2D, MaxPooling2D,
// AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D); their
// entries are in builtins.go's table.

// argPair reads a window extent, stride or dilation: a whole number >= 1
// for rows and columns alike, or a pair (rows, columns); def when the call
// leaves it out. The parameters are raw: a pair is no value of its own.
func (l *lowerer) argPair(c *callArgs, name string, def int) ([]int, bool) {
	e, given := c.raw[name]
	if _, isStr := e.(*dsl.String); !given || isStr && !c.at[name].IsValid() {
		return []int{def, def}, true
	}
	elems := []dsl.Expr{e}
	if t, ok := e.(*dsl.Tuple); ok {
		if len(t.Elems) != 2 {
			l.errorf(t.Pos, "%s: %s must be a whole number or a pair (rows, columns), got %d values", c.name, name, len(t.Elems))
			return nil, false
		}
		elems = t.Elems
	}
	var out []int
	for _, x := range elems {
		v := l.expr(c.sc, x)
		if v.k == kErr {
			return nil, false
		}
		if v.k != kNum || !v.isInt || v.num < 1 || v.num >= maxDim {
			l.errorf(x.Position(), "%s: %s must be whole numbers >= 1, got %s", c.name, name, v.kindName())
			return nil, false
		}
		out = append(out, int(v.num))
	}
	if len(out) == 1 {
		out = append(out, out[0])
	}
	return out, true
}

// samePads returns Keras's "same" padding of one axis of extent in for a
// window of extent k (dilated) and stride s: the output has ceil(in/s)
// elements and the smaller half of the padding goes first.
func samePads(in, k, s int) (int, int) {
	out := (in + s - 1) / s
	total := max((out-1)*s+k-in, 0)
	return total / 2, total - total/2
}

// pads2D turns padding "valid" or "same" into the IR's pads (top, bottom,
// left, right) for image x and a window kh x kw (dilated extents).
func (l *lowerer) pads2D(c *callArgs, x val, kh, kw int, stride []int) ([]int, bool) {
	mode, ok := l.argStr(c, "padding", "valid", "same")
	if !ok {
		return nil, false
	}
	if mode == "valid" {
		return []int{0, 0, 0, 0}, true
	}
	s := x.v.Type.Shape
	t, b := samePads(int(s[1]), kh, stride[0])
	lft, r := samePads(int(s[2]), kw, stride[1])
	return []int{t, b, lft, r}, true
}

// image checks that x is an NHWC f32 image with fixed H, W and C.
func (l *lowerer) image(c *callArgs) (val, bool) {
	x, ok := l.layerInput(c, "x")
	if !ok {
		return errVal, false
	}
	s := x.v.Type.Shape
	if s.Rank() != 4 || s[1].IsBatch() || s[2].IsBatch() || s[3].IsBatch() {
		l.hintf(c.posOf("x"), "images are NHWC (channels last), like Keras: f32[N, 28, 28, 1]",
			"%s needs an image [N, H, W, C] with fixed H, W and C, got %s", c.name, x.where())
		return errVal, false
	}
	return x, true
}

func layerConv2D(l *lowerer, c *callArgs) val {
	x, ok := l.image(c)
	filters, ok2 := l.argInt(c, "filters", 1)
	kernel, ok3 := l.argPair(c, "kernel", 0)
	stride, ok4 := l.argPair(c, "stride", 1)
	dil, ok5 := l.argPair(c, "dilation", 1)
	groups, ok6 := l.argInt(c, "groups", 1)
	bias, ok7 := l.argBool(c, "use_bias")
	if !ok || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !ok7 {
		return errVal
	}
	cin := int(x.v.Type.Shape[3])
	if cin%groups != 0 || filters%groups != 0 {
		d := dsl.Diagnostic{Pos: c.posOf("groups"), Msg: fmt.Sprintf("conv2d: groups %d must divide the %d input channels of %s and the %d filters", groups, cin, x.v.Type, filters)}
		addNotes(&d, x)
		l.diags = append(l.diags, d)
		return errVal
	}
	if max(stride[0], stride[1]) > 1 && max(dil[0], dil[1]) > 1 {
		l.errorf(c.posOf("dilation"), "conv2d: a dilation above 1 needs stride 1 (as in Keras), got stride %v and dilation %v", pairText(stride), pairText(dil))
		return errVal
	}
	pads, ok := l.pads2D(c, x, (kernel[0]-1)*dil[0]+1, (kernel[1]-1)*dil[1]+1, stride)
	if !ok {
		return errVal
	}
	shape := ir.Shape{ir.Dim(kernel[0]), ir.Dim(kernel[1]), ir.Dim(cin / groups), ir.Dim(filters)}
	init, iargs, ok := l.initSpec(c.sc, c.raw["init"], shape)
	if !ok {
		return errVal
	}
	w, ok := l.newParam(l.paramName("conv2d", "w"), shape, init, iargs, c.pos)
	if !ok {
		return errVal
	}
	attrs := ir.Attrs{"stride": stride, "dilation": dil, "pads": pads, "groups": groups}
	y := l.op(c.pos, "conv2d", attrs, x, tensorVal(w, w.Name, c.pos))
	if !bias || y.k != kTensor {
		return y
	}
	b, ok := l.newParam(l.paramName("conv2d", "b"), ir.Shape{ir.Dim(filters)}, "zeros", nil, c.pos)
	if !ok {
		return errVal
	}
	return l.op(c.pos, "add", nil, y, tensorVal(b, b.Name, c.pos))
}

func poolFn(op string) func(*lowerer, *callArgs) val {
	return func(l *lowerer, c *callArgs) val {
		x, ok := l.image(c)
		size, ok2 := l.argPair(c, "size", 0)
		if !ok || !ok2 {
			return errVal
		}
		stride := size
		if _, given := c.at["stride"]; given {
			if stride, ok = l.argPair(c, "stride", 0); !ok {
				return errVal
			}
		}
		pads, ok := l.pads2D(c, x, size[0], size[1], stride)
		if !ok {
			return errVal
		}
		return l.op(c.pos, op, ir.Attrs{"size": size, "stride": stride, "pads": pads}, x)
	}
}

func globalPoolFn(op string) func(*lowerer, *callArgs) val {
	return func(l *lowerer, c *callArgs) val {
		x, ok := l.image(c)
		if !ok {
			return errVal
		}
		return l.op(c.pos, op, ir.Attrs{"axes": []int{1, 2}, "keepdims": false}, x)
	}
}

// pairText writes a pair as the language does: 2, or (2, 1).
func pairText(p []int) string {
	if p[0] == p[1] {
		return fmt.Sprint(p[0])
	}
	return fmt.Sprintf("(%d, %d)", p[0], p[1])
}
