// Package api emits the model API of a generated package with jennifer,
// once for every target: the CPU Model (codegen/go) and the CUDAModel
// (codegen/cuda) have the same methods, doc comments, input checks and
// runtime.Model implementation by construction. A target contributes only
// what differs: how an entry point runs, where results are read from, and
// the bodies of the parameter views and checkpoint methods.
package api

import (
	"fmt"
	"go/token"
	"go/types"
	"regexp"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/mdlc/mdlc/codegen/internal/dims"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime"
)

// Import paths of what generated code links against.
const (
	RuntimePath = "github.com/mdlc/mdlc/runtime"      // the user-facing API, imported as mdlc
	ImplPath    = "github.com/mdlc/mdlc/runtime/impl" // support for generated code, imported as rt
	CUDAPath    = "github.com/mdlc/mdlc/runtime/cuda" // the CUDA driver binding, imported as cu
)

// Reserved are the package-level and import names the API and its files
// use; a generator's namer must never hand them out.
var Reserved = []string{"mdlc", "rt", "cu", "fmt", "math", "unsafe", "embed", "errors",
	"Model", "CUDAModel", "Option", "New", "NewCUDA", "WithSeed", "MaxBatch", "spec",
	"Spec", "Forward", "TrainStep", "Eval", "Train", "Evaluate", "Predict", "Params", "Grads", "State",
	"Save", "Load", "Reset", "Close", "Device", "WithAllReduce", "SetAllReduce", "allReduce", "r", "forward", "eval", "trainStep", "update", "updateFn",
	"m", "n", "b", "o", "err", "path", "metrics", "outputs", "opts", "seed", "rng", "device", "dev", "host", "len", "copy",
	// model_cuda.go's package-level names, in the package of model.go
	"kernelsPTX", "cuParams", "cuGrads", "cuState", "cuArena", "cuIArena", "cuInputs", "cuWords", "cuFault", "numKernels",
	"kernelNames", "cuBlocks", "kernApplyUpdates", "kernCopyGrads", "faultAt", "faultHi"}

// numbered matches the identifiers generated code numbers: loop indices
// (i0, i1, ...) and the API's locals for outputs and metrics (o0, m0, ...).
var numbered = regexp.MustCompile(`^[iom][0-9]+$`)

// AvoidGo reports the identifiers a Go namer (names.Namer.Avoid) must
// never hand out besides its reserved ones: Go's keywords and predeclared
// identifiers, and the numbered locals of generated code.
func AvoidGo(id string) bool {
	return token.IsKeyword(id) || types.Universe.Lookup(id) != nil || numbered.MatchString(id)
}

// EntryMethod is the private method of a model type that runs an entry
// point: forward, eval, trainStep.
func EntryMethod(e ir.Entry) string {
	return [...]string{ir.EntryForward: "forward", ir.EntryEval: "eval", ir.EntryStep: "trainStep"}[e]
}

// Mdlc qualifies a name of the runtime package; Rt one of runtime/impl.
func Mdlc(name string) *jen.Statement { return jen.Qual(RuntimePath, name) }
func Rt(name string) *jen.Statement   { return jen.Qual(ImplPath, name) }

// NewFile starts a generated Go file of package pkg with the standard
// generated-code header and the import aliases.
func NewFile(pkg, header string) *jen.File {
	f := jen.NewFile(pkg)
	f.HeaderComment(header)
	f.ImportAlias(RuntimePath, "mdlc")
	f.ImportAlias(ImplPath, "rt")
	f.ImportAlias(CUDAPath, "cu")
	return f
}

// Model is one model type's API as a target provides it.
type Model struct {
	G     *ir.Graph
	Type  string                   // the model type: Model, CUDAModel
	Ident func(v *ir.Value) string // the identifier of an input or result (a method parameter or named result)
	Where string                   // what Forward's outputs are, for its doc
	// Call is the call that runs entry point e (after the input checks)
	// with args (the inputs it reads, then n); when Fallible it returns an
	// error.
	Call     func(e ir.Entry, args []jen.Code) *jen.Statement
	Fallible bool
	// StepFallible makes the step's call return an error even when
	// Fallible is false (the CPU step with its all-reduce hook).
	StepFallible bool
	// Fault, if set, is the model field holding the first fault a call
	// met (an index out of range in a kernel); the entry point returns and
	// clears it after the call.
	Fault string
	// Result is a slice holding a result's elements after a call.
	Result func(v *ir.Value) *jen.Statement
	// Bodies of the methods whose work is the target's: "Params", "Grads",
	// "State" (views of the tensors), "Save", "Load", "Reset".
	Body func(method string) []jen.Code
	// Inference marks an inference build (mdlc build -inference): Train
	// and Evaluate say so in their errors.
	Inference bool
}

// cannot is the error of Train (what "train") or Evaluate ("evaluate")
// in a package without that entry point; why is the default reason.
func (m *Model) cannot(what, why string) jen.Code {
	msg := m.G.Name + " " + why
	if m.Inference {
		msg = m.G.Name + " is an inference build (mdlc build -inference): it cannot " + what + "; build it without -inference to " + what
	}
	return jen.Return(jen.Lit(0), jen.Qual("fmt", "Errorf").Call(jen.Lit(msg)))
}

func (m *Model) recv() *jen.Statement { return jen.Func().Params(jen.Id("m").Op("*").Id(m.Type)) }

func goType(v *ir.Value) *jen.Statement {
	if v.Type.DType == ir.I32 {
		return jen.Index().Int32()
	}
	return jen.Index().Float32()
}

// Emit writes the API methods of the model type.
func (m *Model) Emit(f *jen.File) {
	g, pl := m.G, m.G.Plan
	outs := g.ResultsOf(ir.ResultOutput)
	metrics := g.ResultsOf(ir.ResultMetric)
	loss := g.Loss()

	f.Comment("Spec describes the model's inputs, outputs, metrics, parameters and state.")
	f.Add(m.recv()).Id("Spec").Params().Add(Mdlc("Spec")).Block(jen.Return(jen.Id("spec").Call()))

	// Forward.
	var names, vals, zeros []jen.Code
	named := map[string]bool{}
	for _, r := range outs {
		named[m.Ident(r.Value)] = true
	}
	for _, r := range outs {
		// Outputs are named results unless two are one value (output
		// o = h and output h): then none is, as Go wants all or none.
		if len(named) == len(outs) {
			names = append(names, jen.Id(m.Ident(r.Value)).Add(goType(r.Value)))
		} else {
			names = append(names, goType(r.Value))
		}
		vals = append(vals, m.Result(r.Value).Index(jen.Op(":").Id(dims.Size(r.Value.Type.Shape))))
		zeros = append(zeros, jen.Nil())
	}
	for _, line := range strings.Split("Forward runs the model on the first n examples and returns its outputs, "+m.Where+".", "\n") {
		f.Comment(line)
	}
	m.entry(f, "Forward", ir.EntryForward, names, vals, zeros, len(named) == len(outs))

	if pl.Entries[ir.EntryStep] != nil {
		f.Comment("TrainStep runs one optimizer step on the first n examples and returns the loss")
		f.Comment("before the update.")
		tl := g.TrainLoss()
		m.entry(f, "TrainStep", ir.EntryStep, []jen.Code{jen.Id(m.Ident(loss)).Float32()},
			[]jen.Code{m.Result(tl).Index(jen.Lit(0))}, []jen.Code{jen.Lit(0)}, true)
	}
	if pl.Entries[ir.EntryEval] != nil {
		names := []jen.Code{jen.Id(m.Ident(loss)).Float32()}
		vals := []jen.Code{m.Result(loss).Index(jen.Lit(0))}
		zeros := []jen.Code{jen.Lit(0)}
		var mnames []string
		for _, r := range metrics {
			names = append(names, jen.Id(m.Ident(r.Value)).Float32())
			vals = append(vals, m.Result(r.Value).Index(jen.Lit(0)))
			zeros = append(zeros, jen.Lit(0))
			mnames = append(mnames, r.Name)
		}
		doc := "Eval returns the loss"
		if len(mnames) > 0 {
			doc += " and the metrics (" + strings.Join(mnames, ", ") + ")"
		}
		f.Comment(doc + " on the first n examples without updating the model.")
		m.entry(f, "Eval", ir.EntryEval, names, vals, zeros, true)
	}
	m.generic(f, outs, metrics)

	docs := map[string][]string{
		"Params": {"Params returns views of the parameters, in declaration order."},
		"Grads":  {"Grads returns views of the gradients of the last TrainStep, in parameter order."},
		"State":  {"State returns views of the non-trainable state: the optimizer's (named optimizer.NAME)", "and the layers' (batch_norm's NAME.moving_mean and NAME.moving_variance)."},
		"Save":   {"Save writes the parameters and the state to path as safetensors,", "atomically: a crash during Save leaves the previous file intact (a symbolic link", "is followed: its target is replaced, the link kept)."},
		"Load":   {"Load reads a checkpoint written by Save (by either target). On error the model", "is unchanged."},
		"Reset":  {"Reset re-initializes the parameters and the state from their initializers and the", "seed (the optimizer's moments and step start at zero)."},
	}
	for _, name := range []string{"Params", "Grads", "State", "Save", "Load", "Reset"} {
		for _, line := range docs[name] {
			f.Comment(line)
		}
		sig := f.Add(m.recv()).Id(name)
		switch name {
		case "Params", "Grads", "State":
			sig.Params().Index().Add(Mdlc("Tensor"))
		case "Save", "Load":
			sig.Params(jen.Id("path").String()).Error()
		default:
			sig.Params().Error()
		}
		sig.Block(m.Body(name)...)
	}
}

// entry writes one typed entry point: the checks, the call, the results.
// names are the results but the error: named, or only types when named is
// false.
func (m *Model) entry(f *jen.File, name string, e ir.Entry, names, vals, zeros []jen.Code, named bool) {
	ins := m.G.Plan.Entries[e].Inputs
	var params, args []jen.Code
	for _, v := range ins {
		params = append(params, jen.Id(m.Ident(v)).Add(goType(v)))
		args = append(args, jen.Id(m.Ident(v)))
	}
	params = append(params, jen.Id("n").Int())
	args = append(args, jen.Id("n"))
	body := m.checks(ins, zeros)
	ret := func(err jen.Code) jen.Code { return jen.Return(append(append([]jen.Code(nil), zeros...), err)...) }
	if m.Fallible || m.StepFallible && e == ir.EntryStep {
		body = append(body, jen.If(jen.Err().Op(":=").Add(m.Call(e, args)), jen.Err().Op("!=").Nil()).Block(ret(jen.Err())))
	} else {
		body = append(body, m.Call(e, args))
	}
	if m.Fault != "" {
		fault := jen.Id("m").Dot(m.Fault)
		body = append(body, jen.If(jen.Err().Op(":=").Add(fault), jen.Err().Op("!=").Nil()).Block(fault.Clone().Op("=").Nil(), ret(jen.Err())))
	}
	body = append(body, jen.Return(append(vals, jen.Nil())...))
	errResult := jen.Err().Error()
	if !named {
		errResult = jen.Error()
	}
	f.Add(m.recv()).Id(name).Params(params...).Params(append(names, errResult)...).Block(body...)
}

// checks validates the batch size and every input, returning zero values and the error.
func (m *Model) checks(ins []*ir.Value, zeros []jen.Code) []jen.Code {
	ret := func() jen.Code { return jen.Return(append(append([]jen.Code(nil), zeros...), jen.Err())...) }
	check := func(call jen.Code) jen.Code {
		return jen.If(jen.Err().Op(":=").Add(call), jen.Err().Op("!=").Nil()).Block(ret())
	}
	out := []jen.Code{check(Rt("CheckBatch").Call(jen.Id("n"), jen.Id("MaxBatch")))}
	for _, v := range ins {
		name := v.Attrs.String("role") + " " + v.Name
		id := jen.Id(m.Ident(v))
		// An input without the batch axis (a mask, a lookup table) is
		// the same for every example: it has exactly its declared size.
		per, count := dims.PerExample(v), jen.Id("n")
		if size, _ := v.Type.Shape.Size(); !size.IsBatch() {
			count = jen.Lit(1)
		}
		if v.Type.DType == ir.I32 {
			hi := m.G.IndexBound(v)
			if hi == 0 {
				hi = 1<<31 - 1
			}
			out = append(out, check(Rt("CheckI32Range").Call(jen.Lit(name), id, count, jen.Lit(per), jen.Lit(hi))))
			continue
		}
		out = append(out, check(Rt("CheckF32").Call(jen.Lit(name), id, count, jen.Lit(per))),
			check(Rt("CheckFinite").Call(jen.Lit(name), id)))
	}
	return out
}

// generic implements runtime.Model on top of the typed methods.
func (m *Model) generic(f *jen.File, outs, metrics []ir.Result) {
	g, pl := m.G, m.G.Plan
	all := g.Inputs()
	var inNames []string
	for _, v := range all {
		inNames = append(inNames, v.Name)
	}
	batchCheck := func(zero ...jen.Code) jen.Code {
		return jen.If(jen.Len(jen.Id("b")).Op("!=").Lit(len(all))).Block(jen.Return(append(zero,
			jen.Qual("fmt", "Errorf").Call(jen.Lit(fmt.Sprintf("batch has %%d values, want %d (%s)", len(all), strings.Join(inNames, ", "))), jen.Len(jen.Id("b"))))...))
	}
	batchArgs := func(e ir.Entry) []jen.Code {
		var args []jen.Code
		for _, v := range pl.Entries[e].Inputs {
			for i, a := range all {
				if a == v {
					field := "F32"
					if v.Type.DType == ir.I32 {
						field = "I32"
					}
					args = append(args, jen.Id("b").Index(jen.Lit(i)).Dot(field))
				}
			}
		}
		return append(args, jen.Id("n"))
	}
	f.Var().Id("_").Add(Mdlc("Model")).Op("=").Parens(jen.Op("*").Id(m.Type)).Parens(jen.Nil())

	f.Comment("Train implements runtime.Model: TrainStep on a batch given in Spec().Inputs order.")
	train := f.Add(m.recv()).Id("Train").Params(jen.Id("b").Add(Mdlc("Batch")), jen.Id("n").Int()).Params(jen.Float32(), jen.Error())
	if pl.Entries[ir.EntryStep] != nil {
		train.Block(batchCheck(jen.Lit(0)), jen.Return(jen.Id("m").Dot("TrainStep").Call(batchArgs(ir.EntryStep)...)))
	} else {
		train.Block(m.cannot("train", "has no loss or no optimizer: it cannot be trained"))
	}

	f.Comment("Evaluate implements runtime.Model: Eval on a batch, metrics written to metrics.")
	evaluate := f.Add(m.recv()).Id("Evaluate").Params(jen.Id("b").Add(Mdlc("Batch")), jen.Id("n").Int(), jen.Id("metrics").Index().Float32()).Params(jen.Float32(), jen.Error())
	if pl.Entries[ir.EntryEval] != nil {
		lhs := []jen.Code{jen.Id("loss")}
		for i := range metrics {
			lhs = append(lhs, jen.Id(fmt.Sprintf("m%d", i)))
		}
		body := []jen.Code{batchCheck(jen.Lit(0))}
		if len(metrics) > 0 {
			body = append(body, jen.If(jen.Len(jen.Id("metrics")).Op("<").Lit(len(metrics))).Block(jen.Return(jen.Lit(0),
				jen.Qual("fmt", "Errorf").Call(jen.Lit(fmt.Sprintf("metrics has room for %%d values, want %d", len(metrics))), jen.Len(jen.Id("metrics"))))))
		}
		body = append(body,
			jen.List(append(lhs, jen.Err())...).Op(":=").Id("m").Dot("Eval").Call(batchArgs(ir.EntryEval)...),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Lit(0), jen.Err())))
		for i := range metrics {
			body = append(body, jen.Id("metrics").Index(jen.Lit(i)).Op("=").Id(fmt.Sprintf("m%d", i)))
		}
		evaluate.Block(append(body, jen.Return(jen.Id("loss"), jen.Nil()))...)
	} else {
		evaluate.Block(m.cannot("evaluate", "has no loss"))
	}

	f.Comment("Predict implements runtime.Model: Forward on a batch, outputs copied into outputs.")
	body := []jen.Code{batchCheck(),
		jen.If(jen.Len(jen.Id("outputs")).Op("!=").Lit(len(outs))).Block(jen.Return(
			jen.Qual("fmt", "Errorf").Call(jen.Lit(fmt.Sprintf("outputs has %%d slices, want %d", len(outs))), jen.Len(jen.Id("outputs")))))}
	if len(outs) > 0 {
		var lhs []jen.Code
		for i := range outs {
			lhs = append(lhs, jen.Id(fmt.Sprintf("o%d", i)))
		}
		body = append(body,
			jen.List(append(lhs, jen.Err())...).Op(":=").Id("m").Dot("Forward").Call(batchArgs(ir.EntryForward)...),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())))
		for i, r := range outs {
			o, dst := jen.Id(fmt.Sprintf("o%d", i)), jen.Id("outputs").Index(jen.Lit(i))
			body = append(body, jen.If(jen.Len(dst).Op("<").Len(o)).Block(jen.Return(
				jen.Qual("fmt", "Errorf").Call(jen.Lit("output "+r.Name+": buffer holds %d values, need %d"), jen.Len(dst), jen.Len(o)))))
			if r.Value.Type.DType == ir.I32 {
				body = append(body, jen.For(jen.List(jen.Id("i"), jen.Id("x")).Op(":=").Range().Add(o)).Block(
					dst.Clone().Index(jen.Id("i")).Op("=").Float32().Parens(jen.Id("x"))))
			} else {
				body = append(body, jen.Copy(dst, o))
			}
		}
	}
	f.Add(m.recv()).Id("Predict").Params(jen.Id("b").Add(Mdlc("Batch")), jen.Id("n").Int(), jen.Id("outputs").Index().Index().Float32()).Error().Block(
		append(body, jen.Return(jen.Nil()))...)
}

// SpecFunc writes spec(), the model's runtime.Spec (once per package).
func SpecFunc(f *jen.File, g *ir.Graph) {
	io := func(v *ir.Value, name, role string) jen.Code {
		return jen.Values(jen.Dict{
			jen.Id("Name"):  jen.Lit(name),
			jen.Id("DType"): jen.Lit(v.Type.DType.String()),
			jen.Id("Shape"): ShapeLit(v.Type.Shape),
			jen.Id("Role"):  jen.Lit(role),
		})
	}
	var ins, outs, params, state, metrics []jen.Code
	for _, v := range g.Inputs() {
		ins = append(ins, io(v, v.Name, v.Attrs.String("role")))
	}
	for _, r := range g.ResultsOf(ir.ResultOutput) {
		outs = append(outs, io(r.Value, r.Name, "output"))
	}
	for _, r := range g.ResultsOf(ir.ResultMetric) {
		metrics = append(metrics, jen.Lit(r.Name))
	}
	for _, v := range g.Params() {
		params = append(params, io(v, v.Name, "param"))
	}
	for _, v := range g.State() {
		state = append(state, io(v, v.Name, "state"))
	}
	fields := jen.Dict{
		jen.Id("Name"):     jen.Lit(g.Name),
		jen.Id("MaxBatch"): jen.Id("MaxBatch"),
		jen.Id("Inputs"):   jen.Index().Add(Mdlc("IO")).Values(ins...),
		jen.Id("Outputs"):  jen.Index().Add(Mdlc("IO")).Values(outs...),
		jen.Id("Metrics"):  jen.Index().String().Values(metrics...),
		jen.Id("Params"):   jen.Index().Add(Mdlc("IO")).Values(params...),
		jen.Id("State"):    jen.Index().Add(Mdlc("IO")).Values(state...),
	}
	if o := optimizerLit(g); o != nil {
		fields[jen.Id("Optimizer")] = o
	}
	f.Comment("spec is the model's runtime.Spec: shapes use -1 for the batch axis N (-k for k*N).")
	f.Func().Id("spec").Params().Add(Mdlc("Spec")).Block(jen.Return(Mdlc("Spec").Values(fields)))
}

// Optimizer is the runtime.Optimizer of a model the step trains (its
// resolved settings: numbers, and booleans as 1 or 0), nil for one that
// cannot be trained.
func Optimizer(g *ir.Graph) *runtime.Optimizer {
	if g.Optimizer == nil || g.Plan == nil || g.Plan.Entries[ir.EntryStep] == nil {
		return nil
	}
	def := ir.LookupOptimizer(g.Optimizer.Name)
	if def == nil {
		return nil
	}
	s, err := def.Resolve(g.Optimizer.Attrs)
	if err != nil {
		return nil // the optimizer pass has refused it already
	}
	o := &runtime.Optimizer{Name: def.Name, Schedule: s.String("schedule"), Settings: map[string]float64{}}
	for _, name := range def.SettingNames() {
		switch v := s[name].(type) {
		case float64:
			o.Settings[name] = v
		case bool:
			o.Settings[name] = map[bool]float64{false: 0, true: 1}[v]
		}
	}
	return o
}

// optimizerLit is the &mdlc.Optimizer literal of Optimizer(g), nil when
// that is nil.
func optimizerLit(g *ir.Graph) jen.Code {
	o := Optimizer(g)
	if o == nil {
		return nil
	}
	settings := jen.Dict{}
	for name, v := range o.Settings {
		settings[jen.Lit(name)] = jen.Lit(v)
	}
	return jen.Op("&").Add(Mdlc("Optimizer")).Values(jen.Dict{
		jen.Id("Name"):     jen.Lit(o.Name),
		jen.Id("Schedule"): jen.Lit(o.Schedule),
		jen.Id("Settings"): jen.Map(jen.String()).Float64().Values(settings),
	})
}

// ShapeLit is a shape as an []int literal (-k for k*N).
func ShapeLit(s ir.Shape) jen.Code {
	var lits []jen.Code
	for _, d := range s {
		lits = append(lits, jen.Lit(int(d)))
	}
	return jen.Index().Int().Values(lits...)
}

// Tensors is the []mdlc.Tensor literal of vals (named by name) whose data
// are the slices data gives.
func Tensors(vals []*ir.Value, name func(v *ir.Value) string, data func(v *ir.Value) jen.Code) jen.Code {
	var ts []jen.Code
	for _, v := range vals {
		ts = append(ts, jen.Values(jen.Dict{jen.Id("Name"): jen.Lit(name(v)), jen.Id("Shape"): ShapeLit(v.Type.Shape), jen.Id("Data"): data(v)}))
	}
	return jen.Index().Add(Mdlc("Tensor")).Values(ts...)
}

// Meta is the checkpoint metadata of the model.
func Meta(g *ir.Graph) jen.Code {
	return jen.Map(jen.String()).String().Values(jen.Dict{jen.Lit("mdlc.model"): jen.Lit(g.Name)})
}

// Check reports what keeps backend from generating the package pkg for g:
// no package name, no storage plan, or an op the backend does not handle.
func Check(backend string, g *ir.Graph, pkg string, handles func(*ir.OpDef) bool) error {
	if err := ValidPackage(pkg); err != nil {
		return fmt.Errorf("%s: %v", backend, err)
	}
	if g.Plan == nil || g.Plan.UnitOf == nil {
		return fmt.Errorf("%s: model %s has no storage plan", backend, g.Name)
	}
	for _, v := range g.Values {
		if !handles(v.Op) {
			return fmt.Errorf("%s: op %s has no %s emitter", backend, v.Op.Name, backend)
		}
	}
	return nil
}

// ValidPackage reports why pkg cannot name a generated package: it must be
// a Go identifier other than the blank identifier, a keyword, or main (a
// package main without func main does not build).
func ValidPackage(pkg string) error {
	switch {
	case pkg == "":
		return fmt.Errorf("no package name")
	case !token.IsIdentifier(pkg):
		return fmt.Errorf("%q is not a valid Go package name", pkg)
	case pkg == "_" || pkg == "main":
		return fmt.Errorf("%q cannot name a model's package", pkg)
	}
	return nil
}
