package passes

import (
	"strings"

	"github.com/mdlc/mdlc/ir"
)

// FlatLanes decides whether a lanes group (the optimizer update of every
// param, see fuse.go) can run as one flat loop over the params block, and
// returns for each kind of per-param state (".m", ".v", ...) its base in the
// state block: lane k reads params[i], grads[i] and state[base+i] at the
// same flat index i. The conditions:
//   - the lanes are the params in block order and run the same chain, op for
//     op, reading anything else than their param, gradient and state only
//     as shared scalars (the same value in every lane) or constants;
//   - a lane updates only its own param and state, and every member read
//     outside the group is such an update (written in place);
//   - no value after the group and no result reads an updated target;
//   - the state of each kind follows the params block's layout.
//
// Offsets come from g.Plan when set, else from graph order (params and state
// each one block in graph order, as memplan lays them out).
func FlatLanes(g *ir.Graph, gr *ir.Group) (map[string]int, bool) {
	params := g.Params()
	if gr.Lanes == nil || len(gr.Lanes) != len(params) || len(params) == 0 {
		return nil, false
	}
	offset := blockOffsets(g)
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
	for k, lane := range gr.Lanes {
		for _, v := range lane {
			if t := updates[v]; t != nil {
				written[t] = true
				if t.Op.Name == "param" && t != params[k] {
					return nil, false
				}
			}
		}
	}
	for i, v := range g.Values {
		for _, a := range v.Args {
			if inGroup[a] && !inGroup[v] && updates[a] == nil {
				return nil, false // a member other code reads is not an update
			}
			if i > last && !inGroup[v] && written[a] {
				return nil, false // read after the in-place update
			}
		}
	}
	for _, r := range g.Results {
		if written[r.Value] || inGroup[r.Value] && updates[r.Value] == nil {
			return nil, false
		}
	}
	bases := map[string]int{}
	for k, lane := range gr.Lanes {
		param := params[k]
		poff := offset[param]
		grad := map[*ir.Value]bool{}
		for _, r := range g.ResultsOf(ir.ResultGrad) {
			if r.Name == param.Name {
				grad[r.Value] = true
			}
		}
		if len(lane) != len(gr.Lanes[0]) {
			return nil, false
		}
		for j, v := range lane {
			if v0 := gr.Lanes[0][j]; v.Op != v0.Op || len(v.Args) != len(v0.Args) {
				return nil, false // every lane runs the first lane's chain
			}
			t := updates[v]
			if t != nil && t != param && (t.Op.Name != "state" || !strings.HasPrefix(t.Name, param.Name+".")) {
				return nil, false // an update of something else than this lane's param and state
			}
			for x, a := range append(append([]*ir.Value(nil), v.Args...), t) {
				if a == nil || inGroup[a] || a == param || grad[a] {
					continue
				}
				if a.Op.Name != "state" || !strings.HasPrefix(a.Name, param.Name+".") {
					// Anything else is read once: a shared scalar or constant.
					root := a
					for root.Op.Name == "reshape" {
						root = root.Args[0]
					}
					if n, ok := a.Type.Shape.Size(); (!ok || n != 1) && root.Op.Name != "const" && root.Op.Name != "numel" {
						return nil, false
					}
					if a0 := gr.Lanes[0][j].Args[x]; a0 != a && !sameConst(a0, root) {
						return nil, false
					}
					continue
				}
				kind := a.Name[len(param.Name):]
				off, ok := offset[a]
				if !ok {
					return nil, false
				}
				if base, seen := bases[kind]; seen && base+poff != off {
					return nil, false
				} else if !seen {
					bases[kind] = off - poff
				}
			}
		}
	}
	return bases, true
}

// sameConst reports whether a (through reshapes) is a constant equal to c.
func sameConst(a, c *ir.Value) bool {
	for a.Op.Name == "reshape" {
		a = a.Args[0]
	}
	return a.Op.Name == "const" && c.Op.Name == "const" && a.Type.DType == c.Type.DType && a.Attrs.Float("value") == c.Attrs.Float("value")
}

// blockOffsets gives params and state their offsets in their blocks.
func blockOffsets(g *ir.Graph) map[*ir.Value]int {
	out := map[*ir.Value]int{}
	if g.Plan != nil {
		for v, s := range g.Plan.Slots {
			if s.Block == "params" || s.Block == "state" {
				out[v] = s.Offset
			}
		}
		return out
	}
	for _, src := range [][]*ir.Value{g.Params(), g.State()} {
		off := 0
		for _, v := range src {
			out[v] = off
			n, _ := v.Type.Shape.Size()
			off += int(n)
		}
	}
	return out
}
