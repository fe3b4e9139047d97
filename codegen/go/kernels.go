package gogen

import (
	"fmt"

	"github.com/mdlc/mdlc/codegen/internal/dims"

	"strconv"
	"strings"

	"github.com/mdlc/mdlc/codegen/internal/render"

	"github.com/mdlc/mdlc/ir"
)

// The kernel templates of the Go backend (render.Templates): what computes
// an op alone, in a unit of one value.

// Handles reports whether the Go backend can compute op.
func Handles(op *ir.OpDef) bool {
	return render.Handles(op, func(op *ir.OpDef) bool { return scalarOps[op.Name] != nil })
}

// Elementwise emits out[idx] = f(args[idx]) with broadcasting.
func (k *kgen) Elementwise(v *ir.Value) {
	k.emitRows(nil, []*ir.Value{v}, nil, v.Type.Shape, func(w *ir.Value, read func(a *ir.Value) string) string {
		args := make([]string, len(w.Args))
		for i, a := range w.Args {
			args[i] = read(a)
		}
		return k.scalarExpr(w, args)
	}, func(*ir.Value) bool { return true })
}

// scalarOps give the Go expression of an elementwise op without an
// operator on element expressions a[0], a[1], ...; helpers (exp32, ...) are
// emitted on demand. A new elementwise op needs one line here (or none: an
// op with an operator is written by render.Scalar).
var scalarOps = map[string]func(k *kgen, v *ir.Value, a []string) string{
	"abs":       func(k *kgen, v *ir.Value, a []string) string { return k.call(typed(v, "abs"), a...) },
	"sign":      func(k *kgen, v *ir.Value, a []string) string { return k.call(typed(v, "sign"), a...) },
	"exp":       func(k *kgen, v *ir.Value, a []string) string { return k.call("exp32", a...) },
	"log":       func(k *kgen, v *ir.Value, a []string) string { return k.call("log32", a...) },
	"sqrt":      func(k *kgen, v *ir.Value, a []string) string { return k.call("sqrt32", a...) },
	"relu":      func(k *kgen, v *ir.Value, a []string) string { return k.call("relu32", a...) },
	"sigmoid":   func(k *kgen, v *ir.Value, a []string) string { return k.call("sigmoid32", a...) },
	"tanh":      func(k *kgen, v *ir.Value, a []string) string { return k.call("tanh32", a...) },
	"gelu":      func(k *kgen, v *ir.Value, a []string) string { return k.call("gelu32", a...) },
	"gelu_grad": func(k *kgen, v *ir.Value, a []string) string { return k.call("geluGrad32", a...) },
	"sin":       func(k *kgen, v *ir.Value, a []string) string { return k.call("sin32", a...) },
	"cos":       func(k *kgen, v *ir.Value, a []string) string { return k.call("cos32", a...) },
	"floor":     func(k *kgen, v *ir.Value, a []string) string { return k.call("floor32", a...) },
	"pow":       func(k *kgen, v *ir.Value, a []string) string { return k.call("pow32", a...) },
	"maximum":   func(k *kgen, v *ir.Value, a []string) string { return k.call(typed(v, "max"), a...) },
	"minimum":   func(k *kgen, v *ir.Value, a []string) string { return k.call(typed(v, "min"), a...) },
	"where":     func(k *kgen, v *ir.Value, a []string) string { return k.call(typed(v, "sel"), a...) },
	"cast":      emitCastExpr,
}

// typed picks the helper for the value's element type: abs32 or absI32.
func typed(v *ir.Value, base string) string {
	if v.Type.DType == ir.I32 {
		return base + "I32"
	}
	return base + "32"
}

func emitCastExpr(k *kgen, v *ir.Value, a []string) string {
	from, to := v.Args[0].Type.DType, v.Type.DType
	switch {
	case from == to:
		return a[0]
	case to == ir.F32 && from == ir.I32:
		return "float32(" + a[0] + ")"
	case to == ir.F32: // bool is stored as 0/1 float32
		return a[0]
	case to == ir.I32 && from == ir.F32:
		return k.call("castI32", a...)
	case to == ir.I32: // from bool
		return "int32(" + a[0] + ")"
	default: // to bool
		return k.call("b2f", a[0]+" != 0")
	}
}

func paren(s string) string {
	if strings.ContainsAny(s, " +-*/") && !(strings.HasSuffix(s, ")") && strings.Count(s, "(") == 1 && !strings.ContainsAny(s[:strings.Index(s, "(")], " +-*/")) &&
		!strings.HasSuffix(s, "]") {
		return "(" + s + ")"
	}
	if strings.HasPrefix(s, "-") {
		return "(" + s + ")"
	}
	return s
}

// kgen accumulates the statements of one generated function.
type kgen struct {
	p        *plan
	b        strings.Builder
	helpers  map[string]bool
	asm      []asmFunc  // AVX2 functions for model_amd64.s (asm.go)
	rows     []rowsFunc // methods over a range of rows of a loop (rows.go)
	poolGrad *ir.Value  // the pooling gradient fused into this unit (conv.go, poolReLU)
	err      error      // the first op without a template
}

// scalarExpr is the expression of elementwise v on its args' expressions.
func (k *kgen) scalarExpr(v *ir.Value, args []string) string {
	if e, ok := render.Scalar(v, args, paren, func(c string) string { return k.call("b2f", c) }); ok {
		return e
	}
	return scalarOps[v.Op.Name](k, v, args)
}

func (k *kgen) printf(format string, args ...any) { fmt.Fprintf(&k.b, format, args...) }

func (k *kgen) call(helper string, args ...string) string {
	k.helpers[helper] = true
	return helper + "(" + strings.Join(args, ", ") + ")"
}

// elem is the element-read expression of arg v at flat index idx.
func (k *kgen) elem(v *ir.Value, idx string) string {
	if s, ok := render.Inline(k.p.source(v), goConst); ok {
		return s
	}
	return k.p.ref(v) + "[" + idx + "]"
}

// goConst spells constants in Go: float32 values are written as the
// float64 literal Go's float32 conversion rounds.
var goConst = render.Spelling{NaN: "float32(math.NaN())", Inf: "float32(math.Inf(1))", NegInf: "float32(math.Inf(-1))", Int: "int32(%d)", IntToFloat: "float32(%s)",
	Float: func(x float64) string {
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		return "float32(" + s + ")"
	}}

// literal is a Go constant of dtype d.
func literal(d ir.DType, x float64) string { return render.Literal(d, x, goConst) }

// loopNest opens loops over shape (index vars i0, i1, ...) and returns the
// closing braces.
func (k *kgen) loopNest(shape ir.Shape) string {
	for i, d := range shape {
		k.printf("for i%d := 0; i%d < %s; i%d++ {\n", i, i, dims.Extent(d), i)
	}
	return strings.Repeat("}\n", len(shape))
}

// offset is sum(i_d * stride_d) for the given per-dim strides (as Go expressions, "" = 0).
func offset(strides []string) string {
	var terms []string
	for i, s := range strides {
		switch s {
		case "":
		case "1":
			terms = append(terms, fmt.Sprintf("i%d", i))
		default:
			terms = append(terms, fmt.Sprintf("i%d*%s", i, s))
		}
	}
	if len(terms) == 0 {
		return "0"
	}
	return strings.Join(terms, " + ")
}

// Contraction emits a GEMM, or one rt.SgemmBatched call for the products
// of a matmul batched over its leading axes.
func (k *kgen) Contraction(v *ir.Value) {
	a, b := v.Args[0], v.Args[1]
	batch, m, kk, n, _ := ir.MatmulDims(v)
	ta, tb := v.Attrs.Bool("ta"), v.Attrs.Bool("tb")
	ra := a.Type.Shape.Rank()
	lda, ldb := dims.Extent(a.Type.Shape[ra-1]), dims.Extent(b.Type.Shape[ra-1])
	M, K, N := dims.Extent(m), dims.Extent(kk), dims.Extent(n)
	if len(batch) == 0 {
		k.printf("rt.Sgemm(%v, %v, %s, %s, %s, 1, %s, %s, %s, %s, 0, %s, %s)\n", ta, tb, M, N, K, k.p.ref(a), lda, k.p.ref(b), ldb, k.p.ref(v), N)
		return
	}
	k.printf("rt.SgemmBatched(%v, %v, %s, %s, %s, %s, 1, %s, %s, %s, %s, %s, %s, 0, %s, %s, %s)\n",
		ta, tb, dims.Size(batch), M, N, K,
		k.p.ref(a), lda, dims.Size(a.Type.Shape[ra-2:]),
		k.p.ref(b), ldb, dims.Size(b.Type.Shape[ra-2:]),
		k.p.ref(v), N, dims.Size(v.Type.Shape[ra-2:]))
}

// reduced returns the per-dim strides into the output of a reduction
// ("" for reduced axes).
func reducedStrides(in ir.Shape, axes []int, keep bool) []string {
	out := ir.ReducedShape(in, axes, keep)
	ost := dims.Strides(out)
	r := make([]string, len(in))
	j := 0
	for i := range in {
		isRed := false
		for _, a := range axes {
			isRed = isRed || a == i
		}
		if isRed {
			if keep {
				j++
			}
			continue
		}
		r[i] = ost[j]
		j++
	}
	return r
}

// Reduce emits a reduction over the axes attribute.
func (k *kgen) Reduce(v *ir.Value) {
	if v.Op.Reduce == ir.ReduceNone {
		k.logsumexp(v)
		return
	}
	x := v.Args[0]
	axes, _ := ir.NormAxes(v.Attrs.Ints("axes"), x.Type.Shape.Rank())
	dst := k.p.ref(v)
	size := dims.Size(v.Type.Shape)
	init := "0"
	if v.Op.Reduce == ir.ReduceMax {
		init = "float32(math.Inf(-1))"
		if v.Type.DType == ir.I32 {
			init = "int32(math.MinInt32)"
		}
		k.helpers["math"] = true
	}
	if rows, width, ok := k.columnSum(v, axes); ok {
		// A column sum: whole rows added with rt.VAdd, in the scalar
		// loop's order (row by row), so the same bits, 8 lanes wide.
		src := k.p.ref(x)
		k.printf("clear(%s[:%s])\n", dst, width)
		k.printf("for r := 0; r < %s; r++ {\nrt.VAdd(%s[:%s], %s[:%s], %s[r*%s:][:%s])\n}\n", rows, dst, width, dst, width, src, width, width)
	} else {
		k.printf("for i := range %s[:%s] {\n%s[i] = %s\n}\n", dst, size, dst, init)
		closing := k.loopNest(x.Type.Shape)
		o := offset(reducedStrides(x.Type.Shape, axes, v.Attrs.Bool("keepdims")))
		src := k.elem(x, offset(dims.Strides(x.Type.Shape)))
		if v.Op.Reduce == ir.ReduceMax {
			k.printf("if xv := %s; xv > %s[%s] || xv != xv {\n%s[%s] = xv\n}\n", src, dst, o, dst, o)
		} else {
			k.printf("%s[%s] += %s\n", dst, o, src)
		}
		k.printf("%s", closing)
	}
	if v.Op.Reduce == ir.ReduceMean {
		var red ir.Shape
		for _, a := range axes {
			red = append(red, x.Type.Shape[a])
		}
		k.printf("for i := range %s[:%s] {\n%s[i] /= float32(%s)\n}\n", dst, size, dst, dims.Size(red))
	}
}

// columnSum reports whether reduction v sums (or averages) a float32
// array over every axis but the last, of at least colSumMin elements a
// row: the bias gradient of a layer applied to [N, T, D] rows. It gives
// the number of rows and their width.
func (k *kgen) columnSum(v *ir.Value, axes []int) (rows, width string, ok bool) {
	x := v.Args[0]
	s := x.Type.Shape
	r := s.Rank()
	if (v.Op.Reduce != ir.ReduceSum && v.Op.Reduce != ir.ReduceMean) || x.Type.DType != ir.F32 || r < 2 ||
		len(axes) != r-1 || s[r-1] < colSumMin {
		return "", "", false
	}
	for i, a := range axes {
		if a != i {
			return "", "", false
		}
	}
	if _, inline := render.Inline(k.p.source(x), goConst); inline {
		return "", "", false
	}
	return dims.Size(s[:r-1]), dims.Extent(s[r-1]), true
}

// colSumMin is the shortest row a column sum adds with rt.VAdd.
const colSumMin = 16

// laneGeom views x as [outer, len, inner] around axis.
func laneGeom(s ir.Shape, axis int) (outer, length, inner string) {
	return dims.Size(s[:axis]), dims.Extent(s[axis]), dims.Size(s[axis+1:])
}

// Lane emits softmax, log_softmax and argmax along one axis: lane element
// j of row (o, in) is at base + j*inner.
func (k *kgen) Lane(v *ir.Value) {
	if v.Op.Name == "masked_softmax" || v.Op.Name == "masked_softmax_grad" {
		k.maskedSoftmax(v)
		return
	}
	x := v.Args[0]
	ax, _ := ir.NormAxes([]int{v.Attrs.Int("axis")}, x.Type.Shape.Rank())
	outer, length, inner := laneGeom(x.Type.Shape, ax[0])
	src, dst := k.p.ref(x), k.p.ref(v)
	atIdx := func(buf, j string) string { // element j of the lane
		if inner == "1" {
			return fmt.Sprintf("%s[base+%s]", buf, j)
		}
		return fmt.Sprintf("%s[base+%s*(%s)]", buf, j, inner)
	}
	at := func(buf string) string { return atIdx(buf, "j") }
	if inner == "1" {
		k.printf("for o := 0; o < %s; o++ {\nbase := o * %s\n", outer, length)
	} else {
		k.printf("for o := 0; o < %s; o++ {\nfor in := 0; in < %s; in++ {\n", outer, inner)
		k.printf("base := o*(%s)*(%s) + in\n", length, inner)
	}
	switch v.Op.Name {
	case "argmax":
		k.printf("best := 0\nfor j := 1; j < %s; j++ {\nif %s > %s {\nbest = j\n}\n}\n", length, at(src), atIdx(src, "best"))
		if inner == "1" {
			k.printf("%s[o] = int32(best)\n", dst)
		} else {
			k.printf("%s[o*(%s)+in] = int32(best)\n", dst, inner)
		}
	default:
		k.helpers["math"] = true
		if inner == "1" {
			k.vectorLane(v.Op.Name, src, dst, length)
			break
		}
		k.printf("mx := float32(math.Inf(-1))\nfor j := 0; j < %s; j++ {\nmx = max(mx, %s)\n}\n", length, at(src))
		k.printf("var sum float32\nfor j := 0; j < %s; j++ {\nsum += %s\n}\n", length, k.call("exp32", at(src)+" - mx"))
		if v.Op.Name == "softmax" {
			k.printf("inv := 1 / sum\nfor j := 0; j < %s; j++ {\n%s = %s * inv\n}\n", length, at(dst), k.call("exp32", at(src)+" - mx"))
		} else {
			k.printf("lse := mx + %s\nfor j := 0; j < %s; j++ {\n%s = %s - lse\n}\n", k.call("log32", "sum"), length, at(dst), at(src))
		}
	}
	if inner == "1" {
		k.printf("}\n")
	} else {
		k.printf("}\n}\n")
	}
}

// vectorLane emits softmax or log_softmax of a contiguous lane (base,
// length) with the runtime's row primitives (rt.VMax, rt.VExp, rt.VSum,
// ...): softmax in the output row itself (which may be the input row:
// each element is read before it is written), log_softmax through a strip
// on the stack, since it reads its input again.
func (k *kgen) vectorLane(op, src, dst, length string) {
	k.printf("xs := %s[base : base+%s]\nmx := rt.VMax(xs)\n", src, length)
	if op == "softmax" {
		k.printf("row := %s[base : base+%s]\n", dst, length)
		k.printf("rt.VAddS(row, xs, -mx)\nrt.VExp(row, row)\nrt.VMulS(row, row, 1/rt.VSum(row))\n")
		return
	}
	k.printf("var sum float32\nvar ex [rt.VecChunk]float32 // a strip of e^(x - mx)\n")
	k.printf("for c := 0; c < %s; c += rt.VecChunk {\n", length)
	k.printf("strip := ex[:min(rt.VecChunk, %s-c)]\n", length)
	k.printf("rt.VAddS(strip, xs[c:], -mx)\nrt.VExp(strip, strip)\nsum += rt.VSum(strip)\n}\n")
	k.printf("rt.VAddS(%s[base:base+%s], xs, -(mx + %s))\n", dst, length, k.call("log32", "sum"))
}

func (k *kgen) logsumexp(v *ir.Value) {
	// Reduce to the max first (into the output), then sum exp(x - max)
	// lane by lane: logsumexp's axes are made contiguous by iterating the
	// input in full and accumulating into a scratch sum stored in place.
	x := v.Args[0]
	axes, _ := ir.NormAxes(v.Attrs.Ints("axes"), x.Type.Shape.Rank())
	dst := k.p.ref(v)
	size := dims.Size(v.Type.Shape)
	scratch := k.p.scratch(v)
	k.helpers["math"] = true
	k.printf("for i := range %s[:%s] {\n%s[i] = float32(math.Inf(-1))\n%s[i] = 0\n}\n", dst, size, dst, scratch)
	o := offset(reducedStrides(x.Type.Shape, axes, v.Attrs.Bool("keepdims")))
	src := k.elem(x, offset(dims.Strides(x.Type.Shape)))
	closing := k.loopNest(x.Type.Shape)
	k.printf("%s[%s] = max(%s[%s], %s)\n%s", dst, o, dst, o, src, closing)
	closing = k.loopNest(x.Type.Shape)
	k.printf("%s[%s] += %s\n%s", scratch, o, k.call("exp32", src+" - "+dst+"["+o+"]"), closing)
	k.printf("for i := range %s[:%s] {\nif !math.IsInf(float64(%s[i]), 0) {\n%s[i] += %s\n}\n}\n", dst, size, dst, dst, k.call("log32", scratch+"[i]"))
}

func (k *kgen) Transpose(v *ir.Value) {
	x := v.Args[0]
	st := dims.PermutedStrides(x.Type.Shape, v.Attrs.Ints("perm"))
	closing := k.loopNest(v.Type.Shape)
	k.printf("%s[%s] = %s\n%s", k.p.ref(v), offset(dims.Strides(v.Type.Shape)), k.elem(x, offset(st)), closing)
}

func (k *kgen) Slice(v *ir.Value) {
	x := v.Args[0]
	ax, _ := ir.NormAxes([]int{v.Attrs.Int("axis")}, x.Type.Shape.Rank())
	s, e := v.Attrs.Int("start"), v.Attrs.Int("end")
	outer, d, inner := laneGeom(x.Type.Shape, ax[0])
	k.printf("for o := 0; o < %s; o++ {\ncopy(%s[o*%d*(%s):(o+1)*%d*(%s)], %s[(o*(%s)+%d)*(%s):(o*(%s)+%d)*(%s)])\n}\n",
		outer, k.p.ref(v), e-s, inner, e-s, inner, k.p.ref(x), d, s, inner, d, e, inner)
}

func (k *kgen) Pad(v *ir.Value) {
	x := v.Args[0]
	ax, _ := ir.NormAxes([]int{v.Attrs.Int("axis")}, x.Type.Shape.Rank())
	b := v.Attrs.Int("before")
	outer, d, inner := laneGeom(x.Type.Shape, ax[0])
	nd := dims.Extent(v.Type.Shape[ax[0]])
	dst := k.p.ref(v)
	k.printf("clear(%s[:%s])\n", dst, dims.Size(v.Type.Shape))
	k.printf("for o := 0; o < %s; o++ {\ncopy(%s[(o*(%s)+%d)*(%s):], %s[o*(%s)*(%s):(o+1)*(%s)*(%s)])\n}\n",
		outer, dst, nd, b, inner, k.p.ref(x), d, inner, d, inner)
}

func (k *kgen) Concat(v *ir.Value) {
	ax, _ := ir.NormAxes([]int{v.Attrs.Int("axis")}, v.Type.Shape.Rank())
	outer := dims.Size(v.Type.Shape[:ax[0]])
	inner := dims.Size(v.Type.Shape[ax[0]+1:])
	k.printf("for o, pos := 0, 0; o < %s; o++ {\n", outer)
	for _, a := range v.Args {
		w := fmt.Sprintf("(%s)*(%s)", dims.Extent(a.Type.Shape[ax[0]]), inner)
		k.printf("pos += copy(%s[pos:pos+%s], %s[o*%s:(o+1)*%s])\n", k.p.ref(v), w, k.p.ref(a), w, w)
	}
	k.printf("}\n")
}

func (k *kgen) Gather(v *ir.Value) {
	tab, idx := v.Args[0], v.Args[1]
	row := dims.Size(tab.Type.Shape[1:])
	out := k.p.ref(v)
	k.printf("for i, r := range %s[:%s] {\n", k.p.ref(idx), dims.Size(idx.Type.Shape))
	if k.p.faults[v] {
		k.fault(v, int(tab.Type.Shape[0]), fmt.Sprintf("clear(%s[i*(%s):(i+1)*(%s)])\ncontinue", out, row, row))
	}
	k.printf("copy(%s[i*(%s):(i+1)*(%s)], %s[int(r)*(%s):(int(r)+1)*(%s)])\n}\n", out, row, row, k.p.ref(tab), row, row)
}

func (k *kgen) ScatterAdd(v *ir.Value) {
	idx, src := v.Args[0], v.Args[1]
	row := dims.Size(src.Type.Shape[idx.Type.Shape.Rank():])
	dst := k.p.ref(v)
	k.printf("clear(%s[:%s])\n", dst, dims.Size(v.Type.Shape))
	k.printf("for i, r := range %s[:%s] {\n", k.p.ref(idx), dims.Size(idx.Type.Shape))
	if k.p.faults[v] {
		k.fault(v, v.Attrs.Int("rows"), "continue")
	}
	k.printf("out, in := %s[int(r)*(%s):(int(r)+1)*(%s)], %s[i*(%s):(i+1)*(%s)]\nfor j := range out {\nout[j] += in[j]\n}\n}\n",
		dst, row, row, k.p.ref(src), row, row)
}

// fault checks index r (at position i of the loop) of v against [0, hi): an
// index out of range records the model's first fault, which the entry point
// returns as its error (after skipping the optimizer update), and runs skip
// instead of reading or writing out of bounds.
func (k *kgen) fault(v *ir.Value, hi int, skip string) {
	k.printf("if uint32(r) >= %d {\nif m.fault == nil {\nm.fault = rt.IndexError(%q, i, r, %d)\n}\n%s\n}\n", hi, render.FaultWhere(v), hi, skip)
}

// Random draws element i of random_uniform with rt.PhiloxUniform, by
// rt.PhiloxFill: the draws depend on i only, so it splits them across the
// cores.
func (k *kgen) Random(v *ir.Value) {
	k.printf("rt.PhiloxFill(%s[:%s], rt.PhiloxKey(%s[:4]), uint32(%s[0]), %d)\n",
		k.p.ref(v), dims.Size(v.Type.Shape), k.p.ref(v.Args[0]), k.p.ref(v.Args[1]), v.Attrs.Int("stream"))
}

func (k *kgen) OneHot(v *ir.Value) {
	d := v.Attrs.Int("depth")
	dst := k.p.ref(v)
	k.printf("clear(%s[:%s])\n", dst, dims.Size(v.Type.Shape))
	k.printf("for i, c := range %s[:%s] {\nif c >= 0 && c < %d {\n%s[i*%d+int(c)] = 1\n}\n}\n", k.p.ref(v.Args[0]), dims.Size(v.Args[0].Type.Shape), d, dst, d)
}

// maskedSoftmax emits masked_softmax (attention's scale, causal mask and
// softmax over the last axis) or its backward, one row of keys at a time:
// query i (row % Tq) keeps keys j < keep, the rest of its row is 0
// (ir.MaskedRows). Each element is read and written once per pass over
// its row; a row's result may overwrite its input.
func (k *kgen) maskedSoftmax(v *ir.Value) {
	s := v.Type.Shape
	r := s.Rank()
	rows, tq, tk := dims.Size(s[:r-1]), dims.Extent(s[r-2]), dims.Extent(s[r-1])
	k.printf("const scale = float32(%s)\n", strconv.FormatFloat(v.Attrs.Float("scale"), 'g', -1, 32))
	k.printf("for row := 0; row < %s; row++ {\n", rows)
	k.printf("dst := %s[row*%s : (row+1)*%s]\n", k.p.ref(v), tk, tk)
	if v.Attrs.Bool("causal") {
		k.printf("keep := min(row%%%s+1, %s) // query row%%%s sees keys 0..row%%%s\n", tq, tk, tq, tq)
	} else {
		k.printf("keep := %s\n", tk)
	}
	if v.Op.Name == "masked_softmax" {
		k.helpers["math"] = true
		k.printf("xs := %s[row*%s : row*%s+keep]\n", k.p.ref(v.Args[0]), tk, tk)
		k.printf("kept := dst[:keep]\nrt.VMulS(kept, xs, scale)\nrt.VAddS(kept, kept, -rt.VMax(kept))\n")
		k.printf("rt.VExp(kept, kept)\nrt.VMulS(kept, kept, 1/rt.VSum(kept))\n")
	} else {
		k.printf("yb := %s[row*%s : row*%s+keep]\n", k.p.ref(v.Args[0]), tk, tk)
		k.printf("gb := %s[row*%s : row*%s+keep]\n", k.p.ref(v.Args[1]), tk, tk)
		k.printf("var dot float32\nfor j, yv := range yb {\ndot += yv * gb[j]\n}\n")
		k.printf("for j, yv := range yb {\ndst[j] = scale * yv * (gb[j] - dot)\n}\n")
	}
	k.printf("clear(dst[keep:])\n}\n")
}
