package main

// The AVX2 Philox4x32-10 of runtime/impl/philox.go (philoxFill): eight
// counters at a time, one per 32-bit lane.

// philox writes
//
//	func philoxFillAVX2(dst *float32, n int, i0 uint32, seed uint64, step, stream uint32)
//
// which sets dst[j] to the uniform draw of element i0+j (counter i0+j,
// 0, step, stream; the high word of i is 0) for j < n, n a multiple of 8:
// the first word of the block, shifted right by 8, times 2^-24. A round
// multiplies two words of the counter by 32-bit constants into 64-bit
// products: VPMULUDQ does the even lanes, and, shifted down, the odd ones;
// the low and high halves are blended back into lane order.
//
// Registers: Y0-Y3 the counter words, Y4 M0, Y5 M1, Y6 key 0, Y7 key 1,
// Y8-Y13 temporaries, Y14 the lane indices 0..7, Y15 the next i0.
func (g *gen) philox() {
	g.p("")
	g.p("// lanes<> is 0, 1, ..., 7: the counters of a block of eight draws.")
	for i := range 8 {
		g.p("DATA lanes<>+%d(SB)/4, $%d", 4*i, i)
	}
	g.p("GLOBL lanes<>(SB), RODATA|NOPTR, $32")
	g.p("")
	g.p("// func philoxFillAVX2(dst *float32, n int, i0 uint32, seed uint64, step, stream uint32)")
	g.p("TEXT ·philoxFillAVX2(SB), NOSPLIT, $0-40")
	g.p("\tMOVQ dst+0(FP), DI")
	g.p("\tMOVQ n+8(FP), CX")
	g.p("\tMOVL i0+16(FP), AX")
	g.p("\tMOVQ seed+24(FP), R8")
	g.p("\tMOVL step+32(FP), R9")
	g.p("\tMOVL stream+36(FP), R10")
	g.p("\tVMOVDQU lanes<>(SB), Y14")
	g.p("\tVMOVD AX, X15")
	g.p("\tVPBROADCASTD X15, Y15")
	g.p("\tVPADDD Y14, Y15, Y15") // i0 + lane
	g.p("\tMOVL $0x%X, AX", 0xD2511F53)
	g.p("\tVMOVD AX, X4")
	g.p("\tVPBROADCASTD X4, Y4")
	g.p("\tMOVL $0x%X, AX", 0xCD9E8D57)
	g.p("\tVMOVD AX, X5")
	g.p("\tVPBROADCASTD X5, Y5")
	g.p("\tTESTQ CX, CX")
	g.p("\tJZ donePhilox")
	g.p("blockPhilox:")
	g.p("\tVMOVDQU Y15, Y0")  // i low word
	g.p("\tVPXOR Y1, Y1, Y1") // i high word: 0
	g.p("\tVMOVD R9, X2")
	g.p("\tVPBROADCASTD X2, Y2") // step
	g.p("\tVMOVD R10, X3")
	g.p("\tVPBROADCASTD X3, Y3") // stream
	g.p("\tVMOVD R8, X6")
	g.p("\tVPBROADCASTD X6, Y6") // key 0: seed's low word
	g.p("\tMOVQ R8, AX")
	g.p("\tSHRQ $32, AX")
	g.p("\tVMOVD AX, X7")
	g.p("\tVPBROADCASTD X7, Y7") // key 1: its high word
	for r := range 10 {
		if r > 0 {
			g.p("\tMOVL $0x%X, AX", 0x9E3779B9)
			g.p("\tVMOVD AX, X8")
			g.p("\tVPBROADCASTD X8, Y8")
			g.p("\tVPADDD Y8, Y6, Y6")
			g.p("\tMOVL $0x%X, AX", 0xBB67AE85)
			g.p("\tVMOVD AX, X8")
			g.p("\tVPBROADCASTD X8, Y8")
			g.p("\tVPADDD Y8, Y7, Y7")
		}
		// p0 = M0 * c0: even lanes in Y8, odd lanes in Y9.
		g.p("\tVPMULUDQ Y4, Y0, Y8")
		g.p("\tVPSRLQ $32, Y0, Y9")
		g.p("\tVPMULUDQ Y4, Y9, Y9")
		// p1 = M1 * c2: even lanes in Y10, odd lanes in Y11.
		g.p("\tVPMULUDQ Y5, Y2, Y10")
		g.p("\tVPSRLQ $32, Y2, Y11")
		g.p("\tVPMULUDQ Y5, Y11, Y11")
		// hi(p1) ^ c1 ^ k0 -> c0'; lo(p1) -> c1'.
		g.p("\tVPSRLQ $32, Y10, Y12")
		g.p("\tVPBLENDD $0xAA, Y11, Y12, Y12") // hi(p1)
		g.p("\tVPSLLQ $32, Y11, Y13")
		g.p("\tVPBLENDD $0xAA, Y13, Y10, Y13") // lo(p1)
		g.p("\tVPXOR Y1, Y12, Y12")
		g.p("\tVPXOR Y6, Y12, Y0")
		g.p("\tVMOVDQU Y13, Y1")
		// hi(p0) ^ c3 ^ k1 -> c2'; lo(p0) -> c3'.
		g.p("\tVPSRLQ $32, Y8, Y12")
		g.p("\tVPBLENDD $0xAA, Y9, Y12, Y12") // hi(p0)
		g.p("\tVPSLLQ $32, Y9, Y13")
		g.p("\tVPBLENDD $0xAA, Y13, Y8, Y13") // lo(p0)
		g.p("\tVPXOR Y3, Y12, Y12")
		g.p("\tVPXOR Y7, Y12, Y2")
		g.p("\tVMOVDQU Y13, Y3")
	}
	// float32(c0 >> 8) * 2^-24
	g.p("\tVPSRLD $8, Y0, Y0")
	g.p("\tVCVTDQ2PS Y0, Y0")
	g.p("\tMOVL $0x33800000, AX") // 2^-24
	g.p("\tVMOVD AX, X8")
	g.p("\tVPBROADCASTD X8, Y8")
	g.p("\tVMULPS Y8, Y0, Y0")
	g.p("\tVMOVUPS Y0, (DI)")
	g.p("\tADDQ $32, DI")
	g.p("\tMOVL $8, AX")
	g.p("\tVMOVD AX, X8")
	g.p("\tVPBROADCASTD X8, Y8")
	g.p("\tVPADDD Y8, Y15, Y15")
	g.p("\tSUBQ $8, CX")
	g.p("\tJGT blockPhilox")
	g.p("donePhilox:")
	g.p("\tVZEROUPPER")
	g.p("\tRET")
}
