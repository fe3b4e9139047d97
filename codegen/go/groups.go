package gogen

import (
	"fmt"
	"strings"

	"github.com/mdlc/mdlc/ir"
)

// Emission of fused groups: one loop nest per group with members held in
// local variables; members used elsewhere are stored.

// local is the Go name of a member's local variable.
func localVar(v *ir.Value) string { return fmt.Sprintf("v%d", v.ID) }

// groupExpr builds the expression of member v, reading members from locals
// and other args through read.
func (k *kgen) groupExpr(gr *ir.Group, v *ir.Value, read func(a *ir.Value) string) string {
	args := make([]string, len(v.Args))
	for i, a := range v.Args {
		if k.p.groupOf[a] == gr && k.p.bufs[a].kind != alias {
			args[i] = localVar(a)
		} else {
			args[i] = read(a)
		}
	}
	if v.Op.Name == "broadcast" {
		return args[0]
	}
	return scalarOps[v.Op.Name](k, v, args)
}

// emitGroup writes the code of one group.
func (k *kgen) emitGroup(gr *ir.Group) {
	switch {
	case gr.Lanes != nil && k.p.flat[gr] != nil:
		k.emitLanes(gr)
	case gr.Lanes != nil:
		for _, lane := range gr.Lanes {
			k.emitLoop(&ir.Group{Kind: gr.Kind, Values: lane}, gr)
		}
	case gr.Kind == ir.KindContraction && k.emitFusedGemm(gr):
	case gr.Kind == ir.KindContraction:
		emitMatmul(k, gr.Values[0])
		k.emitLoop(gr, gr)
	default:
		k.emitLoop(gr, gr)
	}
}

// emitFusedGemm emits a contraction group of the form act(M + bias) (act
// relu or none, bias a vector over M's last axis) as one SgemmEpilogue call:
// the bias and activation are applied to each tile while it is in
// registers. It reports false, emitting nothing, for any other form.
func (k *kgen) emitFusedGemm(gr *ir.Group) bool {
	m := gr.Values[0]
	rest := gr.Values[1:]
	if m.Type.Shape.Rank() != 2 || len(rest) == 0 || len(rest) > 2 {
		return false
	}
	add := rest[0]
	if add.Op.Name != "add" {
		return false
	}
	bias := add.Args[1]
	if add.Args[1] == m {
		bias = add.Args[0]
	} else if add.Args[0] != m {
		return false
	}
	n := m.Type.Shape[1]
	if bias.Type.Shape.Rank() != 1 || bias.Type.Shape[0] != n || bias.Type.DType != ir.F32 || k.p.bufs[bias].kind == inline {
		return false
	}
	act := "rt.ActNone"
	if len(rest) == 2 {
		if rest[1].Op.Name != "relu" || rest[1].Args[0] != add {
			return false
		}
		act = "rt.ActReLU"
	}
	out := rest[len(rest)-1]
	if !k.p.stored[out] || (len(rest) == 2 && k.p.stored[add]) {
		return false
	}
	a, b := m.Args[0], m.Args[1]
	_, mm, kk, nn, _ := ir.MatmulDims(m)
	k.printf("rt.SgemmEpilogue(%v, %v, %s, %s, %s, 1, %s, %s, %s, %s, 0, %s, %s, rt.Epilogue{Bias: %s, Act: %s})\n",
		m.Attrs.Bool("ta"), m.Attrs.Bool("tb"), extent(mm), extent(nn), extent(kk),
		k.p.ref(a), extent(a.Type.Shape[1]), k.p.ref(b), extent(b.Type.Shape[1]), k.p.ref(out), extent(nn), k.p.ref(bias), act)
	return true
}

// emitLoop emits an elementwise or reduction group as one loop nest over
// its loop space. owner is the group the plan knows the members by.
func (k *kgen) emitLoop(gr, owner *ir.Group) {
	var sink *ir.Value
	members := gr.Values
	if gr.Kind == ir.KindContraction {
		members = members[1:]
	}
	last := members[len(members)-1]
	space := last.Type.Shape
	if gr.Kind == ir.KindReduction {
		sink, members = last, members[:len(members)-1]
		space = sink.Args[0].Type.Shape
	}
	k.emitRows(owner, members, sink, space, func(v *ir.Value, read func(a *ir.Value) string) string {
		return k.groupExpr(owner, v, read)
	}, func(v *ir.Value) bool { return k.p.stored[v] })
}

func (k *kgen) initReduction(r *ir.Value) {
	dst := k.p.ref(r)
	init := "0"
	if r.Op.Name == "reduce_max" {
		init = "float32(math.Inf(-1))"
		if r.Type.DType == ir.I32 {
			init = "int32(math.MinInt32)"
		}
	}
	k.printf("for i := range %s[:%s] {\n%s[i] = %s\n}\n", dst, sizeExpr(r.Type.Shape), dst, init)
}

func (k *kgen) finishMean(r *ir.Value) {
	x := r.Args[0]
	axes, _ := ir.NormAxes(r.Attrs.Ints("axes"), x.Type.Shape.Rank())
	var red ir.Shape
	for _, a := range axes {
		red = append(red, x.Type.Shape[a])
	}
	dst := k.p.ref(r)
	k.printf("for i := range %s[:%s] {\n%s[i] /= float32(%s)\n}\n", dst, sizeExpr(r.Type.Shape), dst, prodExpr(red))
}

// emitLanes runs the optimizer update of every param as one loop over the
// params block: lane 0's chain, with the param, its gradient and its state
// read at the same flat index of their blocks, and updates written in place.
func (k *kgen) emitLanes(gr *ir.Group) {
	lay := k.p.flat[gr]
	lane := gr.Lanes[0]
	param := k.p.g.Params()[0]
	targets := map[*ir.Value]*ir.Value{}
	for _, u := range k.p.g.Updates {
		targets[u.Value] = u.Target
	}
	grads := map[*ir.Value]bool{}
	for _, r := range k.p.g.ResultsOf(ir.ResultGrad) {
		if r.Name == param.Name {
			grads[r.Value] = true
		}
	}
	// Lane 0's param, gradient and state are read at flat index i of row
	// slices that cover every param (their blocks share the layout).
	base := k.p.bufs[param].off
	// The loop body becomes the method update(lo, hi) over a range of the
	// blocks, split across cores by rt.ParallelRows (every element is
	// independent, so the result does not depend on the split).
	outer := k.b.String()
	k.b.Reset()
	k.printf("params := m.params[lo:hi]\ngrads := m.grads[lo:hi:hi]\n")
	kinds := map[string]string{}
	var kindOrder []string
	for _, v := range lane {
		for _, a := range append(append([]*ir.Value(nil), v.Args...), targets[v]) {
			if a != nil && a.Op.Name == "state" && strings.HasPrefix(a.Name, param.Name+".") {
				kind := a.Name[len(param.Name):]
				if kinds[kind] == "" {
					kinds[kind] = fmt.Sprintf("state%d", len(kinds))
					kindOrder = append(kindOrder, kind)
				}
			}
		}
	}
	for _, kind := range kindOrder {
		k.printf("%s := m.state[%d+lo : %d+hi] // %s\n", kinds[kind], lay.base[kind]+base, lay.base[kind]+base, strings.TrimPrefix(kind, "."))
	}
	// Shared scalars (learning rate, bias corrections) are read once.
	scalars := map[*ir.Value]string{}
	for _, v := range lane {
		for _, a := range v.Args {
			src := k.p.source(a)
			if a == param || grads[a] || k.p.groupOf[a] == gr || src.Op.Name == "const" || src.Op.Name == "numel" || scalars[a] != "" ||
				(a.Op.Name == "state" && strings.HasPrefix(a.Name, param.Name+".")) {
				continue
			}
			scalars[a] = fmt.Sprintf("s%d", len(scalars))
			k.printf("%s := %s\n", scalars[a], k.elem(a, "0"))
		}
	}
	read := func(a *ir.Value) string {
		switch {
		case a == param:
			return "params[i]"
		case grads[a]:
			return "grads[i]"
		case a.Op.Name == "state" && strings.HasPrefix(a.Name, param.Name+"."):
			return kinds[a.Name[len(param.Name):]] + "[i]"
		case scalars[a] != "":
			return scalars[a]
		}
		return k.elem(a, "0")
	}
	if k.p.vectorizable(lane, nil, k.p.params) {
		saved := k.vtSlots
		k.vtSlots = 0
		vl := &vecLoop{k: k, members: lane, slices: map[*ir.Value]string{}, outs: map[*ir.Value]string{}}
		for _, v := range lane {
			for _, a := range v.Args {
				if r := read(a); strings.HasSuffix(r, "[i]") {
					vl.slices[a] = strings.TrimSuffix(r, "[i]")
				}
			}
			if t := targets[v]; t != nil && t.Op.Name == "param" {
				vl.outs[v] = "params"
			} else if t != nil {
				vl.outs[v] = kinds[t.Name[len(param.Name):]]
			}
		}
		vl.scalar = read
		vl.mayAlias = func(out, in string) bool { return out == in } // distinct blocks
		vl.plan()
		if fn, args, ok := vl.asm("updateAVX2Asm", "len(params)"); ok && !k.p.noAsm {
			k.asm = append(k.asm, fn)
			k.printf("if updateAVX2 != nil { // the loop below in registers, 8 lanes at a time (model_amd64.s)\n")
			k.printf("if len(params) > 0 {\nupdateAVX2(%s)\n}\nreturn\n}\n", strings.Join(args, ", "))
		}
		k.printf("%s\n", vtDecl(k.vtSlots))
		vl.fill(func(string) bool { return true })
		vl.loop("len(params)")
		k.vtSlots = saved
	} else {
		k.printf("for i := range params {\n")
		for _, v := range lane {
			k.printf("%s := %s\n", localVar(v), k.groupExpr(gr, v, read))
		}
		for _, v := range lane {
			t := targets[v]
			if t == nil {
				continue
			}
			if t.Op.Name == "param" {
				k.printf("params[i] = %s\n", localVar(v))
			} else {
				k.printf("%s[i] = %s\n", kinds[t.Name[len(param.Name):]], localVar(v))
			}
		}
		k.printf("}\n")
	}
	k.methods = append(k.methods, method{name: "update", doc: "update is the optimizer step of the params in [lo, hi) of the params block (and of\ntheir gradients and state at the same offsets).", body: k.b.String()})
	k.b.Reset()
	k.b.WriteString(outer)
	k.printf("if numParams >= 1<<15 {\nrt.ParallelRows(numParams, m.updateFn)\n} else {\nm.update(0, numParams)\n}\n")
}

// method is a helper method of the Model that a kernel needs.
type method struct {
	name, doc, body string
}

func plusOffset(i string, off int) string {
	switch {
	case off == 0:
		return i
	case off < 0:
		return fmt.Sprintf("%s-%d", i, -off)
	}
	return fmt.Sprintf("%s+%d", i, off)
}

// groupComment describes a group for the generated code.
func (gen *generator) groupComment(gr *ir.Group) string {
	var parts []string
	n := len(gr.Values)
	if gr.Lanes != nil {
		n = len(gr.Lanes[0])
	}
	for _, v := range gr.Values[:n] {
		parts = append(parts, fmt.Sprintf("%%%d %s", v.ID, v.Op.Name))
	}
	shape := shapeComment(gr.Values[len(gr.Values)-1].Type.Shape)
	kind := gr.Kind.String()
	if gr.Lanes != nil {
		kind = fmt.Sprintf("optimizer update of all %d params, one loop over the params block", len(gr.Lanes))
		shape = ""
	}
	return strings.TrimSpace(fmt.Sprintf("group (%s): %s %s", kind, strings.Join(parts, ", "), shape))
}
