package dsl

// Parse: scan, parse (recovery.go drives participle one declaration head and
// one statement at a time, and recovers from syntax errors by blanking the
// offending statement and parsing again), then convert the grammar structs
// into the AST.

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// maxExprDepth bounds the depth of an expression tree built from operator
// chains (a + b + c ... nests to the left), so that recursive walks in later
// stages stay shallow.
const maxExprDepth = 2000

// Parse parses one .mdl file. Positions in the result carry filename.
//
// Parse never panics and reports every problem as a diagnostic: lexical
// errors, up to 20 syntax errors (it recovers by blanking the statement of
// each error and parsing again, which re-parses only the statements the
// blanking touched), and limits (16 MiB, nesting depth 200). When the
// diagnostics contain errors the File may be nil or describe only the lines
// that parsed; it must not be compiled.
func Parse(filename string, src []byte) (file *File, diags Diagnostics) {
	return parse(filename, src, recoverSyntax)
}

// parse scans src, reports lexical errors and hands the tokens to syntax,
// which reports syntax errors and converts the result.
func parse(filename string, src []byte, syntax func(p *parseState, buf []byte, sc *scanned) *File) (file *File, diags Diagnostics) {
	defer func() {
		if r := recover(); r != nil {
			file = nil
			diags = append(diags, Diagnostic{
				Pos: Pos{File: filename},
				Msg: fmt.Sprintf("internal error: parser panic: %v\n%s", r, debug.Stack()),
			})
		}
		diags.Sort()
	}()
	if len(src) > maxFileSize {
		diags.Errorf(Pos{File: filename, Line: 1, Col: 1}, "file too large: %d bytes (limit %d MiB)", len(src), maxFileSize>>20)
		return nil, diags
	}
	buf := append([]byte(nil), src...) // lines with errors are blanked in buf
	p := &parseState{file: filename, seen: map[int]bool{}}

	// Lexical errors: report each, blank its line, rescan. Blanking an
	// unterminated comment can expose new tokens, hence the loop.
	var sc *scanned
	for {
		sc = scan(filename, buf)
		if sc.fatal != nil {
			p.add(sc.fatal.pos, sc.fatal.msg)
			return nil, p.diags
		}
		if len(sc.errs) == 0 {
			break
		}
		for _, e := range sc.errs {
			if !p.add(e.pos, e.msg) {
				return nil, p.diags
			}
			if e.toEOF {
				blank(buf, e.pos.Offset, len(buf))
			} else {
				blankLine(buf, e.pos.Offset)
			}
		}
	}

	f := syntax(p, buf, sc)
	return f, p.diags
}

// recoverSyntax reports syntax errors: each, blank its statement, parse
// again (recovery.go).
func recoverSyntax(p *parseState, buf []byte, sc *scanned) *File {
	r := newRecovery(p, buf, sc)
	for {
		g, err := r.parse()
		if err == nil {
			return p.convertFile(g)
		}
		pos, msg, hint, fatal := p.describe(r.sc, err)
		if !p.addHint(pos, msg, hint) || fatal {
			return nil
		}
		if !r.blank(pos.Offset) {
			// Blanking cannot create lexical errors or deeper nesting in
			// practice; stop rather than report confusing follow-ons.
			return nil
		}
	}
}

type parseState struct {
	file  string
	diags Diagnostics
	seen  map[int]bool // offsets already reported
}

// add records an error unless one was already reported at pos. It returns
// false when the error limit is reached and parsing should stop.
func (p *parseState) add(pos Pos, msg string) bool { return p.addHint(pos, msg, "") }

func (p *parseState) addHint(pos Pos, msg, hint string) bool {
	if p.seen[pos.Offset] {
		return len(p.diags) < maxErrors
	}
	p.seen[pos.Offset] = true
	if len(p.diags) >= maxErrors {
		return false
	}
	if len(p.diags) == maxErrors-1 {
		msg += fmt.Sprintf(" (and stopping after %d errors)", maxErrors)
	}
	p.diags = append(p.diags, Diagnostic{Pos: pos, Msg: msg, Hint: hint})
	return len(p.diags) < maxErrors
}

// blankLine replaces the bytes of the line containing offset with spaces,
// keeping newlines so every other position stays valid.
func blankLine(buf []byte, off int) {
	start, end := lineBounds(buf, off)
	blank(buf, start, end)
}

// stmtBounds is the byte range recovery blanks for an error at offset: its
// line, extended through the line of the matching closer of any bracket
// opened on it, so that a broken block header does not leave its body to
// produce follow-on errors.
func stmtBounds(buf []byte, sc *scanned, off int) (start, end int) {
	start, end = lineBounds(buf, off)
	for _, o := range sc.openers {
		if o.pos.Offset >= start && o.pos.Offset < end && o.close > end {
			_, end = lineBounds(buf, o.close)
		}
	}
	return start, end
}

func lineBounds(buf []byte, off int) (start, end int) {
	off = min(off, len(buf))
	start, end = off, off
	for start > 0 && buf[start-1] != '\n' {
		start--
	}
	for end < len(buf) && buf[end] != '\n' {
		end++
	}
	return start, end
}

func blank(buf []byte, start, end int) {
	for i := start; i < end; i++ {
		if buf[i] != '\n' {
			buf[i] = ' '
		}
	}
}

// describe turns a participle error into a position and a human message.
// fatal reports that recovery would only produce follow-on errors.
func (p *parseState) describe(sc *scanned, err error) (pos Pos, msg, hint string, fatal bool) {
	var perr participle.Error
	if !errors.As(err, &perr) {
		return Pos{File: p.file, Line: 1, Col: 1}, err.Error(), "", true
	}
	lp := perr.Position()
	pos = Pos{File: p.file, Line: lp.Line, Col: lp.Column, Offset: lp.Offset}
	var ut *participle.UnexpectedTokenError
	if !errors.As(err, &ut) {
		return pos, perr.Message(), "", false
	}
	tok := ut.Unexpected
	idx := tokenIndex(sc, lp.Offset, tok.EOF())
	var prev *lexer.Token // the real token before tok
	prevIdx := sc.prevLive(idx)
	if prevIdx >= 0 {
		prev = &sc.toks[2*prevIdx]
	}
	var open *opener
	if o := sc.open[idx]; o >= 0 {
		open = &sc.openers[o]
	}
	closer := func() string {
		if open == nil {
			return ""
		}
		return map[string]string{"(": ")", "[": "]", "{": "}"}[open.text]
	}
	opened := func() string {
		what := open.label
		if what == "" {
			what = strconv.Quote(open.text)
		} else {
			what = "the " + what
		}
		return fmt.Sprintf("to close %s opened at %d:%d", what, open.pos.Line, open.pos.Col)
	}
	expect := humanExpect(ut.Expect, ut.Message())
	switch {
	case open == nil && (expect == "" || expect == `; expected "}"`):
		expect = `; expected "const", "def" or "model"`
	case open != nil && open.text == "{" && expect == `; expected "}"`:
		expect = `; expected a statement or "}"`
	}
	// Hints for misspelled keywords: "inptu x: ..." or "modle N {".
	if open == nil && tok.Type == tIdent {
		if s := Suggest(tok.Value, []string{"const", "def", "model"}); s != "" {
			hint = fmt.Sprintf("did you mean %q?", s)
		}
	} else if prev != nil && prev.Type == tIdent && tok.Value != "=" && tok.Value != "(" {
		if s := Suggest(prev.Value, statementKeywords); s != "" {
			hint = fmt.Sprintf("%q is not a keyword; did you mean %q?", prev.Value, s)
		}
	}
	if prev != nil && prev.Type == tKeyword && tok.Value == "=" && tok.Type == tPunct {
		hint = fmt.Sprintf("%q is a reserved word and cannot be used as a name", prev.Value)
	}
	firstOnLine := prev == nil || prev.Pos.Line < tok.Pos.Line
	switch {
	case tok.EOF():
		if prev != nil {
			// Point just past the last token rather than at an empty last line.
			end := sc.toks[2*prevIdx+1].Pos
			pos = Pos{File: p.file, Line: end.Line, Col: end.Column, Offset: end.Offset}
		}
		if open != nil {
			return pos, fmt.Sprintf("unexpected end of file; missing %q %s", closer(), opened()), hint, true
		}
		return pos, "unexpected end of file" + expect, hint, true
	case tok.Type == tKeyword && (tok.Value == "model" || tok.Value == "def") && firstOnLine && open != nil && open.text == "{":
		return pos, fmt.Sprintf("unexpected %q; missing %q %s", tok.Value, closer(), opened()), hint, true
	case sc.unmatched[idx]:
		c := map[string]string{")": "(", "]": "[", "}": "{"}[tok.Value]
		return pos, fmt.Sprintf("unexpected %q with no matching %q", tok.Value, c), hint, false
	case open != nil && expect == fmt.Sprintf("; expected %q", closer()) && open.text != "{":
		// A missing ")" or "]": recovery would only cascade.
		return pos, fmt.Sprintf("%s%s %s", unexpected(tok), expect, opened()), hint, open.pos.Line < tok.Pos.Line
	}
	return pos, unexpected(tok) + expect, hint, false
}

func unexpected(tok lexer.Token) string {
	if tok.Type == tKeyword {
		return fmt.Sprintf("unexpected keyword %q", tok.Value)
	}
	return fmt.Sprintf("unexpected %q", tok.Value)
}

// statementKeywords start statements; misspellings of them get a hint.
var statementKeywords = []string{"const", "input", "target", "param", "output", "loss", "metric", "optimizer", "repeat", "return"}

// prevLive returns the index of the last real token before idx that
// recovery did not remove, or -1.
func (s *scanned) prevLive(idx int) int {
	for idx--; idx >= 0 && s.toks[2*idx].Type == tEnd; idx-- {
	}
	return idx
}

// tokenIndex finds the real-token index of the token at offset.
func tokenIndex(sc *scanned, off int, eof bool) int {
	n := sc.real()
	if eof {
		return n
	}
	i := sort.Search(n, func(i int) bool { return sc.toks[2*i].Pos.Offset >= off })
	return min(i, n)
}

// humanExpect turns participle's expectation (an EBNF fragment of the
// grammar structs, e.g. `"=" GExpr` or `GPrimary GPowOp*`) into "; expected
// X" naming only its first element in words, or "" if nothing useful is
// known.
func humanExpect(expect, message string) string {
	if expect == "" {
		if i := strings.Index(message, "(expected "); i >= 0 && strings.HasSuffix(message, ")") {
			expect = message[i+len("(expected ") : len(message)-1]
		}
	}
	expect = strings.TrimSpace(expect)
	if strings.HasPrefix(expect, `"`) {
		if j := strings.Index(expect[1:], `"`); j >= 0 {
			return "; expected " + expect[:j+2]
		}
		return ""
	}
	first, _, _ := strings.Cut(expect, " ")
	first = strings.TrimRight(first, "*?+")
	if w, ok := expectWords[first]; ok {
		return "; expected " + w
	}
	return ""
}

// expectWords names grammar structs (as participle prints them) in errors.
var expectWords = map[string]string{
	"GExpr":       "an expression",
	"GTerm":       "an expression",
	"GUnary":      "an expression",
	"GPrimary":    "an expression",
	"GMinus":      "an expression",
	"GRef":        "an expression",
	"GIdent":      "a name",
	"<ident>":     "a name",
	"GTensorType": "a tensor type such as f32[N]",
	"GInitBase":   "an initializer such as normal(0.02), or an expression in parentheses",
	"GTypeRef":    "a type (such as f32[N], int, float or bool)",
	"GCall":       "a call such as sgd(lr: 0.01)",
	"GCallArgs":   `"("`,
	"GDims":       `"["`,
	"GStmt":       "a statement",
	"GTop":        `"const", "def" or "model"`,
}

// ---------------------------------------------------------------------------
// Conversion from grammar structs to AST.

func (p *parseState) pos(lp lexer.Position) Pos {
	return Pos{File: p.file, Line: lp.Line, Col: lp.Column, Offset: lp.Offset}
}

func (p *parseState) span(start, end lexer.Position) Span {
	return Span{Pos: p.pos(start), End: p.pos(end)}
}

func (p *parseState) convertFile(g *gFile) *File {
	f := &File{Name: p.file}
	for _, t := range g.Decls {
		switch {
		case t.Const != nil:
			c := p.convertConst(t.Const)
			f.Consts = append(f.Consts, c)
			f.Decls = append(f.Decls, c)
		case t.Def != nil:
			d := p.convertDef(t.Def)
			f.Defs = append(f.Defs, d)
			f.Decls = append(f.Decls, d)
		case t.Model != nil:
			m := &Model{Span: p.span(t.Model.Pos, t.Model.EndPos), Name: p.ident(t.Model.Name), Body: p.stmts(t.Model.Body)}
			f.Models = append(f.Models, m)
			f.Decls = append(f.Decls, m)
		}
	}
	return f
}

func (p *parseState) ident(g *gIdent) *Ident {
	if g == nil {
		return nil
	}
	return &Ident{Span: p.span(g.Pos, g.EndPos), Name: g.Name}
}

func (p *parseState) convertConst(g *gConst) *ConstDecl {
	c := &ConstDecl{Span: p.span(g.Pos, g.EndPos)}
	for _, it := range g.Items {
		c.Items = append(c.Items, &ConstItem{Span: p.span(it.Pos, it.EndPos), Name: p.ident(it.Name), Value: p.expr(it.Value)})
	}
	return c
}

func (p *parseState) convertDef(g *gDef) *Def {
	d := &Def{Span: p.span(g.Pos, g.EndPos), Name: p.ident(g.Name), Body: p.stmts(g.Body)}
	for _, gp := range g.Params {
		t := &TypeRef{Span: p.span(gp.Type.Pos, gp.Type.EndPos), Kind: gp.Type.Kind}
		if gp.Type.Tensor != nil {
			t.Kind = KindTensor
			t.Tensor = p.tensorType(gp.Type.Tensor)
		}
		d.Params = append(d.Params, &DefParam{Span: p.span(gp.Pos, gp.EndPos), Name: p.ident(gp.Name), Type: t})
	}
	return d
}

func (p *parseState) tensorType(g *gTensorType) *TensorType {
	t := &TensorType{Span: p.span(g.Pos, g.EndPos), DType: p.ident(g.DType), Scalar: g.Dims == nil}
	if g.Dims != nil {
		for _, d := range g.Dims.Dims {
			t.Dims = append(t.Dims, p.expr(d))
		}
	}
	return t
}

func (p *parseState) param(g *gParam) *ParamDecl {
	d := &ParamDecl{Span: p.span(g.Pos, g.EndPos), Name: p.ident(g.Name), Type: p.tensorType(g.Type)}
	if g.Init != nil {
		d.Init = p.expr(g.Init)
	}
	return d
}

func (p *parseState) stmts(gs []*gStmt) []Stmt {
	var out []Stmt
	for _, g := range gs {
		out = append(out, p.stmt(g))
	}
	return out
}

func (p *parseState) stmt(g *gStmt) Stmt {
	switch {
	case g.Const != nil:
		return p.convertConst(g.Const)
	case g.Input != nil:
		s := g.Input
		return &InputDecl{Span: p.span(s.Pos, s.EndPos), Target: s.Kind == "target", Name: p.ident(s.Name), Type: p.tensorType(s.Type)}
	case g.Param != nil:
		return p.param(g.Param)
	case g.Output != nil:
		s := g.Output
		o := &OutputDecl{Span: p.span(s.Pos, s.EndPos), Name: p.ident(s.Name)}
		if s.Value != nil {
			o.Value = p.expr(s.Value)
		}
		return o
	case g.Loss != nil:
		return &LossDecl{Span: p.span(g.Loss.Pos, g.Loss.EndPos), Value: p.expr(g.Loss.Value)}
	case g.Metric != nil:
		s := g.Metric
		m := &MetricDecl{Span: p.span(s.Pos, s.EndPos), Value: p.expr(s.First)}
		if s.Value != nil {
			m.Name = p.nameOf(m.Value, "metric name")
			m.Value = p.expr(s.Value)
		}
		return m
	case g.Optimizer != nil:
		o := g.Optimizer
		return &OptimizerDecl{Span: p.span(o.Pos, o.EndPos), Call: p.call(o.Call.Pos, o.Call.EndPos, o.Call.Func, o.Call.Args)}
	case g.Repeat != nil:
		s := g.Repeat
		return &Repeat{Span: p.span(s.Pos, s.EndPos), Count: p.expr(s.Count), Body: p.stmts(s.Body)}
	case g.Return != nil:
		return &Return{Span: p.span(g.Return.Pos, g.Return.EndPos), Value: p.expr(g.Return.Value)}
	case g.Assign != nil:
		s := g.Assign
		return &Assign{Span: p.span(s.Pos, s.EndPos), Name: p.ident(s.Name), Value: p.expr(s.Value)}
	}
	panic("dsl: empty statement from grammar")
}

// Expressions are converted bottom-up with their tree depth, so that overly
// deep operator chains are reported once instead of crashing a later pass.

func (p *parseState) expr(g *gExpr) Expr {
	e, d := p.sum(g)
	if d > maxExprDepth {
		p.diags.Errorf(p.pos(g.Pos), "expression too complex: operator nesting depth %d exceeds %d", d, maxExprDepth)
	}
	return e
}

func (p *parseState) sum(g *gExpr) (Expr, int) {
	e, d := p.term(g.Left)
	for _, op := range g.Rest {
		r, rd := p.term(op.Right)
		e = &Binary{Span: Span{Pos: e.Position(), End: r.EndPosition()}, OpPos: p.pos(op.Pos), Op: op.Op, L: e, R: r}
		d = max(d, rd) + 1
	}
	return e, d
}

func (p *parseState) term(g *gTerm) (Expr, int) {
	e, d := p.unary(g.Left)
	for _, op := range g.Rest {
		r, rd := p.unary(op.Right)
		e = &Binary{Span: Span{Pos: e.Position(), End: r.EndPosition()}, OpPos: p.pos(op.Pos), Op: op.Op, L: e, R: r}
		d = max(d, rd) + 1
	}
	return e, d
}

// unary folds  -...- p0 ** -...- p1 ** ... ** pk  as
// -...-(p0 ** -...-(p1 ** ... pk)): ** binds tighter than unary minus on
// its left and is right-associative.
func (p *parseState) unary(g *gUnary) (Expr, int) {
	var acc Expr
	d := 0
	for i := len(g.Pow) - 1; i >= 0; i-- {
		op := g.Pow[i]
		base, bd := p.primary(op.Right)
		if acc != nil {
			prev := g.Pow[i+1]
			base = &Binary{Span: Span{Pos: base.Position(), End: acc.EndPosition()}, OpPos: p.pos(prev.Pos), Op: "**", L: base, R: acc}
			bd = max(bd, d) + 1
		}
		acc, d = p.negate(op.Neg, base, bd)
	}
	base, bd := p.primary(g.Base)
	if acc != nil {
		base = &Binary{Span: Span{Pos: base.Position(), End: acc.EndPosition()}, OpPos: p.pos(g.Pow[0].Pos), Op: "**", L: base, R: acc}
		bd = max(bd, d) + 1
	}
	return p.negate(g.Neg, base, bd)
}

func (p *parseState) negate(ops []gMinus, x Expr, d int) (Expr, int) {
	for i := len(ops) - 1; i >= 0; i-- {
		x = &Unary{Span: Span{Pos: p.pos(ops[i].Pos), End: x.EndPosition()}, Op: "-", X: x}
		d++
	}
	return x, d
}

func (p *parseState) primary(g *gPrimary) (Expr, int) {
	sp := p.span(g.Pos, g.EndPos)
	switch {
	case g.Float != "" || g.Int != "":
		text := g.Float + g.Int
		v, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(v, 0) {
			p.diags.Errorf(sp.Pos, "number %s is out of range", text)
		}
		return &Number{Span: sp, Text: text, Value: v, IsInt: g.Int != ""}, 1
	case g.Bool != "":
		return &Bool{Span: sp, Value: g.Bool == "true"}, 1
	case g.String != nil:
		v, _ := strconv.Unquote(g.String.Value) // validated by the scanner
		return &String{Span: sp, Value: v}, 1
	case g.Param != nil:
		gp := g.Param
		decl := &ParamDecl{Span: p.span(gp.Pos, gp.EndPos), Name: p.ident(gp.Name), Type: p.tensorType(gp.Type)}
		d := 1
		if gp.Init != nil {
			base, bd := p.primary(gp.Init.Base.Primary)
			decl.Init, d = p.negate(gp.Init.Neg, base, bd)
			d++
		}
		return &InlineParam{Span: decl.Span, Decl: decl}, d
	case g.Ref != nil && g.Ref.Args != nil:
		return p.call(g.Ref.Pos, g.Ref.EndPos, g.Ref.Name, g.Ref.Args), 1
	case g.Ref != nil:
		return p.ident(g.Ref.Name), 1
	case g.Paren != nil && len(g.Paren.Rest) == 0:
		return p.sum(g.Paren.First)
	case g.Paren != nil:
		t := &Tuple{Span: sp}
		d := 0
		for _, x := range append([]*gExpr{g.Paren.First}, g.Paren.Rest...) {
			e, ed := p.sum(x)
			t.Elems = append(t.Elems, e)
			d = max(d, ed)
		}
		return t, d + 1
	}
	panic("dsl: empty primary from grammar")
}

func (p *parseState) call(start, end lexer.Position, name *gIdent, args *gCallArgs) *Call {
	c := &Call{Span: p.span(start, end), Func: p.ident(name)}
	for _, a := range args.Args {
		v := p.expr(a.First)
		if a.Value == nil {
			c.Order = append(c.Order, len(c.Args))
			c.Args = append(c.Args, v)
			continue
		}
		na := &NamedArg{Span: p.span(a.Pos, a.EndPos), Name: p.nameOf(v, "argument name"), Value: p.expr(a.Value)}
		c.Named = append(c.Named, na)
		c.Order = append(c.Order, -len(c.Named))
	}
	return c
}

// nameOf returns e as an identifier, reporting an error (and returning a
// placeholder) if e is anything else: the grammar parses `name =` and
// `name:` prefixes as expressions to stay LL(1).
func (p *parseState) nameOf(e Expr, what string) *Ident {
	if id, ok := e.(*Ident); ok {
		return id
	}
	p.diags.Errorf(e.Position(), "%s must be a plain name, not %s", what, ExprString(e))
	return &Ident{Span: Span{Pos: e.Position(), End: e.EndPosition()}, Name: "_"}
}
