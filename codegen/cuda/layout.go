package cuda

import (
	"fmt"
	"strings"

	"github.com/mdlc/mdlc/codegen/internal/names"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
)

// block is a region of the one device allocation.
type block uint8

const (
	inParams block = iota // the params block (same layout as the Go Model's)
	inGrads               // gradients, same layout as params
	inState               // optimizer state
	inArena               // float32 (and bool) activations and temporaries
	inIArena              // int32 temporaries
	inInput               // an input's staging area (MaxBatch examples)
	inline                // a scalar written into expressions (const, numel)
	alias                 // shares the buffer of Args[0] (reshape) or of its group's output (matmul anchor)
	local                 // a group member kept in a register of its kernel: no memory
	toTarget              // an update the flat optimizer kernel writes straight into its target: no memory
)

// buffer is where one value lives on the device.
type buffer struct {
	v     *ir.Value
	blk   block
	name  string // C macro and Go constant suffix ("hiddenW")
	off   int    // offset in its block, in elements
	size  int    // elements at MaxBatch
	i32   bool
	of    *buffer
	label string // what a grads-block slot holds
	extra bool   // device scratch after the planned arena (see place)
}

// layout places every value of the step graph on the device.
//
// Params, grads and state are each one block in graph order, as in the Go
// Model (codegen/go/plan.go), so that the host copy uploads and downloads
// them as they are; gradients are computed in their grads slot when they
// can be; reshapes alias their argument; constants are inlined.
//
// With a memory plan (g.Plan, -O2) the activations follow it: every value
// with an arena slot takes the plan's offset, and the device arena is the
// planned one (g.Plan.Arena and IArena words), as the Go Model's arena is.
// The kernels store exactly what the Go backend stores: a group member
// used only inside its group lives in a register of the group's kernel
// (local), a matmul anchoring a contraction group writes the group's output
// (alias), and the flat optimizer kernel writes updates into their targets
// (toTarget). Two things differ from the host: logsumexp's scratch is not
// allocated (the GPU kernel needs none), and a value the CUDA kernels must
// store but the plan leaves in registers gets device scratch after the
// planned arena (extra). That happens only where a group does not run as
// one kernel: the optimizer update of a group whose lanes are not flat
// (each lane is its own kernel and apply_updates copies its updates), or a
// group the fuse pass did not shape (see units); the fused graphs of the
// examples need none.
//
// Without a plan (-O0, -O1) every other value gets its own slice of the
// f32 or i32 arena in graph order, with logsumexp's scratch after its own,
// as the Go backend lays out its arena without a plan.
//
// The device allocation is, in 32-bit words: params | grads | state |
// arena | iarena | one staging area per input.
type layout struct {
	g        *ir.Graph
	maxBatch int
	bufs     map[*ir.Value]*buffer
	order    []*buffer // every buffer with storage, in declaration order
	params   int
	state    int
	arena    int
	iarena   int
	inputs   int // words of input staging
	gradOf   map[*ir.Value]*buffer
	names    *names.Namer
	planned  bool // the arena follows g.Plan
	extra    int  // words of extra scratch after the planned f32 arena
	iextra   int  // and after the planned i32 arena
	err      error

	// The fused groups as the kernels run them (the Go backend's rules,
	// codegen/go/plan.go's planGroups): a lanes group whose layout is not
	// flat runs as one group per lane.
	groupOf map[*ir.Value]*ir.Group
	flat    map[*ir.Group]*lanesLayout
	anchor  map[*ir.Value]*ir.Group // contraction anchor -> its group
	updates map[*ir.Value]*ir.Value // update value -> its target
}

// lanesLayout is how a lanes group maps onto the storage blocks: state of
// each kind starts at base[kind] in the state block, with the params
// block's layout.
type lanesLayout struct {
	base map[string]int
}

func (l *layout) sizeOf(v *ir.Value) (int, error) {
	n := 1
	for _, d := range v.Type.Shape {
		n *= d.Resolve(l.maxBatch)
		if n > 1<<31 {
			return 0, fmt.Errorf("value %%%d %s is too large at batch %d", v.ID, v.Type, l.maxBatch)
		}
	}
	return n, nil
}

// newLayout places the params, grads and state blocks and analyses the
// groups; place puts the other values once the kernels are known.
func newLayout(g *ir.Graph, maxBatch int) (*layout, error) {
	l := &layout{g: g, maxBatch: maxBatch, bufs: map[*ir.Value]*buffer{}, gradOf: map[*ir.Value]*buffer{}, names: names.New(reserved),
		planned: g.Plan != nil}
	l.names.Adjust = func(id string) string {
		if indexLike(id) {
			return id + "_"
		}
		return id
	}
	l.names.Avoid = func(id string) bool { return strings.HasPrefix(id, "__") }
	for _, v := range g.Params() {
		s, err := l.sizeOf(v)
		if err != nil {
			return nil, err
		}
		b := &buffer{v: v, blk: inParams, name: l.name(v.Name, ""), off: l.params, size: s}
		l.bufs[v], l.params = b, l.params+s
		l.order = append(l.order, b)
	}
	for _, v := range g.Params() {
		b := l.bufs[v]
		gb := &buffer{blk: inGrads, name: l.name(v.Name, "Grad"), off: b.off, size: b.size, label: fmt.Sprintf("d loss / d %s %s", v.Name, shapeComment(v.Type.Shape))}
		l.gradOf[v] = gb
		l.order = append(l.order, gb)
	}
	for _, v := range g.State() {
		s, err := l.sizeOf(v)
		if err != nil {
			return nil, err
		}
		b := &buffer{v: v, blk: inState, name: l.name("state."+v.Name, ""), off: l.state, size: s}
		l.bufs[v], l.state = b, l.state+s
		l.order = append(l.order, b)
	}
	l.planGroups()
	return l, nil
}

// planGroups finds the groups as the kernels run them, the flat lanes
// groups and the contraction anchors.
func (l *layout) planGroups() {
	g := l.g
	l.groupOf = map[*ir.Value]*ir.Group{}
	l.flat = map[*ir.Group]*lanesLayout{}
	l.anchor = map[*ir.Value]*ir.Group{}
	l.updates = map[*ir.Value]*ir.Value{}
	for _, u := range g.Updates {
		l.updates[u.Value] = u.Target
	}
	for i := range g.Groups {
		gr := &g.Groups[i]
		if gr.Lanes != nil {
			if bases, ok := passes.FlatLanes(g, gr); ok {
				l.flat[gr] = &lanesLayout{base: bases}
			} else {
				for _, lane := range gr.Lanes {
					lg := &ir.Group{Kind: gr.Kind, Values: lane}
					for _, v := range lane {
						l.groupOf[v] = lg
					}
				}
				continue
			}
		}
		for _, v := range gr.Values {
			l.groupOf[v] = gr
		}
		if gr.Kind == ir.KindContraction && len(gr.Values) > 1 && gr.Values[0].Op.Name == "matmul" {
			l.anchor[gr.Values[0]] = gr
		}
	}
}

// usedOutside reports the values read outside their group (through
// reshapes too) or that are results or updates: the Go backend's stored
// members.
func (l *layout) usedOutside() map[*ir.Value]bool {
	out := map[*ir.Value]bool{}
	for _, v := range l.g.Values {
		for _, a := range v.Args {
			if ga := l.groupOf[a]; ga != nil && ga != l.groupOf[v] {
				out[a] = true
			}
		}
	}
	for _, r := range l.g.Results {
		out[r.Value] = true
	}
	for _, u := range l.g.Updates {
		out[u.Value] = true
	}
	return out
}

// place puts every other value: store reports the group members a kernel
// writes to memory (see Generate).
func (l *layout) place(store map[*ir.Value]bool) error {
	g := l.g
	gradSlot := map[*ir.Value]*buffer{}
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		param := g.Lookup(r.Name)
		if param == nil || param.Op.Name != "param" {
			continue
		}
		if _, taken := gradSlot[r.Value]; !taken && !r.Value.Op.Bound() && r.Value.Op.Kind != ir.KindSource && r.Value.Op.Name != "reshape" {
			gradSlot[r.Value] = l.gradOf[param]
		}
	}
	if l.planned {
		l.arena, l.iarena = g.Plan.Arena, g.Plan.IArena
	}
	var inputs, extra []*buffer
	for _, v := range g.Values {
		if _, done := l.bufs[v]; done {
			continue
		}
		s, err := l.sizeOf(v)
		if err != nil {
			return err
		}
		isInt := v.Type.DType == ir.I32
		gr := l.groupOf[v]
		switch {
		case v.Op.Name == "input":
			b := &buffer{v: v, blk: inInput, name: l.name(v.Name, ""), size: s, i32: isInt}
			l.bufs[v] = b
			inputs = append(inputs, b)
		case v.Op.Name == "const" || v.Op.Name == "numel":
			l.bufs[v] = &buffer{v: v, blk: inline}
		case v.Op.Name == "reshape":
			src := l.bufs[v.Args[0]]
			for src.blk == alias {
				src = src.of
			}
			if src.blk == inline {
				l.bufs[v] = src
				break
			}
			l.bufs[v] = &buffer{v: v, blk: alias, of: src, i32: isInt, size: s}
		case gradSlot[v] != nil:
			gb := gradSlot[v]
			gb.v = v
			l.bufs[v] = gb
		case l.planned && gr != nil && l.flat[gr] != nil && l.updates[v] != nil:
			l.bufs[v] = &buffer{v: v, blk: toTarget, i32: isInt, size: s}
		case l.planned && l.anchor[v] != nil:
			// Resolved below: the GEMM writes its group's output.
			l.bufs[v] = &buffer{v: v, blk: alias, i32: isInt, size: s}
		case l.planned && gr != nil && !store[v]:
			l.bufs[v] = &buffer{v: v, blk: local, i32: isInt, size: s}
		default:
			b := &buffer{v: v, blk: inArena, size: s, i32: isInt}
			if isInt {
				b.blk = inIArena
			}
			base := v.Name
			if base == "" || v.Op.Bound() {
				base = fmt.Sprintf("t%d", v.ID)
			}
			b.name = l.name(base, "")
			l.bufs[v] = b
			l.order = append(l.order, b)
			want := "arena"
			if isInt {
				want = "iarena"
			}
			switch slot, ok := planSlot(g, v); {
			case ok && slot.Block == want:
				b.off = slot.Offset
			case l.planned:
				b.extra = true
				extra = append(extra, b)
			case isInt:
				b.off, l.iarena = l.iarena, l.iarena+s
			default:
				b.off, l.arena = l.arena, l.arena+s
			}
			if v.Op.Name == "logsumexp" && !l.planned {
				// The Go backend's scratch; kept so that offsets match.
				sb := &buffer{blk: inArena, size: s, off: l.arena, name: l.name(base, "Scratch")}
				l.arena += s
				l.order = append(l.order, sb)
			}
		}
	}
	// Values the plan keeps in registers but a kernel here stores: device
	// scratch after the planned arenas.
	for _, b := range extra {
		if b.i32 {
			b.off, l.iarena, l.iextra = l.iarena, l.iarena+b.size, l.iextra+b.size
		} else {
			b.off, l.arena, l.extra = l.arena, l.arena+b.size, l.extra+b.size
		}
	}
	// A matmul anchoring a group writes the group's output buffer.
	for v, gr := range l.anchor {
		b := l.bufs[v]
		if b.blk != alias {
			continue
		}
		var out *ir.Value
		for _, m := range gr.Values[1:] {
			if store[m] {
				out = m
				break
			}
		}
		if out == nil || !out.Type.Shape.Equal(v.Type.Shape) || out.Type.DType != v.Type.DType || l.bufs[out].blk != inArena && l.bufs[out].blk != inGrads {
			return fmt.Errorf("cuda: contraction group of %%%d has no stored output of its shape", v.ID)
		}
		b.of = l.bufs[out]
	}
	for _, b := range inputs {
		b.off = l.inputs
		l.inputs += b.size
		l.order = append(l.order, b)
	}
	return nil
}

func planSlot(g *ir.Graph, v *ir.Value) (ir.Slot, bool) {
	if g.Plan == nil {
		return ir.Slot{}, false
	}
	s, ok := g.Plan.Slots[v]
	return s, ok
}

// Word offsets of the blocks in the device allocation.
func (l *layout) base(b block) int {
	switch b {
	case inParams:
		return 0
	case inGrads:
		return l.params
	case inState:
		return 2 * l.params
	case inArena:
		return 2*l.params + l.state
	case inIArena:
		return 2*l.params + l.state + l.arena
	case inInput:
		return 2*l.params + l.state + l.arena + l.iarena
	}
	panic("cuda: no base for block")
}

// words is the size of the device allocation in 32-bit words.
func (l *layout) words() int { return l.base(inInput) + l.inputs }

// storage returns the buffer holding v's elements (through aliases).
func (l *layout) storage(v *ir.Value) *buffer {
	b := l.bufs[v]
	for b != nil && b.blk == alias {
		b = b.of
	}
	if b == nil || b.blk == local || b.blk == toTarget {
		if l.err == nil {
			l.err = fmt.Errorf("cuda: a kernel reads or writes %%%d %s, which has no device memory (a register of its group)", v.ID, v.Op.Name)
		}
		return &buffer{v: v, blk: inArena, name: "NO_MEMORY"}
	}
	return b
}

// word is the device word offset of v's elements.
func (l *layout) word(v *ir.Value) int {
	b := l.storage(v)
	return l.base(b.blk) + b.off
}

// ref is the C expression of v's buffer (a macro defined in the .cu).
func (l *layout) ref(v *ir.Value) string { return l.storage(v).name }

// reserved are names the generated C and Go use for their own purposes.
var reserved = []string{"mem", "n", "i", "j", "k", "o", "in", "r", "l", "w", "lane", "warp", "acc", "mx", "sum", "inv", "lse",
	"best", "bi", "base", "row", "idx", "sh", "x", "v", "e", "js", "xv", "F32", "I32", "NaN", "Inf",
	"m", "err", "New", "Model", "Option", "WithSeed", "MaxBatch", "params", "grads", "state", "arena", "iarena", "seed",
	"math", "rt", "cu", "fmt", "loss", "spec", "int", "float", "void", "char", "const", "return", "if", "else", "for",
	"while", "do", "switch", "case", "default", "break", "continue", "static", "extern", "inline", "unsigned", "signed",
	"short", "long", "double", "bool", "true", "false", "auto", "register", "volatile", "struct", "union", "enum",
	"typedef", "sizeof", "goto", "new", "delete", "this", "template", "typename", "class", "public", "private",
	"operator", "namespace", "using", "abs", "min", "max", "exp", "log", "sqrt", "sin", "cos", "tanh", "floor", "pow",
	"expf", "logf", "sqrtf", "sinf", "cosf", "tanhf", "floorf", "powf", "fabsf", "dim3", "threadIdx", "blockIdx", "blockDim",
	"gridDim", "warpSize", "ptx", "unsafe", "embed", "len", "cap", "copy", "make", "append", "nil", "range", "func",
	"type", "var", "package", "import", "go", "chan", "map", "select", "defer", "fallthrough", "interface", "clear"}

// name makes a unique identifier from a value name ("hidden.w" -> "hiddenW").
func (l *layout) name(s, suffix string) string { return l.names.Name(s, suffix) }

// static reports whether a shape's size does not depend on n, and the size.
func static(s ir.Shape) (int, bool) {
	c := 1
	for _, d := range s {
		if d < 0 {
			return 0, false
		}
		c *= int(d)
	}
	return c, true
}

// indexLike reports names of the form i0, r12, e3: the generated kernels'
// index variables and fused locals.
func indexLike(s string) bool {
	if len(s) < 2 || !strings.ContainsRune("ijorve", rune(s[0])) {
		return false
	}
	for _, r := range s[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
