package impl

// LSTMCellGrad is the LSTM backward of one example's step, as the Go
// backend's lstm_scan_grad runs it (ir/rnn.go has the equations): from
// the step's packed row [6u] (h, c, i, f, g, o), the gradient gr [6u]
// reaching those slots, the carried gradient carry [2u] (dh, dc) and the
// previous cell state cprev [u] (nil at the first step), it writes the
// gates' pre-activation gradients dz [4u] (i, f, g, o) and the carried dc
// (carry[u:]; carry[:u] is the caller's to refill with dz Uᵀ). The AVX2
// loop (lstmCellGradAVX2, math32_amd64.s) runs the Go loop's float32
// operations in its order, so both give the same bits.
func LSTMCellGrad(dz, carry, row, gr, cprev []float32, u int) {
	dz, carry, row, gr = dz[:4*u], carry[:2*u], row[:6*u], gr[:6*u]
	if cprev != nil {
		cprev = cprev[:u]
	}
	VTanh(dz[:u], row[u:2*u]) // tanh c_t, read before dz_i is written
	done := 0
	if vecAVX2 && u >= 8 {
		done = u &^ 7
		var cp *float32
		if cprev != nil {
			cp = &cprev[0]
		}
		lstmCellGradAVX2(&dz[0], &carry[0], &row[0], &gr[0], cp, u, done)
	}
	for j := done; j < u; j++ {
		tc, og := dz[j], row[5*u+j]
		dh := gr[j] + carry[j]
		dc := carry[u+j] + gr[u+j] + float32(float32(dh*og)*(1-float32(tc*tc)))
		ig, fg, gg := row[2*u+j], row[3*u+j], row[4*u+j]
		var cp float32
		if cprev != nil {
			cp = cprev[j]
		}
		dz[j] = (float32(dc*gg) + gr[2*u+j]) * ig * (1 - ig)
		dz[u+j] = (float32(dc*cp) + gr[3*u+j]) * fg * (1 - fg)
		dz[2*u+j] = (float32(dc*ig) + gr[4*u+j]) * (1 - float32(gg*gg))
		dz[3*u+j] = (float32(dh*tc) + gr[5*u+j]) * og * (1 - og)
		carry[u+j] = dc * fg
	}
}
