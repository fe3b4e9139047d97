package gogen

import (
	"fmt"

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
// dimension F). Pooling is a call of the runtime's kernel.

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
		tiles()
		k.printf("rt.Unfold(%s, %s, %s[ex0*%d:(ex0+cnt)*%d], cnt, gi)\n", gm, col, x, hwc, hwc)
		k.printf("%s\n", gemm(fmt.Sprintf("false, false, cnt*%d, %d, %d, 1, %s, %d, %s[gi*%d:], %d, 0, %s[ex0*%d+gi*%d:], %d", p, g.FG(), kk, col, kk, w, g.FG(), g.F, y, out, g.FG(), g.F)))
		k.printf("}\n}\n")
	case "conv2d_grad_filter":
		x, dy, dw := k.p.ref(v.Args[0]), k.p.ref(v.Args[1]), k.p.ref(v)
		k.printf("clear(%s[:%d])\n", dw, kk*g.F)
		tiles()
		k.printf("rt.Unfold(%s, %s, %s[ex0*%d:(ex0+cnt)*%d], cnt, gi)\n", gm, col, x, hwc, hwc)
		k.printf("rt.Sgemm(true, false, %d, %d, cnt*%d, 1, %s, %d, %s[ex0*%d+gi*%d:], %d, 1, %s[gi*%d:], %d)\n", kk, g.FG(), p, col, kk, dy, out, g.FG(), g.F, dw, g.FG(), g.F)
		k.printf("}\n}\n")
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
