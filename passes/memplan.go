// Memplan: the storage plan of the step, made once for every backend and
// at every optimization level (g.Plan, ir/plan.go).
//
// Stages:
//  1. Storage (storage.go): the units backends emit (the fuse pass's groups,
//     with the optimizer update of all params as one loop over the params
//     block when its layout allows; every other computed value alone), which
//     entry points run each unit, its phase, and where every value lives:
//     params, grads and optimizer state are each one contiguous block (params
//     and state in graph order, the grads block with the params' layout, each
//     gradient computed straight into it when it can be, else copied there);
//     inputs stay the caller's; inline ops are written into expressions; a
//     view aliases its argument; members of a unit used only inside it live
//     in registers; a contraction writes its epilogue's output; the flat
//     optimizer loop writes params and state in place. Everything else needs
//     an arena slot (f32 and bool values in the float32 arena, i32 in the
//     int32 one), and so does the workspace of an op with Scratch.
//  2. In place (O2): an elementwise unit's output may take over the slot of
//     an arg of its shape and dtype that dies in that unit (read and written
//     at the same index of the same loop), merging their storage classes.
//  3. Liveness (O2): each class lives from the unit that defines it to its
//     last use; results and updates live to the end, so every entry point
//     (which runs a subset of the units in the same order) sees a valid
//     plan; a workspace lives in its unit.
//  4. Offsets: greedy by size (Pisarchyk and Lee, "Efficient Memory
//     Management for Deep Neural Net Inference", 2020, as TFLite's arena
//     planner does): classes in decreasing size each take the lowest offset
//     that overlaps no placed class with an intersecting live range (found
//     in a segment tree over the units, firstfit.go). Below
//     O2 every class lives for the whole step: nothing shares memory (one
//     buffer per value, the naive plan).
//
// The plan is sized for Context.MaxBatch; Context.Stats reports it against
// the naive sum. The pass does not reorder (schedule.go does) and plans no
// memory for inputs, which stay the caller's.

package passes

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mdlc/mdlc/ir"
)

// Memplan sets g.Plan (see above).
func Memplan(g *ir.Graph, c *Context) error {
	pl, st, err := plan(g, c.MaxBatch, c.Level == Default || c.Level >= O2)
	if err != nil {
		return err
	}
	g.Plan, c.Stats = pl, st
	return nil
}

// class is a storage class: arena slots sharing one range.
type class struct {
	vals       []*ir.Value // values, or the op of a workspace
	scratch    bool        // the workspace of vals[0]
	size       int
	i32        bool
	start, end int // live range in units
	offset     int
}

// PlanStats describes a memory plan.
type PlanStats struct {
	Ops, Units       int   // computed values; units
	Groups           int   // units of two or more values
	ArenaBytes       int64 // planned (float32 + int32 arenas)
	NaiveBytes       int64 // one buffer per computed value
	PeakBytes        int64 // the largest live set
	PeakAt           *ir.Value
	Params           int // trainable parameters (elements of the params block)
	ParamBytes       int64
	GradBytes        int64 // the grads block: ParamBytes, or 0 in an inference build (compile.Build)
	StateBytes       int64
	InPlace, Aliases int
	Registers        int
	Planned          bool // memory is shared (-O2); else every value has its own
	// Flops are the floating-point operations each entry point runs at
	// the largest batch, MaxBatch, counted for the ops with an
	// ir.OpDef.Flops (the GEMM-like ones); ConvFlops those of the
	// convolutions among them.
	Flops, ConvFlops [ir.NumEntries]float64
	MaxBatch         int
}

// plan builds the plan and its statistics; reuse shares memory between
// values whose lives do not overlap (-O2).
func plan(g *ir.Graph, maxBatch int, reuse bool) (*ir.Plan, *PlanStats, error) {
	if maxBatch <= 0 {
		maxBatch = 128
	}
	pl, err := storage(g, maxBatch)
	if err != nil {
		return nil, nil, err
	}
	us := pl.Units
	uidx := map[*ir.Unit]int{}
	st := &PlanStats{Planned: reuse, Units: len(us), Params: pl.Params, ParamBytes: int64(pl.Params) * 4, GradBytes: int64(pl.Params) * 4, StateBytes: int64(pl.State) * 4}
	st.MaxBatch = maxBatch
	for i, u := range us {
		uidx[u] = i
		if len(u.Values) > 1 {
			st.Groups++
		}
		for _, v := range u.Values {
			if v.Op.Flops == nil {
				continue
			}
			f := v.Op.Flops(v, maxBatch)
			for e := range ir.NumEntries {
				if u.Runs(e) {
					st.Flops[e] += f
					if v.Op.Family == ir.FamilyConv {
						st.ConvFlops[e] += f
					}
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
	classOf := map[*ir.Value]*class{}
	var classes []*class
	for _, v := range g.Values {
		if v.Op.Kind == ir.KindSource {
			continue
		}
		st.Ops++
		s := pl.Slots[v]
		if n, err := elements(v.Type.Shape, maxBatch); err == nil && !v.Op.View {
			st.NaiveBytes += int64(n) * 4
		}
		switch s.Storage {
		case ir.StoreAlias:
			st.Aliases++
		case ir.StoreRegister:
			st.Registers++
		case ir.StoreArena, ir.StoreIArena:
			c := &class{vals: []*ir.Value{v}, size: s.Size, i32: s.Storage == ir.StoreIArena}
			classOf[v] = c
			classes = append(classes, c)
		}
		if ws, ok := pl.Scratch[v]; ok {
			classes = append(classes, &class{vals: []*ir.Value{v}, scratch: true, size: ws.Size})
			st.NaiveBytes += int64(ws.Size) * 4
		}
	}

	// Last uses, by unit.
	lastUse := map[*ir.Value]int{}
	for i, u := range us {
		for _, v := range u.Values {
			for _, a := range v.Args {
				ra := pl.Root(a)
				lastUse[ra] = max(lastUse[ra], i)
			}
		}
	}
	for v := range external {
		lastUse[pl.Root(v)] = len(us)
	}

	// 2. In place: for each unit's stored values, take over a dying arg.
	if reuse {
		merged := map[*class]bool{}
		for i, u := range us {
			if u.Kind == ir.UnitContract || u.Kind == ir.UnitUpdate || u.Kind == ir.UnitOp && !isElementwise(u.Values[0]) {
				continue
			}
			in := map[*ir.Value]bool{}
			for _, v := range u.Values {
				in[v] = true
			}
			dying := dyingArgs(pl, u, i, in, classOf, lastUse, external)
			for _, v := range u.Values {
				c := classOf[v]
				if c == nil || len(c.vals) > 1 || external[v] || !isElementwise(v) {
					continue // a reduction sink clears its output before the loop reads
				}
				if ca := dying.take(v, c, merged); ca != nil {
					ca.vals = append(ca.vals, v)
					classOf[v] = ca
					merged[ca] = true
					c.vals = nil
					st.InPlace++
				}
			}
		}
		var live []*class
		for _, c := range classes {
			if len(c.vals) > 0 {
				live = append(live, c)
			}
		}
		classes = live
	}

	// 3. Liveness.
	for _, c := range classes {
		if !reuse {
			c.start, c.end = 0, len(us)
			continue
		}
		c.start, c.end = len(us), -1
		for _, v := range c.vals {
			i := uidx[pl.UnitOf[v]]
			c.start = min(c.start, i)
			c.end = max(c.end, i)
			if !c.scratch {
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
		ff := newFirstFit(len(us) + 1) // live ranges end at len(us) at the latest
		top := 0
		for _, c := range cs {
			c.offset = ff.place(c.start, c.end, c.size)
			top = max(top, c.offset+c.size)
		}
		if i32 {
			pl.IArena = top
		} else {
			pl.Arena = top
		}
	}
	for _, c := range classes {
		for _, v := range c.vals {
			if c.scratch {
				s := pl.Scratch[v]
				s.Offset = c.offset
				pl.Scratch[v] = s
				continue
			}
			s := pl.Slots[v]
			s.Offset = c.offset
			pl.Slots[v] = s
		}
	}
	st.ArenaBytes = int64(pl.Arena+pl.IArena) * 4
	// The largest live set: the bytes each unit's live classes add and drop.
	delta := make([]int64, len(us)+1)
	for _, c := range classes {
		if lo, hi := max(c.start, 0), min(c.end, len(us)-1); lo <= hi {
			delta[lo] += int64(c.size) * 4
			delta[hi+1] -= int64(c.size) * 4
		}
	}
	var b int64
	for i := range us {
		b += delta[i]
		if b > st.PeakBytes {
			st.PeakBytes, st.PeakAt = b, us[i].Values[0]
		}
	}
	return pl, st, nil
}

// dying holds the classes of the args of one unit that die in it and
// may give their slot to a member, keyed by shape, dtype and size, each
// list in the order of the unit's members and their args.
type dying map[dyingKey][]*class

type dyingKey struct {
	typ  string // dtype and shape
	size int
}

func keyOf(v *ir.Value, c *class) dyingKey { return dyingKey{v.Type.String(), c.size} }

// dyingArgs returns the classes of the args of unit u (at index i) from
// outside it whose last use is u: a root of the arg's shape in the arena,
// not a result or an update.
func dyingArgs(pl *ir.Plan, u *ir.Unit, i int, in map[*ir.Value]bool, classOf map[*ir.Value]*class, lastUse map[*ir.Value]int, external map[*ir.Value]bool) dying {
	d := dying{}
	for _, m := range u.Values {
		for _, a := range m.Args {
			ra := pl.Root(a)
			ca := classOf[ra]
			if in[a] || ca == nil || lastUse[ra] != i || external[ra] || !a.Type.Shape.Equal(ra.Type.Shape) {
				continue
			}
			k := keyOf(ra, ca)
			d[k] = append(d[k], ca)
		}
	}
	return d
}

// take returns the first class whose slot v (of class c) may take over: a
// dying arg with v's shape, dtype and size, and nothing else merged into
// it yet.
func (d dying) take(v *ir.Value, c *class, merged map[*class]bool) *class {
	k := keyOf(v, c)
	cs := d[k]
	for len(cs) > 0 && merged[cs[0]] {
		cs = cs[1:] // merged stays merged
	}
	d[k] = cs
	for _, ca := range cs {
		if ca != c && !merged[ca] {
			return ca
		}
	}
	return nil
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
		fmt.Fprintf(&b, "memory: not shared (-O0/-O1): arena %s, one buffer per computed value\n", bytesText(st.ArenaBytes))
	} else {
		fmt.Fprintf(&b, "memory: arena %s planned vs %s naive (%.0f%%); %d in place, %d aliases, %d values in registers\n",
			bytesText(st.ArenaBytes), bytesText(st.NaiveBytes), pct(st.ArenaBytes, st.NaiveBytes), st.InPlace, st.Aliases, st.Registers)
	}
	where := "-"
	if st.PeakAt != nil && st.Planned {
		where = fmt.Sprintf("%%%d %s at %s", st.PeakAt.ID, st.PeakAt.Op.Name, st.PeakAt.Pos)
	}
	fmt.Fprintf(&b, "        largest live set %s, at %s\n", bytesText(st.PeakBytes), where)
	fmt.Fprintf(&b, "        %s parameters: params %s, grads %s, state %s (one block each)\n", thousands(st.Params), bytesText(st.ParamBytes), bytesText(st.GradBytes), bytesText(st.StateBytes))
	if line := st.flopsLine(); line != "" {
		b.WriteString(line)
	}
	return b.String()
}

// flopsLine is the report's line of floating-point operations: per
// training step at the largest batch (or per forward batch for a model
// without one) and per example of the forward pass, convolutions apart;
// empty when the model has no GEMM-like op.
func (st *PlanStats) flopsLine() string {
	fw, step := st.Flops[ir.EntryForward], st.Flops[ir.EntryStep]
	if fw == 0 && step == 0 || st.MaxBatch == 0 {
		return ""
	}
	split := func(e ir.Entry, scale float64) string {
		if st.ConvFlops[e] == 0 {
			return ""
		}
		return fmt.Sprintf(" (%s in convolutions)", flopsText(st.ConvFlops[e]*scale))
	}
	perExample := 1 / float64(st.MaxBatch)
	fwText := fmt.Sprintf("forward %s per example%s", flopsText(fw*perExample), split(ir.EntryForward, perExample))
	if step == 0 {
		return fmt.Sprintf("flops:  %s\n", fwText)
	}
	return fmt.Sprintf("flops:  %s per training step at batch %d%s; %s\n", flopsText(step), st.MaxBatch, split(ir.EntryStep, 1), fwText)
}

// flopsText writes f with a decimal prefix: 1.37 GFLOP.
func flopsText(f float64) string {
	for _, u := range []struct {
		scale float64
		name  string
	}{{1e12, "TFLOP"}, {1e9, "GFLOP"}, {1e6, "MFLOP"}, {1e3, "kFLOP"}} {
		if f >= u.scale {
			return fmt.Sprintf("%.3g %s", f/u.scale, u.name)
		}
	}
	return fmt.Sprintf("%.0f FLOP", f)
}

// thousands writes n with comma separators: 3,453,121 (as Keras counts).
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
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
