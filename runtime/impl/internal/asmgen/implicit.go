package main

import "fmt"

// convGemm writes
//
//	func convGemm<ISA>(rows, ow, k int, x *float32, ra, rowx int, delta *int, b *float32, sb int, c *float32, ldc int, bias *float32, flags int)
//
// the implicit-GEMM convolution of runtime/impl/implicit.go: the forward
// product of rows output rows of ow pixels each, reading the patches
// straight from the image x instead of an unfolded matrix. Pixel q of
// output row r has its window at x + r*rowx + q*ra floats; the window's
// k values are at byte offsets 0, delta[0], delta[0]+delta[1], ... from
// there (delta[p] is the step from value p to value p+1, in bytes). For
// each pixel and each of the NR columns of b (k×NR, rows sb floats apart):
//
//	acc = sum over p < k of window[p] * b[p*sb+j]
//	C   = acc (+ bias if flags&2), then max(0, .) if flags&4
//
// with C row r*ow+q at c + (r*ow+q)*ldc floats. It is the micro-kernel's
// arithmetic (the same fused multiply-adds in the same order, alpha = 1,
// C not read), so it gives what Unfold and the GEMM give, bit for bit. An
// output row goes MR pixels at a time; the last tile of a row is moved
// back to end at pixel ow-1 (ow >= MR), recomputing a few pixels with the
// same result rather than reading past the row.
func (g *gen) convGemm(s isa) {
	nv := s.nr / s.width
	nacc := s.mr * nv
	bReg := nacc
	bcReg := nacc + nv
	bases := rowBases[:(s.mr+2)/3]
	sfx := "Conv" + s.name
	g.p("")
	g.p("// func convGemm%s(rows, ow, k int, x *float32, ra, rowx int, delta *int, b *float32, sb int, c *float32, ldc int, bias *float32, flags int)", s.name)
	g.p("// %d×%d tiles along each output row; 0(SP) holds the tile's first pixel, 8(SP) its C address.", s.mr, s.nr)
	g.p("TEXT ·convGemm%s(SB), NOSPLIT, $16-104", s.name)
	g.p("\tMOVQ x+24(FP), R10")  // first pixel of the current output row
	g.p("\tMOVQ c+72(FP), R14")  // its row of C
	g.p("\tMOVQ ra+32(FP), R9")  // pixel stride, bytes
	g.p("\tSHLQ $2, R9")         //
	g.p("\tMOVQ sb+64(FP), R11") // row stride of b, bytes
	g.p("\tSHLQ $2, R11")
	g.p("row%s:", sfx)
	g.p("\tMOVQ $0, 0(SP)")
	g.p("tile%s:", sfx)
	// s = min(t, ow-MR): the tile's first pixel.
	g.p("\tMOVQ 0(SP), AX")
	g.p("\tMOVQ ow+8(FP), DX")
	g.p("\tSUBQ $%d, DX", s.mr)
	g.p("\tCMPQ AX, DX")
	g.p("\tCMOVQGT DX, AX")
	g.p("\tMOVQ ldc+80(FP), DX")
	g.p("\tSHLQ $2, DX")
	g.p("\tIMULQ AX, DX")
	g.p("\tADDQ R14, DX")
	g.p("\tMOVQ DX, 8(SP)")
	g.p("\tIMULQ R9, AX")
	g.p("\tLEAQ (R10)(AX*1), %s", bases[0])
	for i := 1; i < len(bases); i++ {
		g.p("\tLEAQ (%s)(R9*2), %s", bases[i-1], bases[i])
		g.p("\tADDQ R9, %s", bases[i])
	}
	g.p("\tMOVQ delta+48(FP), BX")
	g.p("\tMOVQ b+56(FP), DI")
	g.p("\tMOVQ k+16(FP), CX")
	for i := range nacc {
		g.p("\t%s %s, %s, %s", s.vzero, s.r(i), s.r(i), s.r(i))
	}
	g.kLoop(sfx, func() {
		g.kStep(s, bases, bReg, bcReg)
		g.p("\tMOVQ (BX), R8")
		g.p("\tADDQ $8, BX")
		for _, b := range bases {
			g.p("\tADDQ R8, %s", b)
		}
		g.p("\tADDQ R11, DI")
	})

	// Store: bias, activation, write (alpha = 1 and C not read: the
	// micro-kernel's multiplication by 1 changes nothing).
	g.p("store%s:", sfx)
	g.p("\tMOVQ 8(SP), DX")
	g.p("\tMOVQ ldc+80(FP), BX")
	g.p("\tSHLQ $2, BX")
	g.p("\tMOVQ flags+96(FP), AX")
	g.biasReLU(s, sfx, "bias+88(FP)", bReg)
	g.moveTile(s, s.mr, true)
	// Next tile, then next row.
	g.p("\tMOVQ 0(SP), AX")
	g.p("\tADDQ $%d, AX", s.mr)
	g.p("\tMOVQ AX, 0(SP)")
	g.p("\tCMPQ AX, ow+8(FP)")
	g.p("\tJLT tile%s", sfx)
	g.p("\tMOVQ rowx+40(FP), AX")
	g.p("\tSHLQ $2, AX")
	g.p("\tADDQ AX, R10")
	g.p("\tMOVQ ow+8(FP), AX")
	g.p("\tIMULQ BX, AX")
	g.p("\tADDQ AX, R14")
	g.p("\tDECQ rows+0(FP)")
	g.p("\tJNZ row%s", sfx)
	g.p("\tVZEROUPPER")
	g.p("\tRET")
}

// convGradW writes
//
//	func convGradW<ISA>x<R>(rows, ow int, x *float32, ra, rowx int, offs *int, dy *float32, lddy int, acc *float32, ldacc int)
//
// the implicit-GEMM filter gradient of runtime/impl/implicit.go for R
// (a multiple of 3) consecutive window values and NR output channels:
//
//	acc[i*ldacc+j] += sum over pixels of window[i] * dy[pixel*lddy+j]      i < R, j < NR
//
// over rows output rows of ow pixels. Pixel q of output row r has its
// window at x + r*rowx + q*ra floats, and values 3t, 3t+1, 3t+2 of the
// tile at byte offset offs[t] from there and the next two floats (a
// triple lies inside one run of contiguous values of the window); the
// pixels' rows of dy follow each other lddy floats apart. The tile of acc
// is loaded, summed into pixel after pixel in order, and stored, so how
// the pixels are cut into calls does not change the result.
func (g *gen) convGradW(s isa, rows int) {
	nv := s.nr / s.width
	nacc := rows * nv
	dyReg := nacc
	bcReg := nacc + nv
	regs := 32 // the register file: Z0-Z31, or Y0-Y15
	if s.width == 8 {
		regs = 16
	}
	nbc := min(s.nbc, regs-bcReg)
	bases := rowBases[:rows/3]
	name := fmt.Sprintf("convGradW%sx%d", s.name, rows)
	g.p("")
	g.p("// func %s(rows, ow int, x *float32, ra, rowx int, offs *int, dy *float32, lddy int, acc *float32, ldacc int)", name)
	g.p("// %d×%d tile of acc in %s0-%s, window triples read through %v.", rows, s.nr, s.reg, s.r(nacc-1), bases)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-80", name)
	g.p("\tMOVQ acc+64(FP), DX")
	g.p("\tMOVQ ldacc+72(FP), BX")
	g.p("\tSHLQ $2, BX")
	g.moveTile(s, rows, false)
	g.p("\tMOVQ x+16(FP), R10")
	g.p("\tMOVQ ra+24(FP), R9")
	g.p("\tSHLQ $2, R9")
	g.p("\tMOVQ dy+48(FP), DI")
	g.p("\tMOVQ lddy+56(FP), R11")
	g.p("\tSHLQ $2, R11")
	g.p("\tMOVQ offs+40(FP), BX")
	g.p("row%s:", name)
	for t, b := range bases {
		g.p("\tMOVQ %d(BX), %s", 8*t, b)
		g.p("\tADDQ R10, %s", b)
	}
	// One pixel: its row of dy, then each window value of the tile times
	// it; the second of a pair is one ra and one lddy further.
	pixel := func(second bool) {
		idx, dyIdx := "", ""
		if second {
			idx, dyIdx = "(R9*1)", "(R11*1)"
		}
		for v := range nv {
			g.p("\tVMOVUPS %d(DI)%s, %s", 4*s.width*v, dyIdx, s.r(dyReg+v))
		}
		for i := range rows {
			bc := s.r(bcReg + i%nbc)
			g.p("\tVBROADCASTSS %d(%s)%s, %s", 4*(i%3), bases[i/3], idx, bc)
			for v := range nv {
				g.p("\tVFMADD231PS %s, %s, %s", bc, s.r(dyReg+v), s.r(i*nv+v))
			}
		}
	}
	g.p("\tMOVQ ow+8(FP), CX")
	g.p("\tMOVQ CX, DX")
	g.p("\tSHRQ $1, DX")
	g.p("\tJZ single%s", name)
	g.p("pair%s:", name)
	pixel(false)
	pixel(true)
	for _, b := range bases {
		g.p("\tLEAQ (%s)(R9*2), %s", b, b)
	}
	g.p("\tLEAQ (DI)(R11*2), DI")
	g.p("\tDECQ DX")
	g.p("\tJNZ pair%s", name)
	g.p("single%s:", name)
	g.p("\tTESTQ $1, CX")
	g.p("\tJZ rowend%s", name)
	pixel(false)
	for _, b := range bases {
		g.p("\tADDQ R9, %s", b)
	}
	g.p("\tADDQ R11, DI")
	g.p("rowend%s:", name)
	g.p("\tMOVQ rowx+32(FP), AX")
	g.p("\tSHLQ $2, AX")
	g.p("\tADDQ AX, R10")
	g.p("\tDECQ rows+0(FP)")
	g.p("\tJNZ row%s", name)
	g.p("\tMOVQ acc+64(FP), DX")
	g.p("\tMOVQ ldacc+72(FP), BX")
	g.p("\tSHLQ $2, BX")
	g.moveTile(s, rows, true)
	g.p("\tVZEROUPPER")
	g.p("\tRET")
}
