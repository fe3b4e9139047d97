// Schedule: order the step to lower peak live memory.
//
// The pass treats each group (and each ungrouped value) as one unit and
// list-schedules the units: among those whose args are all computed, it
// picks the one that frees the most memory (bytes of args it is the last
// user of minus bytes it allocates), and when none frees any, the earliest
// in the original order, so the code keeps the order it was written in
// unless memory is to be gained. A unit that updates params or state in place (the flat optimizer
// loop) waits for every other reader of them. Sources move to the front in
// their original order; group members end up contiguous, in their order.
// The pass changes no value, only g.Values' order.

package passes

import "github.com/mdlc/mdlc/ir"

// Schedule reorders g.Values (see above).
func Schedule(g *ir.Graph, c *Context) error {
	us, of := units(g)
	index := map[*unit]int{}
	for i, u := range us {
		index[u] = i
	}
	// Dependencies between units and the users of each value.
	deps := make([]map[int]bool, len(us))
	users := map[*ir.Value]map[int]bool{}
	for i, u := range us {
		deps[i] = map[int]bool{}
		for _, v := range u.vals {
			for _, a := range v.Args {
				if au := of[a]; au != nil && au != u {
					deps[i][index[au]] = true
				}
				if users[a] == nil {
					users[a] = map[int]bool{}
				}
				users[a][i] = true
			}
		}
	}
	for i, u := range us {
		for t := range targetsWrittenInPlace(g, u) {
			for r := range users[t] {
				if r != i {
					deps[i][r] = true
				}
			}
		}
	}
	external := map[*ir.Value]bool{}
	for _, r := range g.Results {
		external[r.Value] = true
	}
	for _, up := range g.Updates {
		external[up.Value] = true
	}
	size := func(v *ir.Value) int64 {
		d, ok := v.Type.Shape.Size()
		if !ok {
			return 0
		}
		return int64(d.Resolve(c.MaxBatch)) * 4
	}
	remaining := map[*ir.Value]int{} // unscheduled user units per value
	for v, us := range users {
		remaining[v] = len(us)
	}
	done := make([]bool, len(us))
	var order []int
	for len(order) < len(us) {
		best, bestCost := -1, int64(0)
		for i, u := range us {
			if done[i] {
				continue
			}
			ready := true
			for d := range deps[i] {
				ready = ready && done[d]
			}
			if !ready {
				continue
			}
			var cost int64
			in := map[*ir.Value]bool{}
			for _, v := range u.vals {
				in[v] = true
			}
			for _, v := range u.vals {
				cost += size(v)
			}
			counted := map[*ir.Value]bool{}
			for _, v := range u.vals {
				for _, a := range v.Args {
					if in[a] || counted[a] || a.Op.Kind == ir.KindSource || external[a] {
						continue
					}
					counted[a] = true
					if remaining[a] == 1 {
						cost -= size(a)
					}
				}
			}
			// Prefer the unit that frees the most memory; when none frees
			// any, keep the original order (the earliest ready unit).
			switch {
			case best < 0:
				best, bestCost = i, cost
			case cost < 0 && cost < bestCost:
				best, bestCost = i, cost
			}
		}
		if best < 0 {
			return nil // a cycle cannot happen in a valid graph; keep the order
		}
		done[best] = true
		order = append(order, best)
		seen := map[*ir.Value]bool{}
		for _, v := range us[best].vals {
			for _, a := range v.Args {
				if !seen[a] {
					seen[a] = true
					remaining[a]--
				}
			}
		}
	}
	var vals []*ir.Value
	for _, v := range g.Values {
		if v.Op.Kind == ir.KindSource {
			vals = append(vals, v)
		}
	}
	for _, i := range order {
		vals = append(vals, us[i].vals...)
	}
	g.Values = vals
	g.Renumber()
	return nil
}
