package main

import "fmt"

// Vector primitives for generated elementwise code (runtime/vec.go): one
// AVX2 loop per op over n floats, 32 per iteration, then 8, then one at a
// time with the scalar (SS) form of the same instruction, so every element
// gets exactly the IEEE single-precision result Go's scalar code gives.

// vecOp is one primitive: its Go name suffix, operand count and the body
// that computes Y/X register 0..3 (index i) from operands loaded from
// memory. opnd(j, i) is the memory operand j (0 = a, 1 = b, 2 = c) of
// vector i; r is the register prefix (Y for 8 floats, X for the tail).
type vecOp struct {
	name  string
	nargs int
	doc   string
	body  func(g *gen, r string, opnd func(j, i int) string, i int, scalar bool)
}

// Constant registers: 15 holds 1.0, 14 the sign bit, 13 zero.
const (
	vOne, vSign, vZero = 15, 14, 13
)

func binOp(name, vec, ss, doc string) vecOp {
	return vecOp{name: name, nargs: 2, doc: doc, body: func(g *gen, r string, opnd func(j, i int) string, i int, scalar bool) {
		ins := vec
		if scalar {
			// The scalar form reads a register: load b first.
			g.p("\tVMOVSS %s, X%d", opnd(1, i), 4+i)
			g.p("\tVMOVSS %s, X%d", opnd(0, i), i)
			g.p("\t%s X%d, X%d, X%d", ss, 4+i, i, i)
			return
		}
		g.p("\tVMOVUPS %s, %s%d", opnd(0, i), r, i)
		g.p("\t%s %s, %s%d, %s%d", ins, opnd(1, i), r, i, r, i)
	}}
}

// cmpOp computes 1.0 where a <pred> b holds, else 0.
func cmpOp(name string, pred int, doc string) vecOp {
	return vecOp{name: name, nargs: 2, doc: doc, body: func(g *gen, r string, opnd func(j, i int) string, i int, scalar bool) {
		load := "VMOVUPS"
		if scalar {
			load = "VMOVSS"
		}
		g.p("\t%s %s, %s%d", load, opnd(0, i), r, i)
		g.p("\t%s %s, %s%d", load, opnd(1, i), r, 4+i)
		g.p("\tVCMPPS $%d, %s%d, %s%d, %s%d", pred, r, 4+i, r, i, r, i)
		g.p("\tVANDPS %s%d, %s%d, %s%d", r, vOne, r, i, r, i)
	}}
}

var vecOps = []vecOp{
	binOp("Add", "VADDPS", "VADDSS", "dst = a + b"),
	binOp("Sub", "VSUBPS", "VSUBSS", "dst = a - b"),
	binOp("Mul", "VMULPS", "VMULSS", "dst = a * b"),
	binOp("Div", "VDIVPS", "VDIVSS", "dst = a / b"),
	{name: "Sqrt", nargs: 1, doc: "dst = sqrt(a), correctly rounded", body: func(g *gen, r string, opnd func(j, i int) string, i int, scalar bool) {
		if scalar {
			g.p("\tVMOVSS %s, X%d", opnd(0, i), i)
			g.p("\tVSQRTSS X%d, X%d, X%d", i, i, i)
			return
		}
		g.p("\tVSQRTPS %s, %s%d", opnd(0, i), r, i)
	}},
	{name: "Neg", nargs: 1, doc: "dst = -a (the sign bit flipped)", body: func(g *gen, r string, opnd func(j, i int) string, i int, scalar bool) {
		if scalar {
			g.p("\tVMOVSS %s, X%d", opnd(0, i), i)
			g.p("\tVXORPS X%d, X%d, X%d", vSign, i, i)
			return
		}
		g.p("\tVXORPS %s, %s%d, %s%d", opnd(0, i), r, vSign, r, i)
	}},
	// VMAXPS returns its second source when either is NaN or both are
	// zeros: max(a, +0) is then a if a > 0, else +0, as relu32 is.
	{name: "Relu", nargs: 1, doc: "dst = a if a > 0, else 0 (NaN and -0 give 0)", body: func(g *gen, r string, opnd func(j, i int) string, i int, scalar bool) {
		load := "VMOVUPS"
		if scalar {
			load = "VMOVSS"
		}
		g.p("\t%s %s, %s%d", load, opnd(0, i), r, i)
		g.p("\tVMAXPS %s%d, %s%d, %s%d", r, vZero, r, i, r, i)
	}},
	cmpOp("Eq", 0, "dst = 1 if a == b, else 0"),
	cmpOp("Lt", 1, "dst = 1 if a < b, else 0"),
	cmpOp("Le", 2, "dst = 1 if a <= b, else 0"),
	cmpOp("Ne", 4, "dst = 1 if a != b (NaN included), else 0"),
	cmpOp("Ge", 13, "dst = 1 if a >= b, else 0"),
	cmpOp("Gt", 14, "dst = 1 if a > b, else 0"),
	{name: "Where", nargs: 3, doc: "dst = a where c != 0 (NaN included), else b", body: func(g *gen, r string, opnd func(j, i int) string, i int, scalar bool) {
		load := "VMOVUPS"
		if scalar {
			load = "VMOVSS"
		}
		g.p("\t%s %s, %s%d", load, opnd(2, i), r, i) // c
		g.p("\tVCMPPS $4, %s%d, %s%d, %s%d", r, vZero, r, i, r, i)
		g.p("\t%s %s, %s%d", load, opnd(0, i), r, 4+i) // a
		g.p("\t%s %s, %s%d", load, opnd(1, i), r, 8+i) // b
		g.p("\tVBLENDVPS %s%d, %s%d, %s%d, %s%d", r, i, r, 4+i, r, 8+i, r, i)
	}},
}

// vecFuncs writes
//
//	func vec<Name>AVX2(dst, a[, b[, c]] *float32, n int)
//
// for every primitive. Where takes (dst, a, b, c): a where c != 0, else b.
func (g *gen) vecFuncs() {
	ptrs := []string{"SI", "DX", "R8"}
	names := []string{"a", "b", "c"}
	for _, op := range vecOps {
		frame := 8 * (op.nargs + 2)
		args := "dst"
		for j := range op.nargs {
			args += ", " + names[j]
		}
		g.p("")
		g.p("// func vec%sAVX2(%s *float32, n int): %s.", op.name, args, op.doc)
		g.p("TEXT ·vec%sAVX2(SB), NOSPLIT, $0-%d", op.name, frame)
		g.p("\tMOVQ dst+0(FP), DI")
		for j := range op.nargs {
			g.p("\tMOVQ %s+%d(FP), %s", names[j], 8*(j+1), ptrs[j])
		}
		g.p("\tMOVQ n+%d(FP), CX", 8*(op.nargs+1))
		g.p("\tMOVL $0x3f800000, AX")
		g.p("\tVMOVD AX, X%d", vOne)
		g.p("\tVBROADCASTSS X%d, Y%d", vOne, vOne)
		g.p("\tMOVL $0x80000000, AX")
		g.p("\tVMOVD AX, X%d", vSign)
		g.p("\tVBROADCASTSS X%d, Y%d", vSign, vSign)
		g.p("\tVXORPS Y%d, Y%d, Y%d", vZero, vZero, vZero)
		g.p("\tXORQ AX, AX")
		loop := func(label string, width, count int, r string, scalar bool) {
			opnd := func(j, i int) string { return fmt.Sprintf("%d(%s)(AX*4)", 4*width*i, ptrs[j]) }
			g.p("%s%s:", label, op.name)
			g.p("\tLEAQ %d(AX), BX", width*count)
			g.p("\tCMPQ BX, CX")
			g.p("\tJGT end%s%s", label, op.name)
			for i := range count {
				op.body(g, r, opnd, i, scalar)
			}
			store := "VMOVUPS"
			if scalar {
				store = "VMOVSS"
			}
			for i := range count {
				g.p("\t%s %s%d, %d(DI)(AX*4)", store, r, i, 4*width*i)
			}
			g.p("\tMOVQ BX, AX")
			g.p("\tJMP %s%s", label, op.name)
			g.p("end%s%s:", label, op.name)
		}
		loop("loop32", 8, 4, "Y", false)
		loop("loop8", 8, 1, "Y", false)
		loop("loop1", 1, 1, "X", true)
		g.p("\tVZEROUPPER")
		g.p("\tRET")
	}
}

// finite writes
//
//	func vecAllFiniteAVX2(x *float32, n int) bool
//
// true when no element is NaN or ±Inf (exponent bits all ones): the
// exponent fields are masked, compared with the all-ones exponent, and the
// results ORed together, 32 floats per iteration; the tail one at a time.
func (g *gen) finite() {
	g.p("")
	g.p("// func vecAllFiniteAVX2(x *float32, n int) bool")
	g.p("TEXT ·vecAllFiniteAVX2(SB), NOSPLIT, $0-17")
	g.p("\tMOVQ x+0(FP), SI")
	g.p("\tMOVQ n+8(FP), CX")
	g.p("\tMOVL $0x7f800000, AX")
	g.p("\tVMOVD AX, X15")
	g.p("\tVPBROADCASTD X15, Y15")
	g.p("\tVPXOR Y14, Y14, Y14") // OR of the comparisons
	g.p("\tXORQ DX, DX")
	g.p("loop32Finite:")
	g.p("\tLEAQ 32(DX), BX")
	g.p("\tCMPQ BX, CX")
	g.p("\tJGT end32Finite")
	for i := range 4 {
		g.p("\tVPAND %d(SI)(DX*4), Y15, Y%d", 32*i, i)
		g.p("\tVPCMPEQD Y15, Y%d, Y%d", i, i)
	}
	g.p("\tVPOR Y0, Y1, Y0")
	g.p("\tVPOR Y2, Y3, Y2")
	g.p("\tVPOR Y0, Y2, Y0")
	g.p("\tVPOR Y0, Y14, Y14")
	g.p("\tMOVQ BX, DX")
	g.p("\tJMP loop32Finite")
	g.p("end32Finite:")
	g.p("\tVPTEST Y14, Y14")
	g.p("\tJNZ bad")
	g.p("loop1Finite:")
	g.p("\tCMPQ DX, CX")
	g.p("\tJGE good")
	g.p("\tMOVL (SI)(DX*4), AX")
	g.p("\tANDL $0x7f800000, AX")
	g.p("\tCMPL AX, $0x7f800000")
	g.p("\tJEQ bad")
	g.p("\tINCQ DX")
	g.p("\tJMP loop1Finite")
	g.p("good:")
	g.p("\tVZEROUPPER")
	g.p("\tMOVB $1, ret+16(FP)")
	g.p("\tRET")
	g.p("bad:")
	g.p("\tVZEROUPPER")
	g.p("\tMOVB $0, ret+16(FP)")
	g.p("\tRET")
}

// copyRows writes
//
//	func copyRows<W>AVX2(dst *float32, src *float32, ld int, rows int)
//
// dst[p*W+x] = src[p*ld+x] for x < W, p < rows: a micro-panel of W floats
// of a matrix that is already k-major, copied into its packed layout.
func (g *gen) copyRows(w int) {
	name := fmt.Sprintf("copyRows%dAVX2", w)
	g.p("")
	g.p("// func %s(dst *float32, src *float32, ld int, rows int)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-32", name)
	g.p("\tMOVQ dst+0(FP), DI")
	g.p("\tMOVQ src+8(FP), SI")
	g.p("\tMOVQ ld+16(FP), R8")
	g.p("\tSHLQ $2, R8")
	g.p("\tMOVQ rows+24(FP), CX")
	g.p("\tTESTQ CX, CX")
	g.p("\tJZ done%s", name)
	g.p("loop%s:", name)
	for v := range w / 8 {
		g.p("\tVMOVUPS %d(SI), Y%d", 32*v, v)
	}
	for v := range w / 8 {
		g.p("\tVMOVUPS Y%d, %d(DI)", v, 32*v)
	}
	g.p("\tADDQ R8, SI")
	g.p("\tADDQ $%d, DI", 4*w)
	g.p("\tDECQ CX")
	g.p("\tJNZ loop%s", name)
	g.p("done%s:", name)
	g.p("\tVZEROUPPER")
	g.p("\tRET")
}

// gather writes
//
//	func gather8AVX2(dst *float32, w int, src *float32, ld int, blocks int)
//	func gather6AVX2(dst *float32, w int, src *float32, ld int, blocks int)
//	func gather4AVX2(dst *float32, w int, src *float32, ld int, blocks int)
//
// the transposing copy of GEMM packing: dst[p*w+i] = src[i*ld+p] for i < 8
// (6, 4) and p < 8*blocks, as 8×8 (4×8) register transposes.
func (g *gen) gather(rows int) {
	name := fmt.Sprintf("gather%dAVX2", rows)
	loaded := rows
	if rows == 6 {
		loaded = 8 // rows 6 and 7 are zeros: the 8-row transpose, 6 floats stored
	}
	g.p("")
	g.p("// func %s(dst *float32, w int, src *float32, ld int, blocks int)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-40", name)
	g.p("\tMOVQ dst+0(FP), DI")
	g.p("\tMOVQ w+8(FP), R11")
	g.p("\tSHLQ $2, R11")           // w*4: bytes between panel rows
	g.p("\tLEAQ (R11)(R11*2), R12") // 3*w*4
	g.p("\tMOVQ src+16(FP), SI")
	g.p("\tMOVQ ld+24(FP), R8")
	g.p("\tSHLQ $2, R8")          // ld*4
	g.p("\tLEAQ (R8)(R8*2), R9")  // 3*ld*4
	g.p("\tLEAQ (SI)(R8*4), R10") // row 4
	g.p("\tMOVQ blocks+32(FP), CX")
	g.p("\tTESTQ CX, CX")
	g.p("\tJZ done%s", name)
	g.p("loop%s:", name)
	src := []string{"(SI)", "(SI)(R8*1)", "(SI)(R8*2)", "(SI)(R9*1)", "(R10)", "(R10)(R8*1)", "(R10)(R8*2)", "(R10)(R9*1)"}
	for i := range rows {
		g.p("\tVMOVUPS %s, Y%d", src[i], i)
	}
	for i := rows; i < loaded; i++ {
		g.p("\tVXORPS Y%d, Y%d, Y%d", i, i, i)
	}
	// Pairs of rows interleaved, then groups of four.
	for i := 0; i < loaded; i += 2 {
		g.p("\tVUNPCKLPS Y%d, Y%d, Y%d", i+1, i, 8+i)
		g.p("\tVUNPCKHPS Y%d, Y%d, Y%d", i+1, i, 9+i)
	}
	for i := 0; i < loaded; i += 4 {
		g.p("\tVSHUFPS $0x44, Y%d, Y%d, Y%d", 10+i, 8+i, i)   // p0 | p4
		g.p("\tVSHUFPS $0xEE, Y%d, Y%d, Y%d", 10+i, 8+i, 1+i) // p1 | p5
		g.p("\tVSHUFPS $0x44, Y%d, Y%d, Y%d", 11+i, 9+i, 2+i) // p2 | p6
		g.p("\tVSHUFPS $0xEE, Y%d, Y%d, Y%d", 11+i, 9+i, 3+i) // p3 | p7
	}
	dst := []string{"(DI)", "(DI)(R11*1)", "(DI)(R11*2)", "(DI)(R12*1)", "(DX)", "(DX)(R11*1)", "(DX)(R11*2)", "(DX)(R12*1)"}
	g.p("\tLEAQ (DI)(R11*4), DX") // panel row p+4
	if rows > 4 {
		// Column q gathers in Y(8+q): rows 0-3 in the low half, rows 4-7
		// (or 4-5) in the high half.
		for q := range 4 {
			g.p("\tVPERM2F128 $0x20, Y%d, Y%d, Y%d", 4+q, q, 8+q)
			g.p("\tVPERM2F128 $0x31, Y%d, Y%d, Y%d", 4+q, q, 12+q)
		}
	}
	switch rows {
	case 8:
		for q := range 8 {
			g.p("\tVMOVUPS Y%d, %s", 8+q, dst[q])
		}
	case 6:
		// Rows 4-5 are the low 8 bytes of the high half.
		for q := range 8 {
			g.p("\tVMOVUPS X%d, %s", 8+q, dst[q])
			g.p("\tVEXTRACTF128 $1, Y%d, X%d", 8+q, 8+q)
			g.p("\tVMOVQ X%d, 16%s", 8+q, dst[q])
		}
	default:
		for q := range 4 {
			g.p("\tVMOVUPS X%d, %s", q, dst[q])
			g.p("\tVEXTRACTF128 $1, Y%d, X%d", q, 8+q)
			g.p("\tVMOVUPS X%d, %s", 8+q, dst[4+q])
		}
	}
	g.p("\tLEAQ (DX)(R11*4), DI")
	g.p("\tADDQ $32, SI")
	g.p("\tADDQ $32, R10")
	g.p("\tDECQ CX")
	g.p("\tJNZ loop%s", name)
	g.p("done%s:", name)
	g.p("\tVZEROUPPER")
	g.p("\tRET")
}
