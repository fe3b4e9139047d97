package api

import (
	"sort"
	"strings"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
)

// LayerStateRuns are the ranges [lo, hi) of the state block holding the
// layers' state that a step updates (batch_norm's moving statistics; not
// the optimizer's), adjacent ranges merged.
func LayerStateRuns(g *ir.Graph) [][2]int {
	updated := map[*ir.Value]bool{}
	for _, u := range g.Updates {
		updated[u.Target] = true
	}
	var runs [][2]int
	for _, v := range g.State() {
		if !updated[v] || strings.HasPrefix(v.Name, passes.StatePrefix) {
			continue
		}
		s := g.Plan.Slots[v]
		runs = append(runs, [2]int{s.Offset, s.Offset + s.Size})
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i][0] < runs[j][0] })
	var out [][2]int
	for _, r := range runs {
		if len(out) > 0 && out[len(out)-1][1] == r[0] {
			out[len(out)-1][1] = r[1]
			continue
		}
		out = append(out, r)
	}
	return out
}
