package main

// The AVX2 kernels of runtime/impl/conv.go: the 2x2 max-pooling gradient
// (maxPoolGrad2x2Rows), one output row of windows at a time, and the
// strided row copies and sums of Unfold and Fold.

// maxPoolGrad2x2 writes
//
//	func maxPoolGrad2x2AVX2(top, bot, dtop, dbot, gy *float32, ow, c int)
//
// For each of the ow windows (2 pixels of top, 2 of bot, c channels each,
// c a multiple of 8) and each channel, the gradient gy goes to the first of
// the four elements a, b (top), c, d (bot) equal to their maximum, or to
// the first NaN when there is one; the other three get +0. It is the Go
// loop's arithmetic with masks: m = max of the four by VMAXPS (exact when
// none is NaN, and a NaN anywhere voids every equality below through the
// unordered mask), k_x = (x == m and no NaN) or x is NaN, each mask
// cleared of the ones before it, d taking what is left. With relu it is
//
//	func maxPoolGradReLU2x2AVX2(top, bot, dtop, dbot, gy *float32, ow, c int, acc *float32)
//
// the gradient of relu's output pooled (top and bot hold relu's output):
// a window passes gy only where its maximum is above 0 (a NaN passes
// nothing), and what it passes is added to acc[ch], the channels' sums.
func (g *gen) maxPoolGrad2x2(relu bool) {
	name, frame := "maxPoolGrad2x2AVX2", 56
	if relu {
		name, frame = "maxPoolGradReLU2x2AVX2", 64
	}
	sfx := map[bool]string{false: "PoolGrad", true: "PoolGradReLU"}[relu]
	g.p("")
	if relu {
		g.p("// func %s(top, bot, dtop, dbot, gy *float32, ow, c int, acc *float32)", name)
	} else {
		g.p("// func %s(top, bot, dtop, dbot, gy *float32, ow, c int)", name)
	}
	g.p("TEXT ·%s(SB), NOSPLIT, $0-%d", name, frame)
	g.p("\tMOVQ top+0(FP), SI")
	g.p("\tMOVQ bot+8(FP), DI")
	g.p("\tMOVQ dtop+16(FP), R8")
	g.p("\tMOVQ dbot+24(FP), R9")
	g.p("\tMOVQ gy+32(FP), R10")
	g.p("\tMOVQ ow+40(FP), CX")
	g.p("\tMOVQ c+48(FP), DX")
	g.p("\tSHLQ $2, DX") // c in bytes: a window's second pixel
	if relu {
		g.p("\tMOVQ acc+56(FP), BX")
		g.p("\tVXORPS Y12, Y12, Y12")
	}
	g.p("\tTESTQ CX, CX")
	g.p("\tJZ done%s", sfx)
	g.p("window%s:", sfx)
	g.p("\tLEAQ (SI)(DX*1), R11") // b
	g.p("\tLEAQ (DI)(DX*1), R12") // d
	g.p("\tLEAQ (R8)(DX*1), R13") // db
	g.p("\tLEAQ (R9)(DX*1), R14") // dd
	g.p("\tXORQ AX, AX")
	g.p("chan%s:", sfx)
	g.p("\tVMOVUPS (SI)(AX*1), Y0")  // a
	g.p("\tVMOVUPS (R11)(AX*1), Y1") // b
	g.p("\tVMOVUPS (DI)(AX*1), Y2")  // c
	g.p("\tVMOVUPS (R12)(AX*1), Y3") // d
	g.p("\tVMOVUPS (R10)(AX*1), Y4") // gy
	g.p("\tVMAXPS Y1, Y0, Y5")
	g.p("\tVMAXPS Y3, Y2, Y6")
	g.p("\tVMAXPS Y6, Y5, Y5")     // m
	g.p("\tVCMPPS $3, Y1, Y0, Y6") // a or b NaN
	g.p("\tVCMPPS $3, Y3, Y2, Y7") // c or d NaN
	g.p("\tVORPS Y7, Y6, Y6")      // some NaN
	// ka = (a == m) &^ nan | isnan(a)
	g.p("\tVCMPPS $0, Y5, Y0, Y7")
	g.p("\tVANDNPS Y7, Y6, Y7")
	g.p("\tVCMPPS $3, Y0, Y0, Y8")
	g.p("\tVORPS Y8, Y7, Y7")
	// kb = ((b == m) &^ nan | isnan(b)) &^ ka; taken = ka | kb
	g.p("\tVCMPPS $0, Y5, Y1, Y8")
	g.p("\tVANDNPS Y8, Y6, Y8")
	g.p("\tVCMPPS $3, Y1, Y1, Y9")
	g.p("\tVORPS Y9, Y8, Y8")
	g.p("\tVANDNPS Y8, Y7, Y8")
	g.p("\tVORPS Y8, Y7, Y9")
	// kc = ((c == m) &^ nan | isnan(c)) &^ taken; taken |= kc
	g.p("\tVCMPPS $0, Y5, Y2, Y10")
	g.p("\tVANDNPS Y10, Y6, Y10")
	g.p("\tVCMPPS $3, Y2, Y2, Y11")
	g.p("\tVORPS Y11, Y10, Y10")
	g.p("\tVANDNPS Y10, Y9, Y10")
	g.p("\tVORPS Y10, Y9, Y9")
	if relu {
		// Only a window whose maximum is above 0 (no NaN) passes its
		// gradient (the ReLU's mask at the element it goes to), which
		// is added to the channels' sums.
		g.p("\tVCMPPS $14, Y12, Y5, Y13")
		g.p("\tVANDNPS Y13, Y6, Y13")
		g.p("\tVANDPS Y13, Y4, Y4")
		g.p("\tVADDPS (BX)(AX*1), Y4, Y13")
		g.p("\tVMOVUPS Y13, (BX)(AX*1)")
	}
	// The gradient through each mask; d gets it where nothing was taken.
	g.p("\tVANDPS Y4, Y7, Y0")
	g.p("\tVANDPS Y4, Y8, Y1")
	g.p("\tVANDPS Y4, Y10, Y2")
	g.p("\tVANDNPS Y4, Y9, Y3")
	g.p("\tVMOVUPS Y0, (R8)(AX*1)")
	g.p("\tVMOVUPS Y1, (R13)(AX*1)")
	g.p("\tVMOVUPS Y2, (R9)(AX*1)")
	g.p("\tVMOVUPS Y3, (R14)(AX*1)")
	g.p("\tADDQ $32, AX")
	g.p("\tCMPQ AX, DX")
	g.p("\tJLT chan%s", sfx)
	// Next window: two pixels on, one output on.
	g.p("\tLEAQ (SI)(DX*2), SI")
	g.p("\tLEAQ (DI)(DX*2), DI")
	g.p("\tLEAQ (R8)(DX*2), R8")
	g.p("\tLEAQ (R9)(DX*2), R9")
	g.p("\tADDQ DX, R10")
	g.p("\tDECQ CX")
	g.p("\tJNZ window%s", sfx)
	g.p("done%s:", sfx)
	g.p("\tVZEROUPPER")
	g.p("\tRET")
}

// stridedRows writes
//
//	func <name>RowsAVX2(dst, src *float32, n, rows, ldd, lds int)
//
// which, for r < rows and j < n, sets dst[r*ldd+j] = src[r*lds+j] (copy) or
// adds src[r*lds+j] to it (add, with vec, the packed instruction, and ss,
// its scalar form: each element rounded as Go's float32 addition): eight
// floats at a time, then one at a time (a copy of rows shorter than 8: one
// masked load and store per row). Rows are the windows of a row of
// output pixels: short (a 3x3 window over 3 channels is 9 floats), many,
// and ld apart, where a call per row would cost more than the row.
func (g *gen) stridedRows(name, vec, ss string) {
	if vec == "" {
		g.p("")
		g.p("// lanes<> is 0, 1, ..., 7: the lane indices of a masked copy.")
		for i := range 8 {
			g.p("DATA lanes<>+%d(SB)/4, $%d", 4*i, i)
		}
		g.p("GLOBL lanes<>(SB), RODATA|NOPTR, $32")
	}
	label := func(s string) string { return s + name + "Rows" }
	g.p("")
	g.p("// func %sRowsAVX2(dst, src *float32, n, rows, ldd, lds int)", name)
	g.p("TEXT ·%sRowsAVX2(SB), NOSPLIT, $0-48", name)
	g.p("\tMOVQ dst+0(FP), DI")
	g.p("\tMOVQ src+8(FP), SI")
	g.p("\tMOVQ n+16(FP), CX")
	g.p("\tMOVQ rows+24(FP), BX")
	g.p("\tMOVQ ldd+32(FP), R8")
	g.p("\tSHLQ $2, R8")
	g.p("\tMOVQ lds+40(FP), R9")
	g.p("\tSHLQ $2, R9")
	g.p("\tTESTQ BX, BX")
	g.p("\tJZ %s", label("done"))
	if vec == "" {
		// Rows shorter than 8 (3x3 windows over 1 channel: 3 floats) are
		// copied with a masked load and store of the first n lanes.
		g.p("\tCMPQ CX, $8")
		g.p("\tJGE %s", label("row"))
		g.p("\tVMOVDQU lanes<>(SB), Y2")
		g.p("\tMOVQ CX, X3")
		g.p("\tVPBROADCASTD X3, Y3")
		g.p("\tVPCMPGTD Y2, Y3, Y3") // lane < n
		g.p("%s:", label("masked"))
		g.p("\tVMASKMOVPS (SI), Y3, Y0")
		g.p("\tVMASKMOVPS Y0, Y3, (DI)")
		g.p("\tADDQ R8, DI")
		g.p("\tADDQ R9, SI")
		g.p("\tDECQ BX")
		g.p("\tJNZ %s", label("masked"))
		g.p("\tJMP %s", label("done"))
	}
	g.p("%s:", label("row"))
	g.p("\tXORQ AX, AX")
	g.p("%s:", label("loop8"))
	g.p("\tLEAQ 8(AX), DX")
	g.p("\tCMPQ DX, CX")
	g.p("\tJGT %s", label("tail"))
	if vec == "" {
		g.p("\tVMOVUPS (SI)(AX*4), Y0")
	} else {
		g.p("\tVMOVUPS (DI)(AX*4), Y0")
		g.p("\t%s (SI)(AX*4), Y0, Y0", vec)
	}
	g.p("\tVMOVUPS Y0, (DI)(AX*4)")
	g.p("\tMOVQ DX, AX")
	g.p("\tJMP %s", label("loop8"))
	g.p("%s:", label("tail"))
	g.p("\tCMPQ AX, CX")
	g.p("\tJGE %s", label("next"))
	if vec == "" {
		g.p("\tVMOVSS (SI)(AX*4), X0")
	} else {
		g.p("\tVMOVSS (SI)(AX*4), X1")
		g.p("\tVMOVSS (DI)(AX*4), X0")
		g.p("\t%s X1, X0, X0", ss)
	}
	g.p("\tVMOVSS X0, (DI)(AX*4)")
	g.p("\tINCQ AX")
	g.p("\tJMP %s", label("tail"))
	g.p("%s:", label("next"))
	g.p("\tADDQ R8, DI")
	g.p("\tADDQ R9, SI")
	g.p("\tDECQ BX")
	g.p("\tJNZ %s", label("row"))
	g.p("%s:", label("done"))
	g.p("\tVZEROUPPER")
	g.p("\tRET")
}

// maxPool2x2 writes
//
//	func maxPool2x2AVX2(top, bot, y *float32, ow, c int)
//
// For each of the ow windows (2 pixels of top, 2 of bot, c channels each,
// c a multiple of 8), y = max(a, b, c, d) as Go's max gives it: a tie of
// -0 and +0 is +0 and a NaN wins. VMAXPS returns its second operand on a
// tie or a NaN, so each pair's maximum is taken both ways round and the
// two ANDed (equal unless both are zeros of different signs: then +0);
// lanes with a NaN then take the first NaN of the window.
func (g *gen) maxPool2x2() {
	g.p("")
	g.p("// func maxPool2x2AVX2(top, bot, y *float32, ow, c int)")
	g.p("TEXT ·maxPool2x2AVX2(SB), NOSPLIT, $0-40")
	g.p("\tMOVQ top+0(FP), SI")
	g.p("\tMOVQ bot+8(FP), DI")
	g.p("\tMOVQ y+16(FP), R8")
	g.p("\tMOVQ ow+24(FP), CX")
	g.p("\tMOVQ c+32(FP), DX")
	g.p("\tSHLQ $2, DX")
	g.p("\tTESTQ CX, CX")
	g.p("\tJZ donePool")
	g.p("windowPool:")
	g.p("\tLEAQ (SI)(DX*1), R11")
	g.p("\tLEAQ (DI)(DX*1), R12")
	g.p("\tXORQ AX, AX")
	g.p("chanPool:")
	g.p("\tVMOVUPS (SI)(AX*1), Y0")
	g.p("\tVMOVUPS (R11)(AX*1), Y1")
	g.p("\tVMOVUPS (DI)(AX*1), Y2")
	g.p("\tVMOVUPS (R12)(AX*1), Y3")
	g.p("\tVMAXPS Y1, Y0, Y4")
	g.p("\tVMAXPS Y0, Y1, Y5")
	g.p("\tVANDPS Y5, Y4, Y4") // max(a, b)
	g.p("\tVMAXPS Y3, Y2, Y5")
	g.p("\tVMAXPS Y2, Y3, Y6")
	g.p("\tVANDPS Y6, Y5, Y5") // max(c, d)
	g.p("\tVMAXPS Y5, Y4, Y6")
	g.p("\tVMAXPS Y4, Y5, Y7")
	g.p("\tVANDPS Y7, Y6, Y4") // max of the four, NaNs aside
	for _, x := range []int{3, 2, 1, 0} {
		g.p("\tVCMPPS $3, Y%d, Y%d, Y6", x, x)
		g.p("\tVBLENDVPS Y6, Y%d, Y4, Y4", x)
	}
	g.p("\tVMOVUPS Y4, (R8)(AX*1)")
	g.p("\tADDQ $32, AX")
	g.p("\tCMPQ AX, DX")
	g.p("\tJLT chanPool")
	g.p("\tLEAQ (SI)(DX*2), SI")
	g.p("\tLEAQ (DI)(DX*2), DI")
	g.p("\tADDQ DX, R8")
	g.p("\tDECQ CX")
	g.p("\tJNZ windowPool")
	g.p("donePool:")
	g.p("\tVZEROUPPER")
	g.p("\tRET")
}
