package passes

import (
	"fmt"
	"slices"
	"sort"

	"github.com/mdlc/mdlc/ir"
)

// The storage decision of memplan (memplan.go): units, entry points,
// phases and the storage kind of every value, made once for every backend.
// Offsets of arena values are memplan's.

// storage builds the plan of g at batch size maxBatch with every arena
// value unplaced (offset 0): params and state are each one block in graph
// order, the grads block has the params block's layout.
func storage(g *ir.Graph, maxBatch int) (*ir.Plan, error) {
	pl := &ir.Plan{MaxBatch: maxBatch, Slots: map[*ir.Value]ir.Slot{}, Scratch: map[*ir.Value]ir.Slot{},
		UnitOf: map[*ir.Value]*ir.Unit{}, GradSlot: map[*ir.Value]ir.Slot{}}
	size := map[*ir.Value]int{}
	for _, v := range g.Values {
		n, err := elements(v.Type.Shape, maxBatch)
		if err != nil {
			return nil, fmt.Errorf("value %%%d %s %s: %v", v.ID, v.Op.Name, v.Type, err)
		}
		size[v] = n
	}
	for _, v := range g.Params() {
		pl.Slots[v] = ir.Slot{Storage: ir.StoreParams, Offset: pl.Params, Size: size[v]}
		pl.GradSlot[v] = ir.Slot{Storage: ir.StoreGrads, Offset: pl.Params, Size: size[v]}
		pl.Params += size[v]
	}
	for _, v := range g.State() {
		pl.Slots[v] = ir.Slot{Storage: ir.StoreState, Offset: pl.State, Size: size[v]}
		pl.State += size[v]
	}
	buildUnits(g, pl)
	if err := checkOrder(pl); err != nil {
		return nil, err
	}
	if err := storageKinds(g, pl, size); err != nil {
		return nil, err
	}
	buildEntries(g, pl)
	return pl, nil
}

// elements is the element count of s at batch size n.
func elements(s ir.Shape, n int) (int, error) {
	c := 1
	for _, d := range s {
		c *= d.Resolve(n)
		if c > 1<<31 {
			return 0, fmt.Errorf("too large at batch %d", n)
		}
	}
	return c, nil
}

// computed reports whether a value is computed by code (a unit): not bound
// from outside, not written into expressions, not a view of another.
func computed(v *ir.Value) bool { return !v.Op.Bound && !v.Op.Inline && !v.Op.View }

// buildUnits makes the units: the groups of the fuse pass (a lanes group
// whose layout allows it as one loop over the params block, else one loop
// per lane) and every other computed value alone, in the order of their
// last values (where a group is legal to emit, fuse.go).
func buildUnits(g *ir.Graph, pl *ir.Plan) {
	pos := map[*ir.Value]int{}
	for i, v := range g.Values {
		pos[v] = i
	}
	add := func(u *ir.Unit) {
		pl.Units = append(pl.Units, u)
		for _, v := range u.Values {
			pl.UnitOf[v] = u
		}
	}
	for i := range g.Groups {
		gr := &g.Groups[i]
		if gr.Lanes != nil {
			if fu := flatUpdate(g, gr, pl); fu != nil {
				add(&ir.Unit{Kind: ir.UnitUpdate, Values: gr.Values, Flat: fu})
				continue
			}
			for _, lane := range gr.Lanes {
				add(&ir.Unit{Kind: ir.UnitLoop, Values: lane})
			}
			continue
		}
		kind := map[ir.FusionKind]ir.UnitKind{ir.KindElementwise: ir.UnitLoop, ir.KindReduction: ir.UnitReduce, ir.KindContraction: ir.UnitContract}[gr.Kind]
		add(&ir.Unit{Kind: kind, Values: gr.Values})
	}
	for _, v := range g.Values {
		if computed(v) && pl.UnitOf[v] == nil {
			add(&ir.Unit{Kind: ir.UnitOp, Values: []*ir.Value{v}})
		}
	}
	last := func(u *ir.Unit) int {
		p := 0
		for _, v := range u.Values {
			p = max(p, pos[v])
		}
		return p
	}
	sort.SliceStable(pl.Units, func(i, j int) bool { return last(pl.Units[i]) < last(pl.Units[j]) })

	// Entry points and phases.
	need := needMasks(g)
	var gradRoots []*ir.Value
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		gradRoots = append(gradRoots, r.Value)
	}
	forGrads := ir.Reaches(gradRoots...)
	forTrainLoss := map[*ir.Value]bool{} // the training path's forward values (ir/modes.go)
	if l := g.TrainLoss(); l != nil {
		forTrainLoss = ir.Reaches(l)
	}
	for _, u := range pl.Units {
		for _, v := range u.Values {
			m := need[v]
			if m&needForward != 0 {
				u.Entries |= 1 << ir.EntryForward
			}
			if m&needEval != 0 {
				u.Entries |= 1 << ir.EntryEval
			}
			if m&needStep != 0 {
				u.Entries |= 1 << ir.EntryStep
			}
			ph := ir.PhaseUpdate
			switch {
			case m&(needForward|needEval) != 0 || forTrainLoss[v]:
				ph = ir.PhaseForward
			case forGrads[v]:
				ph = ir.PhaseBackward
			}
			u.Phase = max(u.Phase, ph)
		}
	}
}

// checkOrder reports a unit that reads a value computed by a later unit (a
// group the fuse pass could not legally emit where its last value is).
func checkOrder(pl *ir.Plan) error {
	done := map[*ir.Unit]bool{}
	for _, u := range pl.Units {
		for _, v := range u.Values {
			for _, a := range v.Args {
				for a.Op.View {
					a = a.Args[0]
				}
				if ua := pl.UnitOf[a]; ua != nil && ua != u && !done[ua] {
					return fmt.Errorf("%%%d %s needs %%%d %s, which is computed later (in another unit)", v.ID, v.Op.Name, a.ID, a.Op.Name)
				}
			}
		}
		done[u] = true
	}
	return nil
}

// storageKinds decides where every value lives (ir.Storage): the one rule
// both backends follow.
func storageKinds(g *ir.Graph, pl *ir.Plan, size map[*ir.Value]int) error {
	external := map[*ir.Value]bool{}
	for _, r := range g.Results {
		external[r.Value] = true
	}
	for _, up := range g.Updates {
		external[up.Value] = true
	}
	// A member of a unit read by another unit, by a view or as a result
	// or update is stored.
	stored := map[*ir.Value]bool{}
	for _, v := range g.Values {
		for _, a := range v.Args {
			if ua := pl.UnitOf[a]; ua != nil && ua != pl.UnitOf[v] {
				stored[a] = true
			}
		}
	}
	for v := range external {
		stored[v] = true
	}
	// Gradients are computed in their param's slot of the grads block when
	// they are computed values no other gradient claimed; others are copied.
	params := map[string]*ir.Value{}
	for _, p := range g.Params() {
		params[p.Name] = p
	}
	claimed := map[*ir.Value]bool{}
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		p := params[r.Name]
		if p == nil {
			return fmt.Errorf("grad result %q names no param", r.Name)
		}
		if v := r.Value; computed(v) && !claimed[v] {
			claimed[v] = true
			pl.Slots[v] = pl.GradSlot[p]
			continue
		}
		pl.GradCopy = append(pl.GradCopy, ir.GradCopy{Param: p, Value: r.Value})
	}
	for _, v := range g.Values {
		if _, done := pl.Slots[v]; done {
			continue
		}
		u := pl.UnitOf[v]
		var s ir.Slot
		switch {
		case v.Op.Bound: // params and state are placed already
			s = ir.Slot{Storage: ir.StoreInput, Size: size[v]}
		case v.Op.Inline:
			s = ir.Slot{Storage: ir.StoreInline}
		case v.Op.View:
			s = ir.Slot{Storage: ir.StoreAlias, Of: pl.Root(v.Args[0])}
		case u.Kind == ir.UnitUpdate && external[v]:
			s = ir.Slot{Storage: ir.StoreTarget} // FlatUpdate: every stored member is an update
		case u.Kind == ir.UnitContract && v == u.Values[0]:
			s = ir.Slot{Storage: ir.StoreAlias} // the output it writes, below
		case u.Kind != ir.UnitOp && !stored[v]:
			s = ir.Slot{Storage: ir.StoreRegister}
		case v.Type.DType == ir.I32:
			s = ir.Slot{Storage: ir.StoreIArena, Size: size[v]}
		default:
			s = ir.Slot{Storage: ir.StoreArena, Size: size[v]}
		}
		pl.Slots[v] = s
	}
	// The workspace of every computed value whose op has one, a gradient
	// computed in the grads block too.
	for _, v := range g.Values {
		if pl.UnitOf[v] != nil && v.Op.Scratch != nil {
			n, err := elements(v.Op.Scratch(v), pl.MaxBatch)
			if err != nil {
				return fmt.Errorf("scratch of %%%d %s: %v", v.ID, v.Op.Name, err)
			}
			pl.Scratch[v] = ir.Slot{Storage: ir.StoreArena, Size: n}
		}
	}
	// A contraction writes the one stored output of its epilogue that has
	// its type (the fuse pass made it so).
	for _, u := range pl.Units {
		if u.Kind != ir.UnitContract {
			continue
		}
		anchor := u.Values[0]
		for _, m := range u.Values[1:] {
			if pl.Stored(m) && m.Type.Equal(anchor.Type) {
				pl.Slots[anchor] = ir.Slot{Storage: ir.StoreAlias, Of: m}
				break
			}
		}
		if pl.Slots[anchor].Of == nil {
			return fmt.Errorf("contraction %%%d %s: its group stores no output of its type %s", anchor.ID, anchor.Op.Name, anchor.Type)
		}
	}
	for i, c := range pl.GradCopy {
		pl.GradCopy[i].After = pl.UnitOf[pl.Root(c.Value)]
	}
	for _, up := range g.Updates {
		if pl.Slots[up.Value].Storage != ir.StoreTarget {
			pl.Apply = append(pl.Apply, up)
		}
	}
	return nil
}

// buildEntries lists the units and inputs of each entry point the model
// has: forward always; eval with a loss; step with a loss and updates.
func buildEntries(g *ir.Graph, pl *ir.Plan) {
	has := [ir.NumEntries]bool{true, g.Loss() != nil, g.Loss() != nil && len(g.Updates) > 0}
	need := needMasks(g)
	bit := [ir.NumEntries]int{needForward, needEval, needStep}
	for e := range ir.NumEntries {
		if !has[e] {
			continue
		}
		ep := &ir.EntryPlan{}
		for _, u := range pl.Units {
			if u.Runs(e) {
				ep.Units = append(ep.Units, u)
			}
		}
		for _, v := range g.Inputs() {
			if need[v]&bit[e] != 0 {
				ep.Inputs = append(ep.Inputs, v)
			}
		}
		pl.Entries[e] = ep
	}
}

// Entry points of generated code, as bits of needMasks.
const (
	needForward = 1 << iota // outputs
	needEval                // loss and metrics
	needStep                // the training step: loss, grads and updates
)

// needMasks tells, for every value, which entry points compute it. Groups
// never mix values of different masks (fuse.go), so every entry point
// computes whole units.
func needMasks(g *ir.Graph) map[*ir.Value]int {
	need := map[*ir.Value]int{}
	var mark func(v *ir.Value, bit int)
	mark = func(v *ir.Value, bit int) {
		if need[v]&bit != 0 {
			return
		}
		need[v] |= bit
		for _, a := range v.Args {
			mark(a, bit)
		}
	}
	for _, r := range g.Results {
		switch r.Kind {
		case ir.ResultOutput:
			mark(r.Value, needForward)
		case ir.ResultLoss:
			bits := needEval
			if g.TrainLoss() == r.Value {
				bits |= needStep
			}
			mark(r.Value, bits)
		case ir.ResultTrainLoss:
			mark(r.Value, needStep)
		case ir.ResultMetric:
			mark(r.Value, needEval)
		case ir.ResultGrad:
			mark(r.Value, needStep)
		}
	}
	for _, u := range g.Updates {
		mark(u.Value, needStep)
	}
	return need
}

// flatUpdate decides whether a lanes group (the optimizer update of every
// param, fuse.go) can run as one loop over the params block, and describes
// that loop. The conditions:
//   - the lanes are the params in block order and run the same chain, op for
//     op, reading anything else than their param, gradient and state only
//     as shared scalars (the same value in every lane) or constants;
//   - a lane updates only its own param and state, and every member read
//     outside the group is such an update (written in place);
//   - no value the step computes after the group and no result reads an
//     updated target (an inference-only value, which only Forward and Eval
//     compute, may come after it: ir/modes.go);
//   - the state of each kind ("<param>.m", ...) follows the params block's
//     layout: element i of the params block pairs with element base+i.
func flatUpdate(g *ir.Graph, gr *ir.Group, pl *ir.Plan) *ir.FlatUpdate {
	params := g.Params()
	if gr.Lanes == nil || len(gr.Lanes) != len(params) || len(params) == 0 {
		return nil
	}
	offset := func(v *ir.Value) (int, bool) {
		s, ok := pl.Slots[v]
		return s.Offset, ok && (s.Storage == ir.StoreParams || s.Storage == ir.StoreState)
	}
	updates := map[*ir.Value]*ir.Value{}
	for _, u := range g.Updates {
		updates[u.Value] = u.Target
	}
	pos := map[*ir.Value]int{}
	for i, v := range g.Values {
		pos[v] = i
	}
	last := 0
	inGroup := map[*ir.Value]bool{}
	for _, v := range gr.Values {
		last = max(last, pos[v])
		inGroup[v] = true
	}
	written := map[*ir.Value]bool{}
	need := needMasks(g)
	for k, lane := range gr.Lanes {
		for _, v := range lane {
			if t := updates[v]; t != nil {
				written[t] = true
				if t.Op.Name == "param" && t != params[k] {
					return nil
				}
			}
		}
	}
	for i, v := range g.Values {
		for _, a := range v.Args {
			if inGroup[a] && !inGroup[v] && updates[a] == nil {
				return nil // a member other code reads is not an update
			}
			if i > last && !inGroup[v] && written[a] && need[v]&needStep != 0 {
				return nil // read after the in-place update (by the step: inference-only values run in other entries)
			}
		}
	}
	for _, r := range g.Results {
		if written[r.Value] || inGroup[r.Value] && updates[r.Value] == nil {
			return nil
		}
	}
	stateOf := func(a *ir.Value, param *ir.Value) bool {
		_, ok := stateKind(a, param)
		return ok
	}
	fu := &ir.FlatUpdate{Chain: gr.Lanes[0], Param: params[0], State: map[*ir.Value]int{}, Targets: map[*ir.Value]*ir.Value{}, Lanes: gr.Lanes}
	bases := map[string]int{}
	gradsOf := map[string][]*ir.Value{} // param name -> its grad results' values, in result order
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		gradsOf[r.Name] = append(gradsOf[r.Name], r.Value)
	}
	for k, lane := range gr.Lanes {
		param := params[k]
		poff, _ := offset(param)
		grad := map[*ir.Value]bool{}
		for _, gv := range gradsOf[param.Name] {
			grad[gv] = true
			if k == 0 {
				fu.Grad = gv
			}
		}
		if len(lane) != len(gr.Lanes[0]) {
			return nil
		}
		for j, v := range lane {
			if v0 := gr.Lanes[0][j]; v.Op != v0.Op || len(v.Args) != len(v0.Args) {
				return nil // every lane runs the first lane's chain
			}
			t := updates[v]
			if t != nil && t != param && !stateOf(t, param) {
				return nil // an update of something else than this lane's param and state
			}
			if t != nil && k == 0 {
				fu.Targets[v] = t
			}
			for x, a := range append(append([]*ir.Value(nil), v.Args...), t) {
				if a == nil || inGroup[a] || a == param || grad[a] {
					continue
				}
				if !stateOf(a, param) {
					// Anything else is read once: a shared scalar or constant.
					root := a
					for root.Op.View {
						root = root.Args[0]
					}
					if n, ok := a.Type.Shape.Size(); (!ok || n != 1) && !root.Op.Inline {
						return nil
					}
					if a0 := gr.Lanes[0][j].Args[x]; a0 != a && !sameConst(a0, root) {
						return nil
					}
					continue
				}
				kind := a.Name[len(param.Name):]
				off, ok := offset(a)
				if !ok {
					return nil
				}
				if base, seen := bases[kind]; seen && base+poff != off {
					return nil
				} else if !seen {
					bases[kind] = off - poff
				}
				if k == 0 {
					fu.State[a] = off - poff
				}
			}
		}
	}
	for _, v := range fu.Chain {
		for _, a := range append(append([]*ir.Value(nil), v.Args...), fu.Targets[v]) {
			if base, ok := fu.State[a]; ok && !slices.ContainsFunc(fu.Runs, func(r ir.StateRun) bool { return r.State == a }) {
				kind, _ := stateKind(a, fu.Param)
				fu.Runs = append(fu.Runs, ir.StateRun{State: a, Kind: kind, Base: base})
			}
		}
	}
	return fu
}

// sameConst reports whether a (through views) is a constant equal to c.
func sameConst(a, c *ir.Value) bool {
	for a.Op.View {
		a = a.Args[0]
	}
	return a.Op.Name == "const" && c.Op.Name == "const" && a.Type.DType == c.Type.DType && a.Attrs.Float("value") == c.Attrs.Float("value")
}
