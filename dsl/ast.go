package dsl

import (
	"fmt"
	"strings"
)

// Pos is a source position. Line and Col are 1-based; Col counts bytes.
// Offset is the 0-based byte offset. The zero Pos is "no position".
type Pos struct {
	File   string
	Line   int
	Col    int
	Offset int
}

// IsValid reports whether p refers to a real source position.
func (p Pos) IsValid() bool { return p.Line > 0 }

// String renders p as file:line:col (or line:col when File is empty).
func (p Pos) String() string {
	if p.File == "" {
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Span is embedded in every AST node: Pos is the first byte of the node,
// End is just past its last byte.
type Span struct {
	Pos Pos
	End Pos
}

// Position returns the start of the node.
func (s Span) Position() Pos { return s.Pos }

// EndPosition returns the position just past the end of the node.
func (s Span) EndPosition() Pos { return s.End }

// Node is any AST node.
type Node interface {
	Position() Pos
	EndPosition() Pos
}

// Expr is an expression node: *Number, *Bool, *String, *Ident, *Binary,
// *Unary, *Call, *InlineParam, *Tuple.
type Expr interface {
	Node
	exprNode()
}

// Stmt is a statement inside a model, def or repeat body: *ConstDecl,
// *InputDecl, *ParamDecl, *Assign, *OutputDecl, *LossDecl, *MetricDecl,
// *OptimizerDecl, *Repeat, *Return.
type Stmt interface {
	Node
	stmtNode()
}

// Decl is a top-level declaration: *ConstDecl, *Def, *Model.
type Decl interface {
	Node
	declNode()
}

// ---------------------------------------------------------------------------
// Expressions

// Number is an integer or floating-point literal. Text is the source
// spelling; Value its value (integers too).
type Number struct {
	Span
	Text  string
	Value float64
	IsInt bool
}

// Bool is true or false.
type Bool struct {
	Span
	Value bool
}

// String is a double-quoted string literal; Value is unquoted.
type String struct {
	Span
	Value string
}

// Ident is a name: a reference in expressions, or the name being declared.
type Ident struct {
	Span
	Name string
}

// Binary is L Op R with Op one of + - * / @ **.
// Span covers L through R; OpPos is the operator.
type Binary struct {
	Span
	OpPos Pos
	Op    string
	L, R  Expr
}

// Unary is -X (Op is always "-"). Pos is the operator.
type Unary struct {
	Span
	Op string
	X  Expr
}

// Call is Func(Args..., Named...). Args and Named are split, but Order keeps
// the source order of all arguments: Order[i] >= 0 indexes Args, Order[i] < 0
// indexes Named[-Order[i]-1].
type Call struct {
	Span
	Func  *Ident
	Args  []Expr
	Named []*NamedArg
	Order []int
}

// NamedArg is Name: Value inside a call.
type NamedArg struct {
	Span
	Name  *Ident
	Value Expr
}

// InlineParam is a param declared inside an expression:
// `h = embed(t) + param pos: f32[T, D] = normal(0.02)`.
// Its value is the parameter itself. It is an operand, and so is its
// initializer: a number, name, call or parenthesized expression, optionally
// negated (`x * param s: f32 = normal(0.5) + b` adds b to the product).
type InlineParam struct {
	Span
	Decl *ParamDecl
}

func (*Number) exprNode()      {}
func (*Bool) exprNode()        {}
func (*String) exprNode()      {}
func (*Ident) exprNode()       {}
func (*Binary) exprNode()      {}
func (*Unary) exprNode()       {}
func (*Call) exprNode()        {}
func (*InlineParam) exprNode() {}
func (*Tuple) exprNode()       {}

// Tuple is (a, b, ...), two or more expressions in parentheses: the pairs
// of conv2d's kernel, stride and dilation and of the pools' size and stride.
type Tuple struct {
	Span
	Elems []Expr
}

// ---------------------------------------------------------------------------
// Types

// TensorType is DType[Dims...]; Scalar is set when there are no brackets.
type TensorType struct {
	Span
	DType  *Ident
	Dims   []Expr
	Scalar bool
}

// Type kinds of a TypeRef.
const (
	KindTensor = "tensor"
	KindInt    = "int"
	KindFloat  = "float"
	KindBool   = "bool"
)

// TypeRef is the type of a def parameter: a tensor type, or a plain kind.
// Tensor is set iff Kind == KindTensor.
type TypeRef struct {
	Span
	Kind   string
	Tensor *TensorType
}

// ---------------------------------------------------------------------------
// Statements

// ConstDecl is `const A = 1, B = 2`. It is both a Decl and a Stmt.
type ConstDecl struct {
	Span
	Items []*ConstItem
}

// ConstItem is one Name = Value of a ConstDecl.
type ConstItem struct {
	Span
	Name  *Ident
	Value Expr
}

// InputDecl is `input x: f32[N]`, or `target y: i32[N]` when Target is set.
type InputDecl struct {
	Span
	Target bool
	Name   *Ident
	Type   *TensorType
}

// ParamDecl is `param w: f32[A, B] = init`; Init may be nil.
type ParamDecl struct {
	Span
	Name *Ident
	Type *TensorType
	Init Expr
}

// Assign is `name = value`.
type Assign struct {
	Span
	Name  *Ident
	Value Expr
}

// OutputDecl is `output name = value`, or `output name` (Value nil) to
// expose an existing binding.
type OutputDecl struct {
	Span
	Name  *Ident
	Value Expr
}

// LossDecl is `loss value`.
type LossDecl struct {
	Span
	Value Expr
}

// MetricDecl is `metric [name =] value`; Name may be nil.
type MetricDecl struct {
	Span
	Name  *Ident
	Value Expr
}

// OptimizerDecl is `optimizer adam(lr: 1e-3)`.
type OptimizerDecl struct {
	Span
	Call *Call
}

// Repeat is `repeat Count { Body }`.
type Repeat struct {
	Span
	Count Expr
	Body  []Stmt
}

// Return is `return value` (defs only; lowering checks placement).
type Return struct {
	Span
	Value Expr
}

func (*ConstDecl) stmtNode()     {}
func (*InputDecl) stmtNode()     {}
func (*ParamDecl) stmtNode()     {}
func (*Assign) stmtNode()        {}
func (*OutputDecl) stmtNode()    {}
func (*LossDecl) stmtNode()      {}
func (*MetricDecl) stmtNode()    {}
func (*OptimizerDecl) stmtNode() {}
func (*Repeat) stmtNode()        {}
func (*Return) stmtNode()        {}

// ---------------------------------------------------------------------------
// Top level

// File is one parsed .mdl file. Consts, Defs and Models hold the top-level
// declarations by kind; Decls holds all of them in source order.
type File struct {
	Name   string
	Consts []*ConstDecl
	Defs   []*Def
	Models []*Model
	Decls  []Decl
}

// Def is `def name(params) { body }`.
type Def struct {
	Span
	Name   *Ident
	Params []*DefParam
	Body   []Stmt
}

// DefParam is `name: type` in a def's parameter list.
type DefParam struct {
	Span
	Name *Ident
	Type *TypeRef
}

// Model is `model Name { body }`.
type Model struct {
	Span
	Name *Ident
	Body []Stmt
}

func (*ConstDecl) declNode() {}
func (*Def) declNode()       {}
func (*Model) declNode()     {}

// ---------------------------------------------------------------------------
// Walking and printing

// Inspect walks the tree rooted at n in depth-first source order, calling
// f(node) for each node; if f returns false, the node's children are
// skipped. *File is accepted as a root (it is not itself passed to f).
func Inspect(n any, f func(Node) bool) {
	switch n := n.(type) {
	case nil:
		return
	case *File:
		if n == nil {
			return
		}
		for _, d := range n.Decls {
			Inspect(d, f)
		}
		return
	case Node:
		if isNilNode(n) || !f(n) {
			return
		}
	default:
		return
	}
	each := func(xs ...Node) {
		for _, x := range xs {
			Inspect(x, f)
		}
	}
	switch n := n.(type) {
	case *Binary:
		each(n.L, n.R)
	case *Unary:
		each(n.X)
	case *Tuple:
		for _, x := range n.Elems {
			each(x)
		}
	case *Call:
		each(n.Func)
		for _, i := range n.Order {
			if i >= 0 {
				each(n.Args[i])
			} else {
				each(n.Named[-i-1])
			}
		}
	case *NamedArg:
		each(n.Name, n.Value)
	case *InlineParam:
		each(n.Decl)
	case *TensorType:
		each(n.DType)
		for _, d := range n.Dims {
			each(d)
		}
	case *TypeRef:
		each(n.Tensor)
	case *ConstDecl:
		for _, it := range n.Items {
			each(it)
		}
	case *ConstItem:
		each(n.Name, n.Value)
	case *InputDecl:
		each(n.Name, n.Type)
	case *ParamDecl:
		each(n.Name, n.Type, n.Init)
	case *Assign:
		each(n.Name, n.Value)
	case *OutputDecl:
		each(n.Name, n.Value)
	case *LossDecl:
		each(n.Value)
	case *MetricDecl:
		each(n.Name, n.Value)
	case *OptimizerDecl:
		each(n.Call)
	case *Repeat:
		each(n.Count)
		for _, s := range n.Body {
			each(s)
		}
	case *Return:
		each(n.Value)
	case *Def:
		each(n.Name)
		for _, p := range n.Params {
			each(p)
		}
		for _, s := range n.Body {
			each(s)
		}
	case *DefParam:
		each(n.Name, n.Type)
	case *Model:
		each(n.Name)
		for _, s := range n.Body {
			each(s)
		}
	}
}

// isNilNode reports whether n is an interface holding a typed nil pointer.
func isNilNode(n Node) bool {
	switch n := n.(type) {
	case *Ident:
		return n == nil
	case *Call:
		return n == nil
	case *TensorType:
		return n == nil
	case *TypeRef:
		return n == nil
	case *ParamDecl:
		return n == nil
	}
	return false
}

// ExprString renders e in source syntax with minimal parentheses, for use in
// messages and dumps.
func ExprString(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e, 0)
	return b.String()
}

// Binding strength, low to high.
const (
	precSum   = 1 // + -
	precProd  = 2 // * / @
	precUnary = 3 // -x
	precPow   = 4 // **
	precAtom  = 5
)

func binaryPrec(op string) int {
	switch op {
	case "+", "-":
		return precSum
	case "**":
		return precPow
	}
	return precProd
}

func writeExpr(b *strings.Builder, e Expr, min int) {
	prec := precAtom
	switch e := e.(type) {
	case *Binary:
		prec = binaryPrec(e.Op)
	case *Unary:
		prec = precUnary
	case *InlineParam:
		prec = 0
	}
	if prec < min {
		b.WriteByte('(')
		defer b.WriteByte(')')
	}
	switch e := e.(type) {
	case nil:
		b.WriteString("<nil>")
	case *Number:
		b.WriteString(e.Text)
	case *Bool:
		fmt.Fprint(b, e.Value)
	case *String:
		fmt.Fprintf(b, "%q", e.Value)
	case *Ident:
		b.WriteString(e.Name)
	case *Binary:
		// Left-associative except **, which is right-associative.
		l, r := prec, prec+1
		if e.Op == "**" {
			l, r = prec+1, precUnary
		}
		writeExpr(b, e.L, l)
		b.WriteString(" " + e.Op + " ")
		writeExpr(b, e.R, r)
	case *Unary:
		b.WriteString(e.Op)
		writeExpr(b, e.X, precUnary)
	case *Tuple:
		b.WriteByte('(')
		for i, x := range e.Elems {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, x, 0)
		}
		b.WriteByte(')')
	case *Call:
		b.WriteString(e.Func.Name)
		b.WriteByte('(')
		for k, i := range e.Order {
			if k > 0 {
				b.WriteString(", ")
			}
			if i >= 0 {
				writeExpr(b, e.Args[i], 0)
			} else {
				na := e.Named[-i-1]
				b.WriteString(na.Name.Name + ": ")
				writeExpr(b, na.Value, 0)
			}
		}
		b.WriteByte(')')
	case *InlineParam:
		b.WriteString("param " + e.Decl.Name.Name + ": " + TypeString(e.Decl.Type))
		if e.Decl.Init != nil {
			// One operand: { "-" } Primary.
			b.WriteString(" = ")
			init := e.Decl.Init
			for {
				u, ok := init.(*Unary)
				if !ok {
					break
				}
				b.WriteString(u.Op)
				init = u.X
			}
			writeExpr(b, init, precAtom)
		}
	default:
		fmt.Fprintf(b, "<%T>", e)
	}
}

// TypeString renders a tensor type as written: f32[N, 4*D] or f32.
func TypeString(t *TensorType) string {
	if t == nil {
		return "<nil>"
	}
	if t.Scalar {
		return t.DType.Name
	}
	dims := make([]string, len(t.Dims))
	for i, d := range t.Dims {
		dims[i] = ExprString(d)
	}
	return t.DType.Name + "[" + strings.Join(dims, ", ") + "]"
}
