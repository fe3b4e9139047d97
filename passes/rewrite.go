package passes

import "github.com/mdlc/mdlc/ir"

// rewriter rebuilds a graph's value list in one sweep: values are visited
// in order, their args remapped through repl, and a visitor may replace a
// value by an existing one or by new values it emits just before it.
type rewriter struct {
	g    *ir.Graph
	out  []*ir.Value
	repl map[*ir.Value]*ir.Value
	pos  ir.Pos
}

func newRewriter(g *ir.Graph) *rewriter {
	return &rewriter{g: g, repl: map[*ir.Value]*ir.Value{}}
}

// get follows replacements.
func (r *rewriter) get(v *ir.Value) *ir.Value {
	for {
		w, ok := r.repl[v]
		if !ok {
			return v
		}
		v = w
	}
}

// emit appends a new value op(args) at the current position.
func (r *rewriter) emit(op string, attrs ir.Attrs, args ...*ir.Value) (*ir.Value, error) {
	v, err := ir.NewValue(ir.LookupOp(op), attrs, args...)
	if err != nil {
		return nil, err
	}
	v.Pos = r.pos
	r.out = append(r.out, v)
	return v, nil
}

// run visits every value; visit returns a replacement or nil to keep v.
func (r *rewriter) run(visit func(v *ir.Value) (*ir.Value, error)) (changed bool, err error) {
	for _, v := range r.g.Values {
		for i, a := range v.Args {
			v.Args[i] = r.get(a)
		}
		r.pos = v.Pos
		w, err := visit(v)
		if err != nil {
			return changed, err
		}
		if w != nil && w != v {
			r.repl[v] = w
			changed = true
			continue
		}
		r.out = append(r.out, v)
	}
	r.finish()
	return changed, nil
}

// finish installs the new value list and remaps results and updates.
func (r *rewriter) finish() {
	g := r.g
	g.Values = r.out
	for i := range g.Results {
		g.Results[i].Value = r.get(g.Results[i].Value)
	}
	for i := range g.Updates {
		g.Updates[i].Value = r.get(g.Updates[i].Value)
	}
	g.Renumber()
}
