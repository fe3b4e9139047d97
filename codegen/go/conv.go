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
// dimension F). Pooling is loops over each output's window.

// convLocals are the locals of these templates (reserved: kept from the namer).
var convLocals = []string{"ex", "ex0", "cnt", "gi", "oy", "ox", "ky", "kx", "iy", "ix",
	"yo", "first", "xs", "gy", "at", "off", "count", "dxo", "gv", "kf"}

// term writes a*x + b as Go source, simplified.
func term(x string, a int) string {
	switch a {
	case 0:
		return ""
	case 1:
		return x
	}
	return fmt.Sprintf("%s*%d", x, a)
}

// coord is the input row (or column) read by window offset k of output o:
// o*s - p + k*d.
func coord(o string, s, p int, k string, d int) string {
	e := term(o, s)
	if p != 0 {
		e += fmt.Sprintf(" - %d", p)
	}
	return e + " + " + term(k, d)
}

// window opens the loops over the window of output (oy, ox) that skip
// padding: iy and ix are the input row and column; it returns the closing
// braces.
func (k *kgen) window(g ir.Geom2D) string {
	k.printf("for ky := 0; ky < %d; ky++ {\niy := %s\nif iy < 0 || iy >= %d {\ncontinue\n}\n", g.KH, coord("oy", g.SH, g.PT, "ky", g.DH), g.H)
	k.printf("for kx := 0; kx < %d; kx++ {\nix := %s\nif ix < 0 || ix >= %d {\ncontinue\n}\n", g.KW, coord("ox", g.SW, g.PL, "kx", g.DW), g.W)
	return "}\n}\n"
}

// outputs opens the loops over every output position (b, oy, ox).
func (k *kgen) outputs(g ir.Geom2D) string {
	k.printf("for ex := 0; ex < %s; ex++ {\nfor oy := 0; oy < %d; oy++ {\nfor ox := 0; ox < %d; ox++ {\n", dims.Extent(g.N), g.OH, g.OW)
	return "}\n}\n}\n"
}

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

// Pool emits max_pool2d, avg_pool2d and their backward ops.
func (k *kgen) Pool(v *ir.Value) {
	g, err := ir.Conv2DGeometry(v)
	if err != nil {
		k.err = err
		return
	}
	c := g.C
	k.printf("// %s: x %s, output %s; window %dx%d, stride %dx%d, pads %d,%d,%d,%d\n",
		v.Op.Name, dims.Comment(g.In()), dims.Comment(g.Out()), g.KH, g.KW, g.SH, g.SW, g.PT, g.PB, g.PL, g.PR)
	at := func(buf, b, y, x string, h, w int) string {
		return fmt.Sprintf("%s[((%s*%d+%s)*%d+%s)*%d:][:%d]", buf, b, h, y, w, x, c, c)
	}
	dst := k.p.ref(v)
	var closing string
	switch v.Op.Name {
	case "max_pool2d":
		x := k.p.ref(v.Args[0])
		closing = k.outputs(g)
		k.printf("yo := %s\nfirst := true\n", at(dst, "ex", "oy", "ox", g.OH, g.OW))
		win := k.window(g)
		k.printf("xs := %s\n", at(x, "ex", "iy", "ix", g.H, g.W))
		k.printf("if first {\ncopy(yo, xs)\nfirst = false\ncontinue\n}\n")
		k.printf("for c, xv := range xs {\nif xv > yo[c] || (xv != xv && yo[c] == yo[c]) {\nyo[c] = xv\n}\n}\n%s", win)
	case "max_pool2d_grad":
		x, dy := k.p.ref(v.Args[0]), k.p.ref(v.Args[1])
		k.printf("clear(%s[:%s])\n", dst, dims.Size(g.In()))
		closing = k.outputs(g)
		k.printf("gy := %s\n", at(dy, "ex", "oy", "ox", g.OH, g.OW))
		k.printf("for c := 0; c < %d; c++ {\nvar best float32\nat := -1\n", c)
		win := k.window(g)
		k.printf("off := ((ex*%d+iy)*%d + ix) * %d\n", g.H, g.W, c)
		k.printf("if xv := %s[off+c]; at < 0 || xv > best || (xv != xv && best == best) {\nbest, at = xv, off\n}\n%s", x, win)
		k.printf("%s[at+c] += gy[c]\n}\n", dst)
	case "avg_pool2d":
		x := k.p.ref(v.Args[0])
		closing = k.outputs(g)
		k.printf("yo := %s\nclear(yo)\ncount := 0\n", at(dst, "ex", "oy", "ox", g.OH, g.OW))
		win := k.window(g)
		k.printf("count++\nfor c, xv := range %s {\nyo[c] += xv\n}\n%s", at(x, "ex", "iy", "ix", g.H, g.W), win)
		k.printf("for c := range yo {\nyo[c] /= float32(count)\n}\n")
	default: // avg_pool2d_grad
		dy := k.p.ref(v.Args[0])
		k.printf("clear(%s[:%s])\n", dst, dims.Size(g.In()))
		closing = k.outputs(g)
		k.printf("gy := %s\ncount := 0\n", at(dy, "ex", "oy", "ox", g.OH, g.OW))
		win := k.window(g)
		k.printf("count++\n%s", win)
		k.printf("kf := float32(count)\n")
		win = k.window(g)
		k.printf("dxo := %s\nfor c, gv := range gy {\ndxo[c] += gv / kf\n}\n%s", at(dst, "ex", "iy", "ix", g.H, g.W), win)
	}
	k.printf("%s", closing)
}
