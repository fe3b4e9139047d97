package cuda

import (
	"fmt"

	"github.com/mdlc/mdlc/codegen/internal/dims"
	"github.com/mdlc/mdlc/ir"
)

// The convolution and pooling templates of the CUDA backend (NHWC; see
// ir/conv.go for the semantics): direct kernels, one thread per element of
// the result, each summing its own terms in a fixed order (deterministic,
// no atomics). The input gradients gather from the outputs whose windows
// cover their element; the filter gradient sums over the batch and every
// output position. Correct and simple, not fast: tiled or cuDNN-style
// kernels are later work.

func (t templates) Conv(v *ir.Value) { emitConv(t.c, t.k, v) }
func (t templates) Pool(v *ir.Value) { emitPool(t.c, t.k, v) }

// coordC is o*s - p + k*d in C.
func coordC(o string, s, p int, k string, d int) string {
	return fmt.Sprintf("%s*%d - %d + %s*%d", o, s, p, k, d)
}

// closeC writes the closing braces of two nested loops.
func closeC(k *kernel) {
	k.printf("\t}\n")
	k.printf("}\n")
}

// coverC opens the loops over the outputs (oy, ox) whose windows read
// input element (iy, ix) through window offset (ky, kx); closeC closes
// them.
func coverC(k *kernel, g ir.Geom2D) {
	k.printf("for (int ky = 0; ky < %d; ky++) {\n", g.KH)
	k.printf("\tconst int ty = iy + %d - ky*%d;\n", g.PT, g.DH)
	k.printf("\tif (ty < 0 || ty %% %d != 0 || ty / %d >= %d) continue;\n", g.SH, g.SH, g.OH)
	k.printf("\tconst int oy = ty / %d;\n", g.SH)
	k.printf("\tfor (int kx = 0; kx < %d; kx++) {\n", g.KW)
	k.printf("\t\tconst int tx = ix + %d - kx*%d;\n", g.PL, g.DW)
	k.printf("\t\tif (tx < 0 || tx %% %d != 0 || tx / %d >= %d) continue;\n", g.SW, g.SW, g.OW)
	k.printf("\t\tconst int ox = tx / %d;\n", g.SW)
}

// windowC opens the loops over the window of output (oy, ox) with prefix
// p on the variables (pky, piy, ...), skipping padding; closeC closes them.
func windowC(k *kernel, g ir.Geom2D, p string) {
	k.printf("for (int %sky = 0; %sky < %d; %sky++) {\n", p, p, g.KH, p)
	k.printf("\tconst int %siy = %s;\n", p, coordC("oy", g.SH, g.PT, p+"ky", g.DH))
	k.printf("\tif (%siy < 0 || %siy >= %d) continue;\n", p, p, g.H)
	k.printf("\tfor (int %skx = 0; %skx < %d; %skx++) {\n", p, p, g.KW, p)
	k.printf("\t\tconst int %six = %s;\n", p, coordC("ox", g.SW, g.PL, p+"kx", g.DW))
	k.printf("\t\tif (%six < 0 || %six >= %d) continue;\n", p, p, g.W)
}

func emitConv(c *cgen, k *kernel, v *ir.Value) {
	g, err := ir.Conv2DGeometry(v)
	if err != nil {
		k.printf("// %v\n", err)
		return
	}
	dst := c.l.ref(v)
	k.printf("// %s: stride %dx%d, dilation %dx%d, pads %d,%d,%d,%d, groups %d\n", v.Op.Name, g.SH, g.SW, g.DH, g.DW, g.PT, g.PB, g.PL, g.PR, g.Groups)
	switch v.Op.Name {
	case "conv2d":
		x, w := c.l.ref(v.Args[0]), c.l.ref(v.Args[1])
		flatHead(k, v.Type.Shape)
		k.unflatten("i", "i", v.Type.Shape)
		k.printf("const int oy = i1, ox = i2, f = i3, gi = f / %d;\n", g.FG())
		k.printf("float acc = 0;\n")
		windowC(k, g, "")
		k.printf("\t\tconst int xo = ((i0*%d + iy)*%d + ix)*%d + gi*%d, wo = (ky*%d + kx)*%d*%d + f;\n", g.H, g.W, g.C, g.CG(), g.KW, g.CG(), g.F)
		k.printf("\t\tfor (int c = 0; c < %d; c++) acc += %s[xo + c] * %s[wo + c*%d];\n", g.CG(), x, w, g.F)
		closeC(k)
		k.printf("%s[i] = acc;\n", dst)
	case "conv2d_grad_input":
		dy, w := c.l.ref(v.Args[0]), c.l.ref(v.Args[1])
		flatHead(k, v.Type.Shape)
		k.unflatten("i", "i", v.Type.Shape)
		k.printf("const int iy = i1, ix = i2, gi = i3 / %d, c = i3 %% %d;\n", g.CG(), g.CG())
		k.printf("float acc = 0;\n")
		coverC(k, g)
		k.printf("\t\tconst int go = ((i0*%d + oy)*%d + ox)*%d + gi*%d, wo = ((ky*%d + kx)*%d + c)*%d + gi*%d;\n", g.OH, g.OW, g.F, g.FG(), g.KW, g.CG(), g.F, g.FG())
		k.printf("\t\tfor (int fo = 0; fo < %d; fo++) acc += %s[go + fo] * %s[wo + fo];\n", g.FG(), dy, w)
		closeC(k)
		k.printf("%s[i] = acc;\n", dst)
	default: // conv2d_grad_filter
		x, dy := c.l.ref(v.Args[0]), c.l.ref(v.Args[1])
		flatHead(k, v.Type.Shape)
		k.unflatten("i", "i", v.Type.Shape)
		k.printf("const int ky = i0, kx = i1, c = i2, f = i3, gi = f / %d;\n", g.FG())
		k.printf("float acc = 0;\n")
		k.printf("for (int b = 0; b < %s; b++) {\n", dims.Extent(g.N))
		k.printf("for (int oy = 0; oy < %d; oy++) {\n", g.OH)
		k.printf("\tconst int iy = %s;\n", coordC("oy", g.SH, g.PT, "ky", g.DH))
		k.printf("\tif (iy < 0 || iy >= %d) continue;\n", g.H)
		k.printf("\tfor (int ox = 0; ox < %d; ox++) {\n", g.OW)
		k.printf("\t\tconst int ix = %s;\n", coordC("ox", g.SW, g.PL, "kx", g.DW))
		k.printf("\t\tif (ix < 0 || ix >= %d) continue;\n", g.W)
		k.printf("\t\tacc += %s[((b*%d + iy)*%d + ix)*%d + gi*%d + c] * %s[((b*%d + oy)*%d + ox)*%d + f];\n", x, g.H, g.W, g.C, g.CG(), dy, g.OH, g.OW, g.F)
		k.printf("\t}\n")
		k.printf("}\n")
		k.printf("}\n")
		k.printf("%s[i] = acc;\n", dst)
	}
}

// argmaxC declares at, the flat input position (without the channel) of
// the first maximum of channel c in the window of output (i0, oy, ox);
// NaN wins, as in the reference kernel.
func argmaxC(k *kernel, g ir.Geom2D, x string) {
	k.printf("float best = 0;\n")
	k.printf("int at = -1;\n")
	windowC(k, g, "w")
	k.printf("\t\tconst int o = (i0*%d + wiy)*%d + wix;\n", g.H, g.W)
	k.printf("\t\tconst float xv = %s[o*%d + c];\n", x, g.C)
	k.printf("\t\tif (at < 0 || xv > best || (xv != xv && best == best)) { best = xv; at = o; }\n")
	closeC(k)
}

func emitPool(c *cgen, k *kernel, v *ir.Value) {
	g, err := ir.Conv2DGeometry(v)
	if err != nil {
		k.printf("// %v\n", err)
		return
	}
	dst := c.l.ref(v)
	k.printf("// %s: window %dx%d, stride %dx%d, pads %d,%d,%d,%d\n", v.Op.Name, g.KH, g.KW, g.SH, g.SW, g.PT, g.PB, g.PL, g.PR)
	flatHead(k, v.Type.Shape)
	k.unflatten("i", "i", v.Type.Shape)
	switch v.Op.Name {
	case "max_pool2d":
		k.printf("const int oy = i1, ox = i2, c = i3;\n")
		argmaxC(k, g, c.l.ref(v.Args[0]))
		k.printf("%s[i] = best;\n", dst)
	case "avg_pool2d":
		x := c.l.ref(v.Args[0])
		k.printf("const int oy = i1, ox = i2, c = i3;\n")
		k.printf("float acc = 0;\n")
		k.printf("int count = 0;\n")
		windowC(k, g, "")
		k.printf("\t\tacc += %s[((i0*%d + iy)*%d + ix)*%d + c];\n", x, g.H, g.W, g.C)
		k.printf("\t\tcount++;\n")
		closeC(k)
		k.printf("%s[i] = acc / (float)count;\n", dst)
	case "max_pool2d_grad":
		x, dy := c.l.ref(v.Args[0]), c.l.ref(v.Args[1])
		k.printf("const int iy = i1, ix = i2, c = i3, self = (i0*%d + iy)*%d + ix;\n", g.H, g.W)
		k.printf("float acc = 0;\n")
		coverC(k, g)
		k.depth += 2
		argmaxC(k, g, x)
		k.printf("if (at == self) acc += %s[((i0*%d + oy)*%d + ox)*%d + c];\n", dy, g.OH, g.OW, g.C)
		k.depth -= 2
		closeC(k)
		k.printf("%s[i] = acc;\n", dst)
	default: // avg_pool2d_grad
		dy := c.l.ref(v.Args[0])
		k.printf("const int iy = i1, ix = i2, c = i3;\n")
		k.printf("float acc = 0;\n")
		coverC(k, g)
		k.depth += 2
		k.printf("int count = 0;\n")
		windowC(k, g, "w")
		k.printf("\t\tcount++;\n")
		closeC(k)
		k.printf("acc += %s[((i0*%d + oy)*%d + ox)*%d + c] / (float)count;\n", dy, g.OH, g.OW, g.C)
		k.depth -= 2
		closeC(k)
		k.printf("%s[i] = acc;\n", dst)
	}
}
