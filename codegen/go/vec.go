package gogen

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mdlc/mdlc/ir"
)

// Vectorized inner loops. The innermost loop of a fused group whose ops all
// have a runtime vector primitive (rt.VAdd, ...) is strip-mined: each
// member is computed for VecChunk elements at a time by one primitive call,
// into a strip of the function's vt array or straight into its output. The
// primitives give every element the same IEEE float32 result as the scalar
// expression, so this is a pure speed-up (AVX2 on amd64): the Adam update,
// ReLU backward and bias gradients of a training step run 8 lanes wide.

// vecPrims names the primitive of each op that has one.
var vecPrims = map[string]string{
	"add": "VAdd", "sub": "VSub", "mul": "VMul", "div": "VDiv",
	"sqrt": "VSqrt", "neg": "VNeg", "relu": "VRelu",
	"eq": "VEq", "ne": "VNe", "lt": "VLt", "le": "VLe", "gt": "VGt", "ge": "VGe",
	"where": "VWhere",
	"exp":   "VExp", "tanh": "VTanh", "sigmoid": "VSigmoid", "gelu": "VGelu", "gelu_grad": "VGeluGrad",
}

// vecMinLen is the default shortest inner loop worth strip-mining: below
// it the calls cost more than the scalar loop.
const vecMinLen = 64

// asmMinLen is the shortest inner loop given an AVX2 function (asm.go),
// which costs one call per row: rows of 16 to 63 elements (a CNN's first
// layers have 32 channels) get it but no strip-mined loop.
const asmMinLen = 16

// floatLike: f32 or bool (stored as 0/1 float32).
func floatLike(v *ir.Value) bool { return v.Type.DType == ir.F32 || v.Type.DType == ir.Bool }

// vectorizable reports whether members (and the row sink, if any) can run
// as vector primitives over an inner loop of length inner.
func (p *plan) vectorizable(members []*ir.Value, sink *ir.Value, inner int) bool {
	if inner < p.vecMin {
		return false
	}
	for _, v := range members {
		if (vecPrims[v.Op.Name] == "" && !v.Op.Identity) || !floatLike(v) || p.slot(v).Storage == ir.StoreAlias {
			return false
		}
		for _, a := range v.Args {
			if !floatLike(a) {
				return false
			}
		}
	}
	return sink == nil || ((sink.Op.Reduce == ir.ReduceSum || sink.Op.Reduce == ir.ReduceMean) && sink.Type.DType == ir.F32)
}

// vecLoop is one strip-mined inner loop.
type vecLoop struct {
	k       *kgen
	members []*ir.Value
	member  func(a *ir.Value) bool   // computed in the loop (set by plan)
	slices  map[*ir.Value]string     // external arrays: slices of the loop's length
	scalar  func(a *ir.Value) string // any other arg: its scalar expression
	outs    map[*ir.Value]string     // stored members: their output slice
	sink    *ir.Value                // sinkTo[j] += sink.Args[0] (a row sink)
	sinkTo  string
	// mayAlias reports whether output slice out may share memory with
	// input slice in; such an output is written from a strip after the
	// last read of in.
	mayAlias func(out, in string) bool

	splat  map[string]int // scalar expression -> its strip, filled once
	splats []string       // in strip order
	splatV []*ir.Value    // the value of each splat
	temp   map[*ir.Value]int
	direct map[*ir.Value]bool // computed straight into its output
	slots  int
}

// plan gives each scalar operand a strip, decides which stored members are
// computed straight into their output, and gives the others strips by
// liveness (a strip is reused once its value's last reader has run).
func (l *vecLoop) plan() {
	l.splat, l.direct = map[string]int{}, map[*ir.Value]bool{}
	in := map[*ir.Value]bool{}
	for _, v := range l.members {
		in[v] = true
	}
	l.member = func(a *ir.Value) bool { return in[a] }
	n := len(l.members)
	type read struct {
		at   int
		name string
	}
	var reads []read
	use := func(i int, a *ir.Value) {
		switch {
		case l.member(a):
		case l.slices[a] != "":
			reads = append(reads, read{i, l.slices[a]})
		default:
			if s := l.scalar(a); !slices.Contains(l.splats, s) {
				l.splat[s] = len(l.splats)
				l.splats = append(l.splats, s)
				l.splatV = append(l.splatV, a)
			}
		}
	}
	for i, v := range l.members {
		for _, a := range v.Args {
			use(i, a)
		}
	}
	if l.sink != nil {
		reads = append(reads, read{n, l.sinkTo})
		use(n, l.sink.Args[0])
	}
	for i, v := range l.members {
		out := l.outs[v]
		if out == "" || v.Op.Identity {
			continue
		}
		l.direct[v] = true
		for _, r := range reads {
			if r.at > i && l.mayAlias(out, r.name) {
				l.direct[v] = false
			}
		}
	}
	l.temp, l.slots, _ = l.assign(func(v *ir.Value) bool { return l.direct[v] },
		func(v *ir.Value) bool { return l.outs[v] != "" && !l.direct[v] }, len(l.splats), -1)
}

// assign gives every member that is not an identity and not skipped a slot
// (a strip or a register) for its value, numbered from first up, reusing
// a slot once the last reader of its value has run: an op may write the
// slot it reads (both the primitives and the instructions work element by
// element). A value kept (stored at the end) holds its slot to the end,
// and so does the value a row sink accumulates. It returns the slots, how
// many were used (first included), and false when more than limit would
// be needed (limit < 0: no limit).
func (l *vecLoop) assign(skip, keep func(v *ir.Value) bool, first, limit int) (map[*ir.Value]int, int, bool) {
	n := len(l.members)
	last := map[*ir.Value]int{}
	for i, v := range l.members {
		for _, a := range v.Args {
			if l.member(a) {
				last[l.root(a)] = i
			}
		}
	}
	for _, v := range l.members {
		if keep(v) {
			last[l.root(v)] = n + 1
		}
	}
	if l.sink != nil && l.member(l.sink.Args[0]) {
		last[l.root(l.sink.Args[0])] = max(last[l.root(l.sink.Args[0])], n)
	}
	slot := map[*ir.Value]int{}
	var free []int
	next := first
	released := map[*ir.Value]bool{}
	for i, v := range l.members {
		if v.Op.Identity {
			continue
		}
		for _, a := range v.Args {
			r := l.root(a)
			if t, ok := slot[r]; ok && l.member(a) && last[r] == i && !released[r] {
				free = append(free, t)
				released[r] = true
			}
		}
		if skip(v) {
			continue
		}
		if len(free) > 0 {
			slot[v], free = free[len(free)-1], free[:len(free)-1]
			continue
		}
		if limit >= 0 && next >= limit {
			return nil, 0, false
		}
		slot[v] = next
		next++
	}
	return slot, next, true
}

// root follows identity members (broadcasts) to the value they repeat.
func (l *vecLoop) root(a *ir.Value) *ir.Value {
	for l.member(a) && a.Op.Identity {
		a = a.Args[0]
	}
	return a
}

// fill emits the fills of the splats whose expression keep accepts.
func (l *vecLoop) fill(keep func(expr string) bool) {
	for i, s := range l.splats {
		if keep(s) {
			l.k.printf("rt.VFill(vt[%d][:], %s)\n", i, s)
		}
	}
}

// loop emits the strip loop over n elements.
func (l *vecLoop) loop(n string) {
	var b strings.Builder
	usesW := false
	operand := func(a *ir.Value) string {
		if l.member(a) {
			a = l.root(a)
		}
		switch {
		case l.member(a) && l.direct[a]:
			return l.outs[a] + "[c:e]"
		case l.member(a):
			usesW = true
			return fmt.Sprintf("vt[%d][:w]", l.temp[a])
		case l.slices[a] != "":
			return l.slices[a] + "[c:e]"
		}
		return fmt.Sprintf("vt[%d][:]", l.splat[l.scalar(a)])
	}
	for _, v := range l.members {
		if v.Op.Identity {
			continue
		}
		args := []string{operand(v)}
		for _, a := range v.Args {
			args = append(args, operand(a))
		}
		fmt.Fprintf(&b, "rt.%s(%s) // %s\n", vecPrims[v.Op.Name], strings.Join(args, ", "), l.k.p.formula(v))
	}
	if l.sink != nil {
		fmt.Fprintf(&b, "rt.VAdd(%s[c:e], %s[c:e], %s) // %s: accumulate\n", l.sinkTo, l.sinkTo, operand(l.sink.Args[0]), l.k.p.formula(l.sink))
	}
	for _, v := range l.members {
		if l.outs[v] != "" && !l.direct[v] {
			fmt.Fprintf(&b, "copy(%s[c:e], %s)\n", l.outs[v], operand(v))
		}
	}
	l.k.printf("for c := 0; c < %s; c += rt.VecChunk {\n", n)
	l.k.printf("e := min(c+rt.VecChunk, %s)\n", n)
	if usesW {
		l.k.printf("w := e - c\n")
	}
	l.k.printf("%s}\n", b.String())
}

// vtDecl declares the strips of a vectorized loop (on the stack: each
// goroutine running update gets its own).
func vtDecl(slots int) string {
	if slots == 0 {
		return ""
	}
	return fmt.Sprintf("var vt [%d][rt.VecChunk]float32 // strips of the operands and intermediates", slots)
}
