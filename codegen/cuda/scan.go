package cuda

import (
	"fmt"

	"github.com/mdlc/mdlc/codegen/internal/dims"
	"github.com/mdlc/mdlc/codegen/internal/render"
	"github.com/mdlc/mdlc/ir"
)

// The recurrence templates of the CUDA backend (see ir/rnn.go for the
// semantics and the packed layout): one kernel per op, one block per
// example, looping over the time steps inside the kernel with a barrier
// between the recurrent product (each thread a few of the step's gate
// columns, h_{t-1} @ U) and the gate math (each thread a few units). The
// examples of a batch are independent, so one block each needs no grid
// synchronization and the code does not grow with T. The carried
// gradients of the backward live in shared memory ([2u] floats). This is
// the simple correct form; a cuBLAS GEMM per step over the whole batch
// (as cuDNN) is the faster one for wide layers and later work.

func (t templates) Scan(v *ir.Value) { emitScan(t.c, t.k, v) }

// maxScanUnits bounds the units of a recurrence: 2u floats of shared memory
// (32 KiB) per block.
const maxScanUnits = 4096

func emitScan(c *cgen, k *kernel, v *ir.Value) {
	r, err := ir.RNNGeometry(v)
	if err != nil {
		k.printf("// %v\n", err)
		return
	}
	if r.U > maxScanUnits && c.l.err == nil {
		// The backward's carried gradients are 2u floats of shared memory.
		c.l.err = fmt.Errorf("cuda: %s of %d units: the CUDA recurrence kernels take at most %d", v.Op.Name, r.U, maxScanUnits)
		return
	}
	bufs := map[string]string{"x": c.l.ref(v.Args[0]), "U": c.l.ref(v.Args[1]), "out": c.l.ref(v)}
	if len(v.Args) > 2 {
		bufs["b"] = c.l.ref(v.Args[2]) // gru_scan's bias
		bufs["g"] = c.l.ref(v.Args[2]) // a gradient op's d seq
	}
	var tmpl string
	switch {
	case v.Op.Name == "lstm_scan":
		tmpl = lstmForwardC
	case v.Op.Name == "lstm_scan_grad":
		tmpl = lstmBackwardC
	case v.Op.Name == "gru_scan" && r.ResetAfter:
		tmpl = gruForwardAfterC
	case v.Op.Name == "gru_scan":
		tmpl = gruForwardBeforeC
	case r.ResetAfter:
		tmpl = gruBackwardAfterC
	default:
		tmpl = gruBackwardBeforeC
	}
	k.grid = dims.Extent(r.N)
	k.printf("// %s: %d steps of %d units; block ex is example ex (ir/rnn.go)\n", v.Op.Name, r.T, r.U)
	k.printf("const int ex = blockIdx.x;\n")
	for _, line := range splitLines(render.ScanVars(r, bufs).Replace(tmpl)) {
		k.printf("%s\n", line)
	}
}

// splitLines splits a template into its lines (without the last newline).
func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

const lstmForwardC = `float* seq = &{out}[ex*{TS}];
const float* xs = &{x}[ex*{TG}];
for (int t = 0; t < {T}; t++) {
	// Gate pre-activations of step t: xproj + h_{t-1} @ U, in the gate slots.
	for (int j = threadIdx.x; j < {4u}; j += blockDim.x) {
		float acc = xs[t*{G} + j];
		if (t > 0) for (int k = 0; k < {u}; k++) acc += seq[(t-1)*{S} + k] * {U}[k*{4u} + j];
		seq[t*{S} + {2u} + j] = acc;
	}
	__syncthreads();
	for (int j = threadIdx.x; j < {u}; j += blockDim.x) {
		float* row = &seq[t*{S}];
		const float ig = sigmoid_f(row[{2u} + j]), fg = sigmoid_f(row[{3u} + j]), gg = tanhf(row[{4u} + j]), og = sigmoid_f(row[{5u} + j]);
		const float cp = t > 0 ? seq[(t-1)*{S} + {u} + j] : 0.0f;
		const float ct = fg*cp + ig*gg;
		row[j] = og*tanhf(ct);
		row[{u} + j] = ct;
		row[{2u} + j] = ig;
		row[{3u} + j] = fg;
		row[{4u} + j] = gg;
		row[{5u} + j] = og;
	}
	__syncthreads();
}`

const lstmBackwardC = `__shared__ float carry[{2u}]; // dh from step t+1's recurrent product, dc
const float* seq = &{x}[ex*{TS}];
const float* gs = &{g}[ex*{TS}];
float* dz = &{out}[ex*{TG}];
for (int j = threadIdx.x; j < {2u}; j += blockDim.x) carry[j] = 0.0f;
__syncthreads();
for (int t = {T} - 1; t >= 0; t--) {
	for (int j = threadIdx.x; j < {u}; j += blockDim.x) {
		const float* row = &seq[t*{S}];
		const float* gr = &gs[t*{S}];
		const float ct = row[{u} + j], ig = row[{2u} + j], fg = row[{3u} + j], gg = row[{4u} + j], og = row[{5u} + j];
		const float cp = t > 0 ? seq[(t-1)*{S} + {u} + j] : 0.0f;
		const float tc = tanhf(ct);
		const float dh = gr[j] + carry[j];
		const float dc = carry[{u} + j] + gr[{u} + j] + dh*og*(1.0f - tc*tc);
		dz[t*{G} + j] = (dc*gg + gr[{2u} + j]) * ig * (1.0f - ig);
		dz[t*{G} + {u} + j] = (dc*cp + gr[{3u} + j]) * fg * (1.0f - fg);
		dz[t*{G} + {2u} + j] = (dc*ig + gr[{4u} + j]) * (1.0f - gg*gg);
		dz[t*{G} + {3u} + j] = (dh*tc + gr[{5u} + j]) * og * (1.0f - og);
		carry[{u} + j] = dc * fg;
	}
	__syncthreads();
	// dh_{t-1} = dz_t @ U^T
	for (int k = threadIdx.x; k < {u}; k += blockDim.x) {
		float acc = 0.0f;
		for (int j = 0; j < {4u}; j++) acc += dz[t*{G} + j] * {U}[k*{4u} + j];
		carry[k] = acc;
	}
	__syncthreads();
}`

const gruForwardAfterC = `float* seq = &{out}[ex*{TS}];
const float* xs = &{x}[ex*{TG}];
for (int t = 0; t < {T}; t++) {
	// h_{t-1} @ U + recurrent bias (row 1 of the bias), in slots z, r, hh.
	for (int j = threadIdx.x; j < {3u}; j += blockDim.x) {
		float acc = {b}[{3u} + j];
		if (t > 0) for (int k = 0; k < {u}; k++) acc += seq[(t-1)*{S} + k] * {U}[k*{3u} + j];
		seq[t*{S} + {u} + j] = acc;
	}
	__syncthreads();
	for (int j = threadIdx.x; j < {u}; j += blockDim.x) {
		float* row = &seq[t*{S}];
		const float zt = sigmoid_f(xs[t*{G} + j] + {b}[j] + row[{u} + j]), rg = sigmoid_f(xs[t*{G} + {u} + j] + {b}[{u} + j] + row[{2u} + j]);
		const float q = row[{3u} + j];
		const float hh = tanhf(xs[t*{G} + {2u} + j] + {b}[{2u} + j] + rg*q);
		const float hp = t > 0 ? seq[(t-1)*{S} + j] : 0.0f;
		row[j] = zt*hp + (1.0f - zt)*hh;
		row[{u} + j] = zt;
		row[{2u} + j] = rg;
		row[{3u} + j] = hh;
		row[{4u} + j] = q;
	}
	__syncthreads();
}`

const gruForwardBeforeC = `float* seq = &{out}[ex*{TS}];
const float* xs = &{x}[ex*{TG}];
for (int t = 0; t < {T}; t++) {
	// z and r of step t; slot 4 holds r h_{t-1}.
	for (int j = threadIdx.x; j < {2u}; j += blockDim.x) {
		float acc = xs[t*{G} + j];
		if (t > 0) for (int k = 0; k < {u}; k++) acc += seq[(t-1)*{S} + k] * {U}[k*{3u} + j];
		seq[t*{S} + {u} + j] = sigmoid_f(acc);
	}
	__syncthreads();
	for (int j = threadIdx.x; j < {u}; j += blockDim.x) {
		const float hp = t > 0 ? seq[(t-1)*{S} + j] : 0.0f;
		seq[t*{S} + {4u} + j] = seq[t*{S} + {2u} + j] * hp;
	}
	__syncthreads();
	// hh = tanh(x_h + (r h_{t-1}) @ U_h), h.
	for (int j = threadIdx.x; j < {u}; j += blockDim.x) {
		float acc = xs[t*{G} + {2u} + j];
		for (int k = 0; k < {u}; k++) acc += seq[t*{S} + {4u} + k] * {U}[k*{3u} + {2u} + j];
		const float hh = tanhf(acc), zt = seq[t*{S} + {u} + j];
		const float hp = t > 0 ? seq[(t-1)*{S} + j] : 0.0f;
		seq[t*{S} + {3u} + j] = hh;
		seq[t*{S} + j] = zt*hp + (1.0f - zt)*hh;
	}
	__syncthreads();
}`

const gruBackwardAfterC = `__shared__ float carry[{u}]; // dh
const float* seq = &{x}[ex*{TS}];
const float* gs = &{g}[ex*{TS}];
float* dz = &{out}[ex*{TW}];
for (int j = threadIdx.x; j < {u}; j += blockDim.x) carry[j] = 0.0f;
__syncthreads();
for (int t = {T} - 1; t >= 0; t--) {
	for (int j = threadIdx.x; j < {u}; j += blockDim.x) {
		const float* row = &seq[t*{S}];
		const float* gr = &gs[t*{S}];
		const float zt = row[{u} + j], rg = row[{2u} + j], hh = row[{3u} + j], q = row[{4u} + j];
		const float hp = t > 0 ? seq[(t-1)*{S} + j] : 0.0f;
		const float dh = carry[j] + gr[j];
		const float dah = (dh*(1.0f - zt) + gr[{3u} + j]) * (1.0f - hh*hh);
		dz[t*{W} + j] = (dh*(hp - hh) + gr[{u} + j]) * zt * (1.0f - zt);
		dz[t*{W} + {u} + j] = (dah*q + gr[{2u} + j]) * rg * (1.0f - rg);
		dz[t*{W} + {2u} + j] = dah*rg + gr[{4u} + j];
		dz[t*{W} + {3u} + j] = dah;
		carry[j] = dh * zt;
	}
	__syncthreads();
	// dh_{t-1} = dh z + (d a_z, d a_r, d q) @ U^T
	for (int k = threadIdx.x; k < {u}; k += blockDim.x) {
		float acc = carry[k];
		for (int j = 0; j < {3u}; j++) acc += dz[t*{W} + j] * {U}[k*{3u} + j];
		carry[k] = acc;
	}
	__syncthreads();
}`

const gruBackwardBeforeC = `__shared__ float carry[{2u}]; // dh, d(r h_{t-1})
const float* seq = &{x}[ex*{TS}];
const float* gs = &{g}[ex*{TS}];
float* dz = &{out}[ex*{TW}];
for (int j = threadIdx.x; j < {2u}; j += blockDim.x) carry[j] = 0.0f;
__syncthreads();
for (int t = {T} - 1; t >= 0; t--) {
	for (int j = threadIdx.x; j < {u}; j += blockDim.x) {
		const float* row = &seq[t*{S}];
		const float* gr = &gs[t*{S}];
		const float zt = row[{u} + j], hh = row[{3u} + j];
		const float hp = t > 0 ? seq[(t-1)*{S} + j] : 0.0f;
		const float dh = carry[j] + gr[j];
		dz[t*{W} + j] = (dh*(hp - hh) + gr[{u} + j]) * zt * (1.0f - zt);
		dz[t*{W} + {2u} + j] = (dh*(1.0f - zt) + gr[{3u} + j]) * (1.0f - hh*hh);
		carry[j] = dh * zt;
	}
	__syncthreads();
	// d(r h_{t-1}) = d a_h @ U_h^T; then d a_r and the carried dh.
	for (int k = threadIdx.x; k < {u}; k += blockDim.x) {
		float acc = gs[t*{S} + {4u} + k];
		for (int j = 0; j < {u}; j++) acc += dz[t*{W} + {2u} + j] * {U}[k*{3u} + {2u} + j];
		const float rg = seq[t*{S} + {2u} + k];
		const float hp = t > 0 ? seq[(t-1)*{S} + k] : 0.0f;
		dz[t*{W} + {u} + k] = (acc*hp + gs[t*{S} + {2u} + k]) * rg * (1.0f - rg);
		carry[{u} + k] = acc;
	}
	__syncthreads();
	for (int k = threadIdx.x; k < {u}; k += blockDim.x) {
		float acc = carry[k] + carry[{u} + k] * seq[t*{S} + {2u} + k];
		for (int j = 0; j < {2u}; j++) acc += dz[t*{W} + j] * {U}[k*{3u} + j];
		carry[k] = acc;
	}
	__syncthreads();
}`
