package gogen

import (
	"fmt"
	"strings"

	"github.com/mdlc/mdlc/codegen/internal/dims"

	"github.com/mdlc/mdlc/codegen/internal/render"
	"github.com/mdlc/mdlc/ir"
)

// Emission of units: one loop nest per unit with members held in local
// variables; members used elsewhere are stored.

// inUnit reports whether a is computed in u's loop (as a local): a member
// that is not the contraction, which the loop reads from its output.
func (k *kgen) inUnit(u *ir.Unit, a *ir.Value) bool {
	return u != nil && k.p.unitOf(a) == u && k.p.slot(a).Storage != ir.StoreAlias
}

// unitExpr builds the expression of member v, reading members from locals
// and other args through read.
func (k *kgen) unitExpr(u *ir.Unit, v *ir.Value, read func(a *ir.Value) string) string {
	args := make([]string, len(v.Args))
	for i, a := range v.Args {
		if k.inUnit(u, a) {
			args[i] = k.p.ident(a)
		} else {
			args[i] = read(a)
		}
	}
	return k.scalarExpr(v, args)
}

// emitUnit writes the code of one unit.
func (k *kgen) emitUnit(u *ir.Unit) {
	if k.poolGrad != nil {
		k.emitPoolReLU(u, k.poolGrad)
		return
	}
	switch u.Kind {
	case ir.UnitUpdate:
		k.emitUpdate(u)
	case ir.UnitContract:
		if !k.emitFusedGemm(u) {
			if err := render.Op(k, u.Values[0]); err != nil {
				k.err = err
			}
			k.emitLoop(u)
		}
	case ir.UnitOp:
		if err := render.Op(k, u.Values[0]); err != nil {
			k.err = err
		}
	default:
		k.emitLoop(u)
	}
}

// emitFusedGemm emits a contraction group of the form act(M + bias) (act
// relu or none, bias a vector over M's last axis) as one SgemmEpilogue call:
// the bias and activation are applied to each tile while it is in
// registers. It reports false, emitting nothing, for any other form.
func (k *kgen) emitFusedGemm(u *ir.Unit) bool {
	m := u.Values[0]
	rest := u.Values[1:]
	conv := m.Op.Family == ir.FamilyConv // conv2d: its GEMMs write [.., F] rows
	if !conv && m.Type.Shape.Rank() != 2 || len(rest) == 0 || len(rest) > 2 {
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
	n := m.Type.Shape[m.Type.Shape.Rank()-1]
	if bias.Type.Shape.Rank() != 1 || bias.Type.Shape[0] != n || bias.Type.DType != ir.F32 || k.p.inline(bias) {
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
	if !k.p.stored(out) || (len(rest) == 2 && k.p.stored(add)) {
		return false
	}
	if conv {
		// Group gi's GEMM writes output channels gi*F/G.. and adds their biases.
		bref := k.p.ref(bias)
		if g, err := ir.Conv2DGeometry(m); err == nil && g.Groups > 1 && !g.Pointwise() {
			bref += fmt.Sprintf("[gi*%d:]", g.FG())
		}
		k.conv(m, fmt.Sprintf("rt.Epilogue{Bias: %s, Act: %s}", bref, act))
		return true
	}
	a, b := m.Args[0], m.Args[1]
	_, mm, kk, nn, _ := ir.MatmulDims(m)
	k.printf("rt.SgemmEpilogue(%v, %v, %s, %s, %s, 1, %s, %s, %s, %s, 0, %s, %s, rt.Epilogue{Bias: %s, Act: %s})\n",
		m.Attrs.Bool("ta"), m.Attrs.Bool("tb"), dims.Extent(mm), dims.Extent(nn), dims.Extent(kk),
		k.p.ref(a), dims.Extent(a.Type.Shape[1]), k.p.ref(b), dims.Extent(b.Type.Shape[1]), k.p.ref(out), dims.Extent(nn), k.p.ref(bias), act)
	return true
}

// emitLoop emits a loop or reduction unit (or a contraction's epilogue)
// as one loop nest over its loop space.
func (k *kgen) emitLoop(u *ir.Unit) {
	var sink *ir.Value
	members := u.Values
	if u.Kind == ir.UnitContract {
		members = members[1:]
	}
	last := members[len(members)-1]
	space := last.Type.Shape
	if u.Kind == ir.UnitReduce {
		sink, members = last, members[:len(members)-1]
		space = sink.Args[0].Type.Shape
	}
	k.emitRows(u, members, sink, space, func(v *ir.Value, read func(a *ir.Value) string) string {
		return k.unitExpr(u, v, read)
	}, k.p.stored)
}

func (k *kgen) initReduction(r *ir.Value) {
	dst := k.p.ref(r)
	init := "0"
	if r.Op.Reduce == ir.ReduceMax {
		init = "float32(math.Inf(-1))"
		if r.Type.DType == ir.I32 {
			init = "int32(math.MinInt32)"
		}
	}
	k.printf("for i := range %s[:%s] {\n%s[i] = %s\n}\n", dst, dims.Size(r.Type.Shape), dst, init)
}

func (k *kgen) finishMean(r *ir.Value) {
	x := r.Args[0]
	axes, _ := ir.NormAxes(r.Attrs.Ints("axes"), x.Type.Shape.Rank())
	var red ir.Shape
	for _, a := range axes {
		red = append(red, x.Type.Shape[a])
	}
	dst := k.p.ref(r)
	k.printf("for i := range %s[:%s] {\n%s[i] /= float32(%s)\n}\n", dst, dims.Size(r.Type.Shape), dst, dims.Size(red))
}

// emitUpdate writes the optimizer update of every param as one loop over
// the params block (ir.FlatUpdate): the first param's chain, with the
// param, its gradient and its state read at the same flat index of their
// blocks, and updates written in place. It is the body of the method
// update(lo, hi) over a range of the blocks, which the step splits across
// cores by rt.ParallelRows (every element is independent, so the result
// does not depend on the split).
func (k *kgen) emitUpdate(u *ir.Unit) {
	fu := u.Flat
	lane := fu.Chain
	k.printf("params := m.params[lo:hi]\ngrads := m.grads[lo:hi:hi]\n")
	kinds := map[*ir.Value]string{}
	for _, r := range fu.Runs {
		kinds[r.State] = k.p.names.Name("state."+r.Kind, "")
		k.printf("%s := m.state[%d+lo : %d+hi] // %s of every param\n", kinds[r.State], r.Base, r.Base, r.Kind)
	}
	// Shared scalars (learning rate, bias corrections) are read once.
	shared := map[*ir.Value]string{}
	for _, v := range lane {
		for _, a := range v.Args {
			if _, isState := fu.State[a]; a == fu.Param || a == fu.Grad || k.p.unitOf(a) == u || k.p.inline(a) || shared[a] != "" || isState {
				continue
			}
			shared[a] = k.p.ident(a)
			k.printf("%s := %s\n", shared[a], k.elem(a, "0"))
		}
	}
	read := func(a *ir.Value) string {
		if s := render.FlatOperand(fu, a, kinds); s != "" {
			return s
		}
		if shared[a] != "" {
			return shared[a]
		}
		return k.elem(a, "0")
	}
	target := func(v *ir.Value) string {
		switch t := fu.Targets[v]; {
		case t == nil:
			return ""
		case t == fu.Param:
			return "params"
		default:
			return kinds[t]
		}
	}
	loop := func() {
		k.printf("for i := range params {\n")
		for _, v := range lane {
			k.printf("%s := %s\n", k.p.ident(v), k.unitExpr(u, v, read))
		}
		for _, v := range lane {
			if t := target(v); t != "" {
				k.printf("%s[i] = %s\n", t, k.p.ident(v))
			}
		}
		k.printf("}\n")
	}
	if !k.p.vectorizable(lane, nil, k.p.pl.Params) {
		loop()
		return
	}
	vl := &vecLoop{k: k, members: lane, slices: map[*ir.Value]string{}, outs: map[*ir.Value]string{}}
	for _, v := range lane {
		for _, a := range v.Args {
			if r := read(a); strings.HasSuffix(r, "[i]") {
				vl.slices[a] = strings.TrimSuffix(r, "[i]")
			}
		}
		if t := target(v); t != "" {
			vl.outs[v] = t
		}
	}
	vl.scalar = read
	vl.mayAlias = func(out, in string) bool { return out == in } // distinct blocks
	vl.plan()
	if fn, args, ok := vl.asm("updateAVX2Asm", "len(params)"); ok && !k.p.noAsm {
		fn.goVar = "updateAVX2"
		k.asm = append(k.asm, fn)
		k.printf("if updateAVX2 != nil { // the loop below in registers, 8 lanes at a time (model_amd64.s)\n")
		k.printf("if len(params) > 0 {\nupdateAVX2(%s)\n}\nreturn\n}\n", strings.Join(args, ", "))
		loop()
		return
	}
	k.printf("if rt.HasAVX2() { // the loop below, a strip of rt.VecChunk elements at a time\n")
	k.printf("%s\n", vtDecl(vl.slots))
	vl.fill(func(string) bool { return true })
	vl.loop("len(params)")
	k.printf("return\n}\n")
	loop()
}
