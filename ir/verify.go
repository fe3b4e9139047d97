package ir

import (
	"errors"
	"fmt"
)

// Verify checks the graph's invariants and returns every violation found:
//   - ops: every value's op is the table's entry of that name;
//   - arity and attributes match the op's schema;
//   - SSA order: IDs are dense indices and every arg is an earlier value of the graph;
//   - types: each value's type is what the op's shape rule infers from its args;
//   - sources: inputs, params and state have unique non-empty names;
//   - results: every result and update refers to a value of the graph, result
//     names are unique per kind, there is at most one loss and it is a f32 scalar;
//   - updates: targets are params or state, at most one update per target,
//     and the new value has the target's type;
//   - groups: each value in at most one group, no sources, lanes cover the
//     group and have one length; plan slots lie inside their blocks.
func Verify(g *Graph) error {
	var errs []error
	bad := func(v *Value, format string, args ...any) {
		prefix := "graph"
		if v != nil {
			prefix = fmt.Sprintf("%%%d (%s)", v.ID, v.Op)
		}
		errs = append(errs, fmt.Errorf("%s: %s", prefix, fmt.Sprintf(format, args...)))
	}
	index := make(map[*Value]int, len(g.Values))
	names := map[string]*Value{}
	for i, v := range g.Values {
		if v == nil || v.Op == nil {
			errs = append(errs, fmt.Errorf("value %d: nil value or op", i))
			continue
		}
		if v.ID != i {
			bad(v, "ID %d at position %d (IDs must be dense; call Renumber)", v.ID, i)
		}
		if _, dup := index[v]; dup {
			bad(v, "appears twice in the graph")
		}
		if LookupOp(v.Op.Name) != v.Op {
			bad(v, "op %q is not the op table's", v.Op.Name)
			index[v] = i
			continue
		}
		argsOK := true
		if (v.Op.Arity >= 0 && len(v.Args) != v.Op.Arity) || (v.Op.Arity < 0 && len(v.Args) == 0) {
			bad(v, "has %d args, op takes %d", len(v.Args), v.Op.Arity)
			argsOK = false
		}
		for j, a := range v.Args {
			k, ok := index[a]
			if a == nil || !ok || k >= i {
				bad(v, "arg %d is not an earlier value of the graph", j)
				argsOK = false
			}
		}
		if err := checkAttrs(v.Op, v.Attrs); err != nil {
			bad(v, "%v", err)
			argsOK = false
		}
		if argsOK {
			probe := &Value{Op: v.Op, Args: v.Args, Attrs: v.Attrs}
			if t, err := v.Op.Shape(probe); err != nil {
				bad(v, "%v", err)
			} else if !t.Equal(v.Type) {
				bad(v, "type %s, but its op infers %s", v.Type, t)
			}
		}
		if v.Op.Bound {
			if v.Name == "" {
				bad(v, "%s has no name", v.Op.Name)
			} else if w, dup := names[v.Name]; dup {
				bad(v, "name %q already used by %%%d", v.Name, w.ID)
			} else {
				names[v.Name] = v
			}
		}
		index[v] = i
	}
	seen := map[string]bool{}
	losses := 0
	for _, r := range g.Results {
		if _, ok := index[r.Value]; !ok || r.Value == nil {
			bad(nil, "%s %q refers to a value not in the graph", r.Kind, r.Name)
			continue
		}
		key := r.Kind.String() + " " + r.Name
		if seen[key] {
			bad(nil, "duplicate %s %q", r.Kind, r.Name)
		}
		seen[key] = true
		if r.Kind == ResultTrainLoss && g.Loss() == nil {
			bad(r.Value, "train_loss without a loss")
		}
		if r.Kind == ResultLoss || r.Kind == ResultTrainLoss {
			if r.Kind == ResultLoss {
				losses++
			}
			if r.Value.Type.DType != F32 || r.Value.Type.Shape.Rank() != 0 {
				bad(r.Value, "loss must be a f32 scalar, got %s", r.Value.Type)
			}
		}
	}
	if losses > 1 {
		bad(nil, "%d losses; at most one allowed", losses)
	}
	targets := map[*Value]bool{}
	for _, u := range g.Updates {
		_, okT := index[u.Target]
		_, okV := index[u.Value]
		if u.Target == nil || u.Value == nil || !okT || !okV {
			bad(nil, "update refers to a value not in the graph")
			continue
		}
		if n := u.Target.Op.Name; n != "param" && n != "state" {
			bad(u.Target, "update target must be a param or state")
		}
		if targets[u.Target] {
			bad(u.Target, "updated twice")
		}
		targets[u.Target] = true
		if !u.Value.Type.Equal(u.Target.Type) {
			bad(u.Target, "update value %%%d has type %s, target has %s", u.Value.ID, u.Value.Type, u.Target.Type)
		}
	}
	inGroup := map[*Value]bool{}
	for gi, gr := range g.Groups {
		if len(gr.Values) == 0 {
			bad(nil, "group %d is empty", gi)
		}
		n := 0
		for _, l := range gr.Lanes {
			n += len(l)
			if len(l) != len(gr.Lanes[0]) {
				bad(nil, "group %d: lanes of different lengths", gi)
			}
		}
		if gr.Lanes != nil && n != len(gr.Values) {
			bad(nil, "group %d: lanes do not cover its values", gi)
		}
		for _, v := range gr.Values {
			if _, ok := index[v]; !ok || v == nil {
				bad(nil, "group %d has a value not in the graph", gi)
				continue
			}
			if inGroup[v] {
				bad(v, "in two groups")
			}
			if v.Op.Kind == KindSource {
				bad(v, "a source value cannot be in a group")
			}
			inGroup[v] = true
		}
	}
	if pl := g.Plan; pl != nil {
		check := func(v *Value, s Slot, what string) {
			if _, ok := index[v]; !ok {
				bad(nil, "plan has a %s for a value not in the graph", what)
				return
			}
			limit := map[Storage]int{StoreArena: pl.Arena, StoreIArena: pl.IArena, StoreParams: pl.Params, StoreGrads: pl.Params, StoreState: pl.State}
			if s.Offset < 0 || s.Size < 0 || s.Storage.InBlock() && limit[s.Storage] > 0 && s.Offset+s.Size > limit[s.Storage] ||
				(s.Storage == StoreArena || s.Storage == StoreIArena) && s.Offset+s.Size > limit[s.Storage] {
				bad(v, "%s %s[%d:%d] outside its block", what, s.Storage, s.Offset, s.Offset+s.Size)
			}
			if s.Storage == StoreAlias {
				if _, ok := index[s.Of]; !ok || s.Of == nil {
					bad(v, "%s aliases a value not in the graph", what)
				} else if pl.Slots[s.Of].Storage == StoreAlias {
					bad(v, "%s aliases %%%d, itself an alias", what, s.Of.ID)
				}
			}
		}
		for v, s := range pl.Slots {
			check(v, s, "slot")
		}
		for v, s := range pl.Scratch {
			check(v, s, "scratch")
		}
	}
	return errors.Join(errs...)
}
