package gogen

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mdlc/mdlc/codegen/internal/dims"
	"github.com/mdlc/mdlc/codegen/internal/render"
	"github.com/mdlc/mdlc/ir"
)

// The recurrence templates of the Go backend (see ir/rnn.go for the
// semantics and the packed layout). One loop over the time steps; per step
// one rt.Sgemm of the previous hidden states (a strided [n, u] view of the
// packed sequence) with the recurrent kernel, written straight into the
// step's gate slots, then one pass of gate math over the batch, its
// sigmoids and tanhs a unit slot at a time by the vector primitives. The
// backward runs the same loop in reverse with the transposed GEMM, the
// carried gradients in the op's workspace. Nothing is allocated per step
// and the code does not depend on the number of steps.

// scanLocals are the locals of these templates (reserved: kept from the namer).
var scanLocals = []string{"t", "row", "prev", "xs", "gr", "dz", "carry", "hp", "cp", "zi", "zf", "zg", "zo", "ig", "fg", "gg", "og",
	"ct", "tc", "dh", "dc", "az", "ar", "q", "zt", "rg", "hh", "dhh", "dah", "dr", "drh"}

// Scan emits lstm_scan, gru_scan or their gradients.
func (k *kgen) Scan(v *ir.Value) {
	r, err := ir.RNNGeometry(v)
	if err != nil {
		k.err = err
		return
	}
	bufs := map[string]string{"x": k.p.ref(v.Args[0]), "U": k.p.ref(v.Args[1]), "out": k.p.ref(v)}
	if len(v.Args) > 2 {
		bufs["b"] = k.p.ref(v.Args[2]) // gru_scan's bias
		bufs["g"] = k.p.ref(v.Args[2]) // a gradient op's d seq
	}
	if v.Op.Scratch != nil {
		bufs["ws"] = k.p.scratch(v)
	}
	var tmpl string
	switch {
	case v.Op.Name == "lstm_scan":
		tmpl = lstmForward
	case v.Op.Name == "lstm_scan_grad":
		tmpl = lstmBackward
	case v.Op.Name == "gru_scan" && r.ResetAfter:
		tmpl = gruForwardAfter
	case v.Op.Name == "gru_scan":
		tmpl = gruForwardBefore
	case r.ResetAfter:
		tmpl = gruBackwardAfter
	default:
		tmpl = gruBackwardBefore
	}
	k.printf("// %s: %d steps of %d units, batch %s (ir/rnn.go)\n", v.Op.Name, r.T, r.U, dims.Extent(r.N))
	text := render.ScanVars(r, bufs).Replace(tmpl)
	if fields(bufs) {
		text = k.parallelGates(v, text)
	}
	k.printf("%s", text)
}

// exLoop opens the per-example loop of a step in the templates; the loop
// ends at the next line that is a tab and a brace.
const exLoop = "\tfor ex := 0; ex < "

// parallelGates turns each per-example loop of a step in text into a
// rowsFunc over a range of examples, reading the step from a Model field,
// and calls it through rt.ParallelRows: the examples of a step are
// independent (each writes its own rows), so the split does not change a
// bit. The GEMMs between them stay as they are (they split themselves).
func (k *kgen) parallelGates(v *ir.Value, text string) string {
	step := k.p.names.Name(k.p.base[v], "Step")
	var out strings.Builder
	orig := text
	for loops := 0; ; loops++ {
		i := strings.Index(text, exLoop)
		if i < 0 {
			if loops == 0 {
				// A template whose loop this does not recognize would
				// silently stay serial: fail instead.
				k.err = fmt.Errorf("gogen: %s: no per-example loop in its template", v.Op.Name)
				return orig
			}
			out.WriteString(text)
			return out.String()
		}
		brace, semi, shut := strings.Index(text[i:], "{\n"), strings.Index(text[i:], "; ex++"), -1
		if brace >= 0 {
			shut = strings.Index(text[i+brace:], "\n\t}\n")
		}
		if brace < 0 || semi < 0 || shut < 0 {
			k.err = fmt.Errorf("gogen: %s: malformed per-example loop in its template", v.Op.Name)
			return orig
		}
		open := i + brace + 2
		n := text[i+len(exLoop) : i+semi]
		end := i + brace + shut
		body := text[open : end+1]
		fn := rowsFunc{name: k.p.unitName(nil, []*ir.Value{v}, nil, "Gates"), step: step}
		fn.field = k.p.names.Name(fn.name, "Fn")
		fn.body = fmt.Sprintf("for ex := lo; ex < hi; ex++ {\n%s}\n", body)
		if usesT.MatchString(body) {
			fn.body = fmt.Sprintf("t := m.%s\n%s", step, fn.body)
		}
		k.rows = append(k.rows, fn)
		out.WriteString(text[:i])
		fmt.Fprintf(&out, "\tm.%s = t\n\trt.ParallelRows(%s, m.%s) // m.%s(lo, hi): examples lo..hi-1 of step t, split across the cores\n",
			step, n, fn.field, fn.name)
		text = text[end+len("\n\t}\n"):]
	}
}

var usesT = regexp.MustCompile(`\bt\b`)

// fields reports whether every buffer is a field of the Model (not an
// input parameter of the unit's method), as a rowsFunc needs.
func fields(bufs map[string]string) bool {
	for _, b := range bufs {
		if !strings.HasPrefix(b, "m.") {
			return false
		}
	}
	return true
}

// lstmForward: out is the packed sequence [n, T, 6u] (h, c, i, f, g, o),
// x the input projection [n, T, 4u]. The gate math runs a unit slot at a
// time through the vector primitives (rt.VSigmoid, ...).
const lstmForward = `for t := 0; t < {T}; t++ {
	if t > 0 {
		// The gate slots of step t = h_{t-1} @ U.
		rt.Sgemm(false, false, {n}, {4u}, {u}, 1, {out}[(t-1)*{S}:], {TS}, {U}, {4u}, 0, {out}[t*{S}+{2u}:], {TS})
	}
	for ex := 0; ex < {n}; ex++ {
		row := {out}[ex*{TS}+t*{S}:][:{S}]
		xs := {x}[ex*{TG}+t*{G}:][:{G}]
		if t > 0 {
			rt.VAdd(row[{2u}:], xs, row[{2u}:])
		} else {
			copy(row[{2u}:], xs)
		}
		rt.VSigmoid(row[{2u}:{4u}], row[{2u}:{4u}]) // i, f
		rt.VTanh(row[{4u}:{5u}], row[{4u}:{5u}])    // g
		rt.VSigmoid(row[{5u}:], row[{5u}:])         // o
		if t > 0 {
			cp := {out}[ex*{TS}+(t-1)*{S}+{u}:][:{u}]
			for j, c := range cp {
				row[{u}+j] = row[{3u}+j]*c + row[{2u}+j]*row[{4u}+j]
			}
		} else {
			rt.VMul(row[{u}:{2u}], row[{2u}:{3u}], row[{4u}:{5u}])
		}
		rt.VTanh(row[:{u}], row[{u}:{2u}])
		rt.VMul(row[:{u}], row[{5u}:], row[:{u}])
	}
}
`

// lstmBackward: x is the packed sequence, out the gates' pre-activation
// gradients [n, T, 4u], ws the carried [n, 2u] (dh, dc); the cell's
// equations are the runtime's (rt.LSTMCellGrad, vectorized).
const lstmBackward = `clear({ws}[:{n}*{2u}])
for t := {T} - 1; t >= 0; t-- {
	for ex := 0; ex < {n}; ex++ {
		row := {x}[ex*{TS}+t*{S}:][:{S}]
		gr := {g}[ex*{TS}+t*{S}:][:{S}]
		dz := {out}[ex*{TG}+t*{G}:][:{G}]
		carry := {ws}[ex*{2u}:][:{2u}]
		var cp []float32 // c_{t-1}, none at the first step
		if t > 0 {
			cp = {x}[ex*{TS}+(t-1)*{S}+{u}:][:{u}]
		}
		rt.LSTMCellGrad(dz, carry, row, gr, cp, {u})
	}
	if t > 0 {
		// dh_{t-1} = dz_t @ U^T
		rt.Sgemm(false, true, {n}, {u}, {4u}, 1, {out}[t*{G}:], {TG}, {U}, {4u}, 0, {ws}, {2u})
	}
}
`

// gruForwardAfter (reset_after): out is [n, T, 5u] (h, z, r, hh, q), b
// the bias [2, 3u] (input row, recurrent row).
const gruForwardAfter = `for t := 0; t < {T}; t++ {
	if t > 0 {
		// Slots z, r, hh of step t = h_{t-1} @ U.
		rt.Sgemm(false, false, {n}, {3u}, {u}, 1, {out}[(t-1)*{S}:], {TS}, {U}, {3u}, 0, {out}[t*{S}+{u}:], {TS})
	}
	for ex := 0; ex < {n}; ex++ {
		row := {out}[ex*{TS}+t*{S}:][:{S}]
		xs := {x}[ex*{TG}+t*{G}:][:{G}]
		for j := 0; j < {u}; j++ {
			az, ar, q := xs[j]+{b}[j]+{b}[{3u}+j], xs[{u}+j]+{b}[{u}+j]+{b}[{4u}+j], {b}[{5u}+j]
			if t > 0 {
				az, ar, q = az+row[{u}+j], ar+row[{2u}+j], q+row[{3u}+j]
			}
			row[{u}+j], row[{2u}+j], row[{4u}+j] = az, ar, q
		}
		rt.VSigmoid(row[{u}:{3u}], row[{u}:{3u}]) // z, r
		for j := 0; j < {u}; j++ {
			row[{3u}+j] = xs[{2u}+j] + {b}[{2u}+j] + row[{2u}+j]*row[{4u}+j]
		}
		rt.VTanh(row[{3u}:{4u}], row[{3u}:{4u}]) // hh
		for j := 0; j < {u}; j++ {
			var hp float32
			if t > 0 {
				hp = {out}[ex*{TS}+(t-1)*{S}+j]
			}
			zt := row[{u}+j]
			row[j] = zt*hp + (1-zt)*row[{3u}+j]
		}
	}
}
`

// gruForwardBefore (reset_after false): out is [n, T, 5u] (h, z, r, hh, r h_{t-1}).
const gruForwardBefore = `for t := 0; t < {T}; t++ {
	if t > 0 {
		// Slots z, r of step t = h_{t-1} @ U[:, :2u].
		rt.Sgemm(false, false, {n}, {2u}, {u}, 1, {out}[(t-1)*{S}:], {TS}, {U}, {3u}, 0, {out}[t*{S}+{u}:], {TS})
	}
	for ex := 0; ex < {n}; ex++ {
		row := {out}[ex*{TS}+t*{S}:][:{S}]
		xs := {x}[ex*{TG}+t*{G}:][:{G}]
		if t > 0 {
			rt.VAdd(row[{u}:{3u}], xs[:{2u}], row[{u}:{3u}])
		} else {
			copy(row[{u}:{3u}], xs[:{2u}])
		}
		rt.VSigmoid(row[{u}:{3u}], row[{u}:{3u}]) // z, r
		if t > 0 {
			rt.VMul(row[{4u}:], row[{2u}:{3u}], {out}[ex*{TS}+(t-1)*{S}:][:{u}])
		} else {
			clear(row[{4u}:])
		}
	}
	if t > 0 {
		// Slot hh of step t = (r h_{t-1}) @ U[:, 2u:].
		rt.Sgemm(false, false, {n}, {u}, {u}, 1, {out}[t*{S}+{4u}:], {TS}, {U}[{2u}:], {3u}, 0, {out}[t*{S}+{3u}:], {TS})
	}
	for ex := 0; ex < {n}; ex++ {
		row := {out}[ex*{TS}+t*{S}:][:{S}]
		xs := {x}[ex*{TG}+t*{G}:][:{G}]
		if t > 0 {
			rt.VAdd(row[{3u}:{4u}], xs[{2u}:], row[{3u}:{4u}])
		} else {
			copy(row[{3u}:{4u}], xs[{2u}:])
		}
		rt.VTanh(row[{3u}:{4u}], row[{3u}:{4u}]) // hh
		for j := 0; j < {u}; j++ {
			var hp float32
			if t > 0 {
				hp = {out}[ex*{TS}+(t-1)*{S}+j]
			}
			zt := row[{u}+j]
			row[j] = zt*hp + (1-zt)*row[{3u}+j]
		}
	}
}
`

// gruBackwardAfter: out is [n, T, 4u] (d a_z, d a_r, d q, d a_h), ws the
// carried dh [n, u].
const gruBackwardAfter = `clear({ws}[:{n}*{u}])
for t := {T} - 1; t >= 0; t-- {
	for ex := 0; ex < {n}; ex++ {
		row := {x}[ex*{TS}+t*{S}:][:{S}]
		gr := {g}[ex*{TS}+t*{S}:][:{S}]
		dz := {out}[ex*{TW}+t*{W}:][:{W}]
		carry := {ws}[ex*{u}:][:{u}]
		for j := 0; j < {u}; j++ {
			zt, rg, hh, q := row[{u}+j], row[{2u}+j], row[{3u}+j], row[{4u}+j]
			var hp float32
			if t > 0 {
				hp = {x}[ex*{TS}+(t-1)*{S}+j]
			}
			dh := carry[j] + gr[j]
			dah := (dh*(1-zt) + gr[{3u}+j]) * (1 - hh*hh)
			dz[j] = (dh*(hp-hh) + gr[{u}+j]) * zt * (1 - zt)
			dz[{u}+j] = (dah*q + gr[{2u}+j]) * rg * (1 - rg)
			dz[{2u}+j], dz[{3u}+j] = dah*rg+gr[{4u}+j], dah
			carry[j] = dh * zt
		}
	}
	if t > 0 {
		// dh_{t-1} += (d a_z, d a_r, d q) @ U^T
		rt.Sgemm(false, true, {n}, {u}, {3u}, 1, {out}[t*{W}:], {TW}, {U}, {3u}, 1, {ws}, {u})
	}
}
`

// gruBackwardBefore: out is [n, T, 3u] (d a_z, d a_r, d a_h), ws the
// carried dh and d(r h_{t-1}) [n, 2u].
const gruBackwardBefore = `clear({ws}[:{n}*{2u}])
for t := {T} - 1; t >= 0; t-- {
	for ex := 0; ex < {n}; ex++ {
		row := {x}[ex*{TS}+t*{S}:][:{S}]
		gr := {g}[ex*{TS}+t*{S}:][:{S}]
		dz := {out}[ex*{TW}+t*{W}:][:{W}]
		carry := {ws}[ex*{2u}:][:{u}]
		for j := 0; j < {u}; j++ {
			zt, hh := row[{u}+j], row[{3u}+j]
			var hp float32
			if t > 0 {
				hp = {x}[ex*{TS}+(t-1)*{S}+j]
			}
			dh := carry[j] + gr[j]
			dz[j] = (dh*(hp-hh) + gr[{u}+j]) * zt * (1 - zt)
			dz[{2u}+j] = (dh*(1-zt) + gr[{3u}+j]) * (1 - hh*hh)
			carry[j] = dh * zt
		}
	}
	// d(r h_{t-1}) = d a_h @ U[:, 2u:]^T
	rt.Sgemm(false, true, {n}, {u}, {u}, 1, {out}[t*{W}+{2u}:], {TW}, {U}[{2u}:], {3u}, 0, {ws}[{u}:], {2u})
	for ex := 0; ex < {n}; ex++ {
		row := {x}[ex*{TS}+t*{S}:][:{S}]
		gr := {g}[ex*{TS}+t*{S}:][:{S}]
		dz := {out}[ex*{TW}+t*{W}:][:{W}]
		carry := {ws}[ex*{2u}:][:{2u}]
		for j := 0; j < {u}; j++ {
			rg := row[{2u}+j]
			var hp float32
			if t > 0 {
				hp = {x}[ex*{TS}+(t-1)*{S}+j]
			}
			drh := carry[{u}+j] + gr[{4u}+j]
			dz[{u}+j] = (drh*hp + gr[{2u}+j]) * rg * (1 - rg)
			carry[j] += drh * rg
		}
	}
	if t > 0 {
		// dh_{t-1} += (d a_z, d a_r) @ U[:, :2u]^T
		rt.Sgemm(false, true, {n}, {u}, {2u}, 1, {out}[t*{W}:], {TW}, {U}, {3u}, 1, {ws}, {2u})
	}
}
`
