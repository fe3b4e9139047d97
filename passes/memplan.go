// Memplan: static memory planning of the step into one arena.
//
// Stages:
//  1. Storage: decide which values need memory of their own, as the Go
//     backend stores them: params, grads and optimizer state are each one
//     contiguous block (params and state in graph order, the grads block
//     with the params' layout, each gradient computed straight into it);
//     constants and element counts are inlined; a reshape aliases its
//     argument; members of a group used only inside it live in registers; a
//     matmul anchoring a group writes the group's output; the flat optimizer
//     loop writes params and state in place. Everything else needs an arena
//     slot (f32 and bool in the float32 arena, i32 in the int32 one).
//  2. In place: an elementwise unit's output may take over the slot of an
//     arg of its shape and dtype that dies in that unit (read and written at
//     the same index of the same loop), merging their storage classes.
//  3. Liveness: each class lives from the unit that defines it to its last
//     use; results (outputs, loss, metrics) live to the end, so every entry
//     point (which computes a subset of the units in the same order) sees a
//     valid plan.
//  4. Offsets: greedy by size (Pisarchyk and Lee, "Efficient Memory
//     Management for Deep Neural Net Inference", 2020, as TFLite's arena
//     planner does): classes in decreasing size each take the lowest offset
//     that overlaps no placed class with an intersecting live range.
//
// The result is g.Plan, sized for Context.MaxBatch; Stats reports it against
// the naive sum (one buffer per computed value). The pass does not reorder
// (schedule.go does) and plans nothing for inputs, which stay the caller's.

package passes

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mdlc/mdlc/ir"
)

// Memplan sets g.Plan (see above).
func Memplan(g *ir.Graph, c *Context) error {
	pl, _, err := plan(g, c.MaxBatch)
	if err != nil {
		return err
	}
	g.Plan = pl
	return nil
}

// class is a storage class: values sharing one slot.
type class struct {
	vals       []*ir.Value
	size       int
	i32        bool
	start, end int // live range in units
	offset     int
}

// PlanStats describes a memory plan.
type PlanStats struct {
	Ops, Units         int   // computed values; groups + ungrouped values
	Groups             int   // groups of two or more ops
	ArenaBytes         int64 // planned (float32 + int32 arenas)
	NaiveBytes         int64 // one buffer per computed value
	PeakBytes          int64 // the largest live set
	PeakAt             *ir.Value
	ParamBytes         int64
	StateBytes         int64
	InPlace, Aliases   int
	InlinedOrRegisters int
	Planned            bool // a plan was made (-O2); else the arena is the naive sum
}

// plan computes the memory plan and its statistics.
func plan(g *ir.Graph, maxBatch int) (*ir.Plan, *PlanStats, error) {
	if maxBatch <= 0 {
		maxBatch = 128
	}
	st := &PlanStats{Planned: true}
	size := func(v *ir.Value) int {
		d, ok := v.Type.Shape.Size()
		if !ok {
			return 0
		}
		return d.Resolve(maxBatch)
	}
	us, of := units(g)
	uidx := map[*unit]int{}
	for i, u := range us {
		uidx[u] = i
		if u.group != nil {
			st.Groups++
		}
	}
	st.Units = len(us)
	pl := &ir.Plan{MaxBatch: maxBatch, Slots: map[*ir.Value]ir.Slot{}}

	// 1. Storage.
	off := 0
	for _, p := range g.Params() {
		pl.Slots[p] = ir.Slot{Block: "params", Offset: off, Size: size(p)}
		off += size(p)
	}
	st.ParamBytes = int64(off) * 4
	soff := 0
	for _, s := range g.State() {
		pl.Slots[s] = ir.Slot{Block: "state", Offset: soff, Size: size(s)}
		soff += size(s)
	}
	st.StateBytes = int64(soff) * 4
	external := map[*ir.Value]bool{}
	for _, r := range g.Results {
		external[r.Value] = true
	}
	for _, up := range g.Updates {
		external[up.Value] = true
	}
	inGrads := map[*ir.Value]bool{}
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		p := g.Lookup(r.Name)
		v := r.Value
		if p == nil || inGrads[v] || v.Op.Bound() || v.Op.Kind == ir.KindSource || v.Op.Name == "reshape" {
			continue
		}
		inGrads[v] = true
		pl.Slots[v] = ir.Slot{Block: "grads", Offset: pl.Slots[p].Offset, Size: size(v)}
	}
	usedOutside := map[*ir.Value]bool{}
	for _, v := range g.Values {
		for _, a := range v.Args {
			if of[a] != nil && of[a] != of[v] {
				usedOutside[a] = true
			}
		}
	}
	inPlaceTargets := map[*ir.Value]bool{}
	for _, u := range us {
		if u.group == nil || u.group.Lanes == nil {
			continue
		}
		if _, flat := FlatLanes(g, u.group); flat {
			for _, v := range u.vals {
				if external[v] {
					inPlaceTargets[v] = true
				}
			}
		}
	}
	classOf := map[*ir.Value]*class{}
	var classes []*class
	root := func(v *ir.Value) *ir.Value {
		for v.Op.Name == "reshape" {
			v = v.Args[0]
		}
		return v
	}
	for _, v := range g.Values {
		if v.Op.Kind == ir.KindSource {
			continue
		}
		st.Ops++
		if v.Op.Name != "reshape" {
			st.NaiveBytes += int64(size(v)) * 4
		}
		u := of[v]
		switch {
		case v.Op.Name == "reshape":
			st.Aliases++
			continue
		case inGrads[v] || inPlaceTargets[v]:
			continue
		case u.group != nil && u.group.Kind == ir.KindContraction && u.vals[0] == v:
			st.Aliases++
			continue // writes its group's output
		case u.group != nil && !usedOutside[v] && !external[v]:
			st.InlinedOrRegisters++
			continue
		}
		c := &class{vals: []*ir.Value{v}, size: size(v), i32: v.Type.DType == ir.I32}
		classOf[v] = c
		classes = append(classes, c)
	}

	// 2. In place: for each unit's stored outputs, take over a dying arg.
	lastUse := map[*ir.Value]int{}
	for i, u := range us {
		for _, v := range u.vals {
			for _, a := range v.Args {
				ra := root(a)
				lastUse[ra] = max(lastUse[ra], i)
			}
		}
	}
	for v := range external {
		lastUse[root(v)] = len(us)
	}
	merged := map[*class]bool{}
	for i, u := range us {
		if u.group != nil && (u.group.Kind == ir.KindContraction || u.group.Lanes != nil) {
			continue
		}
		if u.group == nil && !isElementwise(u.vals[0]) {
			continue
		}
		in := map[*ir.Value]bool{}
		for _, v := range u.vals {
			in[v] = true
		}
		for _, v := range u.vals {
			c := classOf[v]
			if c == nil || len(c.vals) > 1 || external[v] || !isElementwise(v) {
				continue // a reduction sink clears its output before the loop reads
			}
			space := v.Type.Shape
			for _, m := range u.vals {
				for _, a := range m.Args {
					ra := root(a)
					ca := classOf[ra]
					if in[a] || ca == nil || merged[ca] || ca == c || lastUse[ra] != i || external[ra] ||
						!a.Type.Shape.Equal(space) || !ra.Type.Shape.Equal(space) || ra.Type.DType != v.Type.DType || ca.size != c.size {
						continue
					}
					// v takes over a's slot.
					ca.vals = append(ca.vals, v)
					classOf[v] = ca
					merged[ca] = true
					c.vals = nil
					st.InPlace++
					goto next
				}
			}
		next:
		}
	}
	var live []*class
	for _, c := range classes {
		if len(c.vals) > 0 {
			live = append(live, c)
		}
	}
	classes = live

	// 3. Liveness.
	for _, c := range classes {
		c.start, c.end = len(us), -1
		for _, v := range c.vals {
			c.start = min(c.start, uidx[of[v]])
			c.end = max(c.end, uidx[of[v]], lastUse[v])
		}
	}
	// Reshapes extend their root's life.
	for _, v := range g.Values {
		if v.Op.Name == "reshape" {
			if c := classOf[root(v)]; c != nil {
				c.end = max(c.end, lastUse[v])
			}
		}
	}

	// 4. Offsets, greedy by size, per arena.
	for _, i32 := range []bool{false, true} {
		var cs []*class
		for _, c := range classes {
			if c.i32 == i32 {
				cs = append(cs, c)
			}
		}
		sort.SliceStable(cs, func(a, b int) bool { return cs[a].size > cs[b].size })
		var placed []*class
		top := 0
		for _, c := range cs {
			var overlap []*class
			for _, p := range placed {
				if p.start <= c.end && c.start <= p.end {
					overlap = append(overlap, p)
				}
			}
			sort.Slice(overlap, func(a, b int) bool { return overlap[a].offset < overlap[b].offset })
			at := 0
			for _, p := range overlap {
				if at+c.size <= p.offset {
					break
				}
				at = max(at, p.offset+p.size)
			}
			c.offset = at
			top = max(top, at+c.size)
			placed = append(placed, c)
		}
		if i32 {
			pl.IArena = top
		} else {
			pl.Arena = top
		}
	}
	for _, c := range classes {
		block := "arena"
		if c.i32 {
			block = "iarena"
		}
		for _, v := range c.vals {
			pl.Slots[v] = ir.Slot{Block: block, Offset: c.offset, Size: size(v)}
		}
	}
	st.ArenaBytes = int64(pl.Arena+pl.IArena) * 4
	// The largest live set.
	for i := range us {
		var b int64
		for _, c := range classes {
			if c.start <= i && i <= c.end {
				b += int64(c.size) * 4
			}
		}
		if b > st.PeakBytes {
			st.PeakBytes, st.PeakAt = b, us[i].vals[0]
		}
	}
	return pl, st, nil
}

// Stats plans g's memory (without changing g) and returns the statistics
// that `mdlc build -stats` prints.
func Stats(g *ir.Graph, maxBatch int) (*PlanStats, error) {
	_, st, err := plan(g, maxBatch)
	if err == nil && g.Plan == nil {
		// Not planned (-O0, -O1): every computed value has its own buffer.
		st.ArenaBytes, st.InPlace = st.NaiveBytes, 0
		st.PeakBytes, st.PeakAt = st.NaiveBytes, nil
		st.Planned = false
	}
	return st, err
}

// Format writes the statistics as a short report.
func (st *PlanStats) Format(opsBefore int) string {
	var b strings.Builder
	pct := func(a, b int64) float64 {
		if b == 0 {
			return 0
		}
		return 100 * float64(a) / float64(b)
	}
	fmt.Fprintf(&b, "ops:    %d before fusion, %d kernels after (%d groups of 2+ ops), %.0f%% of the op count\n",
		opsBefore, st.Units, st.Groups, pct(int64(st.Units), int64(opsBefore)))
	if !st.Planned {
		fmt.Fprintf(&b, "memory: not planned (-O0/-O1): arena %s, one buffer per computed value\n", bytesText(st.ArenaBytes))
	} else {
		fmt.Fprintf(&b, "memory: arena %s planned vs %s naive (%.0f%%); %d in place, %d aliases, %d values in registers\n",
			bytesText(st.ArenaBytes), bytesText(st.NaiveBytes), pct(st.ArenaBytes, st.NaiveBytes), st.InPlace, st.Aliases, st.InlinedOrRegisters)
	}
	where := "-"
	if st.PeakAt != nil {
		where = fmt.Sprintf("%%%d %s at %s", st.PeakAt.ID, st.PeakAt.Op.Name, st.PeakAt.Pos)
	}
	fmt.Fprintf(&b, "        largest live set %s, at %s\n", bytesText(st.PeakBytes), where)
	fmt.Fprintf(&b, "        params %s, grads %s, optimizer state %s (one block each)\n", bytesText(st.ParamBytes), bytesText(st.ParamBytes), bytesText(st.StateBytes))
	return b.String()
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
