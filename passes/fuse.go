// Fuse: group ops that a backend computes in one loop nest (CPU) or one
// kernel (CUDA), so intermediate values need no memory and no extra pass
// over it.
//
// Stages, in one forward sweep over the values and two rewrites after it:
//
//  1. Elementwise chains: an elementwise op (or a broadcast) joins the group
//     of an arg that is elementwise with the same result shape, merging groups
//     when it connects several. The shape is the group's loop space; args from
//     outside are read with numpy broadcasting, so bias adds and scalar
//     factors stay in the loop.
//  2. Reductions with their producers: a reduce_sum, reduce_mean or
//     reduce_max of a value produced in an elementwise group becomes that
//     group's sink (the loop accumulates into its output; no group member
//     joins after it). Mean-squared error, the cross-entropy's one-hot product
//     and sum, and bias-gradient sums become one loop each.
//  3. Contraction epilogues: a matmul whose only user is an elementwise
//     group over its result shape, with one stored output of that shape,
//     becomes the group's anchor: the GEMM writes the output buffer and the
//     group (bias + activation forward, the activation's backward applied to
//     the incoming gradient) runs in place over it.
//  4. The optimizer update: the per-param update groups, when they are
//     structurally identical (the same ops on the param, its gradient, its
//     state of each kind, shared scalars and constants) and store only
//     param updates (a layer's state update is left a group of its own),
//     merge into one group whose Lanes are the per-param chains; a
//     backend runs it as one flat loop over the params block, as llm.c's fused
//     AdamW does. A gradient result is never extended by stage 1 (the
//     update reads it from the grads block), so a param used twice, whose
//     gradient is an elementwise sum, keeps the common chain.
//
// Legality: a group is emitted where its last member is, so a value joins
// only if no user outside the group was already emitted before that point.
// Each group keeps the users outside it that the sweep has passed, so a
// merge costs the size of the smaller groups (they join the largest), not
// a rescan of the merged set.
// The pass changes no value and no order (schedule.go orders groups); it
// only sets g.Groups. Single-op groups are dropped. Lane-merging needs the
// optimizer's state layout (one run per kind in param order).

package passes

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/mdlc/mdlc/ir"
)

type fuser struct {
	g     *ir.Graph
	need  map[*ir.Value]int   // which entry points compute a value (bit set)
	pos   map[*ir.Value]int   // index in g.Values
	users map[*ir.Value][]int // positions of users (len(Values) for results/updates)
	group map[*ir.Value]*fgroup
	upd   map[*ir.Value]bool // update values
	grad  map[*ir.Value]bool // gradient results
}

// fgroup is a group under construction.
type fgroup struct {
	kind   ir.FusionKind
	shape  ir.Shape // loop space
	vals   map[*ir.Value]bool
	last   int  // emission position
	sink   bool // has a reduction sink: closed
	anchor *ir.Value
	need   int // the entry points computing every member (they all agree)
	// out holds the values already swept that use a member and were outside
	// the group then; an entry that has joined it since is dropped when met.
	// The group may join a value at the sweep's position only if all of out
	// joins with it (legality, above).
	out []*ir.Value
}

// Fuse sets g.Groups (see above).
func Fuse(g *ir.Graph, c *Context) error {
	g.Renumber()
	f := &fuser{g: g, pos: map[*ir.Value]int{}, users: map[*ir.Value][]int{}, group: map[*ir.Value]*fgroup{}}
	end := len(g.Values)
	for i, v := range g.Values {
		f.pos[v] = i
		for _, a := range v.Args {
			f.users[a] = append(f.users[a], i)
		}
	}
	for _, r := range g.Results {
		f.users[r.Value] = append(f.users[r.Value], end)
	}
	for _, u := range g.Updates {
		f.users[u.Value] = append(f.users[u.Value], end)
	}
	f.need = needMasks(g)
	f.upd = map[*ir.Value]bool{}
	for _, u := range g.Updates {
		f.upd[u.Value] = true
	}
	f.grad = map[*ir.Value]bool{}
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		f.grad[r.Value] = true
	}
	for i, v := range g.Values {
		switch {
		case isElementwise(v):
			f.elementwise(i, v)
		case v.Op.Reduce != ir.ReduceNone:
			f.reduction(i, v)
		}
		f.swept(v)
	}
	f.epilogues()
	var groups []*fgroup
	seen := map[*fgroup]bool{}
	for _, v := range g.Values {
		if gr := f.group[v]; gr != nil && !seen[gr] {
			seen[gr] = true
			groups = append(groups, gr)
		}
	}
	g.Groups = nil
	var updateGroups []*fgroup
	paramUpd := map[*ir.Value]bool{} // the values of param updates
	for _, u := range g.Updates {
		if u.Target.Op.Name == "param" {
			paramUpd[u.Value] = true
		}
	}
	for _, gr := range groups {
		if len(gr.vals) < 2 {
			continue
		}
		if gr.kind == ir.KindElementwise && f.storesOnlyUpdates(gr) && f.updatesParam(gr, paramUpd) {
			updateGroups = append(updateGroups, gr)
			continue
		}
		g.Groups = append(g.Groups, f.finish(gr))
	}
	if lanes := f.lanes(updateGroups); lanes != nil {
		g.Groups = append(g.Groups, *lanes)
	} else {
		for _, gr := range updateGroups {
			g.Groups = append(g.Groups, f.finish(gr))
		}
	}
	sort.SliceStable(g.Groups, func(i, j int) bool { return f.pos[g.Groups[i].Values[0]] < f.pos[g.Groups[j].Values[0]] })
	return nil
}

func (f *fuser) sameNeed(gr *fgroup, v *ir.Value) bool { return gr.need == f.need[v] }

// isElementwise: ops that compute out[i] from args read at i (with broadcasting).
func isElementwise(v *ir.Value) bool { return v.Op.Kind == ir.KindElementwise }

// members returns a group's values in graph order.
func (f *fuser) members(gr *fgroup) []*ir.Value {
	var out []*ir.Value
	for v := range gr.vals {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return f.pos[out[i]] < f.pos[out[j]] })
	return out
}

// finish returns the group in graph order, a contraction's matmul first.
func (f *fuser) finish(gr *fgroup) ir.Group {
	ms := f.members(gr)
	if gr.anchor != nil {
		rest := []*ir.Value{gr.anchor}
		for _, m := range ms {
			if m != gr.anchor {
				rest = append(rest, m)
			}
		}
		ms = rest
	}
	return ir.Group{Kind: gr.kind, Values: ms}
}

// swept records v, just swept, as a user outside the groups of its args.
func (f *fuser) swept(v *ir.Value) {
	gv := f.group[v]
	for _, a := range v.Args {
		if ga := f.group[a]; ga != nil && ga != gv && (len(ga.out) == 0 || ga.out[len(ga.out)-1] != v) {
			ga.out = append(ga.out, v)
		}
	}
}

// joins reports whether group gr may join the values being grouped at the
// sweep's position: the groups in with, and the value there (whose users
// all come later). Every value before that position is emitted before it,
// so a group may move there only if every earlier user of a member is
// in the new group too: gr's users outside it (gr.out) must all be members
// of groups in with. It drops the entries of gr.out that joined gr since.
func (f *fuser) joins(gr *fgroup, with []*fgroup) bool {
	out := gr.out[:0]
	for k, u := range gr.out {
		gu := f.group[u]
		if gu == gr {
			continue
		}
		out = append(out, u)
		if !slices.Contains(with, gu) {
			// Keep the rest, with this user first: the next check of gr
			// is likely to stop at it again.
			b := len(out) - 1
			out = append(out, gr.out[k+1:]...)
			out[0], out[b] = out[b], out[0]
			gr.out = out
			return false
		}
	}
	gr.out = out
	return true
}

func (f *fuser) elementwise(i int, v *ir.Value) {
	var cands []*fgroup
	for _, a := range v.Args {
		// A gradient is read from the grads block, never extended: a
		// param used twice has the sum of two gradients as its gradient,
		// an elementwise add that would otherwise open its optimizer
		// update's group and make that chain unlike every other param's
		// (stage 4 could not merge the updates).
		if f.grad[a] {
			continue
		}
		if gr := f.group[a]; gr != nil && gr.kind == ir.KindElementwise && !gr.sink && gr.shape.Equal(v.Type.Shape) {
			if !slices.Contains(cands, gr) {
				cands = append(cands, gr)
			}
		}
	}
	// The groups v joins, each whole: a merge is legal when no member's
	// user outside the merged set was emitted before i.
	var joined []*fgroup
	for _, gr := range cands {
		if f.sameNeed(gr, v) && f.joins(gr, joined) {
			joined = append(joined, gr)
		}
	}
	// The largest joined group takes in v and the others.
	var ng *fgroup
	for _, gr := range joined {
		if ng == nil || len(gr.vals)+len(gr.out) > len(ng.vals)+len(ng.out) {
			ng = gr
		}
	}
	if ng == nil {
		ng = &fgroup{vals: map[*ir.Value]bool{}}
	}
	ng.kind, ng.shape, ng.last, ng.need = ir.KindElementwise, v.Type.Shape, i, f.need[v]
	ng.vals[v] = true
	f.group[v] = ng
	for _, gr := range joined {
		if gr == ng {
			continue
		}
		for m := range gr.vals {
			ng.vals[m] = true
			f.group[m] = ng
		}
		ng.out = append(ng.out, gr.out...)
	}
}

func (f *fuser) reduction(i int, v *ir.Value) {
	x := v.Args[0]
	gr := f.group[x]
	if gr == nil || gr.kind != ir.KindElementwise || gr.sink || !gr.shape.Equal(x.Type.Shape) || x.Type.DType != v.Type.DType {
		return
	}
	if !f.sameNeed(gr, v) || !f.joins(gr, nil) {
		return
	}
	gr.vals[v] = true
	gr.sink, gr.kind, gr.last = true, ir.KindReduction, i
	f.group[v] = gr
}

// stored returns the members used outside the group (or as results/updates).
func (f *fuser) stored(gr *fgroup) []*ir.Value {
	var out []*ir.Value
	for _, m := range f.members(gr) {
		for _, u := range f.users[m] {
			if u >= len(f.g.Values) || !gr.vals[f.g.Values[u]] {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

func (f *fuser) epilogues() {
	seen := map[*fgroup]bool{}
	for _, v := range f.g.Values {
		gr := f.group[v]
		if gr == nil || seen[gr] || gr.kind != ir.KindElementwise {
			continue
		}
		seen[gr] = true
		out := f.stored(gr)
		if len(out) != 1 || !out[0].Type.Shape.Equal(gr.shape) || out[0].Type.DType != ir.F32 {
			continue
		}
		for _, m := range f.members(gr) {
			for _, a := range m.Args {
				if a.Op.Kind != ir.KindContraction || f.group[a] != nil || !a.Type.Equal(out[0].Type) {
					continue
				}
				only := f.sameNeed(gr, a)
				for _, u := range f.users[a] {
					only = only && u < len(f.g.Values) && gr.vals[f.g.Values[u]]
				}
				if only {
					gr.vals[a] = true
					gr.kind, gr.anchor = ir.KindContraction, a
					f.group[a] = gr
				}
				break
			}
			if gr.anchor != nil {
				break
			}
		}
	}
}

// storesOnlyUpdates reports whether every stored member is an update value.
func (f *fuser) storesOnlyUpdates(gr *fgroup) bool {
	st := f.stored(gr)
	for _, m := range st {
		if !f.upd[m] {
			return false
		}
		for _, u := range f.users[m] {
			if u < len(f.g.Values) && !gr.vals[f.g.Values[u]] {
				return false // also read by another op
			}
		}
	}
	return len(st) > 0
}

// updatesParam reports whether a group stores a param's update (the
// optimizer's; a layer's state update, such as batch_norm's moving
// statistics, is a group of its own: ir/modes.go).
func (f *fuser) updatesParam(gr *fgroup, paramUpd map[*ir.Value]bool) bool {
	for _, m := range f.stored(gr) {
		if paramUpd[m] {
			return true
		}
	}
	return false
}

// lanes merges per-param update groups into one group with lanes, or
// returns nil when they are not one identical chain per param.
func (f *fuser) lanes(gs []*fgroup) *ir.Group {
	params := f.g.Params()
	if len(gs) != len(params) || len(params) < 2 {
		return nil
	}
	byName := map[string]*ir.Value{} // the first value of each name (g.Lookup)
	for _, v := range f.g.Values {
		if _, ok := byName[v.Name]; !ok {
			byName[v.Name] = v
		}
	}
	grads := map[*ir.Value]*ir.Value{} // grad value -> param
	for _, r := range f.g.ResultsOf(ir.ResultGrad) {
		if p := byName[r.Name]; p != nil {
			grads[r.Value] = p
		}
	}
	targets := map[*ir.Value]*ir.Value{}
	for _, u := range f.g.Updates {
		targets[u.Value] = u.Target
	}
	byParam := map[*ir.Value]*fgroup{}
	sigs := map[string]bool{}
	for _, gr := range gs {
		p, sig, ok := f.signature(gr, grads, targets)
		if !ok || byParam[p] != nil {
			return nil
		}
		byParam[p] = gr
		sigs[sig] = true
	}
	if len(sigs) != 1 {
		return nil
	}
	out := &ir.Group{Kind: ir.KindElementwise}
	for _, p := range params {
		gr := byParam[p]
		if gr == nil {
			return nil
		}
		lane := f.members(gr)
		out.Lanes = append(out.Lanes, lane)
		out.Values = append(out.Values, lane...)
	}
	return out
}

// signature describes an update group's structure with its leaves named by
// role relative to its param; ok is false if a leaf has no such role.
func (f *fuser) signature(gr *fgroup, grads, targets map[*ir.Value]*ir.Value) (param *ir.Value, sig string, ok bool) {
	ms := f.members(gr)
	idx := map[*ir.Value]int{}
	for i, m := range ms {
		idx[m] = i
	}
	// The lane's param: the target of a stored param update.
	for _, m := range ms {
		if t := targets[m]; t != nil && t.Op.Name == "param" {
			param = t
		}
	}
	if param == nil {
		return nil, "", false
	}
	role := func(a *ir.Value) (string, bool) {
		switch {
		case a == param:
			return "param", true
		case grads[a] == param:
			return "grad", true
		case isState(a, param) && a.Type.Equal(param.Type):
			kind, _ := stateKind(a, param)
			return "state:" + kind, true
		case a.Op.Name == "const":
			return fmt.Sprintf("const:%v", a.Attrs.Float("value")), true
		case a.Type.Shape.Rank() == 0:
			return fmt.Sprintf("scalar:%d", a.ID), true
		}
		return "", false
	}
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%s%v(", m.Op.Name, m.Attrs)
		for _, a := range m.Args {
			if i, in := idx[a]; in {
				fmt.Fprintf(&b, "#%d,", i)
				continue
			}
			r, ok := role(a)
			if !ok {
				return nil, "", false
			}
			b.WriteString(r + ",")
		}
		b.WriteString(")")
		if t := targets[m]; t != nil {
			r, ok := role(t)
			if !ok {
				return nil, "", false
			}
			b.WriteString("->" + r)
		}
		b.WriteString(";")
	}
	return param, b.String(), true
}

func isState(a, param *ir.Value) bool {
	_, ok := stateKind(a, param)
	return ok
}
