package main

import (
	"fmt"
	"math"
	"strings"
)

// The transcendentals of runtime/impl/math32.go (e^x, tanh, sigmoid, GELU
// and GELU's gradient) in AVX2, 8 floats per iteration, and AVX-512F, 16;
// and its row reductions and LSTM cell gradient in AVX2. Each instruction
// below is one float32 operation of the Go function beside it, in the same
// order and without fused multiply-adds, so they all agree bit for bit
// (TestMath32Identical). The caller passes a whole number of vectors; the
// Go wrapper computes the tail.
//
// Constants live in read-only 32-byte arrays (8 copies): AVX2 takes them
// as memory operands (it has no embedded broadcast), AVX-512 broadcasts
// the first element ({1to16}).

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

// mathISA is the vector width the transcendentals are written for: 8
// lanes (AVX2, Y registers, constants as 32-byte memory operands, masks in
// vector registers) or 16 (AVX-512F, Z registers, constants broadcast from
// their first element, masks in K1). Both run the same float32 operations.
type mathISA struct {
	name  string // function suffix: AVX2, AVX512
	reg   string // Y or Z
	width int
}

var (
	mathAVX2   = mathISA{"AVX2", "Y", 8}
	mathAVX512 = mathISA{"AVX512", "Z", 16}
)

// vm is the emitter of one function for one width.
type vm struct {
	g *gen
	s mathISA
}

// r names vector register i.
func (e vm) r(i int) string { return fmt.Sprintf("%s%d", e.s.reg, i) }

// ins emits a register-only instruction, spelled for this width.
func (e vm) ins(ins string, src2, src1, dst int) { e.opr(ins, e.r(src2), src1, dst) }

// opr is op with a register or constant operand src2 ("=name").
func (e vm) opr(ins, src2 string, src1, dst int) {
	if e.s.reg == "Z" {
		if z, ok := map[string]string{"VANDPS": "VPANDD", "VXORPS": "VPXORD", "VORPS": "VPORD"}[ins]; ok {
			ins = z
		}
	}
	if name, ok := strings.CutPrefix(src2, "="); ok {
		if e.s.reg == "Z" {
			ins += ".BCST"
		}
		src2 = c(name)
	}
	e.g.p("\t%s %s, %s, %s", ins, src2, e.r(src1), e.r(dst))
}

// load sets register d to constant name in every lane.
func (e vm) load(name string, d int) {
	if e.s.reg == "Z" {
		e.g.p("\tVBROADCASTSS %s, %s", c(name), e.r(d))
		return
	}
	e.g.p("\tVMOVUPS %s, %s", c(name), e.r(d))
}

// zero clears register d.
func (e vm) zero(d int) { e.ins("VXORPS", d, d, d) }

// cmp sets the mask of lanes where register a pred register b holds: in
// register mask (AVX2) or K1 (AVX-512, mask unused).
func (e vm) cmp(pred, b, a, mask int) {
	if e.s.reg == "Z" {
		e.g.p("\tVCMPPS $%d, %s, %s, K1", pred, e.r(b), e.r(a))
		return
	}
	e.g.p("\tVCMPPS $%d, %s, %s, %s", pred, e.r(b), e.r(a), e.r(mask))
}

// blend sets d = mask ? a : b lane by lane (the mask cmp made).
func (e vm) blend(mask, a, b, d int) {
	if e.s.reg == "Z" {
		e.g.p("\tVBLENDMPS %s, %s, K1, %s", e.r(a), e.r(b), e.r(d))
		return
	}
	e.g.p("\tVBLENDVPS %s, %s, %s, %s", e.r(mask), e.r(a), e.r(b), e.r(d))
}

// exp computes register d = Exp32(register x), clobbering x and t..t+3
// (d may be one of them: it is written last).
func (e vm) exp(x, d, t int) {
	n, fn, r, z := t, t+1, t+2, t+3
	// Clamp to [-104, 89]; VMAXPS/VMINPS return their first Go operand
	// when either is NaN, so a NaN stays NaN.
	e.load("expMin", n)
	e.ins("VMAXPS", x, n, x)
	e.load("expMax", n)
	e.ins("VMINPS", x, n, x)
	e.opr("VMULPS", "=expLog2e", x, n)
	e.opr("VADDPS", "=expMagic", n, n) // m
	e.opr("VSUBPS", "=expMagic", n, fn)
	e.opr("VPSUBD", "=expMagic", n, n) // n = bits(m) - bits(magic)
	e.opr("VMULPS", "=expLn2Hi", fn, r)
	e.ins("VSUBPS", r, x, r)
	e.opr("VMULPS", "=expLn2Lo", fn, fn)
	e.ins("VSUBPS", fn, r, r)
	e.ins("VMULPS", r, r, z)
	p := fn
	e.opr("VMULPS", "=expP0", r, p)
	for i := 1; i <= 5; i++ {
		e.opr("VADDPS", fmt.Sprintf("=expP%d", i), p, p)
		if i < 5 {
			e.ins("VMULPS", r, p, p)
		}
	}
	e.ins("VMULPS", z, p, p)
	e.ins("VADDPS", r, p, p)
	e.opr("VADDPS", "=mathOne", p, p) // y
	// 2^n as 2^h 2^(n-h), h = n>>1, each factor a normal number.
	e.g.p("\tVPSRAD $1, %s, %s", e.r(n), e.r(z))
	e.ins("VPSUBD", z, n, n)
	e.opr("VPADDD", "=mathBias", z, z)
	e.g.p("\tVPSLLD $23, %s, %s", e.r(z), e.r(z))
	e.opr("VPADDD", "=mathBias", n, n)
	e.g.p("\tVPSLLD $23, %s, %s", e.r(n), e.r(n))
	e.ins("VMULPS", z, p, p)
	e.ins("VMULPS", n, p, d)
}

// sigmoid computes register d = Sigmoid32(register x), keeping x,
// clobbering t..t+6; with sc >= 0 also register sc = 1 - σ (sigmoidPair).
func (e vm) sigmoid(x, d, sc, t int) {
	ex, q, mask := t, t+5, t+6
	e.opr("VANDPS", "=mathAbs", x, ex)
	e.opr("VXORPS", "=mathSign", ex, ex) // -|x|
	e.exp(ex, ex, t+1)
	e.opr("VADDPS", "=mathOne", ex, q)
	e.ins("VDIVPS", q, ex, q) // q = e/(1+e)
	e.load("mathOne", ex)
	e.ins("VSUBPS", q, ex, ex) // 1 - q
	e.zero(mask)
	e.cmp(13, mask, x, mask) // x >= 0
	if sc >= 0 {
		e.blend(mask, q, ex, sc)
	}
	e.blend(mask, ex, q, d)
}

// geluArg computes register d = 2k(x + 0.044715 x³) of register x,
// clobbering t.
func (e vm) geluArg(x, d, t int) {
	e.opr("VMULPS", "=geluC", x, d)
	e.ins("VMULPS", x, x, t)
	e.ins("VMULPS", t, d, d)
	e.ins("VADDPS", d, x, d)
	e.opr("VMULPS", "=geluK", d, d)
}

// tanh computes register 1 = Tanh32(register 0), clobbering 3..11.
func (e vm) tanh() {
	// 3 = |x|; the small path into 4, the large into 5, the mask 6.
	e.opr("VANDPS", "=mathAbs", 0, 3)
	e.ins("VMULPS", 0, 0, 7) // z
	e.opr("VMULPS", "=tanhQ0", 7, 4)
	for i := 1; i <= 4; i++ {
		e.opr("VADDPS", fmt.Sprintf("=tanhQ%d", i), 4, 4)
		if i < 4 {
			e.ins("VMULPS", 7, 4, 4)
		}
	}
	e.ins("VMULPS", 7, 4, 4)
	e.ins("VMULPS", 0, 4, 4)
	e.ins("VADDPS", 0, 4, 4)
	e.ins("VADDPS", 3, 3, 5) // 2|x|
	e.exp(5, 5, 8)
	e.opr("VADDPS", "=mathOne", 5, 5)
	e.load("mathTwo", 7)
	e.ins("VDIVPS", 5, 7, 5)
	e.load("mathOne", 7)
	e.ins("VSUBPS", 5, 7, 5)
	e.opr("VANDPS", "=mathSign", 0, 7)
	e.ins("VORPS", 7, 5, 5)
	e.load("tanhSmall", 8)
	e.cmp(1, 8, 3, 6) // |x| < 0.625
	e.blend(6, 4, 5, 1)
}

// mathFunc writes func vec<name><ISA>(dst, a[, b] *float32, n int)
// around body, which computes register 1 from register 0 (a) and, with
// two operands, register 2 (b).
func (e vm) mathFunc(name, doc string, nargs int, body func()) {
	args, frame := "dst, a", 24
	if nargs == 2 {
		args, frame = "dst, a, b", 32
	}
	fn := "vec" + name + e.s.name
	g := e.g
	g.p("")
	g.p("// func %s(%s *float32, n int): %s; n is a multiple of %d.", fn, args, doc, e.s.width)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-%d", fn, frame)
	g.p("\tMOVQ dst+0(FP), DI")
	g.p("\tMOVQ a+8(FP), SI")
	if nargs == 2 {
		g.p("\tMOVQ b+16(FP), DX")
	}
	g.p("\tMOVQ n+%d(FP), CX", frame-8)
	g.p("\tXORQ AX, AX")
	g.p("loop%s:", fn)
	g.p("\tCMPQ AX, CX")
	g.p("\tJGE done%s", fn)
	g.p("\tVMOVUPS (SI)(AX*4), %s", e.r(0))
	if nargs == 2 {
		g.p("\tVMOVUPS (DX)(AX*4), %s", e.r(2))
	}
	body()
	g.p("\tVMOVUPS %s, (DI)(AX*4)", e.r(1))
	g.p("\tADDQ $%d, AX", e.s.width)
	g.p("\tJMP loop%s", fn)
	g.p("done%s:", fn)
	g.p("\tVZEROUPPER")
	g.p("\tRET")
}

// mathFuncs writes the constants, the reductions, the LSTM cell gradient
// and the five functions for each width.
func (g *gen) mathFuncs() {
	g.mathData()
	g.reductions()
	g.lstmCellGrad()
	for _, s := range []mathISA{mathAVX2, mathAVX512} {
		e := vm{g, s}
		e.mathFunc("Exp", "dst = Exp32(a)", 1, func() { e.exp(0, 1, 2) })
		e.mathFunc("Tanh", "dst = Tanh32(a)", 1, e.tanh)
		e.mathFunc("Sigmoid", "dst = Sigmoid32(a)", 1, func() { e.sigmoid(0, 1, -1, 3) })
		e.mathFunc("Gelu", "dst = Gelu32(a)", 1, func() {
			e.geluArg(0, 2, 3)
			e.sigmoid(2, 1, -1, 3)
			e.ins("VMULPS", 1, 0, 1)
		})
		e.mathFunc("GeluGrad", "dst = GeluGrad32(a, b)", 2, func() {
			e.geluArg(0, 3, 4)
			e.sigmoid(3, 1, 11, 4) // s, 1-s
			// du = k (1 + 3c x²)
			e.ins("VMULPS", 0, 0, 3)
			e.opr("VMULPS", "=geluC3", 3, 3)
			e.opr("VADDPS", "=mathOne", 3, 3)
			e.opr("VMULPS", "=geluK", 3, 3)
			// d = ((x s)(1 - s)) du
			e.ins("VMULPS", 1, 0, 4)
			e.ins("VMULPS", 11, 4, 4)
			e.ins("VMULPS", 3, 4, 4)
			e.ins("VADDPS", 4, 1, 1)
			e.ins("VMULPS", 1, 2, 1)
		})
	}
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
