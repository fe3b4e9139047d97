package cuda

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/mdlc/mdlc/ir"
)

// Version is the mdlc version written into generated headers by default.
const Version = "0.1.0"

// Names of the files Generate's output goes to, next to the Go backend's model.go.
const (
	CUFile  = "kernels.cu"    // the kernels
	PTXFile = "kernels.ptx"   // their PTX, embedded in the package
	GoFile  = "model_cuda.go" // NewCUDA, CUDAModel and the launch sequence
)

// Options control generation.
type Options struct {
	Package  string // Go package name (the Go backend's package)
	Source   string // the .mdl file, named in the headers
	MaxBatch int    // largest batch size n (as given to the Go backend)
	Version  string // mdlc version in the headers (default Version)
	Arch     string // GPU architecture the PTX targets: sm_80 (default) or sm_90
}

// unit is one launch: a kernel computing vals, or a cuBLAS call.
type unit struct {
	name   string
	vals   []*ir.Value
	group  int // index in g.Groups, or -1
	gemm   *ir.Value
	kernel *kernel
	pro    int       // number of leading vals computed as the reduction's prologue
	lanes  *ir.Group // the optimizer update of all params, one kernel over the params block
	copies bool      // copy_grads: gradients computed outside their slot, copied before lanes reads them
}

// computes reports whether a value needs code.
func computes(v *ir.Value) bool {
	return v.Op.Kind != ir.KindSource && v.Op.Name != "reshape"
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// kernelName names a single-value kernel: k<ID>_<op>[_<name>].
func kernelName(v *ir.Value) string {
	s := fmt.Sprintf("k%d_%s", v.ID, v.Op.Name)
	if v.Name != "" {
		s += "_" + strings.Trim(nonIdent.ReplaceAllString(v.Name, "_"), "_")
	}
	return s
}

// units splits the step graph into launches: one per fused group when
// g.Groups is set, one per value otherwise. A group's elementwise values of
// one shape run as one kernel, with its reduction sink when they feed it
// (the reduction computes them in its loop and stores those used
// elsewhere); a contraction group is its GEMM and then a kernel over the
// GEMM's output; the optimizer update of all params is one kernel over the
// params block when its layout is flat. The groups of the fuse pass run so
// as one kernel each (plus the GEMM); any other value of a group gets a
// kernel of its own.
func (c *cgen) units(g *ir.Graph) ([]*unit, error) {
	var out []*unit
	single := func(v *ir.Value, group int) *unit {
		u := &unit{name: kernelName(v), vals: []*ir.Value{v}, group: group}
		if v.Op.Name == "matmul" {
			u.gemm = v
		}
		return u
	}
	if len(g.Groups) == 0 {
		for _, v := range g.Values {
			if computes(v) {
				out = append(out, single(v, -1))
			}
		}
		return out, nil
	}
	pos := map[*ir.Value]int{}
	for i, v := range g.Values {
		pos[v] = i
	}
	covered := map[*ir.Value]bool{}
	uses := outsideUses(g)
	// A group is launched where its last value is (the fuse pass's rule:
	// no outside user of a member comes before it); its units keep their
	// order within it.
	type started struct {
		u   *unit
		at  int // position of the group's last value
		sub int
	}
	var all []started
	for gi, grp := range g.Groups {
		var seg []*ir.Value
		part := 0
		at := -1
		for _, v := range grp.Values {
			at = max(at, pos[v])
		}
		if c.l.flat[&g.Groups[gi]] != nil {
			u := &unit{vals: grp.Values, group: gi, lanes: &g.Groups[gi], name: fmt.Sprintf("g%d_update_all_params", gi)}
			for _, v := range grp.Values {
				covered[v] = true
			}
			all = append(all, started{u, at, part})
			continue
		}
		flush := func() {
			if len(seg) == 0 {
				return
			}
			u := &unit{vals: seg, group: gi}
			var ops []string
			for _, v := range seg {
				if len(ops) < 4 {
					ops = append(ops, v.Op.Name)
				}
			}
			u.name = fmt.Sprintf("g%d_%s", gi, strings.Join(ops, "_"))
			if part > 0 {
				u.name = fmt.Sprintf("g%d_%d_%s", gi, part, strings.Join(ops, "_"))
			}
			all = append(all, started{u, at, part})
			part++
			seg = nil
		}
		for _, v := range grp.Values {
			if !computes(v) || covered[v] {
				continue
			}
			covered[v] = true
			ew := v.Op.Kind == ir.KindElementwise || v.Op.Name == "broadcast"
			if ew && (len(seg) == 0 || seg[0].Type.Shape.Equal(v.Type.Shape)) {
				seg = append(seg, v)
				continue
			}
			if isReduce(v) && len(seg) > 0 && seg[len(seg)-1] == v.Args[0] && seg[0].Type.Shape.Equal(v.Args[0].Type.Shape) {
				in := map[*ir.Value]bool{v: true}
				for _, s := range seg {
					in[s] = true
				}
				private := true
				for _, s := range seg {
					private = private && !uses(s, in)
				}
				// logsumexp reads its input twice: its loop stores nothing.
				if private || v.Op.Name != "logsumexp" {
					// The reduction computes its input in its loop and
					// stores the members used elsewhere as it goes.
					u := &unit{vals: append(seg, v), group: gi, pro: len(seg)}
					u.name = fmt.Sprintf("g%d_%s", gi, v.Op.Name)
					if part > 0 {
						u.name = fmt.Sprintf("g%d_%d_%s", gi, part, v.Op.Name)
					}
					all = append(all, started{u, at, part})
					part++
					seg = nil
					continue
				}
			}
			flush()
			if ew {
				seg = append(seg, v)
				continue
			}
			u := single(v, gi)
			u.name = fmt.Sprintf("g%d_%d_%s", gi, part, v.Op.Name)
			all = append(all, started{u, at, part})
			part++
		}
		flush()
	}
	for _, v := range g.Values {
		if computes(v) && !covered[v] {
			all = append(all, started{single(v, -1), pos[v], 0})
		}
	}
	// Launch in that order; check that every argument is ready.
	less := func(a, b started) bool { return a.at < b.at || a.at == b.at && a.sub < b.sub }
	for i := 1; i < len(all); i++ {
		for j := i; j > 0 && less(all[j], all[j-1]); j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	done := map[*ir.Value]bool{}
	for _, s := range all {
		for _, v := range s.u.vals {
			for _, a := range v.Args {
				if computes(a) && !done[a] {
					if !c.isAliasReady(a, done) {
						return nil, fmt.Errorf("cuda: %s: %%%d needs %%%d, which is computed later (group %d)", s.u.name, v.ID, a.ID, s.u.group)
					}
				}
			}
			done[v] = true
		}
		out = append(out, s.u)
	}
	return out, nil
}

// isAliasReady reports whether a reshape's source is computed.
func (c *cgen) isAliasReady(a *ir.Value, done map[*ir.Value]bool) bool {
	for a.Op.Name == "reshape" {
		a = a.Args[0]
	}
	return !computes(a) || done[a]
}

// Generate returns the CUDA C source of the kernels of step graph g and
// the Go file that loads them and launches them. Both start with the
// standard generated-code header.
func Generate(g *ir.Graph, opt Options) (cu []byte, goSrc []byte, err error) {
	if opt.MaxBatch < 1 {
		return nil, nil, fmt.Errorf("cuda: batch size %d must be positive", opt.MaxBatch)
	}
	if opt.Package == "" {
		return nil, nil, fmt.Errorf("cuda: no package name")
	}
	if opt.Version == "" {
		opt.Version = Version
	}
	if opt.Arch == "" {
		opt.Arch = DefaultArch
	}
	for _, v := range g.Values {
		if !hasEmitter(v.Op.Name) && !v.Op.Bound() {
			return nil, nil, fmt.Errorf("cuda: op %s has no CUDA emitter", v.Op.Name)
		}
	}
	l, err := newLayout(g, opt.MaxBatch)
	if err != nil {
		return nil, nil, err
	}
	c := &cgen{l: l}
	units, err := c.units(g)
	if err != nil {
		return nil, nil, err
	}
	c.store = c.stored(g, units)
	if err := l.place(c.store); err != nil {
		return nil, nil, err
	}
	units = c.addGradCopies(g, units)
	for _, u := range units {
		if u.gemm != nil || u.kernel != nil {
			continue
		}
		k := &kernel{}
		switch {
		case u.lanes != nil:
			c.lanesKernel(k, u.lanes)
		case u.pro > 0:
			k.prologue = u.vals[:u.pro]
			emitters[u.vals[u.pro].Op.Name](c, k, u.vals[u.pro])
		case len(u.vals) > 1:
			c.elementwise(k, u.vals, func(v *ir.Value) bool { return c.store[v] })
		default:
			emitters[u.vals[0].Op.Name](c, k, u.vals[0])
		}
		u.kernel = k
	}
	header := fmt.Sprintf("// Code generated by mdlc v%s from %s. DO NOT EDIT.\n", opt.Version, filepath.Base(opt.Source))
	cu = c.cuSource(g, units, header)
	if l.err == nil && l.planned {
		l.err = c.checkInPlace(units)
	}
	if l.err != nil {
		return nil, nil, l.err
	}
	goSrc, err = c.goSource(g, units, header, opt)
	if err != nil {
		return nil, nil, err
	}
	return cu, goSrc, nil
}

// stored returns the values a kernel writes to device memory: those read
// outside their group or that are results or updates (what the Go backend
// stores), and any value read by another launch (a group the kernels
// split; the GEMM of a contraction group writes its output, see layout).
func (c *cgen) stored(g *ir.Graph, units []*unit) map[*ir.Value]bool {
	store := c.l.usedOutside()
	unitOf := map[*ir.Value]*unit{}
	for _, u := range units {
		for _, v := range u.vals {
			unitOf[v] = u
		}
	}
	for _, v := range g.Values {
		for _, a := range v.Args {
			if ua := unitOf[a]; ua != nil && ua != unitOf[v] {
				store[a] = true
			}
		}
	}
	return store
}

// addGradCopies puts the copies of gradients computed outside their grads
// slot in a kernel of their own before the flat optimizer kernel, which
// reads the whole grads block; without one, apply_updates copies them.
func (c *cgen) addGradCopies(g *ir.Graph, units []*unit) []*unit {
	var out []*unit
	for _, u := range units {
		if u.lanes != nil {
			if body, size := c.gradCopies(g, "\t"); body != "" {
				k := &kernel{grid: flatGrid(fmt.Sprint(size))}
				k.b.WriteString("\tconst int i = blockIdx.x * blockDim.x + threadIdx.x;\n")
				k.b.WriteString(body)
				out = append(out, &unit{name: "copy_grads", vals: u.vals, group: -1, copies: true, kernel: k})
				c.copied = true
			}
		}
		out = append(out, u)
	}
	return out
}

// checkInPlace refuses a plan that shares memory between a value one
// kernel of a group writes and a value a later kernel of the same group
// reads: the plan puts a value in place of a dying argument of its group,
// which is safe when the group is one kernel (each thread reads its
// element before it writes it), not across kernels.
func (c *cgen) checkInPlace(units []*unit) error {
	l := c.l
	mem := func(v *ir.Value) *buffer {
		b := l.bufs[v]
		for b != nil && b.blk == alias && b.of != nil {
			b = b.of
		}
		if b == nil || b.blk != inArena && b.blk != inIArena && b.blk != inGrads {
			return nil
		}
		return b
	}
	for i, u := range units {
		if u.group < 0 || u.lanes != nil {
			continue
		}
		for _, w := range u.vals {
			bw := mem(w)
			if bw == nil {
				continue
			}
			for _, later := range units[i+1:] {
				if later.group != u.group {
					continue
				}
				in := map[*ir.Value]bool{}
				for _, v := range later.vals {
					in[v] = true
				}
				for _, v := range later.vals {
					for _, a := range v.Args {
						ba := mem(a)
						if in[a] || ba == nil || ba == bw || ba.blk != bw.blk || ba.off >= bw.off+bw.size || bw.off >= ba.off+ba.size {
							continue
						}
						return fmt.Errorf("cuda: group %d: %s writes %%%d where %s then reads %%%d (the memory plan put them in place; the group is not one kernel)",
							u.group, u.name, w.ID, later.name, a.ID)
					}
				}
			}
		}
	}
	return nil
}

// outsideUses returns a predicate: is v used outside the set in (by
// another value, a result or an update)?
func outsideUses(g *ir.Graph) func(v *ir.Value, in map[*ir.Value]bool) bool {
	users := map[*ir.Value][]*ir.Value{}
	for _, v := range g.Values {
		for _, a := range v.Args {
			users[a] = append(users[a], v)
		}
	}
	external := map[*ir.Value]bool{}
	for _, r := range g.Results {
		external[r.Value] = true
	}
	for _, u := range g.Updates {
		external[u.Value] = true
	}
	var outside func(v *ir.Value, in map[*ir.Value]bool) bool
	outside = func(v *ir.Value, in map[*ir.Value]bool) bool {
		if external[v] {
			return true
		}
		for _, u := range users[v] {
			if !in[u] || (u.Op.Name == "reshape" && outside(u, in)) {
				return true
			}
		}
		return false
	}
	return outside
}

// sections splits the graph like the Go backend: forward up to the loss,
// backward up to the last gradient, then the optimizer update.
func sectionOf(g *ir.Graph, v *ir.Value) string {
	lossIdx, lastGrad := -1, -1
	if l := g.Loss(); l != nil {
		lossIdx = l.ID
	}
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		lastGrad = max(lastGrad, r.Value.ID)
	}
	switch {
	case len(g.Updates) > 0 && lastGrad >= 0 && v.ID > lastGrad:
		return "Optimizer update."
	case lossIdx >= 0 && v.ID > lossIdx:
		return "Backward."
	}
	return "Forward."
}

func valueComment(v *ir.Value) string {
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

func (l *layout) describe(b *buffer) string {
	switch b.blk {
	case inParams, inState:
		return fmt.Sprintf("%s %s", b.v.Name, shapeComment(b.v.Type.Shape))
	case inGrads:
		return b.label
	case inInput:
		return fmt.Sprintf("%s %s %s at MaxBatch", b.v.Attrs.String("role"), b.v.Name, shapeComment(b.v.Type.Shape))
	}
	if b.v == nil {
		return "workspace (unused on the GPU)"
	}
	if b.extra {
		return fmt.Sprintf("%%%d %s %s, device scratch after the planned arena (the plan keeps it in a register; a kernel here stores it)", b.v.ID, b.v.Op.Name, shapeComment(b.v.Type.Shape))
	}
	return fmt.Sprintf("%%%d %s %s", b.v.ID, b.v.Op.Name, shapeComment(b.v.Type.Shape))
}

var blockNames = map[block]string{inParams: "PARAMS", inGrads: "GRADS", inState: "STATE", inArena: "ARENA", inIArena: "IARENA", inInput: "INPUTS"}

// cuSource assembles the .cu file.
func (c *cgen) cuSource(g *ir.Graph, units []*unit, header string) []byte {
	l := c.l
	var b bytes.Buffer
	b.WriteString(header)
	fmt.Fprintf(&b, "\n// Kernels of the model %s: one per fused group (or per value), in launch\n", g.Name)
	b.WriteString("// order. Every kernel takes the one device allocation (mem) and the batch size n;\n")
	b.WriteString("// GEMMs are cuBLAS calls made by the Go launch code, shown here as comments.\n\n")
	b.WriteString("// ----------------------------------------------------------------------------\n// Helpers.\n\n")
	b.WriteString(helperSrc)
	b.WriteString("\n")
	b.WriteString("// Device memory: one allocation of 32-bit words, laid out as the Go Model's blocks.\n")
	if l.planned {
		b.WriteString("// The arena follows the memory plan: values whose lives do not overlap share\n")
		b.WriteString("// words, and group members used only in their group live in registers.\n")
	}
	for _, blk := range []block{inParams, inGrads, inState, inArena, inIArena, inInput} {
		fmt.Fprintf(&b, "#define %s %d\n", blockNames[blk], l.base(blk))
	}
	fmt.Fprintf(&b, "#define WORDS %d\n", l.words())
	b.WriteString("#define F32(block, off) (mem + (block) + (off))\n")
	b.WriteString("#define I32(block, off) ((int*)mem + (block) + (off))\n")
	section := ""
	for _, buf := range l.order {
		s := map[block]string{inParams: "Parameters.", inGrads: "Gradients.", inState: "Optimizer state.", inArena: "Activations and temporaries.", inIArena: "Activations and temporaries.", inInput: "Inputs and targets (copied in by the launch code)."}[buf.blk]
		if s != section {
			fmt.Fprintf(&b, "\n// %s\n", s)
			section = s
		}
		mac := "F32"
		if buf.i32 {
			mac = "I32"
		}
		fmt.Fprintf(&b, "#define %s %s(%s, %d) // %s\n", buf.name, mac, blockNames[buf.blk], buf.off, l.describe(buf))
	}
	section = ""
	for _, u := range units {
		if s := sectionOf(g, u.vals[0]); s != section {
			fmt.Fprintf(&b, "\n// %s\n// %s\n", strings.Repeat("-", 76), s)
			section = s
		}
		b.WriteString("\n")
		vals := u.vals
		switch {
		case u.copies:
			b.WriteString("// Gradients not computed in their slot are copied there before the optimizer\n")
			b.WriteString("// kernel reads the whole grads block.\n")
			vals = nil
		case u.lanes != nil:
			fmt.Fprintf(&b, "// Group %d (the optimizer update of all %d params): one thread per element of the\n", u.group, len(u.lanes.Lanes))
			b.WriteString("// params block runs the first param's chain on the params, grads and state\n")
			b.WriteString("// blocks (which share its layout) at that element and writes the updates in place.\n")
			vals = u.lanes.Lanes[0]
		case u.group >= 0:
			fmt.Fprintf(&b, "// Group %d (%s).\n", u.group, g.Groups[u.group].Kind)
		}
		for _, v := range vals {
			fmt.Fprintf(&b, "// %s\n", valueComment(v))
		}
		if u.gemm != nil {
			fmt.Fprintf(&b, "// cuBLAS: %s = %s @ %s\n", l.ref(u.gemm), c.operand(u.gemm.Args[0], u.gemm.Attrs.Bool("ta")), c.operand(u.gemm.Args[1], u.gemm.Attrs.Bool("tb")))
			continue
		}
		fmt.Fprintf(&b, "extern \"C\" __global__ void %s(float* mem, int n) {\n", u.name)
		b.WriteString(u.kernel.b.String())
		b.WriteString("}\n")
	}
	if c.apply = c.applyKernel(g); c.apply != "" {
		b.WriteString("\n")
		b.WriteString(c.apply)
	}
	return b.Bytes()
}

func (c *cgen) operand(v *ir.Value, t bool) string {
	if t {
		return c.l.ref(v) + "ᵀ"
	}
	return c.l.ref(v)
}

// gradCopies is the code that copies the gradients computed outside
// their grads slot into it, and the largest copy.
func (c *cgen) gradCopies(g *ir.Graph, indent string) (string, int) {
	var b strings.Builder
	l := c.l
	n := 0
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		param := g.Lookup(r.Name)
		slot := l.gradOf[param]
		if slot == nil || l.bufs[r.Value] == slot {
			continue
		}
		fmt.Fprintf(&b, "%sif (i < %d) %s[i] = %s;\n", indent, slot.size, slot.name, c.read(r.Value))
		n = max(n, slot.size)
	}
	return b.String(), n
}

// read is the element i of v, or v itself when it is inlined.
func (c *cgen) read(v *ir.Value) string {
	src := c.l.storage(v)
	if src.blk == inline {
		return c.elem(&kernel{}, v, "i")
	}
	return src.name + "[i]"
}

// applyKernel copies gradients computed outside their slot into it (unless
// copy_grads did), then applies every update (target = new value) that the
// optimizer kernel did not write in place, as the Go backend's copies do.
// It returns "" when there is nothing to do.
func (c *cgen) applyKernel(g *ir.Graph) string {
	var b strings.Builder
	l := c.l
	if !c.copied {
		body, _ := c.gradCopies(g, "\t")
		b.WriteString(body)
	}
	for _, u := range g.Updates {
		if c.inPlace(u.Value) {
			continue
		}
		t := l.bufs[u.Target]
		fmt.Fprintf(&b, "\tif (i < %d) %s[i] = %s;\n", t.size, t.name, c.read(u.Value))
	}
	if b.Len() == 0 {
		return ""
	}
	head := "// Gradients not computed in their slot are copied there; then every update is\n" +
		"// applied: each new value was computed from the old ones above.\n"
	if c.copied {
		head = "// Every update not written in place is applied: each new value was computed\n// from the old ones above.\n"
	}
	return head + "extern \"C\" __global__ void apply_updates(float* mem, int n) {\n" +
		"\tconst int i = blockIdx.x * blockDim.x + threadIdx.x;\n" + b.String() + "}\n"
}

// inPlace reports an update the flat optimizer kernel writes into its target.
func (c *cgen) inPlace(v *ir.Value) bool {
	gr := c.l.groupOf[v]
	return gr != nil && c.l.flat[gr] != nil && c.l.updates[v] != nil
}

// applySize is the thread count of apply_updates.
func (c *cgen) applySize(g *ir.Graph) int {
	n := 1
	if !c.copied {
		_, n = c.gradCopies(g, "")
		n = max(n, 1)
	}
	for _, u := range g.Updates {
		if !c.inPlace(u.Value) {
			n = max(n, c.l.bufs[u.Target].size)
		}
	}
	return n
}

// isReduce reports ops whose kernel can compute its input in its loop.
func isReduce(v *ir.Value) bool {
	switch v.Op.Name {
	case "reduce_sum", "reduce_mean", "reduce_max", "logsumexp":
		return true
	}
	return false
}
