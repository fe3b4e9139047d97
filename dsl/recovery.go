package dsl

// Incremental parsing and error recovery.
//
// Parse does not hand the whole file to participle. recovery.parse walks the
// block structure itself (declarations at the top level, statements in
// blocks) and calls participle for one production at a time: a const
// declaration, a block head (`def f(...) {`, `model M {`, `repeat K {`) or
// one statement. Each production reads a prefix of the one token stream and
// stops where the next token cannot continue it.
//
// After a syntax error, recovery blanks the statement (stmtBounds) by
// turning its tokens into elided markers, and parses again from the top.
// A const declaration or statement parsed before is not parsed again: memo
// keeps it by offset, valid while none of its tokens was blanked and the
// token after it either is the one that ended it before or cannot continue
// any statement (only + - * / @ ** ( [ = , : can). Skipping it costs a walk
// over its tokens, so an error costs a walk over the file plus the parse of
// the statements it touches, not a parse of the file: a 500 KB expression
// followed by 20 errors is parsed once.
//
// The diagnostics are those of parsing the whole file with the grammar and
// rescanning after every blanking (the differential test in
// recovery_test.go checks it): where a statement or declaration cannot
// start, recovery asks the whole production the grammar would be in
// (gBlockTail, gFile) for its error.

import (
	"errors"
	"sort"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

type recovery struct {
	p      *parseState
	buf    []byte // source with blanked statements
	sc     *scanned
	pl     *lexer.PeekingLexer // over sc.toks (they share the array)
	start  lexer.Checkpoint
	memo   map[memoKey]memoEntry
	blanks [][2]int // byte ranges blanked since the last scan
}

type memoKey struct {
	off int
	top bool // a top-level const declaration, else a statement
}

type memoEntry struct {
	stmt *gStmt
	cnst *gConst
	end  int // offset just past its last token
	next int // offset of the token after it
}

func newRecovery(p *parseState, buf []byte, sc *scanned) *recovery {
	r := &recovery{p: p, buf: buf}
	r.reset(sc)
	return r
}

// reset starts over on a new scan of buf.
func (r *recovery) reset(sc *scanned) {
	r.sc = sc
	pl, err := lexer.Upgrade(&tokenLexer{toks: sc.toks}, tEnd)
	if err != nil {
		panic(err) // tokenLexer never fails
	}
	r.pl = pl
	r.sc.toks = pl.Range(0, lexer.RawCursor(len(sc.toks)))
	r.start = pl.MakeCheckpoint()
	r.memo = map[memoKey]memoEntry{}
	r.blanks = nil
}

// blank removes the statement holding the error at off from the token
// stream, as blanking its bytes and scanning again would. It reports false
// when the result has a lexical error or nests too deeply.
func (r *recovery) blank(off int) bool {
	start, end := stmtBounds(r.buf, r.sc, off)
	blank(r.buf, start, end)
	if r.cutsComment(start, end) {
		// The comment's other end becomes code or swallows code: scan again.
		sc := scan(r.p.file, r.buf)
		if sc.fatal != nil || len(sc.errs) > 0 {
			return false
		}
		r.reset(sc)
		return true
	}
	n := r.sc.real()
	for i := sort.Search(n, func(i int) bool { return r.sc.toks[2*i].Pos.Offset >= start }); i < n; i++ {
		t := &r.sc.toks[2*i]
		if t.Pos.Offset >= end {
			break
		}
		// An elided marker; participle matches untyped literals such as
		// "=" by value even over elided tokens, so clear that too.
		*t = lexer.Token{Type: tEnd, Pos: t.Pos}
	}
	r.blanks = append(r.blanks, [2]int{start, end})
	r.sc.rematch()
	return r.sc.fatal == nil
}

// cutsComment reports whether [start, end) holds one end of a block
// comment but not the other. Line comments end at the end of their line,
// which a blanked range always includes.
func (r *recovery) cutsComment(start, end int) bool {
	for _, c := range r.sc.comments {
		if c.block && c.start.Offset < end && c.end.Offset > start && (c.start.Offset < start || c.end.Offset > end) {
			return true
		}
	}
	return false
}

// reuse moves the lexer past the production memo holds for the token at
// the lexer, if there is one and it still holds.
func (r *recovery) reuse(k memoKey) (memoEntry, bool) {
	e, ok := r.memo[k]
	if !ok {
		return e, false
	}
	for _, b := range r.blanks {
		if b[0] < e.end && k.off < b[1] {
			return e, false
		}
	}
	at := r.pl.MakeCheckpoint()
	n := r.sc.real()
	i := sort.Search(n, func(i int) bool { return r.sc.toks[2*i].Pos.Offset >= e.next })
	r.pl.FastForward(lexer.RawCursor(2*i - 1))
	if t := r.pl.Peek(); t.Pos.Offset != e.next && continues(*t) {
		r.pl.LoadCheckpoint(at)
		return e, false
	}
	return e, true
}

// continues reports whether t could extend a complete statement.
func continues(t lexer.Token) bool {
	if t.Type != tPunct {
		return false
	}
	switch t.Value {
	case "+", "-", "*", "/", "@", "**", "(", "[", "=", ",", ":":
		return true
	}
	return false
}

// remember records the production just parsed from k.off.
func (r *recovery) remember(k memoKey, e memoEntry) {
	e.end = r.pl.RawPeek().Pos.Offset // the end marker of its last token
	e.next = r.pl.Peek().Pos.Offset
	r.memo[k] = e
}

// parse parses the token stream from the start.
func (r *recovery) parse() (*gFile, error) {
	r.pl.LoadCheckpoint(r.start)
	r.pl.FastForward(-1) // past tokens removed since the checkpoint was made
	g := &gFile{}
	for {
		t := *r.pl.Peek()
		switch {
		case t.EOF():
			return g, nil
		case keyword(t, "const"):
			c, err := r.constDecl()
			if err != nil {
				return nil, err
			}
			g.Decls = append(g.Decls, &gTop{Const: c})
		case keyword(t, "def"):
			h, err := defHeadParser().ParseFromLexer(r.pl, participle.AllowTrailing(true))
			if err != nil {
				return nil, err
			}
			body, end, err := r.block()
			if err != nil {
				return nil, err
			}
			g.Decls = append(g.Decls, &gTop{Def: &gDef{Pos: h.Pos, EndPos: end, Name: h.Name, Params: h.Params, Body: body}})
		case keyword(t, "model"):
			h, err := modelHeadParser().ParseFromLexer(r.pl, participle.AllowTrailing(true))
			if err != nil {
				return nil, err
			}
			body, end, err := r.block()
			if err != nil {
				return nil, err
			}
			g.Decls = append(g.Decls, &gTop{Model: &gModel{Pos: h.Pos, EndPos: end, Name: h.Name, Body: body}})
		default:
			// Not a declaration: the whole grammar's error here.
			return nil, errorOf(parser().ParseFromLexer(r.pl))
		}
	}
}

// constDecl parses a top-level const declaration.
func (r *recovery) constDecl() (*gConst, error) {
	k := memoKey{off: r.pl.Peek().Pos.Offset, top: true}
	if e, ok := r.reuse(k); ok {
		return e.cnst, nil
	}
	c, err := constParser().ParseFromLexer(r.pl, participle.AllowTrailing(true))
	if err != nil {
		return nil, err
	}
	r.remember(k, memoEntry{cnst: c})
	return c, nil
}

// block parses statements up to and including the "}" that closes the
// block whose "{" has been read, and returns the end of that "}".
func (r *recovery) block() ([]*gStmt, lexer.Position, error) {
	var body []*gStmt
	for {
		t := *r.pl.Peek()
		switch {
		case t.Type == tPunct && t.Value == "}":
			r.pl.Next()
			end := t.Pos
			end.Offset++
			end.Column++
			return body, end, nil
		case keyword(t, "repeat"):
			h, err := repeatParser().ParseFromLexer(r.pl, participle.AllowTrailing(true))
			if err != nil {
				return nil, lexer.Position{}, err
			}
			rb, end, err := r.block()
			if err != nil {
				return nil, lexer.Position{}, err
			}
			body = append(body, &gStmt{Repeat: &gRepeat{Pos: h.Pos, EndPos: end, Count: h.Count, Body: rb}})
		default:
			s, err := r.stmt()
			if err != nil {
				return nil, lexer.Position{}, err
			}
			body = append(body, s)
		}
	}
}

// stmt parses one statement other than repeat.
func (r *recovery) stmt() (*gStmt, error) {
	t := *r.pl.Peek()
	if t.EOF() {
		return nil, errorOf(blockTailParser().ParseFromLexer(r.pl))
	}
	k := memoKey{off: t.Pos.Offset}
	if e, ok := r.reuse(k); ok {
		return e.stmt, nil
	}
	at := r.pl.MakeCheckpoint()
	s, err := stmtParser().ParseFromLexer(r.pl, participle.AllowTrailing(true))
	if err != nil {
		var perr participle.Error
		if errors.As(err, &perr) && perr.Position().Offset == t.Pos.Offset {
			// No statement starts here: the block's error.
			r.pl.LoadCheckpoint(at)
			return nil, errorOf(blockTailParser().ParseFromLexer(r.pl))
		}
		return nil, err
	}
	r.remember(k, memoEntry{stmt: s})
	return s, nil
}

func keyword(t lexer.Token, kw string) bool { return t.Type == tKeyword && t.Value == kw }

// errorOf returns the error of a parse that must fail.
func errorOf[G any](_ *G, err error) error {
	if err == nil {
		return errors.New("internal error: recovery expected a syntax error")
	}
	return err
}
