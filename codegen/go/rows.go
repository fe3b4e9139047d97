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
	// The row loops, with the row slices and per-row scalars.
	open := func() string {
		closing := k.loopNest(loop[:r-1])
		for _, a := range ext {
			outer := offset(strides[a][:r-1])
			if rowScalar[a] {
				k.printf("%s := %s\n", local[a], k.elem(a, outer))
			} else {
				k.printf("%s := %s[%s:][:%s]\n", local[a], k.p.ref(a), outer, inner)
			}
		}
		outOff := offset(dims.Strides(loop)[:r-1])
		for _, v := range outs {
			k.printf("%s := %s[%s:][:%s]\n", k.p.rowOf(v), k.p.ref(v), outOff, inner)
		}
		if sink != nil && sinkRow {
			k.printf("%s := %s[%s:][:%s]\n", k.p.rowOf(sink), k.p.ref(sink), sinkOff, inner)
		}
		return closing
	}
	// The vector form, when every op has a primitive (see vec.go).
	var vl *vecLoop
	if k.p.vectorizable(members, sink, loop[r-1].Resolve(k.p.maxBatch)) && (sink == nil || sinkRow) {
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
	if vl != nil && !vectorized {
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
	if sink != nil && sink.Op.Reduce == ir.ReduceMean {
		k.finishMean(sink)
	}
}
