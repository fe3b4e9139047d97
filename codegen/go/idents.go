package gogen

import (
	"fmt"
	"strings"

	"github.com/mdlc/mdlc/codegen/internal/api"
	"github.com/mdlc/mdlc/codegen/internal/names"
	"github.com/mdlc/mdlc/codegen/internal/render"
	"github.com/mdlc/mdlc/ir"
)

// plan is the storage plan (ir.Plan, made by passes/memplan.go) with the
// Go identifiers of model.go: every value has one, made from its name in
// the model's source (names.Bases) by one namer for the whole file, so no
// name a model gives can capture or collide with one the generator uses.
// The identifier of a value is the Model field of its buffer, the method
// parameter of an input, and the local of its element in a loop; a row of
// it in a loop is Row(v).
type plan struct {
	g        *ir.Graph
	pl       *ir.Plan
	maxBatch int
	names    *names.Namer
	base     map[*ir.Value]string
	id       map[*ir.Value]string
	row      map[derivedKey]string
	grad     map[*ir.Value]string // param -> its field of the grads block
	scratchF map[*ir.Value]string // value -> its workspace field
	faults   map[*ir.Value]bool   // values whose kernels check an index (render.Faults)
	vecMin   int                  // shortest inner loop to vectorize (Options.VecMinLen)
	noAsm    bool                 // Options.NoAsm
	ex       *exLocals            // the unit being emitted is split over examples (split.go)
}

// reserved are the identifiers model.go and model_amd64.go use for their
// own purposes: besides the API's, the blocks, the loop and kernel locals
// and the scalar helpers.
var reserved = append([]string{"numParams", "numState", "fault", "arenaSize", "iarenaSize", "params", "grads", "state", "arena", "iarena",
	"i", "j", "c", "e", "w", "lo", "hi", "in", "base", "mx", "sum", "inv", "lse", "best", "acc", "cand", "xv", "r", "out", "pos", "vt", "ex", "strip", "row", "xs", "kept",
	"bi", "keep", "scale", "yv", "dot", // batched matmul, masked_softmax
	"unit", "examples", "examplesFn", "forExamples", "u", "work", // units split over examples
	"max", "min", "clear", "init", "updateAVX2", "updateAVX2Asm", "append", "make", "new", "nil", "true", "false", "float32", "float64", "int32", "int", "string", "bool", "cap", "panic"},
	append(append(helperNames(), convLocals...), scanLocals...)...)

func newPlan(g *ir.Graph, opt Options) *plan {
	p := &plan{g: g, pl: g.Plan, maxBatch: g.Plan.MaxBatch, names: names.New(append(reserved, api.Reserved...)), base: names.Bases(g),
		id: map[*ir.Value]string{}, row: map[derivedKey]string{}, grad: map[*ir.Value]string{}, scratchF: map[*ir.Value]string{},
		vecMin: opt.VecMinLen, noAsm: opt.NoAsm}
	p.names.Avoid = api.AvoidGo
	p.faults = map[*ir.Value]bool{}
	for _, v := range render.Faults(g) {
		p.faults[v] = true
	}
	if p.vecMin <= 0 {
		p.vecMin = vecMinLen
	}
	// Inputs, params and their gradients, state and results first: they
	// get the plain names.
	for _, v := range g.Inputs() {
		p.ident(v)
	}
	for _, v := range g.Params() {
		p.ident(v)
		p.grad[v] = p.names.Name("d."+v.Name, "")
	}
	byName := map[string]*ir.Value{} // the first value of each name (g.Lookup)
	for _, v := range g.Values {
		if _, ok := byName[v.Name]; !ok {
			byName[v.Name] = v
		}
	}
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		if s := p.pl.Slots[r.Value]; s.Storage == ir.StoreGrads {
			if prm := byName[r.Name]; prm != nil && p.id[r.Value] == "" {
				p.id[r.Value] = p.grad[prm]
			}
		}
	}
	for _, v := range g.State() {
		p.ident(v)
	}
	for _, r := range g.Results {
		p.ident(r.Value)
	}
	for _, v := range g.Values {
		p.ident(v)
		if _, ok := p.pl.Scratch[v]; ok {
			p.scratchF[v] = p.names.Name(p.base[v], "Scratch")
		}
	}
	return p
}

// ident is the identifier of v.
func (p *plan) ident(v *ir.Value) string {
	if id := p.id[v]; id != "" {
		return id
	}
	p.id[v] = p.names.Name(p.base[v], "")
	return p.id[v]
}

// rowOf is the identifier of a row slice of v in a loop.
func (p *plan) rowOf(v *ir.Value) string { return p.derived(v, "Row") }

// elemOf is the identifier of a per-row scalar of input v in a loop (the
// input's own identifier is the method's parameter).
func (p *plan) elemOf(v *ir.Value) string { return p.derived(v, "Elem") }

// derived is the identifier of v with a suffix, made once.
func (p *plan) derived(v *ir.Value, suffix string) string {
	key := derivedKey{v, suffix}
	if r := p.row[key]; r != "" {
		return r
	}
	p.row[key] = p.names.Name(p.base[v], suffix)
	return p.row[key]
}

type derivedKey struct {
	v      *ir.Value
	suffix string
}

// slot is the plan's slot of v.
func (p *plan) slot(v *ir.Value) ir.Slot { return p.pl.Slots[v] }

// source returns the value whose storage v uses (v itself unless it is an alias).
func (p *plan) source(v *ir.Value) *ir.Value { return p.pl.Root(v) }

// inline reports whether v is a scalar written into expressions.
func (p *plan) inline(v *ir.Value) bool { return p.pl.Storage(v) == ir.StoreInline }

// unitOf is the unit computing v.
func (p *plan) unitOf(v *ir.Value) *ir.Unit { return p.pl.UnitOf[v] }

// stored reports whether v's unit writes it to a buffer.
func (p *plan) stored(v *ir.Value) bool { return p.pl.Stored(v) }

// overlap reports whether the storage of a and b may share memory.
func (p *plan) overlap(a, b *ir.Value) bool {
	if a == nil || b == nil {
		return true
	}
	return p.pl.Overlap(a, b)
}

// ref returns the Go expression of a value's slice: a Model field, or the
// caller's slice of an input.
func (p *plan) ref(v *ir.Value) string {
	v = p.source(v)
	if p.slot(v).Storage == ir.StoreInput {
		return p.ident(v)
	}
	if s := p.exRef(v); s != "" {
		return s
	}
	return "m." + p.ident(v)
}

// scratch returns the workspace of v (same size as v).
func (p *plan) scratch(v *ir.Value) string { return "m." + p.scratchF[v] }

// mainValue is the value a unit is named after: its sink, its first stored
// value, or its last.
func (p *plan) mainValue(members []*ir.Value, sink *ir.Value) *ir.Value {
	if sink != nil {
		return sink
	}
	for _, v := range members {
		if p.stored(v) {
			return v
		}
	}
	return members[len(members)-1]
}

// unitName is a new identifier for a function of a unit (or of a loop over
// members), named after its main value: suffix "Forward" makes
// hiddenForward, "AVX2" hiddenAVX2.
func (p *plan) unitName(u *ir.Unit, members []*ir.Value, sink *ir.Value, suffix string) string {
	if u != nil && members == nil {
		members = u.Values
		if u.Kind == ir.UnitReduce {
			sink = u.Last()
		}
		if u.Kind == ir.UnitContract {
			members = members[1:]
		}
	}
	return p.names.Name(p.base[p.mainValue(members, sink)], suffix)
}

// operand is how a comment names arg a: its identifier (a view's is its
// argument's), or the literal of a constant.
func (p *plan) operand(a *ir.Value) string {
	for a.Op.View {
		a = a.Args[0]
	}
	if s, ok := render.Inline(p.source(a), goConst); ok {
		return s
	}
	return p.ident(a)
}

// formula describes v for a comment with the names of this file: "hidden =
// relu(hiddenAdd)".
func (p *plan) formula(v *ir.Value) string {
	var args []string
	for _, a := range v.Args {
		args = append(args, p.operand(a))
	}
	return fmt.Sprintf("%s = %s(%s)", p.ident(v), v.Op.Name, strings.Join(args, ", "))
}
