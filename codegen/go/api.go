package gogen

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/mdlc/mdlc/codegen/internal/dims"

	"github.com/mdlc/mdlc/ir"
)

// needed returns the values roots depend on, in graph order.
func needed(g *ir.Graph, roots []*ir.Value) []*ir.Value {
	need := dims.Needed(roots)
	var out []*ir.Value
	for _, v := range g.Values {
		if need[v] {
			out = append(out, v)
		}
	}
	return out
}

// usedInputs returns the inputs among vals, in declaration order.
func usedInputs(vals []*ir.Value) []*ir.Value {
	var out []*ir.Value
	for _, v := range vals {
		if v.Op.Name == "input" {
			out = append(out, v)
		}
	}
	return out
}

// params returns the Go parameter list for inputs.
func (gen *generator) params(ins []*ir.Value) []jen.Code {
	var out []jen.Code
	for _, v := range ins {
		out = append(out, jen.Id(gen.p.bufs[v].field).Id(goType(v)))
	}
	return append(out, jen.Id("n").Int())
}

func (gen *generator) args(ins []*ir.Value) []jen.Code {
	var out []jen.Code
	for _, v := range ins {
		out = append(out, jen.Id(gen.p.bufs[v].field))
	}
	return append(out, jen.Id("n"))
}

// checks validates the batch size and every input, returning zero values and the error.
func (gen *generator) checks(ins []*ir.Value, zeros ...jen.Code) []jen.Code {
	ret := func() jen.Code { return jen.Return(append(append([]jen.Code(nil), zeros...), jen.Err())...) }
	out := []jen.Code{jen.If(jen.Err().Op(":=").Add(rt("CheckBatch")).Call(jen.Id("n"), jen.Id("MaxBatch")), jen.Err().Op("!=").Nil()).Block(ret())}
	for _, v := range ins {
		name := v.Attrs.String("role") + " " + v.Name
		id := jen.Id(gen.p.bufs[v].field)
		per := perExample(v)
		if v.Type.DType == ir.I32 {
			hi := gen.g.IndexBound(v)
			if hi == 0 {
				hi = 1<<31 - 1
			}
			out = append(out, jen.If(jen.Err().Op(":=").Add(rt("CheckI32Range")).Call(jen.Lit(name), id, jen.Id("n"), jen.Lit(per), jen.Lit(hi)), jen.Err().Op("!=").Nil()).Block(ret()))
			continue
		}
		out = append(out,
			jen.If(jen.Err().Op(":=").Add(rt("CheckF32")).Call(jen.Lit(name), id, jen.Id("n"), jen.Lit(per)), jen.Err().Op("!=").Nil()).Block(ret()),
			jen.If(jen.Err().Op(":=").Add(rt("CheckFinite")).Call(jen.Lit(name), id), jen.Err().Op("!=").Nil()).Block(ret()))
	}
	return out
}

func (gen *generator) sliceOf(v *ir.Value) *jen.Statement {
	return jen.Id(gen.p.ref(v)).Index(jen.Op(":").Id(sizeExpr(v.Type.Shape)))
}

func (gen *generator) api(f *jen.File) {
	g := gen.g
	outs := g.ResultsOf(ir.ResultOutput)
	metrics := g.ResultsOf(ir.ResultMetric)
	loss := g.Loss()

	// Forward.
	var outRoots []*ir.Value
	var outNames []jen.Code
	var outVals []jen.Code
	var outZeros []jen.Code
	for _, r := range outs {
		outRoots = append(outRoots, r.Value)
		outNames = append(outNames, jen.Id(gen.p.name(r.Name, "")).Id(goType(r.Value)))
		outVals = append(outVals, gen.sliceOf(r.Value))
		outZeros = append(outZeros, jen.Nil())
	}
	fwdIns := usedInputs(needed(g, outRoots))
	gen.fwdIns = fwdIns
	f.Comment("Forward runs the model on the first n examples and returns its outputs, views of")
	f.Comment("the model's memory that stay valid until the next call.")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("Forward").Params(gen.params(fwdIns)...).Params(append(outNames, jen.Err().Error())...).Block(
		append(gen.checks(fwdIns, outZeros...),
			jen.Id("m").Dot("forward").Call(gen.args(fwdIns)...),
			jen.Return(append(outVals, jen.Nil())...))...,
	)

	// TrainStep and Eval.
	if loss != nil && len(g.Updates) > 0 {
		var roots []*ir.Value
		for _, u := range g.Updates {
			roots = append(roots, u.Value)
		}
		for _, r := range g.ResultsOf(ir.ResultGrad) {
			roots = append(roots, r.Value)
		}
		gen.stepIns = usedInputs(needed(g, append(roots, loss)))
		f.Comment("TrainStep runs one optimizer step on the first n examples and returns the loss")
		f.Comment("before the update.")
		f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("TrainStep").Params(gen.params(gen.stepIns)...).Params(jen.Id("loss").Float32(), jen.Err().Error()).Block(
			append(gen.checks(gen.stepIns, jen.Lit(0)),
				jen.Id("m").Dot("step").Call(gen.args(gen.stepIns)...),
				jen.Return(jen.Id(gen.p.ref(loss)).Index(jen.Lit(0)), jen.Nil()))...,
		)
	}
	if loss != nil {
		roots := []*ir.Value{loss}
		var names, vals, zeros []jen.Code
		names = append(names, jen.Id("loss").Float32())
		vals = append(vals, jen.Id(gen.p.ref(loss)).Index(jen.Lit(0)))
		zeros = append(zeros, jen.Lit(0))
		for _, r := range metrics {
			roots = append(roots, r.Value)
			names = append(names, jen.Id(gen.p.name(r.Name, "")).Float32())
			vals = append(vals, jen.Id(gen.p.ref(r.Value)).Index(jen.Lit(0)))
			zeros = append(zeros, jen.Lit(0))
		}
		gen.evalIns = usedInputs(needed(g, roots))
		var mnames []string
		for _, r := range metrics {
			mnames = append(mnames, r.Name)
		}
		doc := "Eval returns the loss"
		if len(mnames) > 0 {
			doc += " and the metrics (" + strings.Join(mnames, ", ") + ")"
		}
		f.Comment(doc + " on the first n examples without updating the model.")
		f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("Eval").Params(gen.params(gen.evalIns)...).Params(append(names, jen.Err().Error())...).Block(
			append(gen.checks(gen.evalIns, zeros...),
				jen.Id("m").Dot("eval").Call(gen.args(gen.evalIns)...),
				jen.Return(append(vals, jen.Nil())...))...,
		)
	}
	gen.generic(f, outs, metrics)
}

// batchArgs unpacks a runtime.Batch into the typed arguments for ins.
func (gen *generator) batchArgs(ins []*ir.Value) ([]jen.Code, jen.Code) {
	all := gen.inputs()
	var args []jen.Code
	for _, v := range ins {
		idx := 0
		for i, a := range all {
			if a == v {
				idx = i
			}
		}
		field := "F32"
		if v.Type.DType == ir.I32 {
			field = "I32"
		}
		args = append(args, jen.Id("b").Index(jen.Lit(idx)).Dot(field))
	}
	check := jen.If(jen.Len(jen.Id("b")).Op("!=").Lit(len(all))).Block(
		jen.Return(jen.Lit(0), jen.Qual("fmt", "Errorf").Call(jen.Lit(fmt.Sprintf("batch has %%d values, want %d (%s)", len(all), inputList(all))), jen.Len(jen.Id("b")))))
	return append(args, jen.Id("n")), check
}

func inputList(vs []*ir.Value) string {
	var s []string
	for _, v := range vs {
		s = append(s, v.Name)
	}
	return strings.Join(s, ", ")
}

// generic implements runtime.Model on top of the typed methods.
func (gen *generator) generic(f *jen.File, outs, metrics []ir.Result) {
	recv := func() *jen.Statement { return jen.Func().Params(jen.Id("m").Op("*").Id("Model")) }
	f.Var().Id("_").Add(rt("Model")).Op("=").Parens(jen.Op("*").Id("Model")).Parens(jen.Nil())

	// Train.
	f.Comment("Train implements runtime.Model: TrainStep on a batch given in Spec().Inputs order.")
	if gen.stepIns != nil || (gen.g.Loss() != nil && len(gen.g.Updates) > 0) {
		args, check := gen.batchArgs(gen.stepIns)
		f.Add(recv()).Id("Train").Params(jen.Id("b").Add(rt("Batch")), jen.Id("n").Int()).Params(jen.Float32(), jen.Error()).Block(
			check, jen.Return(jen.Id("m").Dot("TrainStep").Call(args...)))
	} else {
		f.Add(recv()).Id("Train").Params(jen.Id("b").Add(rt("Batch")), jen.Id("n").Int()).Params(jen.Float32(), jen.Error()).Block(
			jen.Return(jen.Lit(0), jen.Qual("fmt", "Errorf").Call(jen.Lit(gen.g.Name+" has no loss or no optimizer: it cannot be trained"))))
	}

	// Evaluate.
	f.Comment("Evaluate implements runtime.Model: Eval on a batch, metrics written to metrics.")
	if gen.g.Loss() != nil {
		args, check := gen.batchArgs(gen.evalIns)
		var lhs []jen.Code
		lhs = append(lhs, jen.Id("loss"))
		for i := range metrics {
			lhs = append(lhs, jen.Id(fmt.Sprintf("m%d", i)))
		}
		lhs = append(lhs, jen.Err())
		body := []jen.Code{check}
		if len(metrics) > 0 {
			body = append(body, jen.If(jen.Len(jen.Id("metrics")).Op("<").Lit(len(metrics))).Block(jen.Return(jen.Lit(0), jen.Qual("fmt", "Errorf").Call(jen.Lit(fmt.Sprintf("metrics has room for %%d values, want %d", len(metrics))), jen.Len(jen.Id("metrics"))))))
		}
		body = append(body,
			jen.List(lhs...).Op(":=").Id("m").Dot("Eval").Call(args...),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Lit(0), jen.Err())),
		)
		for i := range metrics {
			body = append(body, jen.Id("metrics").Index(jen.Lit(i)).Op("=").Id(fmt.Sprintf("m%d", i)))
		}
		body = append(body, jen.Return(jen.Id("loss"), jen.Nil()))
		f.Add(recv()).Id("Evaluate").Params(jen.Id("b").Add(rt("Batch")), jen.Id("n").Int(), jen.Id("metrics").Index().Float32()).Params(jen.Float32(), jen.Error()).Block(body...)
	} else {
		f.Add(recv()).Id("Evaluate").Params(jen.Id("b").Add(rt("Batch")), jen.Id("n").Int(), jen.Id("metrics").Index().Float32()).Params(jen.Float32(), jen.Error()).Block(
			jen.Return(jen.Lit(0), jen.Qual("fmt", "Errorf").Call(jen.Lit(gen.g.Name+" has no loss"))))
	}

	// Predict.
	args, check := gen.batchArgs(gen.fwdIns)
	check = jen.If(jen.Len(jen.Id("b")).Op("!=").Lit(len(gen.inputs()))).Block(
		jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit(fmt.Sprintf("batch has %%d values, want %d (%s)", len(gen.inputs()), inputList(gen.inputs()))), jen.Len(jen.Id("b")))))
	var lhs []jen.Code
	for i := range outs {
		lhs = append(lhs, jen.Id(fmt.Sprintf("o%d", i)))
	}
	body := []jen.Code{check,
		jen.If(jen.Len(jen.Id("outputs")).Op("!=").Lit(len(outs))).Block(jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit(fmt.Sprintf("outputs has %%d slices, want %d", len(outs))), jen.Len(jen.Id("outputs"))))),
	}
	if len(outs) > 0 {
		body = append(body,
			jen.List(append(lhs, jen.Err())...).Op(":=").Id("m").Dot("Forward").Call(args...),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())))
		for i, r := range outs {
			o := jen.Id(fmt.Sprintf("o%d", i))
			body = append(body,
				jen.If(jen.Len(jen.Id("outputs").Index(jen.Lit(i))).Op("<").Len(o)).Block(
					jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("output "+r.Name+": buffer holds %d values, need %d"), jen.Len(jen.Id("outputs").Index(jen.Lit(i))), jen.Len(o)))),
				jen.Copy(jen.Id("outputs").Index(jen.Lit(i)), o))
		}
	}
	body = append(body, jen.Return(jen.Nil()))
	f.Comment("Predict implements runtime.Model: Forward on a batch, outputs copied into outputs.")
	f.Add(recv()).Id("Predict").Params(jen.Id("b").Add(rt("Batch")), jen.Id("n").Int(), jen.Id("outputs").Index().Index().Float32()).Error().Block(body...)
}

// kernelFuncs emits forward (outputs), eval (loss and metrics) and step
// (the whole training step) as straight-line code in graph order.
func (gen *generator) kernelFuncs(f *jen.File) {
	g := gen.g
	var outRoots []*ir.Value
	for _, r := range g.ResultsOf(ir.ResultOutput) {
		outRoots = append(outRoots, r.Value)
	}
	gen.kernelFunc(f, "forward", "forward computes the outputs.", gen.fwdIns, needed(g, outRoots), nil)
	loss := g.Loss()
	if loss == nil {
		return
	}
	roots := []*ir.Value{loss}
	for _, r := range g.ResultsOf(ir.ResultMetric) {
		roots = append(roots, r.Value)
	}
	gen.kernelFunc(f, "eval", "eval computes the loss and the metrics.", gen.evalIns, needed(g, roots), nil)
	if len(g.Updates) == 0 {
		return
	}
	roots = []*ir.Value{loss}
	for _, u := range g.Updates {
		roots = append(roots, u.Value)
	}
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		roots = append(roots, r.Value)
	}
	gen.kernelFunc(f, "step", "step is one training step: forward, loss, backward (gradients into m.grads),\nthen the optimizer update of every parameter and its state.", gen.stepIns, needed(g, roots), g.Updates)
}

func (gen *generator) kernelFunc(f *jen.File, name, doc string, ins, vals []*ir.Value, updates []ir.Update) {
	g, p := gen.g, gen.p
	k := &kgen{p: p, helpers: gen.helpers}
	// Sections by what a value serves: the forward pass computes what the
	// outputs, loss and metrics need; the backward pass the rest of what the
	// gradients need; the optimizer update everything else.
	var fwdRoots, gradRoots []*ir.Value
	for _, r := range g.Results {
		if r.Kind == ir.ResultGrad {
			gradRoots = append(gradRoots, r.Value)
		} else {
			fwdRoots = append(fwdRoots, r.Value)
		}
	}
	fwdSet, gradSet := dims.Needed(fwdRoots), dims.Needed(gradRoots)
	sectionOf := func(v *ir.Value) string {
		switch {
		case fwdSet[v]:
			return "Forward."
		case gradSet[v]:
			return "Backward."
		}
		return "Optimizer update."
	}
	section := ""
	var body []jen.Code
	flush := func() {
		if k.b.Len() > 0 {
			body = append(body, jen.Id(strings.TrimRight(k.b.String(), "\n")))
			k.b.Reset()
		}
	}
	gradSlot := map[*ir.Value][]*buffer{}
	if updates != nil {
		for _, r := range g.ResultsOf(ir.ResultGrad) {
			slot := p.gradOf[g.Lookup(r.Name)]
			if p.bufs[r.Value] != slot {
				gradSlot[r.Value] = append(gradSlot[r.Value], slot)
			}
		}
	}
	for i, v := range vals {
		gr := p.groupOf[v]
		if gr != nil && lastOfGroup(gr, vals[i+1:]) == false {
			continue // a group is emitted at its last member
		}
		if gr == nil && (v.Op.Kind == ir.KindSource || v.Op.Name == "reshape") {
			continue
		}
		s := sectionOf(v)
		if s != section {
			flush()
			if section != "" {
				body = append(body, jen.Line())
			}
			body = append(body, jen.Comment(strings.Repeat("-", 72)), jen.Comment(s))
			section = s
		}
		flush()
		unit := []*ir.Value{v}
		if gr != nil {
			body = append(body, jen.Comment(gen.groupComment(gr)))
			k.emitGroup(gr)
			unit = gr.Values
		} else {
			body = append(body, jen.Comment(gen.valueComment(v)))
			emitters[v.Op.Name](k, v)
		}
		// Gradients not computed in their slot are copied there at once,
		// before an optimizer loop reads the grads block.
		for _, u := range unit {
			for _, slot := range gradSlot[u] {
				k.printf("copy(m.%s, %s)\n", slot.field, gen.valueRead(u, slot.size))
			}
		}
		flush()
	}
	if updates != nil {
		body = append(body, jen.Line(), jen.Comment("Apply the updates: every new value was computed from the old ones above."))
		for _, u := range updates {
			if p.bufs[u.Value].kind == toTarget {
				continue // written in place by the optimizer loop
			}
			body = append(body, jen.Id(fmt.Sprintf("copy(%s, %s)", p.ref(u.Target), gen.valueRead(u.Value, p.bufs[u.Target].size))))
		}
	}
	if k.vtSlots > 0 {
		body = append([]jen.Code{jen.Id(vtDecl(k.vtSlots))}, body...)
	}
	for _, line := range strings.Split(doc, "\n") {
		f.Comment(line)
	}
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id(name).Params(gen.params(ins)...).Block(body...)
	for _, fn := range k.asm {
		if !slices.ContainsFunc(gen.asm, func(g asmFunc) bool { return g.name == fn.name }) {
			gen.asm = append(gen.asm, fn)
		}
	}
	for _, mt := range k.methods {
		for _, line := range strings.Split(mt.doc, "\n") {
			f.Comment(line)
		}
		f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id(mt.name).Params(jen.List(jen.Id("lo"), jen.Id("hi")).Int()).Block(jen.Id(strings.TrimRight(mt.body, "\n")))
		gen.methods = append(gen.methods, mt.name)
	}
}

// valueRead is a slice expression with the value's elements (size of them),
// materializing inline scalars.
func (gen *generator) valueRead(v *ir.Value, size int) string {
	v = gen.p.source(v)
	switch v.Op.Name {
	case "const":
		return fmt.Sprintf("[]float32{%s}", literal(v.Type.DType, v.Attrs.Float("value")))
	case "numel":
		return fmt.Sprintf("[]float32{float32(%s)}", sizeExpr(v.Attrs.Shape("shape")))
	}
	return fmt.Sprintf("%s[:%d]", gen.p.ref(v), size)
}

func (gen *generator) valueComment(v *ir.Value) string {
	var args []string
	for _, a := range v.Args {
		args = append(args, fmt.Sprintf("%%%d", a.ID))
	}
	name := ""
	if v.Name != "" {
		name = " (" + v.Name + ")"
	}
	return fmt.Sprintf("%%%d = %s(%s) %s%s", v.ID, v.Op.Name, strings.Join(args, ", "), shapeComment(v.Type.Shape), name)
}

func (gen *generator) checkpoint(f *jen.File) {
	g, p := gen.g, gen.p
	tensor := func(v *ir.Value, name string, field string) jen.Code {
		return rt("Tensor").Values(jen.Dict{jen.Id("Name"): jen.Lit(name), jen.Id("Shape"): shapeLit(v.Type.Shape), jen.Id("Data"): jen.Id("m").Dot(field)})
	}
	var params, grads, state []jen.Code
	for _, v := range g.Params() {
		params = append(params, tensor(v, v.Name, p.bufs[v].field))
		grads = append(grads, tensor(v, v.Name, p.gradOf[v].field))
	}
	for _, v := range g.State() {
		state = append(state, tensor(v, "optimizer."+v.Name, p.bufs[v].field))
	}
	recv := func() *jen.Statement { return jen.Func().Params(jen.Id("m").Op("*").Id("Model")) }
	f.Comment("Params returns views of the parameters, in declaration order.")
	f.Add(recv()).Id("Params").Params().Index().Add(rt("Tensor")).Block(jen.Return(jen.Index().Add(rt("Tensor")).Values(params...)))
	f.Comment("Grads returns views of the gradients of the last TrainStep, in parameter order.")
	f.Add(recv()).Id("Grads").Params().Index().Add(rt("Tensor")).Block(jen.Return(jen.Index().Add(rt("Tensor")).Values(grads...)))
	f.Comment("State returns views of the optimizer state (named optimizer.NAME).")
	f.Add(recv()).Id("State").Params().Index().Add(rt("Tensor")).Block(jen.Return(jen.Index().Add(rt("Tensor")).Values(state...)))
	meta := jen.Map(jen.String()).String().Values(jen.Dict{jen.Lit("mdlc.model"): jen.Lit(g.Name)})
	f.Comment("Save writes the parameters and the optimizer state to path as safetensors,")
	f.Comment("atomically: a crash during Save leaves the previous file intact.")
	f.Add(recv()).Id("Save").Params(jen.Id("path").String()).Error().Block(
		jen.Return(rt("SaveSafetensors").Call(jen.Id("path"), jen.Append(jen.Id("m").Dot("Params").Call(), jen.Id("m").Dot("State").Call().Op("...")), meta)))
	f.Comment("Load reads a checkpoint written by Save. On error the model is unchanged.")
	f.Add(recv()).Id("Load").Params(jen.Id("path").String()).Error().Block(
		jen.Return(rt("LoadSafetensors").Call(jen.Id("path"), jen.Append(jen.Id("m").Dot("Params").Call(), jen.Id("m").Dot("State").Call().Op("...")), meta.Clone())))
}

// lastOfGroup reports whether no later value of the function is in gr.
func lastOfGroup(gr *ir.Group, rest []*ir.Value) bool {
	for _, w := range rest {
		for _, m := range gr.Values {
			if m == w {
				return false
			}
		}
	}
	return true
}
