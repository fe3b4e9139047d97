package passes

import "github.com/mdlc/mdlc/ir"

// unit is what a backend emits as one piece: a group, or one computed value.
type unit struct {
	vals  []*ir.Value
	group *ir.Group
}

// units splits the computed values of g into units, in graph order of each
// unit's first member, with sources excluded.
func units(g *ir.Graph) ([]*unit, map[*ir.Value]*unit) {
	of := map[*ir.Value]*unit{}
	var out []*unit
	for i := range g.Groups {
		gr := &g.Groups[i]
		u := &unit{vals: gr.Values, group: gr}
		for _, v := range gr.Values {
			of[v] = u
		}
	}
	seen := map[*unit]bool{}
	for _, v := range g.Values {
		if v.Op.Kind == ir.KindSource {
			continue
		}
		u := of[v]
		if u == nil {
			u = &unit{vals: []*ir.Value{v}}
			of[v] = u
		}
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out, of
}

// targetsWrittenInPlace returns the update targets a unit writes directly
// (the flat optimizer loop updates params and state in place).
func targetsWrittenInPlace(g *ir.Graph, u *unit) map[*ir.Value]bool {
	if u.group == nil || u.group.Lanes == nil {
		return nil
	}
	in := map[*ir.Value]bool{}
	for _, v := range u.vals {
		in[v] = true
	}
	out := map[*ir.Value]bool{}
	for _, up := range g.Updates {
		if in[up.Value] {
			out[up.Target] = true
		}
	}
	return out
}
