package cuda

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/mdlc/mdlc/codegen/internal/dims"

	"github.com/dave/jennifer/jen"

	"github.com/mdlc/mdlc/codegen/internal/api"
	"github.com/mdlc/mdlc/codegen/internal/render"
	"github.com/mdlc/mdlc/ir"
)

// goReserved are the identifiers model_cuda.go declares itself.
var goReserved = []string{"mod", "fn", "mem", "args", "init", "upload", "download", "at", "launch", "gemm", "gemmBatched",
	"putF32", "putI32", "get", "unsafe", "cu", "fault",
	// the parameters and locals of the methods above
	"word", "data", "dst", "off", "count", "k", "grid", "name", "h", "i", "a", "c", "ta", "tb", "M", "N", "K", "lda", "ldb", "ldc",
	"sa", "sb", "sc", "batch", "per"}

func cu(name string) *jen.Statement { return jen.Qual(api.CUDAPath, name) }

// cuBlock names the word offset of each block of the device allocation.
var cuBlock = map[ir.Storage]string{ir.StoreParams: "cuParams", ir.StoreGrads: "cuGrads", ir.StoreState: "cuState",
	ir.StoreArena: "cuArena", ir.StoreIArena: "cuIArena", ir.StoreInput: "cuInputs"}

// goSource writes model_cuda.go: the CUDAModel, its device handling and
// launch sequences, and the model API (codegen/internal/api), the same as
// the CPU Model's.
func (c *cgen) goSource(launches []*launch, header string, opt Options) ([]byte, error) {
	l, g, pl := c.l, c.l.g, c.l.pl
	f := api.NewFile(opt.Package, strings.TrimPrefix(strings.TrimSuffix(header, "\n"), "// "))
	f.Anon("embed")
	ident := map[*ir.Value]string{}
	name := func(v *ir.Value) string {
		if ident[v] == "" {
			ident[v] = l.goNames.Name(l.base[v], "")
		}
		return ident[v]
	}
	for _, v := range g.Inputs() {
		name(v)
	}
	var results []*ir.Value
	for _, r := range g.Results {
		if r.Kind != ir.ResultGrad && ident[r.Value] == "" {
			name(r.Value)
			results = append(results, r.Value)
		}
	}
	var kernels []*launch
	hasGemm := false
	kernConst := map[string]string{} // the Go constant of a kernel: hidden_forward -> kernHiddenForward
	for _, ln := range launches {
		if ln.kernel != nil {
			kernels = append(kernels, ln)
			kernConst[ln.name] = l.topName("kern_" + ln.name)
		}
		hasGemm = hasGemm || ln.gemm != nil
	}
	apply := pl.Entries[ir.EntryStep] != nil && c.apply != ""

	f.Comment(fmt.Sprintf("kernelsPTX is %s compiled for %s (the driver JIT-compiles it for newer GPUs).", CUFile, opt.Arch))
	f.Comment("")
	f.Comment("//go:embed " + PTXFile)
	f.Var().Id("kernelsPTX").Index().Byte()

	f.Comment(fmt.Sprintf("Device memory: one allocation of 32-bit words, laid out as in %s.", CUFile))
	var consts []jen.Code
	for _, s := range []ir.Storage{ir.StoreParams, ir.StoreGrads, ir.StoreState, ir.StoreArena, ir.StoreIArena, ir.StoreInput} {
		consts = append(consts, jen.Id(cuBlock[s]).Op("=").Lit(l.blockBase(s)))
	}
	if len(l.faults) > 0 {
		consts = append(consts, jen.Id("cuFault").Op("=").Lit(l.fault()).Comment("the fault record: op (1-based in faultAt), index, position"))
	}
	consts = append(consts, jen.Id("cuWords").Op("=").Lit(l.words()))
	f.Const().Defs(consts...)
	if len(l.faults) > 0 {
		var at, hi []jen.Code
		for _, v := range l.faults {
			at = append(at, jen.Lit(render.FaultWhere(v)))
			a := 1
			if v.Op.Family == ir.FamilyScatterAdd {
				a = 0
			}
			hi = append(hi, jen.Lit(v.Op.IndexBound(v, a)))
		}
		f.Comment("faultAt and faultHi name the ops whose kernels check an index, and the bound.")
		f.Var().Defs(
			jen.Id("faultAt").Op("=").Index(jen.Op("...")).String().Values(at...),
			jen.Id("faultHi").Op("=").Index(jen.Op("...")).Int().Values(hi...))
	}

	f.Comment(fmt.Sprintf("Kernels of %s, in launch order.", CUFile))
	var kconsts, knames []jen.Code
	for i, ln := range kernels {
		if i == 0 {
			kconsts = append(kconsts, jen.Id(kernConst[ln.name]).Op("=").Iota())
		} else {
			kconsts = append(kconsts, jen.Id(kernConst[ln.name]))
		}
		knames = append(knames, jen.Lit(ln.name))
	}
	if apply {
		kconsts = append(kconsts, jen.Id("kernApplyUpdates"))
		knames = append(knames, jen.Lit("apply_updates"))
	}
	if len(kconsts) == 0 {
		kconsts = append(kconsts, jen.Id("numKernels").Op("=").Lit(0))
	} else {
		kconsts = append(kconsts, jen.Id("numKernels"))
	}
	f.Const().Defs(kconsts...)
	f.Var().Id("kernelNames").Op("=").Index(jen.Id("numKernels")).String().Custom(jen.Options{Open: "{", Close: "}", Separator: ",", Multi: true}, knames...)

	// The model type.
	fields := []jen.Code{
		jen.Id("dev").Op("*").Add(cu("Device")),
		jen.Id("mod").Add(cu("Module")),
		jen.Id("fn").Index(jen.Id("numKernels")).Add(cu("Function")),
		jen.Id("mem").Add(cu("Ptr")).Comment("the device allocation (cuWords words)"),
		jen.Id("n").Int32().Comment("the batch size of the launch in progress"),
		jen.Id("args").Index(jen.Lit(2)).Qual("unsafe", "Pointer").Comment("kernel parameters: &mem, &n"),
		jen.Id("err").Error().Comment("the first error of the launch in progress"),
		jen.Id("host").Op("*").Id("Model").Comment("host copy: initialization, parameter views, checkpoints"),
	}
	if pl.Entries[ir.EntryStep] != nil {
		fields = append(fields, jen.Id("allReduce").Add(api.Mdlc("DeviceAllReducer")).Comment("joins the steps of several processes (SetAllReduce); nil: one process"))
	}
	if len(l.faults) > 0 {
		fields = append(fields, jen.Id("fault").Index(jen.Lit(faultWords)).Int32().Comment("the fault record, read back after each launch sequence"))
	}
	fields = append(fields, jen.Line(), jen.Comment("Results read back from the device."))
	for _, v := range results {
		typ := jen.Index().Float32()
		if v.Type.DType == ir.I32 {
			typ = jen.Index().Int32()
		}
		fields = append(fields, jen.Id(ident[v]).Add(typ).Comment(dims.Comment(v.Type.Shape)))
	}
	f.Comment(fmt.Sprintf("CUDAModel is the %s model on an NVIDIA GPU: parameters, gradients, optimizer", g.Name))
	f.Comment("state and activations live in one device allocation; a step uploads its inputs,")
	f.Comment("queues its kernels and cuBLAS calls on one stream and waits only to read the results.")
	f.Comment("It has the methods of Model. A CUDAModel is not safe for concurrent use.")
	f.Type().Id("CUDAModel").Struct(fields...)

	recv := func() *jen.Statement { return jen.Func().Params(jen.Id("m").Op("*").Id("CUDAModel")) }
	lock := func(zeros ...jen.Code) []jen.Code {
		return []jen.Code{
			jen.If(jen.Err().Op(":=").Id("m").Dot("dev").Dot("Lock").Call(), jen.Err().Op("!=").Nil()).Block(
				jen.Id("m").Dot("dev").Dot("Unlock").Call(), jen.Return(append(zeros, jen.Err())...)),
			jen.Defer().Id("m").Dot("dev").Dot("Unlock").Call(),
		}
	}
	returnIfErr := func(call jen.Code) jen.Code {
		return jen.If(jen.Err().Op(":=").Add(call), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
	}

	f.Comment("NewCUDA returns a model on GPU device (0 is the first), initialized as New(opts...)")
	f.Comment("initializes one. Without an NVIDIA driver or GPU it returns an error; the CPU")
	f.Comment("Model is unaffected. Close releases the GPU memory.")
	newBody := []jen.Code{jen.Id("h").Op(":=").Id("New").Call(jen.Id("opts").Op("..."))}
	if pl.Entries[ir.EntryStep] != nil {
		newBody = append(newBody, jen.If(jen.Id("h").Dot("allReduce").Op("!=").Nil()).Block(
			jen.Return(jen.Nil(), jen.Qual("fmt", "Errorf").Call(jen.Lit(opt.Package+": WithAllReduce reduces host gradients: give a CUDAModel a DeviceAllReducer with SetAllReduce")))))
	}
	f.Func().Id("NewCUDA").Params(jen.Id("device").Int(), jen.Id("opts").Op("...").Id("Option")).Params(jen.Op("*").Id("CUDAModel"), jen.Error()).Block(append(newBody,
		jen.If(jen.Len(jen.Id("h").Dot("params")).Op("!=").Lit(pl.Params).Op("||").Len(jen.Id("h").Dot("state")).Op("!=").Lit(pl.State)).Block(
			jen.Return(jen.Nil(), jen.Qual("fmt", "Errorf").Call(jen.Lit(opt.Package+": the CUDA code does not match model.go (regenerate both)")))),
		jen.List(jen.Id("dev"), jen.Err()).Op(":=").Add(cu("Open")).Call(jen.Id("device")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
		jen.Id("m").Op(":=").Op("&").Id("CUDAModel").Values(jen.Dict{jen.Id("dev"): jen.Id("dev"), jen.Id("host"): jen.Id("h")}),
		jen.If(jen.Err().Op(":=").Id("m").Dot("init").Call(), jen.Err().Op("!=").Nil()).Block(
			jen.Id("m").Dot("Close").Call(), jen.Return(jen.Nil(), jen.Err())),
		jen.Return(jen.Id("m"), jen.Nil()))...,
	)

	f.Comment("init allocates the device memory, loads the kernels and uploads the parameters.")
	initBody := append(lock(),
		jen.Var().Err().Error(),
		jen.If(jen.List(jen.Id("m").Dot("mem"), jen.Err()).Op("=").Id("m").Dot("dev").Dot("Alloc").Call(jen.Lit(4).Op("*").Id("cuWords")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
		jen.Id("m").Dot("args").Op("=").Index(jen.Lit(2)).Qual("unsafe", "Pointer").Values(
			jen.Qual("unsafe", "Pointer").Call(jen.Op("&").Id("m").Dot("mem")), jen.Qual("unsafe", "Pointer").Call(jen.Op("&").Id("m").Dot("n"))),
		jen.If(jen.List(jen.Id("m").Dot("mod"), jen.Err()).Op("=").Id("m").Dot("dev").Dot("LoadModule").Call(jen.Id("kernelsPTX")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
		jen.For(jen.List(jen.Id("i"), jen.Id("name")).Op(":=").Range().Id("kernelNames")).Block(
			jen.If(jen.List(jen.Id("m").Dot("fn").Index(jen.Id("i")), jen.Err()).Op("=").Id("m").Dot("dev").Dot("Function").Call(jen.Id("m").Dot("mod"), jen.Id("name")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))),
	)
	if hasGemm {
		initBody = append(initBody, returnIfErr(jen.Id("m").Dot("dev").Dot("EnableBLAS").Call()))
	}
	for _, v := range results {
		typ := jen.Index().Float32()
		if v.Type.DType == ir.I32 {
			typ = jen.Index().Int32()
		}
		initBody = append(initBody, jen.Id("m").Dot(ident[v]).Op("=").Make(typ, jen.Lit(pl.Slots[pl.Root(v)].Size)))
	}
	initBody = append(initBody,
		returnIfErr(jen.Id("m").Dot("dev").Dot("Memset32").Call(jen.Id("m").Dot("mem"), jen.Lit(0), jen.Id("cuWords"))),
		jen.Return(jen.Id("m").Dot("upload").Call()))
	f.Func().Params(jen.Id("m").Op("*").Id("CUDAModel")).Id("init").Params().Error().Block(initBody...)

	f.Comment("upload copies the host parameters and optimizer state to the device.")
	f.Add(recv()).Id("upload").Params().Error().Block(
		returnIfErr(jen.Id("m").Dot("dev").Dot("UploadF32").Call(jen.Id("m").Dot("at").Call(jen.Id("cuParams")), jen.Id("m").Dot("host").Dot("params"))),
		returnIfErr(jen.Id("m").Dot("dev").Dot("UploadF32").Call(jen.Id("m").Dot("at").Call(jen.Id("cuState")), jen.Id("m").Dot("host").Dot("state"))),
		jen.Return(jen.Id("m").Dot("dev").Dot("Sync").Call()))

	f.Comment("download copies words [off, off+len(dst)) of the device memory to dst.")
	f.Add(recv()).Id("download").Params(jen.Id("dst").Index().Float32(), jen.Id("off").Int()).Error().Block(
		append(lock(), jen.Return(jen.Id("m").Dot("dev").Dot("DownloadF32").Call(jen.Id("dst"), jen.Id("m").Dot("at").Call(jen.Id("off")))))...)

	f.Comment("Close frees the device memory and releases the GPU.")
	f.Add(recv()).Id("Close").Params().Error().Block(
		jen.If(jen.Id("m").Dot("dev").Op("==").Nil()).Block(jen.Return(jen.Nil())),
		jen.Id("m").Dot("dev").Dot("Lock").Call(),
		jen.If(jen.Id("m").Dot("mod").Op("!=").Lit(0)).Block(jen.Id("m").Dot("dev").Dot("Unload").Call(jen.Id("m").Dot("mod"))),
		jen.If(jen.Id("m").Dot("mem").Op("!=").Lit(0)).Block(jen.Id("m").Dot("dev").Dot("Free").Call(jen.Id("m").Dot("mem"))),
		jen.Id("m").Dot("dev").Dot("Unlock").Call(),
		jen.Err().Op(":=").Id("m").Dot("dev").Dot("Close").Call(),
		jen.Id("m").Dot("dev").Op("=").Nil(),
		jen.Return(jen.Err()))

	f.Comment("Device is the GPU the model runs on.")
	f.Add(recv()).Id("Device").Params().Op("*").Add(cu("Device")).Block(jen.Return(jen.Id("m").Dot("dev")))

	f.Comment("at is the device address of a word of the allocation.")
	f.Add(recv()).Id("at").Params(jen.Id("word").Int()).Add(cu("Ptr")).Block(jen.Return(jen.Id("m").Dot("mem").Dot("Add").Call(jen.Lit(4).Op("*").Id("word"))))
	f.Comment("cuBlocks is the number of blocks of per threads covering n.")
	f.Func().Id("cuBlocks").Params(jen.List(jen.Id("n"), jen.Id("per")).Int()).Int().Block(jen.Return(jen.Parens(jen.Id("n").Op("+").Id("per").Op("-").Lit(1)).Op("/").Id("per")))
	keep := func(call jen.Code) jen.Code {
		return jen.If(jen.Id("m").Dot("err").Op("==").Nil()).Block(jen.Id("m").Dot("err").Op("=").Add(call))
	}
	f.Comment(fmt.Sprintf("launch queues kernel k on grid blocks of %d threads.", threads))
	f.Add(recv()).Id("launch").Params(jen.List(jen.Id("k"), jen.Id("grid")).Int()).Block(
		jen.If(jen.Id("m").Dot("err").Op("==").Nil().Op("&&").Id("grid").Op(">").Lit(0)).Block(
			jen.Id("m").Dot("err").Op("=").Id("m").Dot("dev").Dot("Launch").Call(jen.Id("m").Dot("fn").Index(jen.Id("k")), jen.Id("grid"), jen.Lit(threads), jen.Lit(0),
				jen.Qual("unsafe", "Pointer").Call(jen.Op("&").Id("m").Dot("args").Index(jen.Lit(0))))))
	if hasGemm {
		f.Comment("gemm queues c = op(a) @ op(b) on row-major operands at word offsets a, b, c.")
		f.Add(recv()).Id("gemm").Params(jen.List(jen.Id("ta"), jen.Id("tb")).Bool(), jen.List(jen.Id("M"), jen.Id("N"), jen.Id("K"), jen.Id("a"), jen.Id("lda"), jen.Id("b"), jen.Id("ldb"), jen.Id("c"), jen.Id("ldc")).Int()).Block(
			keep(jen.Id("m").Dot("dev").Dot("Sgemm").Call(jen.Id("ta"), jen.Id("tb"), jen.Id("M"), jen.Id("N"), jen.Id("K"), jen.Lit(1), jen.Id("m").Dot("at").Call(jen.Id("a")), jen.Id("lda"),
				jen.Id("m").Dot("at").Call(jen.Id("b")), jen.Id("ldb"), jen.Lit(0), jen.Id("m").Dot("at").Call(jen.Id("c")), jen.Id("ldc"))))
		f.Comment("gemmBatched is gemm on batch matrices at strides sa, sb, sc words.")
		f.Add(recv()).Id("gemmBatched").Params(jen.List(jen.Id("ta"), jen.Id("tb")).Bool(), jen.List(jen.Id("M"), jen.Id("N"), jen.Id("K"), jen.Id("a"), jen.Id("lda"), jen.Id("sa"), jen.Id("b"), jen.Id("ldb"), jen.Id("sb"), jen.Id("c"), jen.Id("ldc"), jen.Id("sc"), jen.Id("batch")).Int()).Block(
			keep(jen.Id("m").Dot("dev").Dot("SgemmStridedBatched").Call(jen.Id("ta"), jen.Id("tb"), jen.Id("M"), jen.Id("N"), jen.Id("K"), jen.Lit(1), jen.Id("m").Dot("at").Call(jen.Id("a")), jen.Id("lda"), jen.Id("sa"),
				jen.Id("m").Dot("at").Call(jen.Id("b")), jen.Id("ldb"), jen.Id("sb"), jen.Lit(0), jen.Id("m").Dot("at").Call(jen.Id("c")), jen.Id("ldc"), jen.Id("sc"), jen.Id("batch"))))
	}
	f.Comment("putF32, putI32 and get queue copies of inputs in and results out.")
	f.Add(recv()).Id("putF32").Params(jen.Id("word").Int(), jen.Id("data").Index().Float32()).Block(keep(jen.Id("m").Dot("dev").Dot("UploadF32").Call(jen.Id("m").Dot("at").Call(jen.Id("word")), jen.Id("data"))))
	f.Add(recv()).Id("putI32").Params(jen.Id("word").Int(), jen.Id("data").Index().Int32()).Block(keep(jen.Id("m").Dot("dev").Dot("UploadI32").Call(jen.Id("m").Dot("at").Call(jen.Id("word")), jen.Id("data"))))
	f.Add(recv()).Id("get").Params(jen.Id("dst").Qual("unsafe", "Pointer"), jen.List(jen.Id("word"), jen.Id("count")).Int()).Block(
		keep(jen.Id("m").Dot("dev").Dot("CopyFromDevice").Call(jen.Id("dst"), jen.Id("m").Dot("at").Call(jen.Id("word")), jen.Lit(4).Op("*").Id("count"))))

	// The model API.
	download := func(which string) *jen.Statement {
		off := map[string]string{"params": "cuParams", "grads": "cuGrads", "state": "cuState"}[which]
		return jen.Id("m").Dot("download").Call(jen.Id("m").Dot("host").Dot(which), jen.Id(off))
	}
	body := func(method string) []jen.Code {
		switch method {
		case "Grads":
			if opt.Inference {
				return []jen.Code{jen.Return(jen.Nil()).Comment("an inference build has no gradients")}
			}
			fallthrough
		case "Params", "State":
			return []jen.Code{
				jen.If(download(strings.ToLower(method)).Op("!=").Nil()).Block(jen.Return(jen.Nil())),
				jen.Return(jen.Id("m").Dot("host").Dot(method).Call())}
		case "Save":
			return []jen.Code{returnIfErr(download("params")), returnIfErr(download("state")), jen.Return(jen.Id("m").Dot("host").Dot("Save").Call(jen.Id("path")))}
		case "Load":
			return append([]jen.Code{returnIfErr(download("params")), returnIfErr(download("state")),
				returnIfErr(jen.Id("m").Dot("host").Dot("Load").Call(jen.Id("path")))}, append(lock(), jen.Return(jen.Id("m").Dot("upload").Call()))...)
		}
		return append([]jen.Code{returnIfErr(jen.Id("m").Dot("host").Dot("Reset").Call())}, append(lock(), jen.Return(jen.Id("m").Dot("upload").Call()))...)
	}
	m := &api.Model{G: g, Type: "CUDAModel", Ident: name, Inference: opt.Inference, Where: "host buffers\nthat stay valid until the next call", Fallible: true,
		Call: func(e ir.Entry, args []jen.Code) *jen.Statement {
			return jen.Id("m").Dot(api.EntryMethod(e)).Call(args...)
		},
		Result: func(v *ir.Value) *jen.Statement { return jen.Id("m").Dot(ident[v]) },
		Body:   body}
	m.Emit(f)
	if pl.Entries[ir.EntryStep] != nil {
		f.Comment("SetAllReduce makes every TrainStep one step of data-parallel training (dist/nccl):")
		f.Comment("after the backward pass r replaces the gradients and the loss on the device by their")
		f.Comment("means over the examples of every process, on the model's stream, and after the")
		f.Comment("update each layer's state (batch_norm's moving statistics) by the mean of every")
		f.Comment("process's. nil makes the model train alone again.")
		f.Add(recv()).Id("SetAllReduce").Params(jen.Id("r").Add(api.Mdlc("DeviceAllReducer"))).Block(jen.Id("m").Dot("allReduce").Op("=").Id("r"))
	}

	// The launch sequences.
	docs := [...]string{
		ir.EntryForward: "forward computes the outputs on the device and reads them back.",
		ir.EntryEval:    "eval computes the loss and the metrics on the device and reads them back.",
		ir.EntryStep:    "trainStep runs one training step on the device: forward, loss, backward (gradients\ninto the grads block), then the optimizer update; it reads the loss back.",
	}
	for e := range ir.NumEntries {
		ep := pl.Entries[e]
		if ep == nil {
			continue
		}
		runs := map[*ir.Unit]bool{}
		for _, u := range ep.Units {
			runs[u] = true
		}
		var params []jen.Code
		body := append(lock(), jen.Id("m").Dot("err").Op("=").Nil(), jen.Id("m").Dot("n").Op("=").Int32().Parens(jen.Id("n")))
		if len(l.faults) > 0 {
			body = append(body, keep(jen.Id("m").Dot("dev").Dot("Memset32").Call(jen.Id("m").Dot("at").Call(jen.Id("cuFault")), jen.Lit(0), jen.Lit(faultWords))))
		}
		for _, v := range ep.Inputs {
			typ, put := jen.Index().Float32(), "putF32"
			if v.Type.DType == ir.I32 {
				typ, put = jen.Index().Int32(), "putI32"
			}
			params = append(params, jen.Id(ident[v]).Add(typ))
			body = append(body, jen.Id("m").Dot(put).Call(jen.Id("cuInputs").Op("+").Lit(l.input[v]), jen.Id(ident[v])))
		}
		params = append(params, jen.Id("n").Int())
		section := ""
		for _, ln := range launches {
			if ln.u == nil && !(ln.copies && e == ir.EntryStep) || ln.u != nil && !runs[ln.u] {
				continue
			}
			if ln.u != nil && phaseSection[ln.u.Phase] != section && e == ir.EntryStep {
				if ln.u.Phase == ir.PhaseUpdate {
					body = append(body, jen.Comment("Data parallelism: the gradients and the loss become their means over every rank's examples."),
						jen.If(jen.Id("m").Dot("allReduce").Op("!=").Nil().Op("&&").Id("m").Dot("err").Op("==").Nil()).Block(
							jen.Id("m").Dot("err").Op("=").Id("m").Dot("allReduce").Dot("ReduceStepDevice").Call(
								jen.Uintptr().Call(jen.Id("m").Dot("at").Call(jen.Id("cuGrads"))), jen.Lit(pl.Params),
								jen.Uintptr().Call(jen.Id("m").Dot("at").Call(jen.Lit(l.word(g.TrainLoss())))), jen.Id("n"), jen.Id("m").Dot("dev").Dot("Stream").Call())))
				}
				section = phaseSection[ln.u.Phase]
				body = append(body, jen.Comment(section))
			}
			if ln.gemm != nil {
				body = append(body, c.gemmCall(ln.gemm).Comment(c.formula(ln.gemm)))
			}
			if ln.kernel != nil {
				launch := jen.Id("m").Dot("launch").Call(jen.Id(kernConst[ln.name]), jen.Id(ln.kernel.grid))
				if ln.copies {
					launch.Comment("gradients computed outside their slot, before the update reads them")
				}
				body = append(body, launch)
			}
		}
		if e == ir.EntryStep && apply {
			body = append(body, jen.Comment("Apply the updates."),
				jen.Id("m").Dot("launch").Call(jen.Id("kernApplyUpdates"), jen.Id("cuBlocks").Call(jen.Lit(c.applySize()), jen.Lit(threads))))
		}
		if runs := api.LayerStateRuns(g); e == ir.EntryStep && len(runs) > 0 {
			var calls []jen.Code
			for _, r := range runs {
				calls = append(calls, jen.If(jen.Id("m").Dot("err").Op("==").Nil()).Block(
					jen.Id("m").Dot("err").Op("=").Id("m").Dot("allReduce").Dot("ReduceStateDevice").Call(
						jen.Uintptr().Call(jen.Id("m").Dot("at").Call(jen.Id("cuState").Op("+").Lit(r[0]))), jen.Lit(r[1]-r[0]), jen.Id("m").Dot("dev").Dot("Stream").Call())))
			}
			body = append(body, jen.Comment("Data parallelism: the layers' state is the mean of every rank's."),
				jen.If(jen.Id("m").Dot("allReduce").Op("!=").Nil()).Block(calls...))
		}
		var reads []*ir.Value
		switch e {
		case ir.EntryForward:
			for _, r := range g.ResultsOf(ir.ResultOutput) {
				reads = append(reads, r.Value)
			}
		case ir.EntryEval:
			reads = append(reads, g.Loss())
			for _, r := range g.ResultsOf(ir.ResultMetric) {
				reads = append(reads, r.Value)
			}
		case ir.EntryStep:
			reads = append(reads, g.TrainLoss())
		}
		for _, v := range reads {
			body = append(body, jen.Id("m").Dot("get").Call(jen.Qual("unsafe", "Pointer").Call(jen.Op("&").Id("m").Dot(ident[v]).Index(jen.Lit(0))), jen.Lit(l.word(v)), jen.Id(dims.Size(v.Type.Shape))))
		}
		if len(l.faults) > 0 {
			body = append(body, jen.Id("m").Dot("get").Call(jen.Qual("unsafe", "Pointer").Call(jen.Op("&").Id("m").Dot("fault").Index(jen.Lit(0))), jen.Id("cuFault"), jen.Lit(faultWords)))
		}
		body = append(body,
			jen.If(jen.Id("m").Dot("err").Op("==").Nil()).Block(jen.Id("m").Dot("err").Op("=").Id("m").Dot("dev").Dot("Sync").Call()))
		if len(l.faults) > 0 {
			fw := func(i int) *jen.Statement { return jen.Id("m").Dot("fault").Index(jen.Lit(i)) }
			op := fw(0).Op("-").Lit(1)
			body = append(body, jen.If(jen.Id("m").Dot("err").Op("==").Nil().Op("&&").Add(fw(0)).Op("!=").Lit(0)).Block(
				jen.Return(api.Rt("IndexError").Call(jen.Id("faultAt").Index(op), jen.Int().Call(fw(2)), fw(1), jen.Id("faultHi").Index(op.Clone())))))
		}
		body = append(body, jen.Return(jen.Id("m").Dot("err")))
		for _, line := range strings.Split(docs[e], "\n") {
			f.Comment(line)
		}
		f.Add(recv()).Id(api.EntryMethod(e)).Params(params...).Error().Block(body...)
	}

	var buf bytes.Buffer
	if err := f.Render(&buf); err != nil {
		return nil, fmt.Errorf("cuda: %s: %w", GoFile, err)
	}
	return buf.Bytes(), nil
}

// gemmCall is the launch code of a matmul: row-major, as the Go backend's rt.Sgemm.
func (c *cgen) gemmCall(v *ir.Value) *jen.Statement {
	a, b := v.Args[0], v.Args[1]
	batch, m, kk, n, _ := ir.MatmulDims(v)
	ta, tb := v.Attrs.Bool("ta"), v.Attrs.Bool("tb")
	ra := a.Type.Shape.Rank()
	lda, ldb := jen.Id(dims.Extent(a.Type.Shape[ra-1])), jen.Id(dims.Extent(b.Type.Shape[ra-1]))
	M, K, N := jen.Id(dims.Extent(m)), jen.Id(dims.Extent(kk)), jen.Id(dims.Extent(n))
	if len(batch) == 0 {
		return jen.Id("m").Dot("gemm").Call(jen.Lit(ta), jen.Lit(tb), M, N, K, jen.Lit(c.l.word(a)), lda, jen.Lit(c.l.word(b)), ldb, jen.Lit(c.l.word(v)), jen.Id(dims.Extent(n)))
	}
	return jen.Id("m").Dot("gemmBatched").Call(jen.Lit(ta), jen.Lit(tb), M, N, K,
		jen.Lit(c.l.word(a)), lda, jen.Id(dims.Size(a.Type.Shape[ra-2:])),
		jen.Lit(c.l.word(b)), ldb, jen.Id(dims.Size(b.Type.Shape[ra-2:])),
		jen.Lit(c.l.word(v)), jen.Id(dims.Extent(n)), jen.Id(dims.Size(v.Type.Shape[ra-2:])), jen.Id(dims.Size(batch)))
}
