// Schedule: order the step to lower peak live memory.
//
// The pass treats each group (and each ungrouped value) as one unit and
// list-schedules the units: among those whose args are all computed, it
// picks the one that frees the most memory (bytes of args it is the last
// user of minus bytes it allocates), and when none frees any, the earliest
// in the original order, so the code keeps the order it was written in
// unless memory is to be gained. A unit that updates params or state in
// place (the flat optimizer loop) waits for every other reader of them.
// Sources move to the front in their original order; group members end up
// contiguous, in their order. The ready units sit in two heaps (by cost,
// by order), and a unit's cost changes only when it becomes the last
// reader of an arg, so a step costs O(log units), not a scan of them all.
// The pass changes no value, only g.Values' order.

package passes

import (
	"container/heap"

	"github.com/mdlc/mdlc/ir"
)

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

	// A unit's cost is the bytes it allocates minus the bytes of the args
	// from outside it (not sources, results or updates) that it is the last
	// unscheduled user of. It only falls as other units are scheduled: an
	// arg's last user is charged when its remaining users drop to one.
	counts := func(u *unit, a *ir.Value) bool { return of[a] != u && a.Op.Kind != ir.KindSource && !external[a] }
	cost := make([]int64, len(us))
	waiting := make([]int, len(us)) // unscheduled dependencies
	dependents := make([][]int, len(us))
	for i, u := range us {
		for _, v := range u.vals {
			cost[i] += size(v)
		}
		counted := map[*ir.Value]bool{}
		for _, v := range u.vals {
			for _, a := range v.Args {
				if counts(u, a) && !counted[a] {
					counted[a] = true
					if remaining[a] == 1 {
						cost[i] -= size(a)
					}
				}
			}
		}
		waiting[i] = len(deps[i])
		for d := range deps[i] {
			dependents[d] = append(dependents[d], i)
		}
	}

	// The ready units, twice: by cost (then index), and by index. The
	// scheduled unit is the ready one that frees the most memory, or, when
	// none frees any, the earliest ready one. Entries whose cost changed or
	// whose unit is scheduled are skipped when they come up.
	done := make([]bool, len(us))
	byCost := &unitHeap{less: func(a, b heapEntry) bool { return a.cost < b.cost || a.cost == b.cost && a.i < b.i }}
	byIndex := &unitHeap{less: func(a, b heapEntry) bool { return a.i < b.i }}
	ready := func(i int) {
		heap.Push(byCost, heapEntry{i, cost[i]})
		heap.Push(byIndex, heapEntry{i, cost[i]})
	}
	for i := range us {
		if waiting[i] == 0 {
			ready(i)
		}
	}
	var order []int
	for len(order) < len(us) {
		for byCost.Len() > 0 && (done[byCost.top().i] || byCost.top().cost != cost[byCost.top().i]) {
			heap.Pop(byCost)
		}
		for byIndex.Len() > 0 && done[byIndex.top().i] {
			heap.Pop(byIndex)
		}
		if byIndex.Len() == 0 {
			return nil // a cycle cannot happen in a valid graph; keep the order
		}
		best := byIndex.top().i
		if byCost.Len() > 0 && byCost.top().cost < 0 {
			best = byCost.top().i
		}
		done[best] = true
		order = append(order, best)
		seen := map[*ir.Value]bool{}
		for _, v := range us[best].vals {
			for _, a := range v.Args {
				if seen[a] {
					continue
				}
				seen[a] = true
				if remaining[a]--; remaining[a] != 1 {
					continue
				}
				for w := range users[a] {
					if !done[w] && counts(us[w], a) {
						cost[w] -= size(a)
						if waiting[w] == 0 && size(a) != 0 {
							heap.Push(byCost, heapEntry{w, cost[w]})
						}
					}
				}
			}
		}
		for _, w := range dependents[best] {
			if waiting[w]--; waiting[w] == 0 {
				ready(w)
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

// heapEntry is a ready unit and its cost when it was pushed.
type heapEntry struct {
	i    int
	cost int64
}

// unitHeap is a heap of ready units (container/heap).
type unitHeap struct {
	es   []heapEntry
	less func(a, b heapEntry) bool
}

func (h *unitHeap) Len() int           { return len(h.es) }
func (h *unitHeap) Less(i, j int) bool { return h.less(h.es[i], h.es[j]) }
func (h *unitHeap) Swap(i, j int)      { h.es[i], h.es[j] = h.es[j], h.es[i] }
func (h *unitHeap) Push(x any)         { h.es = append(h.es, x.(heapEntry)) }
func (h *unitHeap) Pop() any {
	e := h.es[len(h.es)-1]
	h.es = h.es[:len(h.es)-1]
	return e
}
func (h *unitHeap) top() heapEntry { return h.es[0] }
