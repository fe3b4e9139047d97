package main

import (
	"fmt"
	"math"
)

// The AVX2 transcendentals of runtime/impl/math32.go: e^x, tanh, sigmoid,
// GELU and GELU's gradient, 8 floats per iteration. Each instruction
// below is one float32 operation of the Go function beside it, in the same
// order and without fused multiply-adds, so the two agree bit for bit
// (TestMath32Identical). The caller passes a whole number of vectors; the
// Go wrapper computes the tail with the scalar functions.
//
// Constants live in read-only 32-byte arrays (8 copies), so instructions
// take them as memory operands: AVX2 has no embedded broadcast.

// mathConsts are the constants, in float32 (or int32 for the exponent
// bias), by name.
var mathConsts = []struct {
	name string
	bits uint32
}{
	{"mathOne", f32(1)},
	{"mathTwo", f32(2)},
	{"mathAbs", 0x7fffffff},
	{"mathSign", 0x80000000},
	{"mathBias", 127},
	{"mathNegInf", 0xff800000},
	{"expMin", f32(-104)},
	{"expMax", f32(89)},
	{"expLog2e", f32(1.44269504088896341)},
	{"expMagic", f32(12582912)},
	{"expLn2Hi", f32(0.693359375)},
	{"expLn2Lo", f32(-2.12194440e-4)},
	{"expP0", f32(1.9875691500e-4)},
	{"expP1", f32(1.3981999507e-3)},
	{"expP2", f32(8.3334519073e-3)},
	{"expP3", f32(4.1665795894e-2)},
	{"expP4", f32(1.6666665459e-1)},
	{"expP5", f32(5.0000001201e-1)},
	{"tanhSmall", f32(0.625)},
	{"tanhQ0", f32(-5.70498872745e-3)},
	{"tanhQ1", f32(2.06390887954e-2)},
	{"tanhQ2", f32(-5.37397155531e-2)},
	{"tanhQ3", f32(1.33314422036e-1)},
	{"tanhQ4", f32(-3.33332819422e-1)},
	{"geluK", f32(1.5957691216057308)},
	{"geluC", f32(0.044715)},
	{"geluC3", f32(0.134145)},
}

func f32(x float64) uint32 { return math.Float32bits(float32(x)) }

// c is the memory operand of constant name.
func c(name string) string { return name + "<>(SB)" }

// y names vector register i.
func y(i int) string { return fmt.Sprintf("Y%d", i) }

// mathData writes the constant arrays.
func (g *gen) mathData() {
	for _, k := range mathConsts {
		g.p("")
		for i := range 8 {
			g.p("DATA %s<>+%d(SB)/4, $0x%08x", k.name, 4*i, k.bits)
		}
		g.p("GLOBL %s<>(SB), RODATA|NOPTR, $32", k.name)
	}
}

// exp computes Y[d] = Exp32(Y[x]), clobbering Y[x] and t..t+3 (d may be
// one of them: it is written last).
func (g *gen) exp(x, d, t int) {
	n, fn, r, z := y(t), y(t+1), y(t+2), y(t+3)
	X := y(x)
	// Clamp to [-104, 89]; VMAXPS/VMINPS return their first Go operand
	// when either is NaN, so a NaN stays NaN.
	g.p("\tVMOVUPS %s, %s", c("expMin"), n)
	g.p("\tVMAXPS %s, %s, %s", X, n, X)
	g.p("\tVMOVUPS %s, %s", c("expMax"), n)
	g.p("\tVMINPS %s, %s, %s", X, n, X)
	g.p("\tVMULPS %s, %s, %s", c("expLog2e"), X, n)
	g.p("\tVADDPS %s, %s, %s", c("expMagic"), n, n) // m
	g.p("\tVSUBPS %s, %s, %s", c("expMagic"), n, fn)
	g.p("\tVPSUBD %s, %s, %s", c("expMagic"), n, n) // n = bits(m) - bits(magic)
	g.p("\tVMULPS %s, %s, %s", c("expLn2Hi"), fn, r)
	g.p("\tVSUBPS %s, %s, %s", r, X, r)
	g.p("\tVMULPS %s, %s, %s", c("expLn2Lo"), fn, fn)
	g.p("\tVSUBPS %s, %s, %s", fn, r, r)
	g.p("\tVMULPS %s, %s, %s", r, r, z)
	p := fn
	g.p("\tVMULPS %s, %s, %s", c("expP0"), r, p)
	for i := 1; i <= 5; i++ {
		g.p("\tVADDPS %s, %s, %s", c(fmt.Sprintf("expP%d", i)), p, p)
		if i < 5 {
			g.p("\tVMULPS %s, %s, %s", r, p, p)
		}
	}
	g.p("\tVMULPS %s, %s, %s", z, p, p)
	g.p("\tVADDPS %s, %s, %s", r, p, p)
	g.p("\tVADDPS %s, %s, %s", c("mathOne"), p, p) // y
	// 2^n as 2^h 2^(n-h), h = n>>1, each factor a normal number.
	g.p("\tVPSRAD $1, %s, %s", n, z)
	g.p("\tVPSUBD %s, %s, %s", z, n, n)
	g.p("\tVPADDD %s, %s, %s", c("mathBias"), z, z)
	g.p("\tVPSLLD $23, %s, %s", z, z)
	g.p("\tVPADDD %s, %s, %s", c("mathBias"), n, n)
	g.p("\tVPSLLD $23, %s, %s", n, n)
	g.p("\tVMULPS %s, %s, %s", z, p, p)
	g.p("\tVMULPS %s, %s, %s", n, p, y(d))
}

// sigmoid computes Y[d] = Sigmoid32(Y[x]), keeping Y[x], clobbering
// t..t+6; with sc >= 0 also Y[sc] = 1 - σ (sigmoidPair).
func (g *gen) sigmoid(x, d, sc, t int) {
	e, q, m := t, t+5, t+6
	g.p("\tVANDPS %s, %s, %s", c("mathAbs"), y(x), y(e))
	g.p("\tVXORPS %s, %s, %s", c("mathSign"), y(e), y(e)) // -|x|
	g.exp(e, e, t+1)
	g.p("\tVADDPS %s, %s, %s", c("mathOne"), y(e), y(q))
	g.p("\tVDIVPS %s, %s, %s", y(q), y(e), y(q)) // q = e/(1+e)
	g.p("\tVMOVUPS %s, %s", c("mathOne"), y(e))
	g.p("\tVSUBPS %s, %s, %s", y(q), y(e), y(e)) // 1 - q
	g.p("\tVXORPS %s, %s, %s", y(m), y(m), y(m))
	g.p("\tVCMPPS $13, %s, %s, %s", y(m), y(x), y(m)) // x >= 0
	if sc >= 0 {
		g.p("\tVBLENDVPS %s, %s, %s, %s", y(m), y(q), y(e), y(sc))
	}
	g.p("\tVBLENDVPS %s, %s, %s, %s", y(m), y(e), y(q), y(d))
}

// geluArg computes Y[d] = 2k(x + 0.044715 x³) of Y[x], clobbering Y[t].
func (g *gen) geluArg(x, d, t int) {
	g.p("\tVMULPS %s, %s, %s", c("geluC"), y(x), y(d))
	g.p("\tVMULPS %s, %s, %s", y(x), y(x), y(t))
	g.p("\tVMULPS %s, %s, %s", y(t), y(d), y(d))
	g.p("\tVADDPS %s, %s, %s", y(d), y(x), y(d))
	g.p("\tVMULPS %s, %s, %s", c("geluK"), y(d), y(d))
}

// mathFunc writes func vec<name>AVX2(dst, a[, b] *float32, n int) around
// body, which computes Y1 from Y0 (a) and, with two operands, Y2 (b).
func (g *gen) mathFunc(name, doc string, nargs int, body func()) {
	args, frame := "dst, a", 24
	if nargs == 2 {
		args, frame = "dst, a, b", 32
	}
	g.p("")
	g.p("// func vec%sAVX2(%s *float32, n int): %s; n is a multiple of 8.", name, args, doc)
	g.p("TEXT ·vec%sAVX2(SB), NOSPLIT, $0-%d", name, frame)
	g.p("\tMOVQ dst+0(FP), DI")
	g.p("\tMOVQ a+8(FP), SI")
	if nargs == 2 {
		g.p("\tMOVQ b+16(FP), DX")
	}
	g.p("\tMOVQ n+%d(FP), CX", frame-8)
	g.p("\tXORQ AX, AX")
	g.p("loop%s:", name)
	g.p("\tCMPQ AX, CX")
	g.p("\tJGE done%s", name)
	g.p("\tVMOVUPS (SI)(AX*4), Y0")
	if nargs == 2 {
		g.p("\tVMOVUPS (DX)(AX*4), Y2")
	}
	body()
	g.p("\tVMOVUPS Y1, (DI)(AX*4)")
	g.p("\tADDQ $8, AX")
	g.p("\tJMP loop%s", name)
	g.p("done%s:", name)
	g.p("\tVZEROUPPER")
	g.p("\tRET")
}

// mathFuncs writes the five functions and their constants.
func (g *gen) mathFuncs() {
	g.mathData()
	g.reductions()
	g.lstmCellGrad()
	g.mathFunc("Exp", "dst = Exp32(a)", 1, func() { g.exp(0, 1, 2) })
	g.mathFunc("Tanh", "dst = Tanh32(a)", 1, func() {
		// Y3 = |x|; small path into Y4, large into Y5, mask Y6.
		g.p("\tVANDPS %s, Y0, Y3", c("mathAbs"))
		g.p("\tVMULPS Y0, Y0, Y7") // z
		g.p("\tVMULPS %s, Y7, Y4", c("tanhQ0"))
		for i := 1; i <= 4; i++ {
			g.p("\tVADDPS %s, Y4, Y4", c(fmt.Sprintf("tanhQ%d", i)))
			if i < 4 {
				g.p("\tVMULPS Y7, Y4, Y4")
			}
		}
		g.p("\tVMULPS Y7, Y4, Y4")
		g.p("\tVMULPS Y0, Y4, Y4")
		g.p("\tVADDPS Y0, Y4, Y4")
		g.p("\tVADDPS Y3, Y3, Y5") // 2|x|
		g.exp(5, 5, 8)
		g.p("\tVADDPS %s, Y5, Y5", c("mathOne"))
		g.p("\tVMOVUPS %s, Y7", c("mathTwo"))
		g.p("\tVDIVPS Y5, Y7, Y5")
		g.p("\tVMOVUPS %s, Y7", c("mathOne"))
		g.p("\tVSUBPS Y5, Y7, Y5")
		g.p("\tVANDPS %s, Y0, Y7", c("mathSign"))
		g.p("\tVORPS Y7, Y5, Y5")
		g.p("\tVCMPPS $1, %s, Y3, Y6", c("tanhSmall")) // |x| < 0.625
		g.p("\tVBLENDVPS Y6, Y4, Y5, Y1")
	})
	g.mathFunc("Sigmoid", "dst = Sigmoid32(a)", 1, func() { g.sigmoid(0, 1, -1, 3) })
	g.mathFunc("Gelu", "dst = Gelu32(a)", 1, func() {
		g.geluArg(0, 2, 3)
		g.sigmoid(2, 1, -1, 3)
		g.p("\tVMULPS Y1, Y0, Y1")
	})
	g.mathFunc("GeluGrad", "dst = GeluGrad32(a, b)", 2, func() {
		g.geluArg(0, 3, 4)
		g.sigmoid(3, 1, 11, 4) // s, 1-s
		// du = k (1 + 3c x²)
		g.p("\tVMULPS Y0, Y0, Y3")
		g.p("\tVMULPS %s, Y3, Y3", c("geluC3"))
		g.p("\tVADDPS %s, Y3, Y3", c("mathOne"))
		g.p("\tVMULPS %s, Y3, Y3", c("geluK"))
		// d = ((x s)(1 - s)) du
		g.p("\tVMULPS Y1, Y0, Y4")
		g.p("\tVMULPS Y11, Y4, Y4")
		g.p("\tVMULPS Y3, Y4, Y4")
		g.p("\tVADDPS Y4, Y1, Y1")
		g.p("\tVMULPS Y1, Y2, Y1")
	})
}

// reductions writes
//
//	func vecSumAVX2(x *float32, n int) float32
//	func vecMaxAVX2(x *float32, n int) (m float32, nan bool)
//
// over n floats, n a multiple of 32: four accumulators of 8 lanes take
// element i in lane i mod 32, then the lanes are combined as a tree:
// accumulators (0 op 1) op (2 op 3), the 128-bit halves, the 64-bit
// halves, the two floats. vec.go's Go loops follow the same order (max is
// a > b ? a : b, as VMAXPS; NaN is tracked apart with an unordered compare).
func (g *gen) reductions() {
	for _, r := range []struct{ name, ins, init string }{{"Sum", "VADDPS", "zero"}, {"Max", "VMAXPS", "mathNegInf"}} {
		g.p("")
		if r.name == "Sum" {
			g.p("// func vecSumAVX2(x *float32, n int) float32; n is a multiple of 32.")
			g.p("TEXT ·vecSumAVX2(SB), NOSPLIT, $0-20")
		} else {
			g.p("// func vecMaxAVX2(x *float32, n int) (m float32, nan bool); n is a multiple of 32.")
			g.p("TEXT ·vecMaxAVX2(SB), NOSPLIT, $0-21")
		}
		g.p("\tMOVQ x+0(FP), SI")
		g.p("\tMOVQ n+8(FP), CX")
		for i := range 4 {
			if r.init == "zero" {
				g.p("\tVXORPS Y%d, Y%d, Y%d", i, i, i)
			} else {
				g.p("\tVMOVUPS %s, Y%d", c(r.init), i)
			}
		}
		g.p("\tVXORPS Y8, Y8, Y8") // NaN lanes
		g.p("\tXORQ AX, AX")
		g.p("loop%s:", r.name)
		g.p("\tCMPQ AX, CX")
		g.p("\tJGE done%s", r.name)
		for i := range 4 {
			g.p("\tVMOVUPS %d(SI)(AX*4), Y%d", 32*i, 4+i)
			if r.name == "Max" {
				g.p("\tVCMPPS $3, Y%d, Y%d, Y9", 4+i, 4+i)
				g.p("\tVORPS Y9, Y8, Y8")
			}
			// acc = acc op x (VMAXPS: acc > x ? acc : x)
			g.p("\t%s Y%d, Y%d, Y%d", r.ins, 4+i, i, i)
		}
		g.p("\tADDQ $32, AX")
		g.p("\tJMP loop%s", r.name)
		g.p("done%s:", r.name)
		g.p("\t%s Y1, Y0, Y0", r.ins)
		g.p("\t%s Y3, Y2, Y2", r.ins)
		g.p("\t%s Y2, Y0, Y0", r.ins)
		g.p("\tVEXTRACTF128 $1, Y0, X1")
		g.p("\t%s X1, X0, X0", r.ins)
		g.p("\tVMOVHLPS X0, X0, X1")
		g.p("\t%s X1, X0, X0", r.ins)
		g.p("\tVMOVSHDUP X0, X1")
		scalar := map[string]string{"VADDPS": "VADDSS", "VMAXPS": "VMAXSS"}[r.ins]
		g.p("\t%s X1, X0, X0", scalar)
		if r.name == "Sum" {
			g.p("\tVMOVSS X0, ret+16(FP)")
		} else {
			g.p("\tVMOVSS X0, m+16(FP)")
			g.p("\tVMOVMSKPS Y8, BX")
			g.p("\tTESTL BX, BX")
			g.p("\tSETNE nan+20(FP)")
		}
		g.p("\tVZEROUPPER")
		g.p("\tRET")
	}
}

// lstmCellGrad writes
//
//	func lstmCellGradAVX2(dz, carry, row, gr, cprev *float32, u, n int)
//
// the LSTM backward of one example's step over units [0, n), n a multiple
// of 8 (runtime/impl/rnn.go, LSTMCellGrad: the operations of its Go loop in
// its order). The slots of row (h, c, i, f, g, o), gr (the same), dz (i,
// f, g, o) and carry (dh, dc) are u floats apart: index registers hold j,
// j+u, ..., j+5u. cprev is nil at the first step (c_{t-1} = 0).
func (g *gen) lstmCellGrad() {
	g.p("")
	g.p("// func lstmCellGradAVX2(dz, carry, row, gr, cprev *float32, u, n int)")
	g.p("TEXT ·lstmCellGradAVX2(SB), NOSPLIT, $0-56")
	g.p("\tMOVQ dz+0(FP), R10")
	g.p("\tMOVQ carry+8(FP), R11")
	g.p("\tMOVQ row+16(FP), R8")
	g.p("\tMOVQ gr+24(FP), R9")
	g.p("\tMOVQ cprev+32(FP), R12")
	g.p("\tMOVQ u+40(FP), BX")
	g.p("\tMOVQ n+48(FP), R13")
	g.p("\tXORQ AX, AX")
	g.p("\tLEAQ (BX)(BX*1), CX") // 2u
	g.p("\tLEAQ (CX)(BX*1), DX") // 3u
	g.p("\tLEAQ (CX)(CX*1), SI") // 4u
	g.p("\tLEAQ (SI)(BX*1), DI") // 5u
	g.p("\tVMOVUPS %s, Y15", c("mathOne"))
	g.p("loopLSTMGrad:")
	g.p("\tCMPQ AX, R13")
	g.p("\tJGE doneLSTMGrad")
	g.p("\tVMOVUPS (R10)(AX*4), Y0")    // tc (tanh c_t, left in dz_i's slot)
	g.p("\tVMOVUPS (R9)(AX*4), Y1")     // gr_h
	g.p("\tVADDPS (R11)(AX*4), Y1, Y1") // dh = gr_h + carry_h
	g.p("\tVMOVUPS (R8)(DI*4), Y2")     // og
	g.p("\tVMULPS Y0, Y0, Y3")
	g.p("\tVSUBPS Y3, Y15, Y3") // 1 - tc²
	g.p("\tVMULPS Y2, Y1, Y5")
	g.p("\tVMULPS Y3, Y5, Y5")         // dh og (1 - tc²)
	g.p("\tVMOVUPS (R11)(BX*4), Y6")   // carry_c
	g.p("\tVADDPS (R9)(BX*4), Y6, Y6") // + gr_c
	g.p("\tVADDPS Y5, Y6, Y6")         // dc
	// dz_i = (dc gg + gr_i) ig (1 - ig)
	g.p("\tVMOVUPS (R8)(CX*4), Y7") // ig
	g.p("\tVMULPS (R8)(SI*4), Y6, Y8")
	g.p("\tVADDPS (R9)(CX*4), Y8, Y8")
	g.p("\tVMULPS Y7, Y8, Y8")
	g.p("\tVSUBPS Y7, Y15, Y9")
	g.p("\tVMULPS Y9, Y8, Y8")
	// dz_f = (dc cp + gr_f) fg (1 - fg), carry_c = dc fg
	g.p("\tVMOVUPS (R8)(DX*4), Y10") // fg
	g.p("\tVXORPS Y11, Y11, Y11")
	g.p("\tTESTQ R12, R12")
	g.p("\tJZ noPrevLSTMGrad")
	g.p("\tVMOVUPS (R12)(AX*4), Y11")
	g.p("noPrevLSTMGrad:")
	g.p("\tVMULPS Y11, Y6, Y11")
	g.p("\tVADDPS (R9)(DX*4), Y11, Y11")
	g.p("\tVMULPS Y10, Y11, Y11")
	g.p("\tVSUBPS Y10, Y15, Y12")
	g.p("\tVMULPS Y12, Y11, Y11")
	g.p("\tVMULPS Y10, Y6, Y12")
	// dz_g = (dc ig + gr_g) (1 - gg²)
	g.p("\tVMULPS Y7, Y6, Y13")
	g.p("\tVADDPS (R9)(SI*4), Y13, Y13")
	g.p("\tVMOVUPS (R8)(SI*4), Y14")
	g.p("\tVMULPS Y14, Y14, Y14")
	g.p("\tVSUBPS Y14, Y15, Y14")
	g.p("\tVMULPS Y14, Y13, Y13")
	// dz_o = (dh tc + gr_o) og (1 - og)
	g.p("\tVMULPS Y0, Y1, Y4")
	g.p("\tVADDPS (R9)(DI*4), Y4, Y4")
	g.p("\tVMULPS Y2, Y4, Y4")
	g.p("\tVSUBPS Y2, Y15, Y3")
	g.p("\tVMULPS Y3, Y4, Y4")
	g.p("\tVMOVUPS Y8, (R10)(AX*4)")
	g.p("\tVMOVUPS Y11, (R10)(BX*4)")
	g.p("\tVMOVUPS Y13, (R10)(CX*4)")
	g.p("\tVMOVUPS Y4, (R10)(DX*4)")
	g.p("\tVMOVUPS Y12, (R11)(BX*4)")
	for _, r := range []string{"AX", "BX", "CX", "DX", "SI", "DI"} {
		g.p("\tADDQ $8, %s", r)
	}
	g.p("\tJMP loopLSTMGrad")
	g.p("doneLSTMGrad:")
	g.p("\tVZEROUPPER")
	g.p("\tRET")
}
