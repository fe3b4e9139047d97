// Package dsl parses .mdl model files into an AST and defines the
// diagnostics type used by the whole compiler.
//
// Pipeline: scan.go (hand-written lexer, bracket/nesting limits) ->
// grammar.go (participle grammar, LL(1)) -> recovery.go (drives participle
// one declaration head or statement at a time; error recovery) -> parse.go
// (diagnostics and conversion) -> ast.go (the AST every later stage sees).
// diag.go holds Diagnostic, Diagnostics.Format and Suggest.
//
// # Grammar
//
// Newlines are not significant: every statement starts with a keyword or
// with `name =`, and expressions end where the next token cannot continue
// them. Comments are // to end of line and /* ... */. A leading UTF-8
// byte-order mark is skipped (column 1 is the character after it).
//
//	File       = { ConstDecl | Def | Model } .
//	ConstDecl  = "const" Name "=" Expr { "," Name "=" Expr } .
//	Def        = "def" Name "(" [ DefParam { "," DefParam } ] ")" "{" { Stmt } "}" .
//	DefParam   = Name ":" TypeRef .
//	TypeRef    = "int" | "float" | "bool" | TensorType .
//	Model      = "model" Name "{" { Stmt } "}" .
//	Stmt       = ConstDecl
//	           | ( "input" | "target" ) Name ":" TensorType
//	           | ParamDecl
//	           | "output" Name [ "=" Expr ]
//	           | "loss" Expr
//	           | "metric" [ Name "=" ] Expr
//	           | "optimizer" Call
//	           | "repeat" Expr "{" { Stmt } "}"
//	           | "return" Expr
//	           | Name "=" Expr .
//	ParamDecl  = "param" Name ":" TensorType [ "=" Expr ] .
//	TensorType = DType [ "[" Expr { "," Expr } "]" ] .   // no brackets: scalar
//	DType      = Name .                                  // f32, i32; checked by lowering
//
//	Expr    = Term { ( "+" | "-" ) Term } .              // left-assoc
//	Term    = Unary { ( "*" | "/" | "@" ) Unary } .      // left-assoc
//	Unary   = { "-" } Power .                            // -a**b == -(a**b)
//	Power   = Primary [ "**" Unary ] .                   // right-assoc: a**b**c == a**(b**c)
//	Primary = Number | "true" | "false" | String | Call | Name
//	        | "(" Expr ")" | Tuple | InlineParam .
//	Tuple   = "(" Expr "," Expr { "," Expr } ")" .      // a pair: conv2d(x, 8, (3, 1), stride: (2, 1))
//	InlineParam = "param" Name ":" TensorType [ "=" { "-" } Primary ] .
//	        // an operand, and so is its initializer: in
//	        // x * param s: f32[4] = normal(0.5, 1) + b, "+ b" adds to the product
//	Call    = Name "(" [ Arg { "," Arg } ] ")" .
//	Arg     = [ Name ":" ] Expr .                        // positional and named may mix; Call.Order keeps order
//
//	Name   = [A-Za-z_][A-Za-z0-9_]* , not a keyword .
//	Number = digits [ "." digits ] [ exponent ] | "." digits [ exponent ] .  // 1, 0.5, .5, 1., 1e-3
//	String = `"` Go escapes `"` , on one line .
//
// Keywords are reserved: const def model input target param output loss
// metric optimizer repeat return true false. The words int, float and bool
// are ordinary names except in a def parameter's type. Where the grammar
// says "metric Name =" and "Name : Expr" the parser reads an expression and
// then checks that it is a plain name, to keep the grammar LL(1). Trailing
// commas are not allowed. `return` parses anywhere; lowering rejects it
// outside defs.
//
// # Errors and limits
//
// Parse reports every lexical error (invalid characters, invalid UTF-8,
// malformed numbers, unterminated strings and comments) and up to 20 syntax
// errors: after each it blanks the offending statement (its line, through
// the closers of brackets opened on it; positions are kept) and parses
// again, re-parsing only the statements the blanking touched (recovery.go).
// Files over 16 MiB, over 524288 tokens, or nesting brackets plus unary
// minus signs more than 200 deep are rejected before participle runs, so
// parsing is linear-time (each error adds a walk over the tokens, not a
// parse) and its recursion is bounded.
package dsl
