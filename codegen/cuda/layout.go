package cuda

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/mdlc/mdlc/ir"
)

// block is a region of the one device allocation.
type block uint8

const (
	inParams block = iota // the params block (same layout as the Go Model's)
	inGrads               // gradients, same layout as params
	inState               // optimizer state
	inArena               // float32 (and bool) activations and temporaries
	inIArena              // int32 temporaries
	inInput               // an input's staging area (MaxBatch examples)
	inline                // a scalar written into expressions (const, numel)
	alias                 // shares the buffer of Args[0] (reshape)
)

// buffer is where one value lives on the device.
type buffer struct {
	v     *ir.Value
	blk   block
	name  string // C macro and Go constant suffix ("hiddenW")
	off   int    // offset in its block, in elements
	size  int    // elements at MaxBatch
	i32   bool
	of    *buffer
	label string // what a grads-block slot holds
}

// layout places every value of the step graph. It follows the Go
// backend's plan exactly (codegen/go/plan.go): params, grads and state
// each one block in graph order; every other value its own slice of the
// f32 or i32 arena in graph order; reshapes alias; logsumexp gets a
// scratch slice after its own; gradients computed in their grads slot
// when they can be. With the same offsets, the device arena mirrors the
// host one element for element. g.Plan is not used: kernels store values
// a memory plan may leave without a slot (a group's members that another
// kernel of the same group reads), so every value keeps its own slice.
//
// The device allocation is, in 32-bit words: params | grads | state |
// arena | iarena | one staging area per input.
type layout struct {
	g        *ir.Graph
	maxBatch int
	bufs     map[*ir.Value]*buffer
	order    []*buffer // every buffer with storage, in declaration order
	params   int
	state    int
	arena    int
	iarena   int
	inputs   int // words of input staging
	gradOf   map[*ir.Value]*buffer
	names    map[string]bool
}

func newLayout(g *ir.Graph, maxBatch int) (*layout, error) {
	l := &layout{g: g, maxBatch: maxBatch, bufs: map[*ir.Value]*buffer{}, gradOf: map[*ir.Value]*buffer{}, names: map[string]bool{}}
	for _, kw := range reserved {
		l.names[kw] = true
	}
	size := func(v *ir.Value) (int, error) {
		n := 1
		for _, d := range v.Type.Shape {
			n *= d.Resolve(maxBatch)
			if n > 1<<31 {
				return 0, fmt.Errorf("value %%%d %s is too large at batch %d", v.ID, v.Type, maxBatch)
			}
		}
		return n, nil
	}
	for _, v := range g.Params() {
		s, err := size(v)
		if err != nil {
			return nil, err
		}
		b := &buffer{v: v, blk: inParams, name: l.name(v.Name, ""), off: l.params, size: s}
		l.bufs[v], l.params = b, l.params+s
		l.order = append(l.order, b)
	}
	for _, v := range g.Params() {
		b := l.bufs[v]
		gb := &buffer{blk: inGrads, name: l.name(v.Name, "Grad"), off: b.off, size: b.size, label: fmt.Sprintf("d loss / d %s %s", v.Name, shapeComment(v.Type.Shape))}
		l.gradOf[v] = gb
		l.order = append(l.order, gb)
	}
	for _, v := range g.State() {
		s, err := size(v)
		if err != nil {
			return nil, err
		}
		b := &buffer{v: v, blk: inState, name: l.name("state."+v.Name, ""), off: l.state, size: s}
		l.bufs[v], l.state = b, l.state+s
		l.order = append(l.order, b)
	}
	gradSlot := map[*ir.Value]*buffer{}
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		param := g.Lookup(r.Name)
		if param == nil || param.Op.Name != "param" {
			continue
		}
		if _, taken := gradSlot[r.Value]; !taken && !r.Value.Op.Bound() && r.Value.Op.Kind != ir.KindSource && r.Value.Op.Name != "reshape" {
			gradSlot[r.Value] = l.gradOf[param]
		}
	}
	var inputs []*buffer
	for _, v := range g.Values {
		if _, done := l.bufs[v]; done {
			continue
		}
		s, err := size(v)
		if err != nil {
			return nil, err
		}
		isInt := v.Type.DType == ir.I32
		switch {
		case v.Op.Name == "input":
			b := &buffer{v: v, blk: inInput, name: l.name(v.Name, ""), size: s, i32: isInt}
			l.bufs[v] = b
			inputs = append(inputs, b)
		case v.Op.Name == "const" || v.Op.Name == "numel":
			l.bufs[v] = &buffer{v: v, blk: inline}
		case v.Op.Name == "reshape":
			src := l.bufs[v.Args[0]]
			for src.blk == alias {
				src = src.of
			}
			if src.blk == inline {
				l.bufs[v] = src
				break
			}
			l.bufs[v] = &buffer{v: v, blk: alias, of: src, i32: isInt, size: s}
		case gradSlot[v] != nil:
			gb := gradSlot[v]
			gb.v = v
			l.bufs[v] = gb
		default:
			b := &buffer{v: v, blk: inArena, size: s, i32: isInt}
			if isInt {
				b.blk = inIArena
				b.off, l.iarena = l.iarena, l.iarena+s
			} else {
				b.off, l.arena = l.arena, l.arena+s
			}
			base := v.Name
			if base == "" || v.Op.Bound() {
				base = fmt.Sprintf("t%d", v.ID)
			}
			b.name = l.name(base, "")
			l.bufs[v] = b
			l.order = append(l.order, b)
			if v.Op.Name == "logsumexp" {
				// The Go backend's scratch; kept so that offsets match.
				sb := &buffer{blk: inArena, size: s, off: l.arena, name: l.name(base, "Scratch")}
				l.arena += s
				l.order = append(l.order, sb)
			}
		}
	}
	for _, b := range inputs {
		b.off = l.inputs
		l.inputs += b.size
		l.order = append(l.order, b)
	}
	return l, nil
}

// Word offsets of the blocks in the device allocation.
func (l *layout) base(b block) int {
	switch b {
	case inParams:
		return 0
	case inGrads:
		return l.params
	case inState:
		return 2 * l.params
	case inArena:
		return 2*l.params + l.state
	case inIArena:
		return 2*l.params + l.state + l.arena
	case inInput:
		return 2*l.params + l.state + l.arena + l.iarena
	}
	panic("cuda: no base for block")
}

// words is the size of the device allocation in 32-bit words.
func (l *layout) words() int { return l.base(inInput) + l.inputs }

// storage returns the buffer holding v's elements (through aliases).
func (l *layout) storage(v *ir.Value) *buffer {
	b := l.bufs[v]
	for b.blk == alias {
		b = b.of
	}
	return b
}

// word is the device word offset of v's elements.
func (l *layout) word(v *ir.Value) int {
	b := l.storage(v)
	return l.base(b.blk) + b.off
}

// ref is the C expression of v's buffer (a macro defined in the .cu).
func (l *layout) ref(v *ir.Value) string { return l.storage(v).name }

// reserved are names the generated C and Go use for their own purposes.
var reserved = []string{"mem", "n", "i", "j", "k", "o", "in", "r", "l", "w", "lane", "warp", "acc", "mx", "sum", "inv", "lse",
	"best", "bi", "base", "row", "idx", "sh", "x", "v", "e", "js", "xv", "F32", "I32", "NaN", "Inf",
	"m", "err", "New", "Model", "Option", "WithSeed", "MaxBatch", "params", "grads", "state", "arena", "iarena", "seed",
	"math", "rt", "cu", "fmt", "loss", "spec", "int", "float", "void", "char", "const", "return", "if", "else", "for",
	"while", "do", "switch", "case", "default", "break", "continue", "static", "extern", "inline", "unsigned", "signed",
	"short", "long", "double", "bool", "true", "false", "auto", "register", "volatile", "struct", "union", "enum",
	"typedef", "sizeof", "goto", "new", "delete", "this", "template", "typename", "class", "public", "private",
	"operator", "namespace", "using", "abs", "min", "max", "exp", "log", "sqrt", "sin", "cos", "tanh", "floor", "pow",
	"expf", "logf", "sqrtf", "sinf", "cosf", "tanhf", "floorf", "powf", "fabsf", "dim3", "threadIdx", "blockIdx", "blockDim",
	"gridDim", "warpSize", "ptx", "unsafe", "embed", "len", "cap", "copy", "make", "append", "nil", "range", "func",
	"type", "var", "package", "import", "go", "chan", "map", "select", "defer", "fallthrough", "interface", "clear"}

// name makes a unique identifier from a value name ("hidden.w" -> "hiddenW").
func (l *layout) name(s, suffix string) string {
	var b strings.Builder
	up := false
	for _, r := range s + suffix {
		switch {
		case r == '.' || r == '_' || r == '-':
			up = b.Len() > 0
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if up {
				r = unicode.ToUpper(r)
				up = false
			}
			if b.Len() == 0 && unicode.IsDigit(r) {
				b.WriteByte('v')
			}
			b.WriteRune(r)
		}
	}
	id := b.String()
	if id == "" {
		id = "v"
	}
	if r := []rune(id); unicode.IsUpper(r[0]) {
		r[0] = unicode.ToLower(r[0])
		id = string(r)
	}
	base := id
	if indexLike(id) {
		id += "_"
	}
	for i := 2; l.names[id] || strings.HasPrefix(id, "__"); i++ {
		id = fmt.Sprintf("%s%d", base, i)
	}
	l.names[id] = true
	return id
}

// extent is a dim as a C or Go expression in the batch size n.
func extent(d ir.Dim) string {
	switch {
	case d == ir.N:
		return "n"
	case d < 0:
		return fmt.Sprintf("%d*n", -d)
	}
	return fmt.Sprint(int(d))
}

// sizeExpr is the element count of a shape as an expression in n.
func sizeExpr(s ir.Shape) string {
	c, batch := 1, false
	for _, d := range s {
		if d < 0 {
			c *= int(-d)
			batch = true
		} else {
			c *= int(d)
		}
	}
	switch {
	case !batch:
		return fmt.Sprint(c)
	case c == 1:
		return "n"
	}
	return fmt.Sprintf("%d*n", c)
}

// static reports whether a shape's size does not depend on n, and the size.
func static(s ir.Shape) (int, bool) {
	c := 1
	for _, d := range s {
		if d < 0 {
			return 0, false
		}
		c *= int(d)
	}
	return c, true
}

// shapeComment is a shape for comments: (N, 784).
func shapeComment(s ir.Shape) string {
	if len(s) == 0 {
		return "scalar"
	}
	var parts []string
	for _, d := range s {
		parts = append(parts, d.String())
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// indexLike reports names of the form i0, r12, e3: the generated kernels'
// index variables and fused locals.
func indexLike(s string) bool {
	if len(s) < 2 || !strings.ContainsRune("ijorve", rune(s[0])) {
		return false
	}
	for _, r := range s[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
