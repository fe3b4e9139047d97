package gogen

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/mdlc/mdlc/ir"
)

// Units split over examples. A unit whose every value is example-major
// (its first axis is the batch, or a multiple of it, and no other axis
// is) and which computes each example's elements from that example's
// elements and from values without a batch axis (params, constants) is
// emitted as a method over examples lo..hi-1 instead of 0..n-1: every
// example-major buffer it touches becomes a local slice starting at
// example lo, and n the number of examples, so its body is the code the
// unit has anyway. The step calls it through forExamples, which hands
// ranges of examples to the cores (rt.ParallelRows) when there is work
// for them. Each element is computed by the same code in the same order
// whatever the split, so results do not depend on the number of cores.
//
// What is split: elementwise loops, reductions whose result keeps the
// batch axis (layer norm's means over the features), softmax-like lanes
// and masked softmax along a non-batch axis, transposes that keep the
// batch axis first, slices and pads along another axis. What is not: a
// reduction over the batch (a bias gradient), a GEMM (Sgemm splits it),
// a unit reading the step's inputs, index ops (gather, scatter: they
// record faults), random draws (counter-based on the flat index), and
// anything else.

// perExample is the element count per example of shape s when s is
// example-major, or false.
func perExample(s ir.Shape) (int, bool) {
	if len(s) == 0 || !s[0].IsBatch() {
		return 0, false
	}
	size := int(-s[0])
	for _, d := range s[1:] {
		if d.IsBatch() {
			return 0, false
		}
		size *= int(d)
	}
	return size, true
}

// hasBatch reports whether shape s has a batch axis.
func hasBatch(s ir.Shape) bool {
	for _, d := range s {
		if d.IsBatch() {
			return true
		}
	}
	return false
}

// exampleSplit reports whether unit u is split over examples, and its
// work per example (the largest per-example size of its values).
func (p *plan) exampleSplit(u *ir.Unit) (int, bool) {
	switch u.Kind {
	case ir.UnitLoop, ir.UnitReduce:
		for _, v := range u.Values {
			switch {
			case v.Op.Family == ir.FamilyElementwise:
			case v.Op.Family == ir.FamilyReduce && v.Op.Reduce != ir.ReduceNone:
			default:
				return 0, false
			}
		}
	case ir.UnitOp:
		v := u.Values[0]
		r := v.Type.Shape.Rank()
		axis := func() int {
			ax, err := ir.NormAxes([]int{v.Attrs.Int("axis")}, v.Args[0].Type.Shape.Rank())
			if err != nil {
				return 0
			}
			return ax[0]
		}
		switch {
		case v.Op.Name == "masked_softmax" || v.Op.Name == "masked_softmax_grad":
			if r < 3 { // the mask needs whole [Tq, Tk] blocks per example
				return 0, false
			}
		case v.Op.Family == ir.FamilyLane, v.Op.Family == ir.FamilySlice, v.Op.Family == ir.FamilyPad:
			if axis() == 0 {
				return 0, false
			}
		case v.Op.Family == ir.FamilyTranspose:
			if perm := v.Attrs.Ints("perm"); len(perm) == 0 || perm[0] != 0 {
				return 0, false
			}
		default:
			return 0, false
		}
	default:
		return 0, false
	}
	work := 0
	for _, v := range u.Values {
		size, ok := perExample(v.Type.Shape)
		if !ok {
			return 0, false
		}
		if root := p.source(v); root != v {
			if rs, ok := perExample(root.Type.Shape); !ok || rs != size {
				return 0, false
			}
		}
		work = max(work, size)
		for _, a := range v.Args {
			if p.inline(a) {
				continue
			}
			root := p.source(a)
			if p.slot(root).Storage == ir.StoreInput {
				return 0, false
			}
			if !hasBatch(a.Type.Shape) && !hasBatch(root.Type.Shape) {
				continue // the same for every example
			}
			as, ok := perExample(a.Type.Shape)
			rs, rok := perExample(root.Type.Shape)
			if !ok || !rok || as != rs {
				return 0, false
			}
		}
	}
	return work, true
}

// exLocals is the state of a split unit's emission: the local slice
// (starting at example lo) of every example-major buffer it refers to.
type exLocals struct {
	name  map[*ir.Value]string
	order []*ir.Value
	size  map[*ir.Value]int
}

// exRef is ref inside a split unit: the local slice of an example-major
// buffer, else "".
func (p *plan) exRef(root *ir.Value) string {
	size, ok := perExample(root.Type.Shape)
	if p.ex == nil || !ok || !p.slot(root).Storage.InBlock() {
		return ""
	}
	if s, ok := p.ex.name[root]; ok {
		return s
	}
	s := p.names.Name(p.ident(root), "ex")
	p.ex.name[root], p.ex.size[root] = s, size
	p.ex.order = append(p.ex.order, root)
	return s
}

// exPrologue declares the locals of a split unit's method that its body
// uses.
func (p *plan) exPrologue(ex *exLocals, body string) string {
	var b strings.Builder
	b.WriteString("n := hi - lo // examples lo..hi-1, numbered from 0 below\n")
	words := map[string]bool{}
	for _, w := range strings.FieldsFunc(body, func(r rune) bool { return !(r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) }) {
		words[w] = true
	}
	for _, v := range ex.order {
		if words[ex.name[v]] {
			fmt.Fprintf(&b, "%s := m.%s[lo*%d:]\n", ex.name[v], p.ident(v), ex.size[v])
		}
	}
	return b.String()
}
