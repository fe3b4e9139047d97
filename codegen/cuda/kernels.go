package cuda

import (
	"fmt"

	"github.com/mdlc/mdlc/codegen/internal/dims"

	"regexp"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/codegen/internal/render"

	"github.com/mdlc/mdlc/ir"
)

// Threads per block of every kernel; reductions give each output a warp
// (warpsPerBlock outputs per block) or, when the reduced extent depends
// on n or exceeds warpReduceMax, a whole block.
const (
	threads       = 256
	warpsPerBlock = threads / 32
	warpReduceMax = 2048
)

// kernel is the body of one __global__ function and how to launch it.
type kernel struct {
	gemm  *ir.Value // a contraction: a cuBLAS call, no body
	b     strings.Builder
	grid  string // number of blocks, a Go expression in n
	local map[*ir.Value]string
	depth int // extra indentation

	// prologue are elementwise values of the reduction's input shape,
	// ending with its argument, computed inside the reduction loop.
	prologue []*ir.Value
}

func (k *kernel) printf(format string, args ...any) {
	k.b.WriteString(strings.Repeat("\t", 1+k.depth))
	fmt.Fprintf(&k.b, format, args...)
}

// templates is the CUDA backend's set of kernel templates
// (render.Templates): each writes kernel k computing v alone. A
// contraction is a cuBLAS call made by the launch code: its kernel has no
// body.
type templates struct {
	c *cgen
	k *kernel
}

func (t templates) Elementwise(v *ir.Value) { t.c.elementwise(t.k, []*ir.Value{v}) }
func (t templates) Contraction(v *ir.Value) { t.k.gemm = v }
func (t templates) Reduce(v *ir.Value)      { emitReduce(t.c, t.k, v) }
func (t templates) Lane(v *ir.Value)        { emitLane(t.c, t.k, v) }
func (t templates) Transpose(v *ir.Value)   { emitTranspose(t.c, t.k, v) }
func (t templates) Slice(v *ir.Value)       { emitSlice(t.c, t.k, v) }
func (t templates) Pad(v *ir.Value)         { emitPad(t.c, t.k, v) }
func (t templates) Concat(v *ir.Value)      { emitConcat(t.c, t.k, v) }
func (t templates) Gather(v *ir.Value)      { emitGather(t.c, t.k, v) }
func (t templates) ScatterAdd(v *ir.Value)  { emitScatterAdd(t.c, t.k, v) }
func (t templates) OneHot(v *ir.Value)      { emitOneHot(t.c, t.k, v) }
func (t templates) Random(v *ir.Value)      { emitRandom(t.c, t.k, v) }

// Handles reports whether the CUDA backend can compute op.
func Handles(op *ir.OpDef) bool {
	return render.Handles(op, func(op *ir.OpDef) bool { return scalarOps[op.Name] != nil })
}

// scalarOps give the C expression of an elementwise op without an operator
// on element expressions a[0], a[1], ...; the helpers are defined in every
// .cu. A new elementwise op needs one line here (or none: an op with an
// operator is written by render.Scalar).
var scalarOps = map[string]func(v *ir.Value, a []string) string{
	"abs":       func(v *ir.Value, a []string) string { return typed(v, "abs") + "(" + a[0] + ")" },
	"sign":      func(v *ir.Value, a []string) string { return typed(v, "sign") + "(" + a[0] + ")" },
	"exp":       fn("expf"),
	"log":       fn("logf"),
	"sqrt":      fn("sqrtf"),
	"relu":      fn("relu_f"),
	"sigmoid":   fn("sigmoid_f"),
	"tanh":      fn("tanhf"),
	"gelu":      fn("gelu_f"),
	"gelu_grad": fn("gelu_grad_f"),
	"sin":       fn("sinf"),
	"cos":       fn("cosf"),
	"floor":     fn("floorf"),
	"pow":       fn("powf"),
	"maximum":   func(v *ir.Value, a []string) string { return typed(v, "max") + "(" + a[0] + ", " + a[1] + ")" },
	"minimum":   func(v *ir.Value, a []string) string { return typed(v, "min") + "(" + a[0] + ", " + a[1] + ")" },
	"where":     func(v *ir.Value, a []string) string { return "(" + a[0] + " != 0.0f ? " + a[1] + " : " + a[2] + ")" },
	"cast":      castExpr,
}

func fn(name string) func(v *ir.Value, a []string) string {
	return func(v *ir.Value, a []string) string { return name + "(" + strings.Join(a, ", ") + ")" }
}

// scalarExpr is the C expression of elementwise v on its args' expressions.
func scalarExpr(v *ir.Value, args []string) string {
	if e, ok := render.Scalar(v, args, paren, func(c string) string { return "(" + c + " ? 1.0f : 0.0f)" }); ok {
		return e
	}
	return scalarOps[v.Op.Name](v, args)
}

// typed picks the helper for the value's element type: abs_f or abs_i.
func typed(v *ir.Value, base string) string {
	if v.Type.DType == ir.I32 {
		return base + "_i"
	}
	return base + "_f"
}

func castExpr(v *ir.Value, a []string) string {
	from, to := v.Args[0].Type.DType, v.Type.DType
	switch {
	case from == to:
		return a[0]
	case to == ir.F32 && from == ir.I32:
		return "(float)" + paren(a[0])
	case to == ir.F32: // bool is stored as 0/1 float
		return a[0]
	case to == ir.I32 && from == ir.F32:
		return "cast_i32(" + a[0] + ")"
	case to == ir.I32: // from bool
		return "(int)" + paren(a[0])
	default: // to bool
		return "(" + a[0] + " != 0 ? 1.0f : 0.0f)"
	}
}

var simpleRead = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\[[^\[\]]*\])?$`)

func paren(s string) string {
	if simpleRead.MatchString(s) {
		return s
	}
	if strings.ContainsAny(s, " ") || strings.HasPrefix(s, "-") {
		return "(" + s + ")"
	}
	return s
}

// ctype is the C element type of a value.
func ctype(v *ir.Value) string {
	if v.Type.DType == ir.I32 {
		return "int"
	}
	return "float"
}

// cConst spells constants in C: float32 values as the shortest float32
// literal, bit patterns for NaN and the infinities.
var cConst = render.Spelling{NaN: "__int_as_float(0x7fc00000)", Inf: "__int_as_float(0x7f800000)", NegInf: "__int_as_float(0xff800000)", Int: "%d", IntToFloat: "(float)(%s)",
	Float: func(x float64) string {
		s := strconv.FormatFloat(float64(float32(x)), 'g', -1, 32)
		if !strings.ContainsAny(s, ".eEn") {
			s += ".0"
		}
		return s + "f"
	}}

// cgen generates kernels for one graph.
type cgen struct {
	l      *layout
	copied bool   // copy_grads copies gradients (not apply_updates)
	apply  string // apply_updates ("" when there is nothing to apply)
}

// stored reports whether v's kernel writes it to memory.
func (c *cgen) stored(v *ir.Value) bool { return c.l.pl.Stored(v) }

// elem is the element-read expression of arg v at flat index idx.
func (c *cgen) elem(k *kernel, v *ir.Value, idx string) string {
	if s, ok := k.local[v]; ok {
		return s
	}
	if s, ok := render.Inline(c.l.pl.Root(v), cConst); ok {
		return s
	}
	return c.l.ref(v) + "[" + idx + "]"
}

func (c *cgen) inlined(v *ir.Value) bool { return c.l.inline(v) }

// offset is sum(i_d * stride_d) over index variables named prefix0, prefix1, ...
func offset(prefix string, strides []string) string {
	var terms []string
	for i, s := range strides {
		switch s {
		case "":
		case "1":
			terms = append(terms, fmt.Sprintf("%s%d", prefix, i))
		default:
			terms = append(terms, fmt.Sprintf("%s%d*%s", prefix, i, paren(s)))
		}
	}
	if len(terms) == 0 {
		return "0"
	}
	return strings.Join(terms, " + ")
}

// unflatten declares index variables prefix0.. for flat index flat over shape.
func (k *kernel) unflatten(flat, prefix string, shape ir.Shape) {
	if len(shape) == 0 {
		return
	}
	if len(shape) == 1 {
		k.printf("const int %s0 = %s;\n", prefix, flat)
		return
	}
	k.printf("int %s_ = %s;\n", prefix, flat)
	for d := len(shape) - 1; d > 0; d-- {
		k.printf("const int %s%d = %s_ %% %s; %s_ /= %s;\n", prefix, d, prefix, paren(dims.Extent(shape[d])), prefix, paren(dims.Extent(shape[d])))
	}
	k.printf("const int %s0 = %s_;\n", prefix, prefix)
}

// flatGrid is the Go expression of the blocks covering size elements.
func flatGrid(size string) string { return fmt.Sprintf("cuBlocks(%s, %d)", size, threads) }

// elementwise writes one thread per output element computing vals, which
// all have the same shape; each value is a local, stored when store says,
// after all are computed: a stored value may take the memory of an
// argument (the memory plan's in-place rule), which this thread has read
// by then, at its own element.
func (c *cgen) elementwise(k *kernel, vals []*ir.Value, store ...func(*ir.Value) bool) {
	out := vals[0].Type.Shape
	size := dims.Size(out)
	k.grid = flatGrid(size)
	k.printf("const int i = blockIdx.x * blockDim.x + threadIdx.x;\n")
	k.printf("if (i >= %s) return;\n", size)
	inGroup := map[*ir.Value]bool{}
	for _, v := range vals {
		inGroup[v] = true
	}
	needIdx := false
	for _, v := range vals {
		for _, a := range v.Args {
			if !inGroup[a] && !c.inlined(a) && !a.Type.Shape.Equal(out) {
				needIdx = true
			}
		}
	}
	if needIdx {
		k.unflatten("i", "i", out)
	}
	if k.local == nil {
		k.local = map[*ir.Value]string{}
	}
	for _, v := range vals {
		args := make([]string, len(v.Args))
		for j, a := range v.Args {
			idx := "i"
			if !inGroup[a] && !a.Type.Shape.Equal(out) {
				idx = offset("i", dims.BcastStrides(a.Type.Shape, out))
			}
			args[j] = c.elem(k, a, idx)
		}
		e := scalarExpr(v, args)
		if len(vals) == 1 {
			k.printf("%s[i] = %s;\n", c.l.ref(v), e)
			continue
		}
		local := c.l.loc[v]
		k.printf("const %s %s = %s; // %s\n", ctype(v), local, e, v.Op.Name)
		k.local[v] = local
	}
	for _, v := range vals {
		if len(vals) > 1 && len(store) > 0 && store[0](v) {
			k.printf("%s[i] = %s;\n", c.l.ref(v), k.local[v])
		}
	}
}

// reduction geometry: outputs over kept axes, a loop over reduced axes.
func reduceGeom(in ir.Shape, axes []int) (kept, red ir.Shape, keptAx, redAx []int) {
	for i, d := range in {
		isRed := false
		for _, a := range axes {
			isRed = isRed || a == i
		}
		if isRed {
			red, redAx = append(red, d), append(redAx, i)
		} else {
			kept, keptAx = append(kept, d), append(keptAx, i)
		}
	}
	return
}

// reduceHead opens a reduction kernel: out is this thread group's output
// index, and the reduction loop runs j over R elements with step `step`
// starting at `first`. It returns whether a whole block serves one output.
func (c *cgen) reduceHead(k *kernel, outs string, red ir.Shape) (perBlock bool) {
	r, ok := static(red)
	perBlock = !ok || r > warpReduceMax
	if perBlock {
		k.grid = outs
		k.printf("const int o = blockIdx.x; // one block per output\n")
		k.printf("__shared__ float sh[32];\n")
	} else {
		k.grid = fmt.Sprintf("cuBlocks(%s, %d)", outs, warpsPerBlock)
		k.printf("const int o = blockIdx.x * %d + threadIdx.x / 32; // one warp per output\n", warpsPerBlock)
		k.printf("if (o >= %s) return;\n", outs)
	}
	return perBlock
}

// loopBounds returns the first index and stride of a reduction loop.
func loopBounds(perBlock bool) (first, step string) {
	if perBlock {
		return "threadIdx.x", "blockDim.x"
	}
	return "(threadIdx.x & 31)", "32"
}

// allReduce combines acc across the warp or block with op (sum, max).
func allReduce(perBlock bool, op, acc string) string {
	if perBlock {
		return fmt.Sprintf("block_%s(%s, sh)", op, acc)
	}
	return fmt.Sprintf("warp_%s(%s)", op, acc)
}

// emitReduce: reduce_sum, reduce_mean, reduce_max and logsumexp over any axes.
func emitReduce(c *cgen, k *kernel, v *ir.Value) {
	x := v.Args[0]
	axes, _ := ir.NormAxes(v.Attrs.Ints("axes"), x.Type.Shape.Rank())
	kept, red, keptAx, redAx := reduceGeom(x.Type.Shape, axes)
	st := dims.Strides(x.Type.Shape)
	outs, R := dims.Size(kept), dims.Size(red)
	perBlock := c.reduceHead(k, outs, red)
	k.unflatten("o", "o", kept)
	var keptOff []string
	for i, a := range keptAx {
		keptOff = append(keptOff, fmt.Sprintf("o%d*%s", i, paren(st[a])))
	}
	first, step := loopBounds(perBlock)
	t := ctype(v)
	var redOff []string
	for i, a := range redAx {
		redOff = append(redOff, fmt.Sprintf("r%d*%s", i, paren(st[a])))
	}
	off := strings.Join(append(append([]string{}, keptOff...), redOff...), " + ")
	if off == "" {
		off = "0"
	}
	loops := 0
	loop := func(body string) {
		k.printf("for (int j = %s; j < %s; j += %s) {\n", first, R, step)
		k.depth++
		k.unflatten("j", "r", red)
		if len(k.prologue) > 0 {
			c.prologue(k, x.Type.Shape, keptAx, redAx)
		}
		k.printf("const %s xv = %s;\n", t, c.elem(k, x, off))
		// The first loop visits each input element once: it stores the
		// prologue's values used elsewhere (of the input's shape, at off).
		for _, p := range k.prologue {
			if loops == 0 && c.stored(p) {
				k.printf("%s[%s] = %s;\n", c.l.ref(p), off, k.local[p])
			}
		}
		loops++
		k.printf("%s\n", body)
		k.depth--
		k.printf("}\n")
	}
	dst := c.l.ref(v)
	switch v.Op.Name {
	case "reduce_sum", "reduce_mean":
		k.printf("%s acc = 0;\n", t)
		loop("acc += xv;")
		k.printf("acc = %s;\n", allReduce(perBlock, "sum", "acc"))
		if v.Op.Name == "reduce_mean" {
			k.printf("acc /= (float)(%s);\n", R)
		}
	case "reduce_max": // also the sink of a unit with Reduce: ReduceMax
		if t == "int" {
			k.printf("int acc = -2147483647 - 1;\n")
		} else {
			k.printf("float acc = __int_as_float(0xff800000);\n")
		}
		loop("acc = max_nan(acc, xv);")
		k.printf("acc = %s;\n", allReduce(perBlock, "max", "acc"))
	case "logsumexp":
		k.printf("float mx = __int_as_float(0xff800000);\n")
		loop("mx = max_nan(mx, xv);")
		k.printf("mx = %s;\n", allReduce(perBlock, "max", "mx"))
		k.printf("float acc = 0;\n")
		loop("acc += expf(xv - mx);")
		k.printf("acc = %s;\n", allReduce(perBlock, "sum", "acc"))
		k.printf("acc = isinf_f(mx) ? mx : mx + logf(acc);\n")
	}
	k.printf("if (%s == 0) %s[o] = acc;\n", first, dst)
}

// emitLane: softmax, log_softmax and argmax along one axis, a warp per lane.
func emitLane(c *cgen, k *kernel, v *ir.Value) {
	if v.Op.Name == "masked_softmax" || v.Op.Name == "masked_softmax_grad" {
		emitMaskedSoftmax(c, k, v)
		return
	}
	x := v.Args[0]
	ax, _ := ir.NormAxes([]int{v.Attrs.Int("axis")}, x.Type.Shape.Rank())
	s := x.Type.Shape
	outer, length, inner := dims.Size(s[:ax[0]]), dims.Extent(s[ax[0]]), dims.Size(s[ax[0]+1:])
	lanes := outer
	if inner != "1" {
		lanes = paren(outer) + "*" + paren(inner)
		if outer == "1" {
			lanes = inner
		}
	}
	k.grid = fmt.Sprintf("cuBlocks(%s, %d)", lanes, warpsPerBlock)
	k.printf("const int w = blockIdx.x * %d + threadIdx.x / 32; // one warp per lane along axis %d\n", warpsPerBlock, ax[0])
	k.printf("if (w >= %s) return;\n", lanes)
	k.printf("const int base = (w / %s) * %s * %s + w %% %s;\n", paren(inner), paren(length), paren(inner), paren(inner))
	src, dst := c.l.ref(x), c.l.ref(v)
	at := func(j string) string { return fmt.Sprintf("base + %s*%s", j, paren(inner)) }
	k.printf("const int l = threadIdx.x & 31;\n")
	if v.Op.Name == "argmax" {
		k.printf("float best = __int_as_float(0xff800000);\n")
		k.printf("int bi = 0x7fffffff; // no element seen\n")
		k.printf("for (int j = l; j < %s; j += 32) {\n", length)
		k.printf("\tconst float xv = %s[%s];\n", src, at("j"))
		k.printf("\tif (bi == 0x7fffffff || xv > best) {\n\t\t\tbest = xv;\n\t\t\tbi = j;\n\t\t}\n")
		k.printf("}\n")
		k.printf("warp_argmax(best, bi);\n")
		k.printf("if (l == 0) %s[w] = bi;\n", dst)
		return
	}
	k.printf("float mx = __int_as_float(0xff800000);\n")
	k.printf("for (int j = l; j < %s; j += 32) mx = max_nan(mx, %s[%s]);\n", length, src, at("j"))
	k.printf("mx = warp_max(mx);\n")
	k.printf("float sum = 0;\n")
	k.printf("for (int j = l; j < %s; j += 32) sum += expf(%s[%s] - mx);\n", length, src, at("j"))
	k.printf("sum = warp_sum(sum);\n")
	if v.Op.Name == "softmax" {
		k.printf("const float inv = 1.0f / sum;\n")
		k.printf("for (int j = l; j < %s; j += 32) %s[%s] = expf(%s[%s] - mx) * inv;\n", length, dst, at("j"), src, at("j"))
	} else {
		k.printf("const float lse = mx + logf(sum);\n")
		k.printf("for (int j = l; j < %s; j += 32) %s[%s] = %s[%s] - lse;\n", length, dst, at("j"), src, at("j"))
	}
}

// flatHead opens a kernel with one thread per element of shape out.
func flatHead(k *kernel, out ir.Shape) {
	size := dims.Size(out)
	k.grid = flatGrid(size)
	k.printf("const int i = blockIdx.x * blockDim.x + threadIdx.x;\n")
	k.printf("if (i >= %s) return;\n", size)
}

func emitTranspose(c *cgen, k *kernel, v *ir.Value) {
	x := v.Args[0]
	st := dims.PermutedStrides(x.Type.Shape, v.Attrs.Ints("perm"))
	flatHead(k, v.Type.Shape)
	k.unflatten("i", "i", v.Type.Shape)
	k.printf("%s[i] = %s;\n", c.l.ref(v), c.elem(k, x, offset("i", st)))
}

// axisGeom views a shape as [outer, extent, inner] around axis.
func axisGeom(s ir.Shape, axis int) (outer, ext, inner string) {
	return dims.Size(s[:axis]), dims.Extent(s[axis]), dims.Size(s[axis+1:])
}

// splitAxis declares o, j, in for flat index i over [outer, ext, inner].
func splitAxis(k *kernel, ext, inner string) {
	k.printf("const int in = i %% %s, j = (i / %s) %% %s, o = i / (%s * %s);\n", paren(inner), paren(inner), paren(ext), paren(inner), paren(ext))
}

func emitSlice(c *cgen, k *kernel, v *ir.Value) {
	x := v.Args[0]
	ax, _ := ir.NormAxes([]int{v.Attrs.Int("axis")}, x.Type.Shape.Rank())
	s := v.Attrs.Int("start")
	_, d, inner := axisGeom(x.Type.Shape, ax[0])
	flatHead(k, v.Type.Shape)
	splitAxis(k, dims.Extent(v.Type.Shape[ax[0]]), inner)
	k.printf("%s[i] = %s[(o * %s + %d + j) * %s + in];\n", c.l.ref(v), c.l.ref(x), paren(d), s, paren(inner))
}

func emitPad(c *cgen, k *kernel, v *ir.Value) {
	x := v.Args[0]
	ax, _ := ir.NormAxes([]int{v.Attrs.Int("axis")}, x.Type.Shape.Rank())
	b := v.Attrs.Int("before")
	_, d, inner := axisGeom(x.Type.Shape, ax[0])
	flatHead(k, v.Type.Shape)
	splitAxis(k, dims.Extent(v.Type.Shape[ax[0]]), inner)
	k.printf("const int js = j - %d;\n", b)
	k.printf("%s[i] = js >= 0 && js < %s ? %s[(o * %s + js) * %s + in] : 0;\n", c.l.ref(v), d, c.l.ref(x), paren(d), paren(inner))
}

func emitConcat(c *cgen, k *kernel, v *ir.Value) {
	ax, _ := ir.NormAxes([]int{v.Attrs.Int("axis")}, v.Type.Shape.Rank())
	_, _, inner := axisGeom(v.Type.Shape, ax[0])
	flatHead(k, v.Type.Shape)
	splitAxis(k, dims.Extent(v.Type.Shape[ax[0]]), inner)
	start := "0"
	for n, a := range v.Args {
		d := dims.Extent(a.Type.Shape[ax[0]])
		end := d
		if start != "0" {
			end = start + " + " + d
		}
		cond := ""
		switch {
		case n == 0 && len(v.Args) > 1:
			cond = fmt.Sprintf("if (j < %s) ", end)
		case n < len(v.Args)-1:
			cond = fmt.Sprintf("else if (j < %s) ", end)
		case n > 0:
			cond = "else "
		}
		k.printf("%s%s[i] = %s[(o * %s + j - (%s)) * %s + in];\n", cond, c.l.ref(v), c.l.ref(a), paren(d), start, paren(inner))
		start = end
	}
}

func emitGather(c *cgen, k *kernel, v *ir.Value) {
	tab, idx := v.Args[0], v.Args[1]
	row := dims.Size(tab.Type.Shape[1:])
	flatHead(k, v.Type.Shape)
	k.printf("const int r = %s[i / %s];\n", c.l.ref(idx), paren(row))
	if c.l.faultCode(v) > 0 {
		// An index out of range gives a zero row and records the
		// launch's first fault (the launch code returns it as the error).
		k.printf("if ((unsigned)r >= %du) {\n", tab.Type.Shape[0])
		k.printf("\t%s[i] = 0.0f;\n", c.l.ref(v))
		k.printf("\tif (i %% %s == 0 && atomicCAS(FAULT, 0, %d) == 0) { FAULT[1] = r; FAULT[2] = i / %s; }\n", paren(row), c.l.faultCode(v), paren(row))
		k.printf("\treturn;\n}\n")
	}
	k.printf("%s[i] = %s[r * %s + i %% %s];\n", c.l.ref(v), c.l.ref(tab), paren(row), paren(row))
}

// emitScatterAdd sums, for each output element, the source rows whose index
// names its row, in index order: deterministic, no atomics.
func emitScatterAdd(c *cgen, k *kernel, v *ir.Value) {
	idx, src := v.Args[0], v.Args[1]
	row := dims.Size(src.Type.Shape[idx.Type.Shape.Rank():])
	flatHead(k, v.Type.Shape)
	k.printf("const int r = i / %s, j = i %% %s;\n", paren(row), paren(row))
	k.printf("%s acc = 0;\n", ctype(v))
	k.printf("for (int e = 0; e < %s; e++) if (%s[e] == r) acc += %s[e * %s + j];\n", dims.Size(idx.Type.Shape), c.l.ref(idx), c.l.ref(src), paren(row))
	k.printf("%s[i] = acc;\n", c.l.ref(v))
}

// emitRandom draws element i of random_uniform with philox_uniform.
func emitRandom(c *cgen, k *kernel, v *ir.Value) {
	flatHead(k, v.Type.Shape)
	k.printf("%s[i] = philox_uniform(philox_key(&%s[0]), (unsigned int)%s[0], %du, (unsigned long long)i);\n", c.l.ref(v), c.l.ref(v.Args[0]), c.l.ref(v.Args[1]), v.Attrs.Int("stream"))
}

func emitOneHot(c *cgen, k *kernel, v *ir.Value) {
	d := v.Attrs.Int("depth")
	flatHead(k, v.Type.Shape)
	k.printf("%s[i] = %s[i / %d] == i %% %d ? 1.0f : 0.0f;\n", c.l.ref(v), c.l.ref(v.Args[0]), d, d)
}

// prologue computes k.prologue at the loop's input element: axis a's
// index is o<i> when kept (the i-th kept axis), r<i> when reduced.
func (c *cgen) prologue(k *kernel, shape ir.Shape, keptAx, redAx []int) {
	names := make([]string, len(shape))
	for i, a := range keptAx {
		names[a] = fmt.Sprintf("o%d", i)
	}
	for i, a := range redAx {
		names[a] = fmt.Sprintf("r%d", i)
	}
	in := map[*ir.Value]bool{}
	for _, v := range k.prologue {
		in[v] = true
	}
	if k.local == nil {
		k.local = map[*ir.Value]string{}
	}
	for _, v := range k.prologue {
		delete(k.local, v)
	}
	for _, v := range k.prologue {
		args := make([]string, len(v.Args))
		for j, a := range v.Args {
			if in[a] {
				args[j] = k.local[a]
				continue
			}
			var terms []string
			for d, s := range dims.BcastStrides(a.Type.Shape, shape) {
				switch s {
				case "":
				case "1":
					terms = append(terms, names[d])
				default:
					terms = append(terms, names[d]+"*"+paren(s))
				}
			}
			off := strings.Join(terms, " + ")
			if off == "" {
				off = "0"
			}
			args[j] = c.elem(k, a, off)
		}
		local := c.l.loc[v]
		k.printf("const %s %s = %s; // %s\n", ctype(v), local, scalarExpr(v, args), v.Op.Name)
		k.local[v] = local
	}
}

// updateKernel is the optimizer update of every param as one kernel over
// the params block (ir.FlatUpdate; codegen/go's update): thread i runs the
// first param's chain with that param, its gradient and its state of each
// kind read at element i of their blocks, the shared scalars read once,
// and writes the updates of element i in place after computing them.
func (c *cgen) updateKernel(k *kernel, u *ir.Unit) {
	l, fu := c.l, u.Flat
	k.grid = flatGrid(fmt.Sprint(l.pl.Params))
	k.printf("const int i = blockIdx.x * blockDim.x + threadIdx.x;\n")
	k.printf("if (i >= %d) return; // one thread per element of the params block\n", l.pl.Params)
	k.printf("float* const params = F32(PARAMS, 0);\n")
	k.printf("const float* const grads = F32(GRADS, 0);\n")
	kinds := map[*ir.Value]string{}
	for _, r := range fu.Runs {
		kinds[r.State] = l.locals.Name("state."+r.Kind, "")
		k.printf("float* const %s = F32(STATE, %d); // %s of every param, laid out as the params block\n", kinds[r.State], r.Base, r.Kind)
	}
	k.local = map[*ir.Value]string{}
	// Shared scalars (learning rate, bias corrections) are read once.
	for _, v := range fu.Chain {
		for _, a := range v.Args {
			if _, isState := fu.State[a]; a == fu.Param || a == fu.Grad || l.pl.UnitOf[a] == u || isState || c.inlined(a) || k.local[a] != "" {
				continue
			}
			local := l.loc[a]
			if local == "" {
				local = l.locals.Name(l.base[a], "")
			}
			k.printf("const %s %s = %s; // shared\n", ctype(a), local, c.elem(k, a, "0"))
			k.local[a] = local
		}
	}
	read := func(a *ir.Value) string {
		if k.local[a] != "" {
			return k.local[a]
		}
		if s := render.FlatOperand(fu, a, kinds); s != "" {
			return s
		}
		return c.elem(k, a, "0")
	}
	for _, v := range fu.Chain {
		args := make([]string, len(v.Args))
		for j, a := range v.Args {
			args[j] = read(a)
		}
		k.printf("const %s %s = %s; // %s\n", ctype(v), l.loc[v], scalarExpr(v, args), v.Op.Name)
		k.local[v] = l.loc[v]
	}
	for _, v := range fu.Chain {
		switch t := fu.Targets[v]; {
		case t == nil:
		case t == fu.Param:
			k.printf("params[i] = %s;\n", k.local[v])
		default:
			k.printf("%s[i] = %s;\n", kinds[t], k.local[v])
		}
	}
}

// emitMaskedSoftmax: masked_softmax (attention's scale, causal mask and
// softmax over the last axis) or its backward, a warp per row of keys:
// query i (row % Tq) keeps keys j < keep, the rest of its row is 0
// (ir.MaskedRows).
func emitMaskedSoftmax(c *cgen, k *kernel, v *ir.Value) {
	s := v.Type.Shape
	r := s.Rank()
	rows, tq, tk := dims.Size(s[:r-1]), dims.Extent(s[r-2]), dims.Extent(s[r-1])
	k.grid = fmt.Sprintf("cuBlocks(%s, %d)", rows, warpsPerBlock)
	k.printf("const int row = blockIdx.x * %d + threadIdx.x / 32; // one warp per row of keys\n", warpsPerBlock)
	k.printf("if (row >= %s) return;\n", rows)
	k.printf("const int l = threadIdx.x & 31;\n")
	k.printf("const int base = row * %s;\n", tk)
	if v.Attrs.Bool("causal") {
		k.printf("const int keep = row %% %s + 1 < %s ? row %% %s + 1 : %s; // query row %% %s sees keys 0..row %% %s\n", tq, tk, tq, tk, tq, tq)
	} else {
		k.printf("const int keep = %s;\n", tk)
	}
	k.printf("const float scale = %s;\n", cConst.Float(v.Attrs.Float("scale")))
	dst := c.l.ref(v)
	if v.Op.Name == "masked_softmax" {
		src := c.l.ref(v.Args[0])
		k.printf("float mx = __int_as_float(0xff800000);\n")
		k.printf("for (int j = l; j < keep; j += 32) mx = max_nan(mx, scale * %s[base + j]);\n", src)
		k.printf("mx = warp_max(mx);\n")
		k.printf("float sum = 0;\n")
		k.printf("for (int j = l; j < keep; j += 32) sum += expf(scale * %s[base + j] - mx);\n", src)
		k.printf("const float inv = 1.0f / warp_sum(sum);\n")
		k.printf("for (int j = l; j < %s; j += 32) %s[base + j] = j < keep ? expf(scale * %s[base + j] - mx) * inv : 0.0f;\n", tk, dst, src)
		return
	}
	y, g := c.l.ref(v.Args[0]), c.l.ref(v.Args[1])
	k.printf("float dot = 0;\n")
	k.printf("for (int j = l; j < keep; j += 32) dot += %s[base + j] * %s[base + j];\n", y, g)
	k.printf("dot = warp_sum(dot);\n")
	k.printf("for (int j = l; j < %s; j += 32) %s[base + j] = j < keep ? scale * %s[base + j] * (%s[base + j] - dot) : 0.0f;\n", tk, dst, y, g)
}
