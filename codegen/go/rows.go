package gogen

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/ir"
)

// emitRows emits one loop nest over space computing members (as locals, in
// order) and optionally accumulating into a reduction sink. The innermost
// axis runs over row slices hoisted out of it, so the Go compiler drops
// the bounds checks: each external arg is a row slice (its last axis is the
// loop's) or a scalar read once per row (broadcast along the last axis).
// expr gives a member's expression from its args' element expressions.
func (k *kgen) emitRows(owner *ir.Group, members []*ir.Value, sink *ir.Value, space ir.Shape,
	expr func(v *ir.Value, read func(a *ir.Value) string) string, stored func(v *ir.Value) bool) {
	inGroup := func(a *ir.Value) bool {
		return owner != nil && k.p.groupOf[a] == owner && k.p.bufs[a].kind != alias && a != sink
	}
	isInline := func(a *ir.Value) bool {
		src := k.p.source(a)
		return src.Op.Name == "const" || src.Op.Name == "numel"
	}
	// External array args, in first-use order.
	var ext []*ir.Value
	seen := map[*ir.Value]bool{}
	addExt := func(a *ir.Value) {
		if !inGroup(a) && !isInline(a) && !seen[a] {
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
			k.printf("%s := %s\n", localVar(v), expr(v, rd))
		}
		for _, v := range members {
			if stored(v) {
				k.printf("%s[0] = %s\n", k.p.ref(v), localVar(v))
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
	inner := extent(loop[r-1])
	var axes []int
	if sink != nil {
		axes, _ = ir.NormAxes(sink.Attrs.Ints("axes"), sink.Args[0].Type.Shape.Rank())
		k.initReduction(sink)
	}
	// Which args are row slices (their last axis is the loop's).
	strides := map[*ir.Value][]string{}
	for _, a := range ext {
		st := stridesOf(loop)
		if !flat {
			st = bcastStrides(a.Type.Shape, loop)
		}
		strides[a] = st
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
	// The vector form, when every op has a primitive (see vec.go).
	var vl *vecLoop
	rowScalar := map[*ir.Value]string{}
	isRowScalar := func(expr string) bool {
		for _, name := range rowScalar {
			if name == expr {
				return true
			}
		}
		return false
	}
	if k.p.vectorizable(members, sink, loop[r-1].Resolve(k.p.maxBatch)) && (sink == nil || sinkRow) {
		vl = &vecLoop{k: k, members: members, slices: map[*ir.Value]string{}, outs: map[*ir.Value]string{}, sink: sink, sinkTo: "s"}
		byName := map[string]*ir.Value{"s": sink}
		for n, a := range ext {
			name := fmt.Sprintf("a%d", n)
			if strides[a][r-1] == "" {
				rowScalar[a] = name
			} else {
				vl.slices[a], byName[name] = name, a
			}
		}
		for _, v := range outs {
			vl.outs[v] = fmt.Sprintf("o%d", v.ID)
			byName[vl.outs[v]] = v
		}
		vl.scalar = func(a *ir.Value) string {
			if s, ok := rowScalar[a]; ok {
				return s
			}
			return k.elem(a, "0")
		}
		vl.mayAlias = func(out, in string) bool { return k.p.overlap(byName[out], byName[in]) }
		vl.plan()
	}
	// The AVX2 function of the loop (asm.go), named after the group's last
	// value: the same group in Forward, Eval and step shares it.
	var asmName, asmCall string
	if vl != nil && !k.p.noAsm {
		last := members[len(members)-1]
		if sink != nil {
			last = sink
		}
		name := fmt.Sprintf("g%dAVX2", last.ID)
		if fn, args, ok := vl.asm(name+"Asm", inner); ok {
			k.asm = append(k.asm, fn)
			asmName, asmCall = name, fmt.Sprintf("%s(%s)\n", name, strings.Join(args, ", "))
			if _, err := strconv.Atoi(inner); err != nil {
				asmCall = fmt.Sprintf("if %s > 0 {\n%s}\n", inner, asmCall)
			}
		}
	}
	k.printf("{\n")
	if vl != nil { // constants: filled once, for the strip-mined loop only
		if asmName != "" {
			k.printf("if %s == nil {\n", asmName)
		}
		vl.fill(func(s string) bool { return !isRowScalar(s) })
		if asmName != "" {
			k.printf("}\n")
		}
	}
	closing := k.loopNest(loop[:r-1]) + "}\n"
	// Row slices and per-row scalars of the external args.
	read := map[*ir.Value]string{}
	for n, a := range ext {
		st := strides[a]
		outer := offset(st[:r-1])
		name := fmt.Sprintf("a%d", n)
		if st[r-1] == "" {
			k.printf("%s := %s\n", name, k.elem(a, outer))
			read[a] = name
		} else {
			k.printf("%s := %s[%s:][:%s]\n", name, k.p.ref(a), outer, inner)
			read[a] = name + "[j]"
		}
	}
	outOff := offset(stridesOf(loop)[:r-1])
	for _, v := range outs {
		k.printf("o%d := %s[%s:][:%s]\n", v.ID, k.p.ref(v), outOff, inner)
	}
	// The sink: a row slice when it keeps the last axis, else a local sum.
	if sink != nil {
		if sinkRow {
			k.printf("s := %s[%s:][:%s]\n", k.p.ref(sink), sinkOff, inner)
		} else {
			init := "float32(0)"
			if sink.Type.DType == ir.I32 {
				init = "int32(0)"
			}
			if sink.Op.Name == "reduce_max" {
				init = k.p.ref(sink) + "[" + sinkOff + "]"
			}
			k.printf("acc := %s\n", init)
		}
		k.sinkOff = sinkOff
	}
	if vl != nil {
		if asmName != "" {
			k.printf("if %s != nil { // in registers, 8 lanes at a time (model_amd64.s)\n%s} else {\n", asmName, asmCall)
		}
		vl.fill(isRowScalar) // per-row scalars
		vl.loop(inner)
		if asmName != "" {
			k.printf("}\n")
		}
		k.printf("%s", closing)
		if sink != nil && sink.Op.Name == "reduce_mean" {
			k.finishMean(sink)
		}
		return
	}
	if len(outs) > 0 {
		k.printf("for j := range o%d {\n", outs[0].ID)
	} else {
		k.printf("for j := 0; j < %s; j++ {\n", inner)
	}
	rd := func(a *ir.Value) string {
		if s, ok := read[a]; ok {
			return s
		}
		return k.elem(a, "0") // inline scalars
	}
	for _, v := range members {
		k.printf("%s := %s\n", localVar(v), expr(v, rd))
	}
	if sink != nil {
		x := rd(sink.Args[0])
		if inGroup(sink.Args[0]) {
			x = localVar(sink.Args[0])
		}
		switch {
		case sinkRow && sink.Op.Name == "reduce_max":
			k.printf("if x := %s; x > s[j] || x != x {\ns[j] = x\n}\n", x)
		case sinkRow:
			k.printf("s[j] += %s\n", x)
		case sink.Op.Name == "reduce_max":
			k.printf("if x := %s; x > acc || x != x {\nacc = x\n}\n", x)
		default:
			k.printf("acc += %s\n", x)
		}
	}
	// Stores last: an output may reuse the memory of an arg read above.
	for _, v := range outs {
		k.printf("o%d[j] = %s\n", v.ID, localVar(v))
	}
	k.printf("}\n")
	if sink != nil && !sinkRow {
		if sink.Op.Name == "reduce_max" {
			k.printf("%s[%s] = acc\n", k.p.ref(sink), k.sinkOff)
		} else {
			k.printf("%s[%s] += acc\n", k.p.ref(sink), k.sinkOff)
		}
	}
	k.printf("%s", closing)
	if sink != nil && sink.Op.Name == "reduce_mean" {
		k.finishMean(sink)
	}
}
