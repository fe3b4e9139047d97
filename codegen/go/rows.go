package gogen

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/codegen/internal/dims"

	"github.com/mdlc/mdlc/ir"
)

// emitRows emits one loop nest over space computing members (as locals, in
// order) and optionally accumulating into a reduction sink. The innermost
// axis runs over row slices hoisted out of it, so the Go compiler drops
// the bounds checks: each external arg is a row slice (its last axis is the
// loop's) or a scalar read once per row (broadcast along the last axis).
// expr gives a member's expression from its args' element expressions.
//
// When every op of the loop has a vector form (vec.go) the unit also gets
// a vectorized version beside the plain loop: an AVX2 function of
// model_amd64.s (asm.go) when the CPU has AVX2, or, when the loop needs more
// registers than that has, a strip-mined loop of the runtime's vector
// primitives. Both compute exactly what the plain loop computes.
func (k *kgen) emitRows(u *ir.Unit, members []*ir.Value, sink *ir.Value, space ir.Shape,
	expr func(v *ir.Value, read func(a *ir.Value) string) string, stored func(v *ir.Value) bool) {
	inUnit := func(a *ir.Value) bool { return k.inUnit(u, a) && a != sink }
	// External array args, in first-use order.
	var ext []*ir.Value
	seen := map[*ir.Value]bool{}
	addExt := func(a *ir.Value) {
		if !inUnit(a) && !k.p.inline(a) && !seen[a] {
			seen[a] = true
			ext = append(ext, a)
		}
	}
	for _, v := range members {
		for _, a := range v.Args {
			addExt(a)
		}
	}
	if sink != nil {
		addExt(sink.Args[0])
	}
	// A scalar computation is straight-line code.
	if len(space) == 0 && sink == nil {
		rd := func(a *ir.Value) string { return k.elem(a, "0") }
		for _, v := range members {
			k.printf("%s := %s\n", k.p.ident(v), expr(v, rd))
		}
		for _, v := range members {
			if stored(v) {
				k.printf("%s[0] = %s\n", k.p.ref(v), k.p.ident(v))
			}
		}
		return
	}
	// Flatten when every external array has the loop's shape and the sink
	// (if any) reduces to a scalar.
	flat := sink == nil || sink.Type.Shape.Rank() == 0
	for _, a := range ext {
		flat = flat && a.Type.Shape.Equal(space)
	}
	loop := space
	if flat {
		size, _ := space.Size()
		loop = ir.Shape{size}
		if len(space) == 0 {
			loop = ir.Shape{1}
		}
	}
	r := len(loop)
	if r == 0 {
		loop, r = ir.Shape{1}, 1
	}
	inner := dims.Extent(loop[r-1])
	var axes []int
	if sink != nil {
		axes, _ = ir.NormAxes(sink.Attrs.Ints("axes"), sink.Args[0].Type.Shape.Rank())
		k.initReduction(sink)
	}
	// Which args are row slices (their last axis is the loop's), and the
	// locals that hold them or their per-row scalar.
	strides := map[*ir.Value][]string{}
	local := map[*ir.Value]string{}
	rowScalar := map[*ir.Value]bool{}
	for _, a := range ext {
		st := dims.Strides(loop)
		if !flat {
			st = dims.BcastStrides(a.Type.Shape, loop)
		}
		strides[a] = st
		switch {
		case st[r-1] != "":
			local[a] = k.p.rowOf(a)
		case k.p.slot(k.p.source(a)).Storage == ir.StoreInput:
			local[a] = k.p.elemOf(a) // not the input's own name, the method's parameter
			rowScalar[a] = true
		default:
			local[a] = k.p.ident(a)
			rowScalar[a] = true
		}
	}
	var outs []*ir.Value
	for _, v := range members {
		if stored(v) {
			outs = append(outs, v)
		}
	}
	sinkRow, sinkOff := false, ""
	if sink != nil {
		st := reducedStrides(sink.Args[0].Type.Shape, axes, sink.Attrs.Bool("keepdims"))
		if flat {
			st = make([]string, r)
		}
		sinkOff, sinkRow = offset(st[:r-1]), st[r-1] != ""
	}
	// A large loop over rows runs as a method over a range of them, split
	// across the cores (see parallelRows).
	par := k.parallelRows(u, ext, strides, rowScalar, loop, flat, sink, sinkRow, sinkOff)
	var saved string
	if par {
		saved = k.b.String()
		k.b.Reset()
	}
	// rowOff is the offset of a row slice of an arg with strides st.
	rowOff := func(st []string) string {
		switch {
		case !par:
			return offset(st[:r-1])
		case offset(st[:r-1]) == "0":
			return "0"
		}
		return "r*" + inner
	}
	// The row loops, with the row slices and per-row scalars.
	open := func() string {
		closing := ""
		if par {
			k.printf("for r := lo; r < hi; r++ {\n")
			closing = "}\n"
		} else {
			closing = k.loopNest(loop[:r-1])
		}
		for _, a := range ext {
			outer := rowOff(strides[a])
			if rowScalar[a] {
				k.printf("%s := %s\n", local[a], k.elem(a, outer))
			} else {
				k.printf("%s := %s[%s:][:%s]\n", local[a], k.p.ref(a), outer, inner)
			}
		}
		outOff := rowOff(dims.Strides(loop))
		for _, v := range outs {
			k.printf("%s := %s[%s:][:%s]\n", k.p.rowOf(v), k.p.ref(v), outOff, inner)
		}
		switch {
		case sink != nil && sinkRow && par:
			k.printf("%s := acc[:%s]\n", k.p.rowOf(sink), inner)
		case sink != nil && sinkRow:
			k.printf("%s := %s[%s:][:%s]\n", k.p.rowOf(sink), k.p.ref(sink), sinkOff, inner)
		}
		return closing
	}
	// The vector form, when every op has a primitive (see vec.go).
	// Rows shorter than vecMin are worth only the AVX2 function.
	vecLen := loop[r-1].Resolve(k.p.maxBatch)
	if !k.p.noAsm && vecLen >= asmMinLen {
		vecLen = max(vecLen, k.p.vecMin)
	}
	var vl *vecLoop
	if k.p.vectorizable(members, sink, vecLen) && (sink == nil || sinkRow) {
		vl = &vecLoop{k: k, members: members, slices: map[*ir.Value]string{}, outs: map[*ir.Value]string{}, sink: sink}
		byName := map[string]*ir.Value{}
		for _, a := range ext {
			if !rowScalar[a] {
				vl.slices[a], byName[local[a]] = local[a], a
			}
		}
		for _, v := range outs {
			vl.outs[v] = k.p.rowOf(v)
			byName[vl.outs[v]] = v
		}
		if sink != nil {
			vl.sinkTo = k.p.rowOf(sink)
			byName[vl.sinkTo] = sink
		}
		vl.scalar = func(a *ir.Value) string {
			if rowScalar[a] {
				return local[a]
			}
			return k.elem(a, "0")
		}
		vl.mayAlias = func(out, in string) bool { return k.p.overlap(byName[out], byName[in]) }
		vl.plan()
	}
	isRowScalar := func(expr string) bool {
		for a, ok := range rowScalar {
			if ok && local[a] == expr {
				return true
			}
		}
		return false
	}
	vectorized := false
	// The AVX2 function of the loop (asm.go), named after the unit.
	if vl != nil && !k.p.noAsm {
		name := k.p.unitName(u, members, sink, "AVX2")
		if fn, args, ok := vl.asm(k.p.names.Name(name, "Asm"), inner); ok {
			fn.goVar = name // not the asm's name less Asm: that may have a number
			k.asm = append(k.asm, fn)
			call := fmt.Sprintf("%s(%s)\n", name, strings.Join(args, ", "))
			if _, err := strconv.Atoi(inner); err != nil {
				call = fmt.Sprintf("if %s > 0 {\n%s}\n", inner, call)
			}
			k.printf("if %s != nil { // in registers, 8 lanes at a time (model_amd64.s)\n", name)
			closing := open()
			k.printf("%s%s} else {\n", call, closing)
			vectorized = true
		}
	}
	if vl != nil && !vectorized && loop[r-1].Resolve(k.p.maxBatch) >= k.p.vecMin {
		k.printf("if rt.HasAVX2() { // a strip of rt.VecChunk elements at a time\n")
		k.printf("%s\n", vtDecl(vl.slots))
		vl.fill(func(s string) bool { return !isRowScalar(s) }) // constants: filled once
		closing := open()
		vl.fill(isRowScalar) // per-row scalars
		vl.loop(inner)
		k.printf("%s} else {\n", closing)
		vectorized = true
	}
	// The plain loop.
	closing := open()
	acc := ""
	if sink != nil && !sinkRow {
		init := "float32(0)"
		if sink.Type.DType == ir.I32 {
			init = "int32(0)"
		}
		if sink.Op.Reduce == ir.ReduceMax {
			init = k.p.ref(sink) + "[" + sinkOff + "]"
		}
		acc = "acc"
		k.printf("acc := %s\n", init)
	}
	if len(outs) > 0 {
		k.printf("for j := range %s {\n", k.p.rowOf(outs[0]))
	} else {
		k.printf("for j := 0; j < %s; j++ {\n", inner)
	}
	rd := func(a *ir.Value) string {
		switch {
		case rowScalar[a]:
			return local[a]
		case local[a] != "":
			return local[a] + "[j]"
		}
		return k.elem(a, "0") // inline scalars
	}
	for _, v := range members {
		k.printf("%s := %s\n", k.p.ident(v), expr(v, rd))
	}
	if sink != nil {
		x := rd(sink.Args[0])
		if inUnit(sink.Args[0]) {
			x = k.p.ident(sink.Args[0])
		}
		dst := acc
		if sinkRow {
			dst = k.p.rowOf(sink) + "[j]"
		}
		if sink.Op.Reduce == ir.ReduceMax {
			k.printf("if cand := %s; cand > %s || cand != cand {\n%s = cand\n}\n", x, dst, dst)
		} else {
			k.printf("%s += %s\n", dst, x)
		}
	}
	// Stores last: an output may reuse the memory of an arg read above.
	for _, v := range outs {
		k.printf("%s[j] = %s\n", k.p.rowOf(v), k.p.ident(v))
	}
	k.printf("}\n")
	if acc != "" {
		if sink.Op.Reduce == ir.ReduceMax {
			k.printf("%s[%s] = acc\n", k.p.ref(sink), sinkOff)
		} else {
			k.printf("%s[%s] += acc\n", k.p.ref(sink), sinkOff)
		}
	}
	k.printf("%s", closing)
	if vectorized {
		k.printf("}\n")
	}
	if par {
		k.endParallelRows(u, members, sink, saved, dims.Size(loop[:r-1]), inner)
	}
	if sink != nil && sink.Op.Reduce == ir.ReduceMean {
		k.finishMean(sink)
	}
}

// parRowsMin is the number of elements (at the largest batch) from which
// a unit's loop over rows is split across the cores; parChunk is the number
// of elements of a chunk of a column reduction's rows (rt.SumRows).
const (
	parRowsMin = 1 << 16
	parChunk   = 1 << 16
)

// rowsFunc is the method that computes a range of the rows of a unit's
// loop: name(lo, hi int), or name(acc []float32, lo, hi int) adding a
// column reduction's partial sums into acc; field holds it as a func value
// made once (New), so that passing it to the runtime does not allocate.
type rowsFunc struct {
	name, field string
	sum         bool
	unit        string // the method that calls it
	body        string
	// step, for the per-example loops of a recurrence (scan.go), is the
	// Model field the unit sets to the time step before each call.
	step string
}

// parallelRows reports whether the loop of unit u over rows of loop (the
// last axis innermost) runs as a rowsFunc split across the cores: a loop
// of at least parRowsMin elements, each of whose arrays is either read
// row by row like the loop (one row of it per row of the loop) or the
// same row for every row (a broadcast vector or scalar), and whose sink,
// if any, is a float32 sum or mean over every axis but the last (a column
// reduction: the bias gradient). Such a row is found from the flat row
// index alone. Inputs (the method's parameters, not fields) keep the loop
// serial, and so does a unit split over examples (split.go).
func (k *kgen) parallelRows(u *ir.Unit, ext []*ir.Value, strides map[*ir.Value][]string, rowScalar map[*ir.Value]bool,
	loop ir.Shape, flat bool, sink *ir.Value, sinkRow bool, sinkOff string) bool {
	r := len(loop)
	if u == nil || flat || r < 2 || loop[r-1] < 0 || k.p.ex != nil {
		return false // (a unit split over examples is split already: split.go)
	}
	size := 1
	for _, d := range loop {
		size *= d.Resolve(k.p.maxBatch)
	}
	if size < parRowsMin {
		return false
	}
	dense := offset(dims.Strides(loop)[:r-1])
	for _, a := range ext {
		if k.p.slot(k.p.source(a)).Storage == ir.StoreInput {
			return false
		}
		switch off := offset(strides[a][:r-1]); {
		case off == "0":
		case off == dense && !rowScalar[a]:
		default:
			return false
		}
	}
	if sink != nil {
		return sinkRow && sinkOff == "0" && sink.Type.DType == ir.F32 &&
			(sink.Op.Reduce == ir.ReduceSum || sink.Op.Reduce == ir.ReduceMean)
	}
	return true
}

// endParallelRows turns the loop just emitted (the builder's text after
// saved) into a rowsFunc of u, and emits in its place the call that runs
// it over rows rows of inner elements.
func (k *kgen) endParallelRows(u *ir.Unit, members []*ir.Value, sink *ir.Value, saved, rows, inner string) {
	body := k.b.String()
	k.b.Reset()
	k.b.WriteString(saved)
	fn := rowsFunc{name: k.p.unitName(u, members, sink, "Rows"), sum: sink != nil, body: body}
	fn.field = k.p.names.Name(fn.name, "Fn")
	n, _ := strconv.Atoi(inner)
	if fn.sum {
		k.printf("rt.SumRows(%s[:%s], %s, %d, m.%s) // m.%s(acc, lo, hi) over chunks of rows, split across the cores\n",
			k.p.ref(sink), inner, rows, max(1, parChunk/n), fn.field, fn.name)
	} else {
		k.printf("rt.ForRows(%s, %s, m.%s) // m.%s(lo, hi), split across the cores\n", rows, inner, fn.field, fn.name)
	}
	k.rows = append(k.rows, fn)
}
