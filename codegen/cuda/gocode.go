package cuda

import (
	"bytes"
	"fmt"
	"go/format"
	"strings"
	"unicode"

	"github.com/mdlc/mdlc/codegen/internal/dims"
	"github.com/mdlc/mdlc/ir"
)

// needed returns the values roots depend on, in graph order.
func needed(g *ir.Graph, roots []*ir.Value) map[*ir.Value]bool { return dims.Needed(roots) }

// usedInputs returns the inputs marked in need, in graph order.
func usedInputs(g *ir.Graph, need map[*ir.Value]bool) []*ir.Value {
	var out []*ir.Value
	for _, v := range g.Values {
		if need[v] && v.Op.Name == "input" {
			out = append(out, v)
		}
	}
	return out
}

func goType(v *ir.Value) string {
	if v.Type.DType == ir.I32 {
		return "[]int32"
	}
	return "[]float32"
}

func exported(s string) string {
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// gowriter accumulates Go source.
type gowriter struct{ b bytes.Buffer }

func (w *gowriter) p(format string, args ...any) { fmt.Fprintf(&w.b, format+"\n", args...) }

// goSource writes model_cuda.go.
func (c *cgen) goSource(g *ir.Graph, units []*unit, header string, opt Options) ([]byte, error) {
	l := c.l
	w := &gowriter{}
	loss := g.Loss()
	outs := g.ResultsOf(ir.ResultOutput)
	metrics := g.ResultsOf(ir.ResultMetric)
	train := loss != nil && len(g.Updates) > 0

	var outRoots []*ir.Value
	for _, r := range outs {
		outRoots = append(outRoots, r.Value)
	}
	fwdNeed := needed(g, outRoots)
	fwdIns := usedInputs(g, fwdNeed)
	var evalNeed, stepNeed map[*ir.Value]bool
	var evalIns, stepIns []*ir.Value
	if loss != nil {
		roots := []*ir.Value{loss}
		for _, r := range metrics {
			roots = append(roots, r.Value)
		}
		evalNeed = needed(g, roots)
		evalIns = usedInputs(g, evalNeed)
	}
	if train {
		roots := []*ir.Value{loss}
		for _, u := range g.Updates {
			roots = append(roots, u.Value)
		}
		for _, r := range g.ResultsOf(ir.ResultGrad) {
			roots = append(roots, r.Value)
		}
		stepNeed = needed(g, roots)
		stepIns = usedInputs(g, stepNeed)
	}
	hasGemm := false
	var kernels []*unit
	for _, u := range units {
		if u.gemm != nil {
			hasGemm = true
		} else {
			kernels = append(kernels, u)
		}
	}

	w.p("%s", strings.TrimSuffix(header, "\n"))
	w.p("")
	w.p("package %s", opt.Package)
	w.p("")
	w.p("import (")
	w.p("_ \"embed\"")
	w.p("\"fmt\"")
	w.p("\"unsafe\"")
	w.p("")
	w.p("rt \"github.com/mdlc/mdlc/runtime\"")
	w.p("cu \"github.com/mdlc/mdlc/runtime/cuda\"")
	w.p(")")
	w.p("")
	w.p("// kernelsPTX is %s compiled for %s (the driver JIT-compiles it for newer GPUs).", CUFile, opt.Arch)
	w.p("//")
	w.p("//go:embed %s", PTXFile)
	w.p("var kernelsPTX []byte")
	w.p("")
	w.p("// Device memory: one allocation of 32-bit words, laid out as in %s.", CUFile)
	w.p("const (")
	for _, blk := range []block{inParams, inGrads, inState, inArena, inIArena, inInput} {
		w.p("cu%s = %d", exported(strings.ToLower(blockNames[blk])), l.base(blk))
	}
	w.p("cuWords = %d", l.words())
	w.p(")")
	w.p("")
	w.p("// Kernels of %s, in launch order.", CUFile)
	w.p("const (")
	for i, u := range kernels {
		if i == 0 {
			w.p("%s = iota", kernConst(u.name))
		} else {
			w.p("%s", kernConst(u.name))
		}
	}
	if train && c.apply != "" {
		w.p("kernApplyUpdates")
	}
	w.p("numKernels")
	w.p(")")
	w.p("")
	w.p("var kernelNames = [numKernels]string{")
	for _, u := range kernels {
		w.p("%q,", u.name)
	}
	if train && c.apply != "" {
		w.p("\"apply_updates\",")
	}
	w.p("}")
	w.p("")
	w.p("// CUDAModel is the %s model on an NVIDIA GPU: parameters, gradients, optimizer", g.Name)
	w.p("// state and activations live in one device allocation; a step uploads its inputs,")
	w.p("// queues its kernels and cuBLAS calls on one stream and waits only to read the loss.")
	w.p("// It offers the methods of Model. A CUDAModel is not safe for concurrent use.")
	w.p("type CUDAModel struct {")
	w.p("dev *cu.Device")
	w.p("mod cu.Module")
	w.p("fn [numKernels]cu.Function")
	w.p("mem cu.Ptr // the device allocation (cuWords words)")
	w.p("n int32 // the batch size of the launch in progress")
	w.p("args [2]unsafe.Pointer // kernel parameters: &mem, &n")
	w.p("err error // the first error of the launch in progress")
	w.p("host *Model // host copy: initialization, Spec, Params/Grads/State views, checkpoints")
	w.p("scalars [%d]float32 // loss and metrics read back", 1+len(metrics))
	for i, r := range outs {
		w.p("out%d %s // output %s read back", i, goType(r.Value), r.Name)
	}
	w.p("}")
	w.p("")
	w.p("// NewCUDA returns a model on GPU device (0 is the first), initialized as New(opts...)")
	w.p("// initializes one. Without an NVIDIA driver or GPU it returns an error; the CPU")
	w.p("// Model is unaffected. Close releases the GPU memory.")
	w.p("func NewCUDA(device int, opts ...Option) (*CUDAModel, error) {")
	w.p("h := New(opts...)")
	w.p("if len(h.params) != %d || len(h.state) != %d {", l.params, l.state)
	w.p("return nil, fmt.Errorf(\"%s: the CUDA code does not match model.go (regenerate both)\")", opt.Package)
	w.p("}")
	w.p("dev, err := cu.Open(device)")
	w.p("if err != nil {")
	w.p("return nil, err")
	w.p("}")
	w.p("m := &CUDAModel{dev: dev, host: h}")
	w.p("if err := m.init(); err != nil {")
	w.p("m.Close()")
	w.p("return nil, err")
	w.p("}")
	w.p("return m, nil")
	w.p("}")
	w.p("")
	w.p("func (m *CUDAModel) init() error {")
	w.p("if err := m.dev.Lock(); err != nil {")
	w.p("m.dev.Unlock()")
	w.p("return err")
	w.p("}")
	w.p("defer m.dev.Unlock()")
	w.p("var err error")
	w.p("if m.mem, err = m.dev.Alloc(4 * cuWords); err != nil {")
	w.p("return err")
	w.p("}")
	w.p("m.args = [2]unsafe.Pointer{unsafe.Pointer(&m.mem), unsafe.Pointer(&m.n)}")
	w.p("if m.mod, err = m.dev.LoadModule(kernelsPTX); err != nil {")
	w.p("return err")
	w.p("}")
	w.p("for i, name := range kernelNames {")
	w.p("if m.fn[i], err = m.dev.Function(m.mod, name); err != nil {")
	w.p("return err")
	w.p("}")
	w.p("}")
	if hasGemm {
		w.p("if err := m.dev.EnableBLAS(); err != nil {")
		w.p("return err")
		w.p("}")
	}
	for i, r := range outs {
		w.p("m.out%d = make(%s, %d)", i, goType(r.Value), l.storage(r.Value).size)
	}
	w.p("if err := m.dev.Memset32(m.mem, 0, cuWords); err != nil {")
	w.p("return err")
	w.p("}")
	w.p("return m.upload()")
	w.p("}")
	w.p("")
	w.p("// upload copies the host parameters and optimizer state to the device.")
	w.p("func (m *CUDAModel) upload() error {")
	w.p("if err := m.dev.UploadF32(m.at(cuParams), m.host.params); err != nil {")
	w.p("return err")
	w.p("}")
	w.p("if err := m.dev.UploadF32(m.at(cuState), m.host.state); err != nil {")
	w.p("return err")
	w.p("}")
	w.p("return m.dev.Sync()")
	w.p("}")
	w.p("")
	w.p("// download copies words [off, off+len(dst)) of the device memory to dst.")
	w.p("func (m *CUDAModel) download(dst []float32, off int) error {")
	w.p("if err := m.dev.Lock(); err != nil {")
	w.p("m.dev.Unlock()")
	w.p("return err")
	w.p("}")
	w.p("defer m.dev.Unlock()")
	w.p("return m.dev.DownloadF32(dst, m.at(off))")
	w.p("}")
	w.p("")
	w.p("// Close frees the device memory and releases the GPU.")
	w.p("func (m *CUDAModel) Close() error {")
	w.p("if m.dev == nil {")
	w.p("return nil")
	w.p("}")
	w.p("m.dev.Lock()")
	w.p("if m.mod != 0 {")
	w.p("m.dev.Unload(m.mod)")
	w.p("}")
	w.p("if m.mem != 0 {")
	w.p("m.dev.Free(m.mem)")
	w.p("}")
	w.p("m.dev.Unlock()")
	w.p("err := m.dev.Close()")
	w.p("m.dev = nil")
	w.p("return err")
	w.p("}")
	w.p("")
	w.p("// Device is the GPU the model runs on.")
	w.p("func (m *CUDAModel) Device() *cu.Device { return m.dev }")
	w.p("")
	w.p("// Spec describes the model's inputs, outputs, metrics, parameters and state.")
	w.p("func (m *CUDAModel) Spec() rt.Spec { return m.host.Spec() }")
	w.p("")
	w.p("// Reset re-initializes the parameters from the seed and clears the optimizer state.")
	w.p("func (m *CUDAModel) Reset() error {")
	w.p("m.host.Reset()")
	w.p("if err := m.dev.Lock(); err != nil {")
	w.p("m.dev.Unlock()")
	w.p("return err")
	w.p("}")
	w.p("defer m.dev.Unlock()")
	w.p("return m.upload()")
	w.p("}")
	w.p("")
	w.p("func (m *CUDAModel) at(word int) cu.Ptr { return m.mem.Add(4 * word) }")
	w.p("")
	w.p("func blocks(n, per int) int { return (n + per - 1) / per }")
	w.p("")
	w.p("// launch queues kernel k on grid blocks of %d threads.", threads)
	w.p("func (m *CUDAModel) launch(k, grid int) {")
	w.p("if m.err == nil && grid > 0 {")
	w.p("m.err = m.dev.Launch(m.fn[k], grid, %d, 0, unsafe.Pointer(&m.args[0]))", threads)
	w.p("}")
	w.p("}")
	if hasGemm {
		w.p("")
		w.p("// gemm queues c = op(a) @ op(b) on row-major operands at word offsets a, b, c.")
		w.p("func (m *CUDAModel) gemm(ta, tb bool, M, N, K, a, lda, b, ldb, c, ldc int) {")
		w.p("if m.err == nil {")
		w.p("m.err = m.dev.Sgemm(ta, tb, M, N, K, 1, m.at(a), lda, m.at(b), ldb, 0, m.at(c), ldc)")
		w.p("}")
		w.p("}")
		w.p("")
		w.p("// gemmBatched is gemm on batch matrices at strides sa, sb, sc words.")
		w.p("func (m *CUDAModel) gemmBatched(ta, tb bool, M, N, K, a, lda, sa, b, ldb, sb, c, ldc, sc, batch int) {")
		w.p("if m.err == nil {")
		w.p("m.err = m.dev.SgemmStridedBatched(ta, tb, M, N, K, 1, m.at(a), lda, sa, m.at(b), ldb, sb, 0, m.at(c), ldc, sc, batch)")
		w.p("}")
		w.p("}")
	}
	w.p("")
	w.p("func (m *CUDAModel) putF32(word int, x []float32) {")
	w.p("if m.err == nil {")
	w.p("m.err = m.dev.UploadF32(m.at(word), x)")
	w.p("}")
	w.p("}")
	w.p("")
	w.p("func (m *CUDAModel) putI32(word int, x []int32) {")
	w.p("if m.err == nil {")
	w.p("m.err = m.dev.UploadI32(m.at(word), x)")
	w.p("}")
	w.p("}")
	w.p("")
	w.p("func (m *CUDAModel) get(dst unsafe.Pointer, word, count int) {")
	w.p("if m.err == nil {")
	w.p("m.err = m.dev.CopyFromDevice(dst, m.at(word), 4*count)")
	w.p("}")
	w.p("}")

	// The public API.
	params := func(ins []*ir.Value) string {
		var s []string
		for _, v := range ins {
			s = append(s, l.bufs[v].name+" "+goType(v))
		}
		return strings.Join(append(s, "n int"), ", ")
	}
	checks := func(ins []*ir.Value, zeros string) {
		ret := "return " + zeros + "err"
		w.p("if err := rt.CheckBatch(n, MaxBatch); err != nil {\n%s\n}", ret)
		for _, v := range ins {
			name := v.Attrs.String("role") + " " + v.Name
			id := l.bufs[v].name
			if v.Type.DType == ir.I32 {
				hi := g.IndexBound(v)
				if hi == 0 {
					hi = 1<<31 - 1
				}
				w.p("if err := rt.CheckI32Range(%q, %s, n, %d, %d); err != nil {\n%s\n}", name, id, perExample(v), hi, ret)
				continue
			}
			w.p("if err := rt.CheckF32(%q, %s, n, %d); err != nil {\n%s\n}", name, id, perExample(v), ret)
			w.p("if err := rt.CheckFinite(%q, %s); err != nil {\n%s\n}", name, id, ret)
		}
	}
	enter := func(zeros string) {
		w.p("if err := m.dev.Lock(); err != nil {\nm.dev.Unlock()\nreturn %serr\n}", zeros)
		w.p("defer m.dev.Unlock()")
		w.p("m.err = nil")
	}
	uploads := func(ins []*ir.Value) {
		for _, v := range ins {
			b := l.bufs[v]
			if b.i32 {
				w.p("m.putI32(cuInputs+%d, %s)", b.off, b.name)
			} else {
				w.p("m.putF32(cuInputs+%d, %s)", b.off, b.name)
			}
		}
	}
	finish := func(zeros string) {
		w.p("if m.err == nil {\nm.err = m.dev.Sync()\n}")
		w.p("if m.err != nil {\nreturn %sm.err\n}", zeros)
	}

	// Forward.
	var outNames, outVals, outZeros []string
	for i, r := range outs {
		outNames = append(outNames, fmt.Sprintf("%s %s", l.name(r.Name, "Out"), goType(r.Value)))
		outVals = append(outVals, fmt.Sprintf("m.out%d[:%s]", i, sizeExpr(r.Value.Type.Shape)))
		outZeros = append(outZeros, "nil, ")
	}
	oz := strings.Join(outZeros, "")
	w.p("")
	w.p("// Forward runs the model on the first n examples and returns its outputs, host")
	w.p("// buffers that stay valid until the next call.")
	w.p("func (m *CUDAModel) Forward(%s) (%s) {", params(fwdIns), strings.Join(append(outNames, "err error"), ", "))
	checks(fwdIns, oz)
	enter(oz)
	uploads(fwdIns)
	w.p("m.forward(n)")
	for i, r := range outs {
		w.p("m.get(unsafe.Pointer(&m.out%d[0]), %d, %s)", i, l.word(r.Value), sizeExpr(r.Value.Type.Shape))
	}
	finish(oz)
	w.p("return %s", strings.Join(append(outVals, "nil"), ", "))
	w.p("}")
	if train {
		w.p("")
		w.p("// TrainStep runs one optimizer step on the first n examples and returns the loss")
		w.p("// before the update.")
		w.p("func (m *CUDAModel) TrainStep(%s) (loss float32, err error) {", params(stepIns))
		checks(stepIns, "0, ")
		enter("0, ")
		uploads(stepIns)
		w.p("m.step(n)")
		w.p("m.get(unsafe.Pointer(&m.scalars[0]), %d, 1)", l.word(loss))
		finish("0, ")
		w.p("return m.scalars[0], nil")
		w.p("}")
	}
	if loss != nil {
		names := []string{"loss float32"}
		vals := []string{"m.scalars[0]"}
		zeros := "0, "
		var mnames []string
		for i, r := range metrics {
			names = append(names, l.name(r.Name, "Metric")+" float32")
			vals = append(vals, fmt.Sprintf("m.scalars[%d]", i+1))
			zeros += "0, "
			mnames = append(mnames, r.Name)
		}
		doc := "Eval returns the loss"
		if len(mnames) > 0 {
			doc += " and the metrics (" + strings.Join(mnames, ", ") + ")"
		}
		w.p("")
		w.p("// %s on the first n examples without updating the model.", doc)
		w.p("func (m *CUDAModel) Eval(%s) (%s) {", params(evalIns), strings.Join(append(names, "err error"), ", "))
		checks(evalIns, zeros)
		enter(zeros)
		uploads(evalIns)
		w.p("m.eval(n)")
		w.p("m.get(unsafe.Pointer(&m.scalars[0]), %d, 1)", l.word(loss))
		for i, r := range metrics {
			w.p("m.get(unsafe.Pointer(&m.scalars[%d]), %d, 1)", i+1, l.word(r.Value))
		}
		finish(zeros)
		w.p("return %s, nil", strings.Join(vals, ", "))
		w.p("}")
	}

	// Host views.
	w.p("")
	w.p("// Params copies the parameters from the device and returns views of the host copy")
	w.p("// (nil if the copy fails).")
	w.p("func (m *CUDAModel) Params() []rt.Tensor {")
	w.p("if m.download(m.host.params, cuParams) != nil {\nreturn nil\n}")
	w.p("return m.host.Params()")
	w.p("}")
	w.p("")
	w.p("// Grads copies the gradients of the last TrainStep from the device and returns")
	w.p("// views of the host copy (nil if the copy fails).")
	w.p("func (m *CUDAModel) Grads() []rt.Tensor {")
	w.p("if m.download(m.host.grads, cuGrads) != nil {\nreturn nil\n}")
	w.p("return m.host.Grads()")
	w.p("}")
	w.p("")
	w.p("// State copies the optimizer state from the device and returns views of the host")
	w.p("// copy (nil if the copy fails).")
	w.p("func (m *CUDAModel) State() []rt.Tensor {")
	w.p("if m.download(m.host.state, cuState) != nil {\nreturn nil\n}")
	w.p("return m.host.State()")
	w.p("}")
	w.p("")
	w.p("// Save writes the parameters and the optimizer state to path as Model.Save does.")
	w.p("func (m *CUDAModel) Save(path string) error {")
	w.p("if err := m.download(m.host.params, cuParams); err != nil {\nreturn err\n}")
	w.p("if err := m.download(m.host.state, cuState); err != nil {\nreturn err\n}")
	w.p("return m.host.Save(path)")
	w.p("}")
	w.p("")
	w.p("// Load reads a checkpoint written by Save (on the GPU or the CPU). On error the")
	w.p("// model is unchanged.")
	w.p("func (m *CUDAModel) Load(path string) error {")
	w.p("if err := m.download(m.host.params, cuParams); err != nil {\nreturn err\n}")
	w.p("if err := m.download(m.host.state, cuState); err != nil {\nreturn err\n}")
	w.p("if err := m.host.Load(path); err != nil {\nreturn err\n}")
	w.p("if err := m.dev.Lock(); err != nil {\nm.dev.Unlock()\nreturn err\n}")
	w.p("defer m.dev.Unlock()")
	w.p("return m.upload()")
	w.p("}")

	c.genericAPI(w, g, outs, metrics, fwdIns, evalIns, stepIns, train)

	// Launch sequences.
	launchFn := func(name, doc string, need map[*ir.Value]bool, apply bool) {
		w.p("")
		for _, line := range strings.Split(doc, "\n") {
			w.p("// %s", line)
		}
		w.p("func (m *CUDAModel) %s(n int) {", name)
		w.p("m.n = int32(n)")
		section := ""
		for _, u := range units {
			use := false
			for _, v := range u.vals {
				use = use || need[v]
			}
			if !use {
				continue
			}
			if s := sectionOf(g, u.vals[0]); s != section {
				if section != "" {
					w.p("")
				}
				w.p("// %s", s)
				section = s
			}
			if u.gemm != nil {
				w.p("// %s", valueComment(u.gemm))
				w.p("%s", c.gemmCall(u.gemm))
				continue
			}
			switch {
			case u.copies:
				w.p("m.launch(%s, %s) // gradients computed outside their slot", kernConst(u.name), u.kernel.grid)
				continue
			case u.lanes != nil:
				w.p("m.launch(%s, %s) // group %d: the optimizer update of all %d params, in place", kernConst(u.name), u.kernel.grid, u.group, len(u.lanes.Lanes))
				continue
			}
			if len(u.vals) == 1 {
				w.p("m.launch(%s, %s) // %s", kernConst(u.name), u.kernel.grid, valueComment(u.vals[0]))
			} else {
				w.p("m.launch(%s, %s) // group %d: %d values %s", kernConst(u.name), u.kernel.grid, u.group, len(u.vals), shapeComment(u.vals[0].Type.Shape))
			}
		}
		if apply && c.apply != "" {
			w.p("")
			w.p("// Apply the updates.")
			w.p("m.launch(kernApplyUpdates, blocks(%d, %d))", c.applySize(g), threads)
		}
		w.p("}")
	}
	launchFn("forward", "forward queues the computation of the outputs.", fwdNeed, false)
	if loss != nil {
		launchFn("eval", "eval queues the computation of the loss and the metrics.", evalNeed, false)
	}
	if train {
		launchFn("step", "step queues one training step: forward, loss, backward (gradients into the\ngrads block), then the optimizer update of every parameter and its state.", stepNeed, true)
	}
	src, err := format.Source(w.b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("cuda: generated Go does not parse: %w\n%s", err, w.b.Bytes())
	}
	return src, nil
}

// kernConst is the Go constant naming a kernel: k12_relu_hidden -> kernK12ReluHidden.
func kernConst(name string) string {
	var b strings.Builder
	b.WriteString("kern")
	up := true
	for _, r := range name {
		if r == '_' {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// gemmCall is the launch code of a matmul: row-major, as the Go backend's rt.Sgemm.
func (c *cgen) gemmCall(v *ir.Value) string {
	a, b := v.Args[0], v.Args[1]
	batch, m, kk, n, _ := ir.MatmulDims(v)
	ta, tb := v.Attrs.Bool("ta"), v.Attrs.Bool("tb")
	ra := a.Type.Shape.Rank()
	lda, ldb := extent(a.Type.Shape[ra-1]), extent(b.Type.Shape[ra-1])
	M, K, N := extent(m), extent(kk), extent(n)
	if len(batch) == 0 {
		return fmt.Sprintf("m.gemm(%v, %v, %s, %s, %s, %d, %s, %d, %s, %d, %s)", ta, tb, M, N, K, c.l.word(a), lda, c.l.word(b), ldb, c.l.word(v), N)
	}
	return fmt.Sprintf("m.gemmBatched(%v, %v, %s, %s, %s, %d, %s, %s, %d, %s, %s, %d, %s, %s, %s)", ta, tb, M, N, K,
		c.l.word(a), lda, sizeExpr(a.Type.Shape[ra-2:]),
		c.l.word(b), ldb, sizeExpr(b.Type.Shape[ra-2:]),
		c.l.word(v), N, sizeExpr(v.Type.Shape[ra-2:]), sizeExpr(batch))
}

// genericAPI implements runtime.Model on top of the typed methods, as the
// Go backend does for Model.
func (c *cgen) genericAPI(w *gowriter, g *ir.Graph, outs, metrics []ir.Result, fwdIns, evalIns, stepIns []*ir.Value, train bool) {
	all := g.Inputs()
	var names []string
	for _, v := range all {
		names = append(names, v.Name)
	}
	list := strings.Join(names, ", ")
	batchArgs := func(ins []*ir.Value) string {
		var args []string
		for _, v := range ins {
			for i, a := range all {
				if a == v {
					f := "F32"
					if v.Type.DType == ir.I32 {
						f = "I32"
					}
					args = append(args, fmt.Sprintf("b[%d].%s", i, f))
				}
			}
		}
		return strings.Join(append(args, "n"), ", ")
	}
	check := func(zero string) {
		w.p("if len(b) != %d {\nreturn %sfmt.Errorf(\"batch has %%d values, want %d (%s)\", len(b))\n}", len(all), zero, len(all), list)
	}
	w.p("")
	w.p("var _ rt.Model = (*CUDAModel)(nil)")
	w.p("")
	w.p("// Train implements runtime.Model: TrainStep on a batch given in Spec().Inputs order.")
	w.p("func (m *CUDAModel) Train(b rt.Batch, n int) (float32, error) {")
	if train {
		check("0, ")
		w.p("return m.TrainStep(%s)", batchArgs(stepIns))
	} else {
		w.p("return 0, fmt.Errorf(%q)", g.Name+" has no loss or no optimizer: it cannot be trained")
	}
	w.p("}")
	w.p("")
	w.p("// Evaluate implements runtime.Model: Eval on a batch, metrics written to metrics.")
	w.p("func (m *CUDAModel) Evaluate(b rt.Batch, n int, metrics []float32) (float32, error) {")
	if g.Loss() != nil {
		check("0, ")
		if len(metrics) > 0 {
			w.p("if len(metrics) < %d {\nreturn 0, fmt.Errorf(\"metrics has room for %%d values, want %d\", len(metrics))\n}", len(metrics), len(metrics))
		}
		lhs := []string{"loss"}
		for i := range metrics {
			lhs = append(lhs, fmt.Sprintf("m%d", i))
		}
		w.p("%s, err := m.Eval(%s)", strings.Join(lhs, ", "), batchArgs(evalIns))
		w.p("if err != nil {\nreturn 0, err\n}")
		for i := range metrics {
			w.p("metrics[%d] = m%d", i, i)
		}
		w.p("return loss, nil")
	} else {
		w.p("return 0, fmt.Errorf(%q)", g.Name+" has no loss")
	}
	w.p("}")
	w.p("")
	w.p("// Predict implements runtime.Model: Forward on a batch, outputs copied into outputs.")
	w.p("func (m *CUDAModel) Predict(b rt.Batch, n int, outputs [][]float32) error {")
	check("")
	w.p("if len(outputs) != %d {\nreturn fmt.Errorf(\"outputs has %%d slices, want %d\", len(outputs))\n}", len(outs), len(outs))
	if len(outs) > 0 {
		var lhs []string
		for i := range outs {
			lhs = append(lhs, fmt.Sprintf("o%d", i))
		}
		w.p("%s, err := m.Forward(%s)", strings.Join(lhs, ", "), batchArgs(fwdIns))
		w.p("if err != nil {\nreturn err\n}")
		for i, r := range outs {
			w.p("if len(outputs[%d]) < len(o%d) {\nreturn fmt.Errorf(\"output %s: buffer holds %%d values, need %%d\", len(outputs[%d]), len(o%d))\n}", i, i, r.Name, i, i)
			if r.Value.Type.DType == ir.I32 {
				w.p("for i, x := range o%d {\noutputs[%d][i] = float32(x)\n}", i, i)
			} else {
				w.p("copy(outputs[%d], o%d)", i, i)
			}
		}
	}
	w.p("return nil")
	w.p("}")
}
