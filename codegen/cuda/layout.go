package cuda

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strings"

	"github.com/mdlc/mdlc/codegen/internal/api"
	"github.com/mdlc/mdlc/codegen/internal/names"
	"github.com/mdlc/mdlc/codegen/internal/render"
	"github.com/mdlc/mdlc/ir"
)

// layout places the plan (ir.Plan) in the one device allocation and names
// what the kernels refer to. The allocation is, in 32-bit words:
//
//	params | grads | state | arena | iarena | inputs [| fault]
//
// the first five exactly the host Model's blocks (so a checkpoint moves
// between the targets by copying blocks), then one staging area per input
// at MaxBatch, then, when a kernel checks an index (render.Faults), three
// words recording the first index out of range of a launch sequence. Every buffer is a macro of kernels.cu in upper case
// (HIDDEN_W, D_LOGITS); a value computed in a kernel is a local named in
// camel case (hiddenAdd); kernels are named in snake case
// (hidden_forward). The names come from the model's source (names.Bases),
// each style from one namer, so they never collide.
type layout struct {
	g         *ir.Graph
	pl        *ir.Plan
	base      map[*ir.Value]string
	mac       map[*ir.Value]string // the macro of a buffer (a root value with memory)
	grad      map[*ir.Value]string // param -> its macro in the grads block
	loc       map[*ir.Value]string // the local of a value computed in a kernel
	input     map[*ir.Value]int    // input -> its offset in the staging area
	inputs    int                  // words of input staging
	faults    []*ir.Value          // the values whose kernels check an index (render.Faults)
	hostIdent map[string]bool      // the identifiers of the CPU model's files (Options.Host)
	noGrads   bool                 // an inference build (Options.Inference): no grads block
	err       error

	macros, locals, kernels, goNames *names.Namer
}

// blockMacros are the fixed macros of kernels.cu.
var blockMacros = []string{"PARAMS", "GRADS", "STATE", "ARENA", "IARENA", "INPUTS", "WORDS", "F32", "I32", "FAULT"}

// cReserved are C and CUDA words, the helpers' names and the kernels' own
// locals: no local or kernel may take one.
var cReserved = []string{"int", "float", "void", "char", "const", "return", "if", "else", "for", "while", "do", "switch", "case",
	"default", "break", "continue", "static", "extern", "inline", "unsigned", "signed", "short", "long", "double", "bool", "true",
	"false", "auto", "register", "volatile", "struct", "union", "enum", "typedef", "sizeof", "goto", "new", "delete", "this",
	"template", "typename", "class", "public", "private", "operator", "namespace", "using", "asm", "restrict",
	"and", "and_eq", "bitand", "bitor", "compl", "not", "not_eq", "or", "or_eq", "xor", "xor_eq", "alignas", "alignof",
	"catch", "char8_t", "char16_t", "char32_t", "concept", "consteval", "constexpr", "constinit", "const_cast", "co_await",
	"co_return", "co_yield", "decltype", "dynamic_cast", "explicit", "export", "friend", "mutable", "noexcept", "nullptr",
	"protected", "reinterpret_cast", "requires", "static_assert", "static_cast", "thread_local", "throw", "try", "typeid",
	"virtual", "wchar_t", "float2", "float4", "int2", "int4", "uint3", "printf", "malloc", "free", "assert",
	"abs", "min", "max", "exp", "log", "sqrt", "sin", "cos", "tanh", "floor", "pow", "expf", "logf", "sqrtf", "sinf", "cosf",
	"tanhf", "floorf", "powf", "fabsf", "exp2f", "log2f", "dim3", "threadIdx", "blockIdx", "blockDim", "gridDim", "warpSize",
	"mem", "n", "params", "grads", "in", "base", "mx", "sum", "inv", "lse", "best", "bi", "acc", "xv", "js", "sh", "lane", "warp",
	"relu_f", "abs_f", "abs_i", "sign_f", "sign_i", "max_f", "min_f", "max_i", "min_i", "max_nan", "isinf_f", "sigmoid_f",
	"gelu_f", "gelu_grad_f", "cast_i32", "warp_sum", "warp_max", "warp_argmax", "atomicCAS", "block_sum", "block_max", "apply_updates", "copy_grads",
	// The recurrence kernels' locals (scan.go).
	"ex", "seq", "xs", "gs", "dz", "carry", "row", "gr", "t", "k", "ig", "fg", "gg", "og", "cp", "ct", "tc", "dh", "dc", "zt", "rg", "q", "hh", "hp", "dah"}

// indexLike matches the kernels' index variables (i, o0, r12, j_), and
// the identifiers C and C++ reserve for the implementation (__x, _X).
var indexLike = regexp.MustCompile(`^([a-z][0-9]*_?|__.*|_[A-Z].*)$`)

func newLayout(g *ir.Graph, inference bool) *layout {
	l := &layout{g: g, pl: g.Plan, noGrads: inference, base: names.Bases(g), mac: map[*ir.Value]string{}, grad: map[*ir.Value]string{}, loc: map[*ir.Value]string{},
		input:  map[*ir.Value]int{},
		macros: names.New(blockMacros), locals: names.New(cReserved), kernels: names.New(cReserved),
		goNames: names.New(append(append([]string(nil), api.Reserved...), goReserved...))}
	l.faults = render.Faults(g)
	l.macros.Style = names.Upper
	l.kernels.Style = names.Snake
	l.locals.Avoid = func(id string) bool { return indexLike.MatchString(id) }
	l.goNames.Avoid = api.AvoidGo
	l.kernels.Avoid = l.locals.Avoid
	for _, v := range g.Inputs() {
		l.mac[v] = l.macros.Name(l.base[v], "")
		l.input[v] = l.inputs
		l.inputs += l.pl.Slots[v].Size
	}
	for _, v := range g.Params() {
		l.mac[v] = l.macros.Name(l.base[v], "")
		l.grad[v] = l.macros.Name("d."+v.Name, "")
	}
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		if l.pl.Slots[r.Value].Storage == ir.StoreGrads {
			if p := g.Lookup(r.Name); p != nil && l.mac[r.Value] == "" {
				l.mac[r.Value] = l.grad[p]
			}
		}
	}
	for _, v := range g.Values {
		if s := l.pl.Slots[v]; s.Storage.InBlock() && l.mac[v] == "" {
			l.mac[v] = l.macros.Name(l.base[v], "")
		}
	}
	for _, v := range g.Values {
		if l.pl.UnitOf[v] != nil {
			l.loc[v] = l.locals.Name(l.base[v], "")
		}
	}
	return l
}

// reserveHost keeps model_cuda.go's Go namer off the package-level names
// of the CPU model's Go files, which share its package, and records every
// identifier they use (hostIdent): a package-level name model_cuda.go
// makes up must not be one of them either.
func (l *layout) reserveHost(files map[string][]byte) error {
	l.hostIdent = map[string]bool{}
	for name, src := range files {
		if !strings.HasSuffix(name, ".go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("cuda: host file %s: %w", name, err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					l.goNames.Reserve(d.Name.Name)
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					switch sp := sp.(type) {
					case *ast.ValueSpec:
						for _, n := range sp.Names {
							l.goNames.Reserve(n.Name)
						}
					case *ast.TypeSpec:
						l.goNames.Reserve(sp.Name.Name)
					}
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				l.hostIdent[id.Name] = true
			}
			return true
		})
	}
	return nil
}

// topName is a new package-level identifier of model_cuda.go: one no
// identifier of the CPU model's files uses.
func (l *layout) topName(s string) string {
	for {
		if id := l.goNames.Name(s, ""); !l.hostIdent[id] {
			return id
		}
	}
}

// gradWords is the size of the grads block: the params', or none in an
// inference build.
func (l *layout) gradWords() int {
	if l.noGrads {
		return 0
	}
	return l.pl.Params
}

// blockBase is the word offset of a storage's block in the allocation.
func (l *layout) blockBase(s ir.Storage) int {
	pg := l.pl.Params + l.gradWords()
	switch s {
	case ir.StoreParams:
		return 0
	case ir.StoreGrads:
		return l.pl.Params
	case ir.StoreState:
		return pg
	case ir.StoreArena:
		return pg + l.pl.State
	case ir.StoreIArena:
		return pg + l.pl.State + l.pl.Arena
	case ir.StoreInput:
		return pg + l.pl.State + l.pl.Arena + l.pl.IArena
	}
	panic("cuda: no block for storage " + s.String())
}

// faultWords are the words of a fault record: the 1-based position in
// layout.faults of the op that met an index out of range (0: none), the
// index, and its position in the op's index tensor.
const faultWords = 3

// faultCode is the code a kernel of v records its fault with: v's 1-based
// position in layout.faults, 0 when v's kernel checks no index.
func (l *layout) faultCode(v *ir.Value) int {
	for i, f := range l.faults {
		if f == v {
			return i + 1
		}
	}
	return 0
}

// fault is the word offset of the fault record (when there are faults).
func (l *layout) fault() int { return l.blockBase(ir.StoreInput) + l.inputs }

// words is the size of the device allocation in 32-bit words.
func (l *layout) words() int {
	if len(l.faults) > 0 {
		return l.fault() + faultWords
	}
	return l.fault()
}

// offset is v's word offset in its block (the staging area for an input).
func (l *layout) offset(v *ir.Value) int {
	if l.pl.Slots[v].Storage == ir.StoreInput {
		return l.input[v]
	}
	return l.pl.Slots[v].Offset
}

// memory returns the value whose buffer holds v's elements, recording an
// error when v has none (a register of its unit).
func (l *layout) memory(v *ir.Value) *ir.Value {
	r := l.pl.Root(v)
	if l.mac[r] == "" {
		if l.err == nil {
			l.err = fmt.Errorf("cuda: a kernel reads or writes %%%d %s, which has no device memory (%s)", v.ID, v.Op.Name, l.pl.Slots[r].Storage)
		}
		return r
	}
	return r
}

// word is the device word offset of v's elements.
func (l *layout) word(v *ir.Value) int {
	r := l.memory(v)
	return l.blockBase(l.pl.Slots[r].Storage) + l.offset(r)
}

// ref is the C expression of v's buffer (a macro defined in the .cu).
func (l *layout) ref(v *ir.Value) string {
	if m := l.mac[l.memory(v)]; m != "" {
		return m
	}
	return "NO_MEMORY"
}

// inline reports whether v is a scalar written into expressions.
func (l *layout) inline(v *ir.Value) bool { return l.pl.Storage(v) == ir.StoreInline }

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
