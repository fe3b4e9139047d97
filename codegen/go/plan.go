package gogen

import (
	"fmt"

	"github.com/mdlc/mdlc/codegen/internal/names"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
)

// storage says where a value lives in the generated Model.
type storage uint8

const (
	inArena  storage = iota // a slice of the f32 or i32 arena
	inParams                // a parameter: a slice of the params block
	inGrads                 // a gradient: a slice of the grads block
	inState                 // optimizer state: a slice of the state block
	inInput                 // the caller's input slice
	inline                  // a scalar computed in expressions (const, numel)
	alias                   // shares the buffer of Args[0] (reshape) or of its group's output (matmul anchor)
	local                   // lives in a local variable of its group's loop
	toTarget                // an update written straight into its target by a lanes group
)

// buffer is the generated storage of one value.
type buffer struct {
	v     *ir.Value
	kind  storage
	field string // Go name of the slice (a Model field or a parameter name)
	off   int    // offset in its block (elements)
	size  int    // elements at the maximum batch
	i32   bool   // lives in the int32 arena / is an []int32
	of    *buffer
	label string // what a grads-block slot holds
}

// plan assigns every value its storage. Params, grads and state are each
// one contiguous block in graph order; other values get their own slice of
// the arena (f32 and bool values in the float32 arena, i32 values in the
// int32 arena); reshapes alias their argument.
type plan struct {
	g        *ir.Graph
	maxBatch int
	bufs     map[*ir.Value]*buffer
	order    []*buffer // fields to declare, in graph order
	params   int       // elements in each block
	state    int
	arena    int
	iarena   int
	gradOf   map[*ir.Value]*buffer // param -> its grad slot
	names    *names.Namer
	scratchB map[*ir.Value]*buffer // extra per-value workspace (logsumexp)

	groups  []*ir.Group             // groups the generator emits as one loop
	groupOf map[*ir.Value]*ir.Group // member -> its group
	flat    map[*ir.Group]*lanesLayout
	stored  map[*ir.Value]bool // group members that must be written to memory
	vecMin  int                // shortest inner loop to vectorize (Options.VecMinLen)
	noAsm   bool               // Options.NoAsm
}

// scratch returns the workspace of v (same size as v).
func (p *plan) scratch(v *ir.Value) string { return "m." + p.scratchB[v].field }

func newPlan(g *ir.Graph, maxBatch int) (*plan, error) {
	p := &plan{g: g, maxBatch: maxBatch, bufs: map[*ir.Value]*buffer{}, gradOf: map[*ir.Value]*buffer{}, names: names.New(reserved), scratchB: map[*ir.Value]*buffer{}}
	p.names.Avoid = goKeyword
	size := func(v *ir.Value) (int, error) {
		n := 1
		for _, d := range v.Type.Shape {
			n *= d.Resolve(maxBatch)
			if n > 1<<31 {
				return 0, fmt.Errorf("value %%%d %s is too large at batch %d", v.ID, v.Type, maxBatch)
			}
		}
		return n, nil
	}
	// Params first (one block), then grads (same layout), then state.
	for _, v := range g.Params() {
		s, err := size(v)
		if err != nil {
			return nil, err
		}
		b := &buffer{v: v, kind: inParams, field: p.name(v.Name, ""), off: p.params, size: s}
		p.bufs[v], p.params = b, p.params+s
		p.order = append(p.order, b)
	}
	for _, v := range g.Params() {
		b := p.bufs[v]
		gb := &buffer{kind: inGrads, field: p.name(v.Name, "Grad"), off: b.off, size: b.size, label: fmt.Sprintf("d loss / d %s %s", v.Name, shapeComment(v.Type.Shape))}
		p.gradOf[v] = gb
		p.order = append(p.order, gb)
	}
	for _, v := range g.State() {
		s, err := size(v)
		if err != nil {
			return nil, err
		}
		b := &buffer{v: v, kind: inState, field: p.name("state."+v.Name, ""), off: p.state, size: s}
		p.bufs[v], p.state = b, p.state+s
		p.order = append(p.order, b)
	}
	p.planGroups()
	// Grad results are computed straight into their slot of the grads block
	// when the value is an ordinary intermediate used by nothing else that
	// needs it elsewhere; otherwise the generated code copies.
	gradSlot := map[*ir.Value]*buffer{}
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		param := g.Lookup(r.Name)
		if param == nil || param.Op.Name != "param" {
			continue
		}
		if _, taken := gradSlot[r.Value]; !taken && !r.Value.Op.Bound() && r.Value.Op.Kind != ir.KindSource && r.Value.Op.Name != "reshape" {
			gradSlot[r.Value] = p.gradOf[param]
		}
	}
	for _, v := range g.Values {
		if _, done := p.bufs[v]; done {
			continue
		}
		s, err := size(v)
		if err != nil {
			return nil, err
		}
		isInt := v.Type.DType == ir.I32
		switch {
		case p.groupOf[v] != nil && p.flat[p.groupOf[v]] != nil && p.stored[v]:
			p.bufs[v] = &buffer{v: v, kind: toTarget}
		case p.groupOf[v] != nil && !p.stored[v]:
			p.bufs[v] = &buffer{v: v, kind: local, i32: isInt}
		case v.Op.Name == "input":
			p.bufs[v] = &buffer{v: v, kind: inInput, field: p.name(v.Name, ""), size: s, i32: isInt}
		case v.Op.Name == "const" || v.Op.Name == "numel":
			p.bufs[v] = &buffer{v: v, kind: inline}
		case v.Op.Name == "reshape":
			src := p.bufs[v.Args[0]]
			for src.kind == alias {
				src = src.of
			}
			if src.kind == inline {
				p.bufs[v] = src // a reshaped scalar constant is still that constant
				break
			}
			p.bufs[v] = &buffer{v: v, kind: alias, of: src, i32: isInt, size: s}
		case gradSlot[v] != nil:
			gb := gradSlot[v]
			gb.v = v
			p.bufs[v] = gb
		default:
			b := &buffer{v: v, kind: inArena, size: s, i32: isInt}
			if slot, ok := planSlot(g, v); ok {
				b.off = slot.Offset
			} else if g.Plan != nil {
				return nil, fmt.Errorf("memory plan has no slot for %%%d %s", v.ID, v.Op.Name)
			} else if isInt {
				b.off, p.iarena = p.iarena, p.iarena+s
			} else {
				b.off, p.arena = p.arena, p.arena+s
			}
			base := v.Name
			if base == "" || v.Op.Bound() {
				base = fmt.Sprintf("t%d", v.ID)
			}
			b.field = p.name(base, "")
			p.bufs[v] = b
			p.order = append(p.order, b)
			if v.Op.Name == "logsumexp" {
				sb := &buffer{kind: inArena, size: s, off: p.arena, field: p.name(base, "Scratch")}
				p.arena += s
				p.scratchB[v] = sb
				p.order = append(p.order, sb)
			}
		}
	}
	if g.Plan != nil {
		p.arena, p.iarena = max(p.arena, g.Plan.Arena), max(p.iarena, g.Plan.IArena)
	}
	// Scratch space lives after the planned arena.
	for _, sb := range p.scratchB {
		sb.off = p.arena
		p.arena += sb.size
	}
	// A matmul anchoring a group writes the group's output buffer.
	for _, gr := range p.groups {
		if gr.Kind != ir.KindContraction {
			continue
		}
		out := p.groupOutputs(gr)
		p.bufs[gr.Values[0]] = &buffer{v: gr.Values[0], kind: alias, of: p.bufs[out[0]]}
	}
	return p, nil
}

func planSlot(g *ir.Graph, v *ir.Value) (ir.Slot, bool) {
	if g.Plan == nil {
		return ir.Slot{}, false
	}
	s, ok := g.Plan.Slots[v]
	return s, ok
}

// lanesLayout is how a lanes group maps onto the storage blocks: state of
// each kind starts at base[kind] in the state block, with the params
// block's layout.
type lanesLayout struct {
	base map[string]int
}

// planGroups decides which groups to emit, which members are stored, and
// whether each lanes group can run as one flat loop.
func (p *plan) planGroups() {
	g := p.g
	p.groupOf = map[*ir.Value]*ir.Group{}
	p.flat = map[*ir.Group]*lanesLayout{}
	p.stored = map[*ir.Value]bool{}
	external := map[*ir.Value]bool{}
	for _, r := range g.Results {
		external[r.Value] = true
	}
	for _, u := range g.Updates {
		external[u.Value] = true
	}
	bases := map[*ir.Group]map[string]int{}
	for i := range g.Groups {
		gr := &g.Groups[i]
		if gr.Lanes == nil {
			p.groups = append(p.groups, gr)
			continue
		}
		b, flat := passes.FlatLanes(g, gr)
		if !flat {
			// Emit each lane as its own group.
			for _, lane := range gr.Lanes {
				p.groups = append(p.groups, &ir.Group{Kind: gr.Kind, Values: lane})
			}
			continue
		}
		bases[gr] = b
		p.groups = append(p.groups, gr)
	}
	for _, gr := range p.groups {
		for _, v := range gr.Values {
			p.groupOf[v] = gr
		}
	}
	for _, v := range g.Values {
		gr := p.groupOf[v]
		for _, a := range v.Args {
			if ga := p.groupOf[a]; ga != nil && ga != gr {
				p.stored[a] = true
			}
		}
		if gr != nil && external[v] {
			p.stored[v] = true
		}
	}
	// A contraction anchor is never stored on its own.
	for _, gr := range p.groups {
		if gr.Kind == ir.KindContraction {
			p.stored[gr.Values[0]] = false
		}
	}
	for gr, b := range bases {
		p.flat[gr] = &lanesLayout{base: b}
	}
}

// groupOutputs returns the stored members of gr.
func (p *plan) groupOutputs(gr *ir.Group) []*ir.Value {
	var out []*ir.Value
	for _, v := range gr.Values {
		if p.stored[v] {
			out = append(out, v)
		}
	}
	return out
}

// source returns the value whose storage v uses (v itself unless it aliases).
func (p *plan) source(v *ir.Value) *ir.Value {
	b := p.bufs[v]
	for b.kind == alias {
		b = b.of
	}
	if b.v != nil && (b.kind == inline || b.kind == inArena || b.kind == inInput) {
		return b.v
	}
	return v
}

// overlap reports whether the storage of a and b may share memory: the same
// buffer, or arena ranges that intersect. Params, grads, state and inputs
// are distinct blocks whose slices never overlap.
func (p *plan) overlap(a, b *ir.Value) bool {
	if a == nil || b == nil {
		return true
	}
	ba, bb := p.bufs[a], p.bufs[b]
	for ba.kind == alias {
		ba = ba.of
	}
	for bb.kind == alias {
		bb = bb.of
	}
	if ba == bb {
		return true
	}
	if ba.kind != inArena || bb.kind != inArena || ba.i32 != bb.i32 {
		return false
	}
	return ba.off < bb.off+bb.size && bb.off < ba.off+ba.size
}

// ref returns the Go expression of a value's slice.
func (p *plan) ref(v *ir.Value) string {
	b := p.bufs[v]
	for b.kind == alias {
		b = b.of
	}
	if b.kind == inInput {
		return b.field
	}
	return "m." + b.field
}

// reserved are names generated code uses for its own purposes.
var reserved = []string{"m", "n", "i", "j", "k", "err", "New", "Model", "Option", "WithSeed", "MaxBatch", "params", "grads", "state", "arena", "iarena", "seed", "math", "rt", "fmt", "loss", "spec"}

// name makes a unique Go identifier from a value name ("hidden.w" -> "hiddenW").
func (p *plan) name(s, suffix string) string { return p.names.Name(s, suffix) }

func goKeyword(s string) bool {
	switch s {
	case "break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough", "for", "func", "go", "goto", "if",
		"import", "interface", "map", "package", "range", "return", "select", "struct", "switch", "type", "var",
		"len", "cap", "copy", "max", "min", "append", "make", "new", "nil", "true", "false", "float32", "float64", "int32", "int", "string", "bool", "clear":
		return true
	}
	return false
}

// prodExpr is the product of dims as a Go expression.
func prodExpr(s ir.Shape) string { return sizeExpr(s) }
