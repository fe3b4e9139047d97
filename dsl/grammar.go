package dsl

// Participle grammar. These structs mirror the concrete syntax; parse.go
// converts them into the AST in ast.go, which is what the rest of the
// compiler sees. Operator chains are parsed as lists (not recursion) so that
// participle's recursion depth is bounded by bracket nesting, which the
// scanner limits.

import (
	"sync"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

type gFile struct {
	Pos   lexer.Position
	Decls []*gTop `parser:"@@*"`
}

type gTop struct {
	Const *gConst `parser:"  @@"`
	Def   *gDef   `parser:"| @@"`
	Model *gModel `parser:"| @@"`
}

type gIdent struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   string `parser:"@Ident"`
}

type gConst struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Items  []*gConstItem `parser:"'const' @@ ( ',' @@ )*"`
}

type gConstItem struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *gIdent `parser:"@@ '='"`
	Value  *gExpr  `parser:"@@"`
}

type gDef struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *gIdent      `parser:"'def' @@"`
	Params []*gDefParam `parser:"'(' ( @@ ( ',' @@ )* )? ')'"`
	Body   []*gStmt     `parser:"'{' @@* '}'"`
}

type gDefParam struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *gIdent   `parser:"@@ ':'"`
	Type   *gTypeRef `parser:"@@"`
}

type gTypeRef struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Kind   string       `parser:"  @( 'int' | 'float' | 'bool' )"`
	Tensor *gTensorType `parser:"| @@"`
}

type gTensorType struct {
	Pos    lexer.Position
	EndPos lexer.Position
	DType  *gIdent `parser:"@@"`
	Dims   *gDims  `parser:"@@?"`
}

type gDims struct {
	Dims []*gExpr `parser:"'[' @@ ( ',' @@ )* ']'"`
}

type gModel struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *gIdent  `parser:"'model' @@"`
	Body   []*gStmt `parser:"'{' @@* '}'"`
}

type gStmt struct {
	Const     *gConst     `parser:"  @@"`
	Input     *gInput     `parser:"| @@"`
	Param     *gParam     `parser:"| @@"`
	Output    *gOutput    `parser:"| @@"`
	Loss      *gLoss      `parser:"| @@"`
	Metric    *gMetric    `parser:"| @@"`
	Optimizer *gOptimizer `parser:"| @@"`
	Repeat    *gRepeat    `parser:"| @@"`
	Return    *gReturn    `parser:"| @@"`
	Assign    *gAssign    `parser:"| @@"`
}

type gInput struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Kind   string       `parser:"@( 'input' | 'target' )"`
	Name   *gIdent      `parser:"@@ ':'"`
	Type   *gTensorType `parser:"@@"`
}

type gParam struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *gIdent      `parser:"'param' @@ ':'"`
	Type   *gTensorType `parser:"@@"`
	Init   *gExpr       `parser:"( '=' @@ )?"`
}

// gInlineParam is a param declared inside an expression. It is an operand,
// so its initializer is one operand too ({ "-" } Primary): in
// `x * param s: f32[4] = normal(0.5, 1) + b` the "+ b" adds to the product.
type gInlineParam struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *gIdent       `parser:"'param' @@ ':'"`
	Type   *gTensorType  `parser:"@@"`
	Init   *gInitOperand `parser:"( '=' @@ )?"`
}

type gInitOperand struct {
	Neg  []gMinus   `parser:"@@*"`
	Base *gInitBase `parser:"@@"`
}

// gInitBase is a Primary; its own type names it in errors ("expected an
// initializer").
type gInitBase struct {
	Primary *gPrimary `parser:"@@"`
}

type gOutput struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *gIdent `parser:"'output' @@"`
	Value  *gExpr  `parser:"( '=' @@ )?"`
}

type gLoss struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Value  *gExpr `parser:"'loss' @@"`
}

// gMetric is `metric Expr [= Expr]`; with "=", the first Expr must be a
// name (checked during conversion). Parsing it this way keeps the grammar
// LL(1).
type gMetric struct {
	Pos    lexer.Position
	EndPos lexer.Position
	First  *gExpr `parser:"'metric' @@"`
	Value  *gExpr `parser:"( '=' @@ )?"`
}

type gOptimizer struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Call   *gCall `parser:"'optimizer' @@"`
}

type gRepeat struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Count  *gExpr   `parser:"'repeat' @@"`
	Body   []*gStmt `parser:"'{' @@* '}'"`
}

type gReturn struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Value  *gExpr `parser:"'return' @@"`
}

type gAssign struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *gIdent `parser:"@@ '='"`
	Value  *gExpr  `parser:"@@"`
}

// gExpr is Term { ("+"|"-") Term }.
type gExpr struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Left   *gTerm    `parser:"@@"`
	Rest   []*gSumOp `parser:"@@*"`
}

type gSumOp struct {
	Pos   lexer.Position
	Op    string `parser:"@( '+' | '-' )"`
	Right *gTerm `parser:"@@"`
}

// gTerm is Unary { ("*"|"/"|"@") Unary }.
type gTerm struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Left   *gUnary    `parser:"@@"`
	Rest   []*gProdOp `parser:"@@*"`
}

type gProdOp struct {
	Pos   lexer.Position
	Op    string  `parser:"@( '*' | '/' | '@' )"`
	Right *gUnary `parser:"@@"`
}

// gUnary is { "-" } Power, where Power is Primary { "**" { "-" } Primary }
// folded right-associatively during conversion.
type gUnary struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Neg    []gMinus  `parser:"@@*"`
	Base   *gPrimary `parser:"@@"`
	Pow    []*gPowOp `parser:"@@*"`
}

type gMinus struct {
	Pos lexer.Position
	Op  string `parser:"@'-'"`
}

type gPowOp struct {
	Pos   lexer.Position
	Op    string    `parser:"@'**'"`
	Neg   []gMinus  `parser:"@@*"`
	Right *gPrimary `parser:"@@"`
}

type gPrimary struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Float  string        `parser:"  @Float"`
	Int    string        `parser:"| @Int"`
	Bool   string        `parser:"| @( 'true' | 'false' )"`
	String *gString      `parser:"| @@"`
	Param  *gInlineParam `parser:"| @@"`
	Ref    *gRef         `parser:"| @@"`
	Paren  *gParen       `parser:"| @@"`
}

// gParen is "(" Expr ")", or a tuple "(" Expr "," Expr { "," Expr } ")".
type gParen struct {
	First *gExpr   `parser:"'(' @@"`
	Rest  []*gExpr `parser:"( ',' @@ )* ')'"`
}

// gRef is a name, or a call when Args is set.
type gRef struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *gIdent    `parser:"@@"`
	Args   *gCallArgs `parser:"@@?"`
}

type gString struct {
	Value string `parser:"@String"`
}

type gCall struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Func   *gIdent    `parser:"@@"`
	Args   *gCallArgs `parser:"@@"`
}

type gCallArgs struct {
	Args []*gArg `parser:"'(' ( @@ ( ',' @@ )* )? ')'"`
}

// gArg is `Expr [: Expr]`; with ":", the first Expr must be a name.
type gArg struct {
	Pos    lexer.Position
	EndPos lexer.Position
	First  *gExpr `parser:"@@"`
	Value  *gExpr `parser:"( ':' @@ )?"`
}

// Productions Parse drives one at a time (parse.go): the heads of blocks,
// and the rest of a block from a statement that does not parse, whose
// error is the one gModel, gDef or gRepeat would report there.

type gDefHead struct {
	Pos    lexer.Position
	Name   *gIdent      `parser:"'def' @@"`
	Params []*gDefParam `parser:"'(' ( @@ ( ',' @@ )* )? ')' '{'"`
}

type gModelHead struct {
	Pos  lexer.Position
	Name *gIdent `parser:"'model' @@ '{'"`
}

type gRepeatHead struct {
	Pos   lexer.Position
	Count *gExpr `parser:"'repeat' @@ '{'"`
}

type gBlockTail struct {
	Body []*gStmt `parser:"@@* '}'"`
}

// build builds a parser on first use: the lexer definition refers to
// package variables that a package-level initializer could see
// uninitialized.
func build[G any]() func() *participle.Parser[G] {
	return sync.OnceValue(func() *participle.Parser[G] {
		return participle.MustBuild[G](
			participle.Lexer(definition{}),
			participle.UseLookahead(0), // LL(1): a failed branch that consumed a token is the error
		)
	})
}

var (
	parser          = build[gFile]() // the whole grammar
	constParser     = build[gConst]()
	stmtParser      = build[gStmt]()
	defHeadParser   = build[gDefHead]()
	modelHeadParser = build[gModelHead]()
	repeatParser    = build[gRepeatHead]()
	blockTailParser = build[gBlockTail]()
)
