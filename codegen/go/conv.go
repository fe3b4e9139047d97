package gogen

import (
	"fmt"
	"slices"

	"github.com/mdlc/mdlc/codegen/internal/dims"
	"github.com/mdlc/mdlc/ir"
)

// The convolution and pooling templates of the Go backend (NHWC; see
// ir/conv.go for the semantics, runtime/impl/CONV.md for the design). A
// convolution and both of its gradients take the batch a tile of T examples
// at a time (ir.Geom2D.Tile): they unfold the tile's patches of one group
// into the op's workspace (rt.Unfold, im2col: [T*OH*OW, KH*KW*C/G]) and
// multiply with one GEMM:
//
//	conv2d:             y[tile][:, g]  = col(x[tile], g) @ w[:, g]  (bias and activation in the GEMM's tiles when fused)
//	conv2d_grad_filter: dw[:, g]      += col(x[tile], g)^T @ dy[tile][:, g]
//	conv2d_grad_input:  col            = dy[tile][:, g] @ w[:, g]^T, folded back into dx[tile] (rt.Fold, col2im)
//
// where w[:, g] is the [KH*KW*C/G, F/G] block of group g's filters (leading
// dimension F). The forward product (rt.ConvForward) and the filter
// gradient (rt.ConvFilterGrad, the whole batch in one call) read the
// patches straight from x when they can (an implicit GEMM, CONV.md) and
// unfold them into the workspace a tile at a time otherwise. Pooling is a call of the
// runtime's kernel.

// convLocals are the locals of these templates (reserved: kept from the namer).
var convLocals = []string{"ex", "ex0", "cnt", "gi", "xb", "yb", "gb", "dxb", "oy", "ox", "row", "ky", "kx", "iy", "ix", "dst", "src", "sv",
	"yo", "first", "xs", "gy", "at", "off", "count", "dxo", "gv", "kf"}

// geom is the rt.ConvGeom literal of g.
func geom(g ir.Geom2D) string {
	return fmt.Sprintf("rt.ConvGeom{H: %d, W: %d, C: %d, KH: %d, KW: %d, SH: %d, SW: %d, DH: %d, DW: %d, PT: %d, PL: %d, OH: %d, OW: %d, CG: %d}",
		g.H, g.W, g.C, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW, g.CG())
}

// Conv emits conv2d, conv2d_grad_input or conv2d_grad_filter.
func (k *kgen) Conv(v *ir.Value) { k.conv(v, "") }

// conv emits v; ep, when not empty, is the rt.Epilogue literal conv2d's
// GEMMs apply to each tile of the output (bias and activation fused).
func (k *kgen) conv(v *ir.Value, ep string) {
	gemm := func(args string) string { return "rt.Sgemm(" + args + ")" }
	if ep != "" {
		gemm = func(args string) string { return "rt.SgemmEpilogue(" + args + ", " + ep + ")" }
	}
	g, err := ir.Conv2DGeometry(v)
	if err != nil {
		k.err = err
		return
	}
	p, kk, hwc, out := g.OH*g.OW, g.KH*g.KW*g.CG(), g.H*g.W*g.C, g.OH*g.OW*g.F
	col := k.p.scratch(v)
	k.printf("// %s: x %s, filter %s, output %s; stride %dx%d, dilation %dx%d, pads %d,%d,%d,%d, groups %d\n",
		v.Op.Name, dims.Comment(g.In()), dims.Comment(g.Filter()), dims.Comment(g.Out()), g.SH, g.SW, g.DH, g.DW, g.PT, g.PB, g.PL, g.PR, g.Groups)
	if g.Pointwise() {
		// One GEMM over every pixel of the batch: x is [n*H*W, C].
		rows := dims.Size(ir.Shape{g.N, ir.Dim(g.H * g.W)})
		a0, a1 := k.p.ref(v.Args[0]), k.p.ref(v.Args[1])
		switch v.Op.Name {
		case "conv2d":
			k.printf("%s\n", gemm(fmt.Sprintf("false, false, %s, %d, %d, 1, %s, %d, %s, %d, 0, %s, %d", rows, g.F, g.C, a0, g.C, a1, g.F, k.p.ref(v), g.F)))
		case "conv2d_grad_filter":
			k.printf("rt.Sgemm(true, false, %d, %d, %s, 1, %s, %d, %s, %d, 0, %s, %d)\n", g.C, g.F, rows, a0, g.C, a1, g.F, k.p.ref(v), g.F)
		default: // conv2d_grad_input
			k.printf("rt.Sgemm(false, true, %s, %d, %d, 1, %s, %d, %s, %d, 0, %s, %d)\n", rows, g.C, g.F, a0, g.F, a1, g.F, k.p.ref(v), g.C)
		}
		return
	}
	t, gm := g.Tile(), geom(g)
	// The loops over the tiles (examples ex0 .. ex0+cnt-1) and the groups.
	tiles := func() {
		k.printf("for ex0 := 0; ex0 < %s; ex0 += %d {\ncnt := min(%d, %s-ex0)\n", dims.Extent(g.N), t, t, dims.Extent(g.N))
		k.printf("for gi := 0; gi < %d; gi++ {\n", g.Groups)
	}
	switch v.Op.Name {
	case "conv2d":
		x, w, y := k.p.ref(v.Args[0]), k.p.ref(v.Args[1]), k.p.ref(v)
		if ep == "" {
			ep = "rt.Epilogue{}"
		}
		tiles()
		k.printf("rt.ConvForward(%s, %s, %s[ex0*%d:(ex0+cnt)*%d], cnt, gi, %s[gi*%d:], %d, %d, %s[ex0*%d+gi*%d:], %d, %s)\n",
			gm, col, x, hwc, hwc, w, g.FG(), g.F, g.FG(), y, out, g.FG(), g.F, ep)
		k.printf("}\n}\n")
	case "conv2d_grad_filter":
		x, dy, dw := k.p.ref(v.Args[0]), k.p.ref(v.Args[1]), k.p.ref(v)
		k.printf("clear(%s[:%d])\n", dw, kk*g.F)
		k.printf("for gi := 0; gi < %d; gi++ {\n", g.Groups)
		k.printf("rt.ConvFilterGrad(%s, %d, %s, %s, %s, gi, %s[gi*%d:], %d, %d, %s[gi*%d:], %d)\n",
			gm, t, col, x, dims.Extent(g.N), dy, g.FG(), g.F, g.FG(), dw, g.FG(), g.F)
		k.printf("}\n")
	default: // conv2d_grad_input
		dy, w, dx := k.p.ref(v.Args[0]), k.p.ref(v.Args[1]), k.p.ref(v)
		k.printf("clear(%s[:%s])\n", dx, dims.Size(g.In()))
		tiles()
		k.printf("rt.Sgemm(false, true, cnt*%d, %d, %d, 1, %s[ex0*%d+gi*%d:], %d, %s[gi*%d:], %d, 0, %s, %d)\n", p, kk, g.FG(), dy, out, g.FG(), g.F, w, g.FG(), g.F, col, kk)
		k.printf("rt.Fold(%s, %s[ex0*%d:(ex0+cnt)*%d], %s, cnt, gi)\n", gm, dx, hwc, hwc, col)
		k.printf("}\n}\n")
	}
}

// Pool emits max_pool2d, avg_pool2d and their backward ops: a call of the
// runtime's kernel (rt.MaxPool, rt.MaxPoolGrad, rt.AvgPool, rt.AvgPoolGrad),
// which splits the work across the cores.
func (k *kgen) Pool(v *ir.Value) {
	g, err := ir.Conv2DGeometry(v)
	if err != nil {
		k.err = err
		return
	}
	k.printf("// %s: x %s, output %s; window %dx%d, stride %dx%d, pads %d,%d,%d,%d\n",
		v.Op.Name, dims.Comment(g.In()), dims.Comment(g.Out()), g.KH, g.KW, g.SH, g.SW, g.PT, g.PB, g.PL, g.PR)
	gm, n, dst := geom(g), dims.Extent(g.N), k.p.ref(v)
	switch v.Op.Name {
	case "max_pool2d":
		k.printf("rt.MaxPool(%s, %s, %s, %s)\n", gm, dst, k.p.ref(v.Args[0]), n)
	case "max_pool2d_grad":
		k.printf("rt.MaxPoolGrad(%s, %s, %s, %s, %s)\n", gm, dst, k.p.ref(v.Args[0]), k.p.ref(v.Args[1]), n)
	case "avg_pool2d":
		k.printf("rt.AvgPool(%s, %s, %s, %s)\n", gm, dst, k.p.ref(v.Args[0]), n)
	default: // avg_pool2d_grad
		k.printf("rt.AvgPoolGrad(%s, %s, %s, %s)\n", gm, dst, k.p.ref(v.Args[0]), n)
	}
}

// The pooling gradient fused with the ReLU's before it. A CNN's backward
// pass computes, after each max_pool2d(relu(conv + b)):
//
//	p  = max_pool2d_grad(x, dy)     (x = relu's output, one unit)
//	dz = where(gt(x, 0), p, 0)      (the next unit: relu's gradient
//	db = reduce_sum(dz)              and the bias gradient)
//
// For 2x2 windows with stride 2 and no padding the two units are one call
// of rt.MaxPoolGradReLU in the second's place: p is never written, and
// neither is it read back. It is done when the units run one after the
// other in the step (so dy is intact when the second runs), p has no other
// use, gt is not stored, and dz shares no memory with dy (nor with x,
// unless it is x's own storage: each window is read before it is written).

// poolReLU returns the max_pool2d_grad that unit u (a pooling gradient)
// computes when next is the ReLU and bias gradient above fused with it,
// or nil.
func (p *plan) poolReLU(u, next *ir.Unit, uses map[*ir.Value]int) *ir.Value {
	step := uint8(1) << ir.EntryStep
	if u.Kind != ir.UnitOp || next.Kind != ir.UnitReduce || u.Entries != step || next.Entries != step || len(next.Values) != 3 {
		return nil
	}
	pg := u.Values[0]
	if pg.Op.Name != "max_pool2d_grad" || uses[pg] != 1 || pg.Type.DType != ir.F32 {
		return nil
	}
	g, err := ir.Conv2DGeometry(pg)
	if err != nil || g.KH != 2 || g.KW != 2 || g.SH != 2 || g.SW != 2 || g.PT != 0 || g.PL != 0 || g.PB != 0 || g.PR != 0 {
		return nil
	}
	x, dy := pg.Args[0], pg.Args[1]
	sink := next.Last()
	where := sink.Args[0]
	if sink.Op.Reduce != ir.ReduceSum || sink.Op.Name != "reduce_sum" || sink.Attrs.Bool("keepdims") || where.Op.Name != "where" {
		return nil
	}
	if axes, err := ir.NormAxes(sink.Attrs.Ints("axes"), 4); err != nil || len(axes) != 3 || axes[0] != 0 || axes[1] != 1 || axes[2] != 2 {
		return nil
	}
	gt := where.Args[0]
	if gt.Op.Name != "gt" || gt.Args[0] != x || !p.zero(gt.Args[1]) || where.Args[1] != pg || !p.zero(where.Args[2]) ||
		!slices.Contains(next.Values, gt) || p.stored(gt) || !p.stored(where) || !p.stored(sink) {
		return nil
	}
	if p.overlap(where, dy) || (p.overlap(where, x) && !p.sameStorage(where, x)) {
		return nil
	}
	return pg
}

// zero reports whether v is the inline constant 0.
func (p *plan) zero(v *ir.Value) bool {
	s := p.source(v)
	return p.inline(v) && s.Op.Name == "const" && s.Attrs.Float("value") == 0
}

// sameStorage reports whether a and b have the same storage: one slot.
func (p *plan) sameStorage(a, b *ir.Value) bool {
	sa, sb := p.slot(p.source(a)), p.slot(p.source(b))
	return p.source(a) == p.source(b) || (sa.Storage.InBlock() && sa.Storage == sb.Storage && sa.Offset == sb.Offset && sa.Size == sb.Size)
}

// emitPoolReLU emits unit u (the ReLU and bias gradient) fused with the
// pooling gradient pg (see poolReLU).
func (k *kgen) emitPoolReLU(u *ir.Unit, pg *ir.Value) {
	g, err := ir.Conv2DGeometry(pg)
	if err != nil {
		k.err = err
		return
	}
	sink := u.Last()
	where := sink.Args[0]
	k.printf("// %s with the ReLU's gradient and its sum: x %s, output %s; window 2x2, stride 2x2 (%s is never stored)\n",
		pg.Op.Name, dims.Comment(g.In()), dims.Comment(g.Out()), k.p.ident(pg))
	k.printf("rt.MaxPoolGradReLU(%s, %s, %s, %s, %s, %s)\n", geom(g), k.p.ref(where), k.p.ref(pg.Args[0]), k.p.ref(pg.Args[1]), dims.Extent(g.N), k.p.ref(sink))
}
