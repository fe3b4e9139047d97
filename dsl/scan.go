package dsl

// The scanner turns source bytes into participle tokens. It is hand-written
// (rather than a participle regexp lexer) so that lexical errors get precise
// messages, scanning continues after them, and bracket nesting is measured
// before participle's recursive descent ever sees the tokens.

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// Limits that keep Parse fast and its recursion shallow on hostile input.
const (
	maxFileSize = 16 << 20 // bytes
	maxTokens   = 1 << 19  // tokens per file
	maxNesting  = 200      // open brackets plus a run of unary minus signs
	maxErrors   = 20       // diagnostics reported per file
)

// Token types. Every real token is followed by an elided tEnd marker whose
// position is the end of that token, so participle's EndPos (the position of
// the next raw token) is the true end of a node.
const (
	tIdent lexer.TokenType = -2 - iota
	tKeyword
	tInt
	tFloat
	tString
	tPunct
	tEnd
)

var symbols = map[string]lexer.TokenType{
	"EOF":     lexer.EOF,
	"Ident":   tIdent,
	"Keyword": tKeyword,
	"Int":     tInt,
	"Float":   tFloat,
	"String":  tString,
	"Punct":   tPunct,
	"End":     tEnd,
}

// keywords are reserved: they cannot be used as names.
var keywords = map[string]bool{
	"const": true, "def": true, "model": true, "input": true, "target": true,
	"param": true, "output": true, "loss": true, "metric": true,
	"optimizer": true, "repeat": true, "return": true, "true": true, "false": true,
}

// lexError is a lexical error. The line holding it is blanked before parsing;
// toEOF means everything from pos to the end of file is (unterminated comment).
type lexError struct {
	pos   Pos
	msg   string
	toEOF bool
}

// opener is an unclosed-bracket candidate: "(", "[" or "{".
type opener struct {
	pos   Pos
	text  string
	label string // for "{": "model block", "def block", "repeat block" or "block"
	close int    // offset of the matching closer, -1 if unclosed
}

// scanned is the scanner's output.
type scanned struct {
	toks      []lexer.Token // real tokens, each followed by a tEnd marker; then EOF
	open      []int32       // per real token and EOF: innermost unclosed opener before it (index into openers), -1 if none
	unmatched map[int]bool  // real token indexes of closers with no opener
	openers   []opener
	comments  []comment // every comment, in source order
	errs      []lexError
	fatal     *lexError // limit exceeded; nothing can be parsed
}

// comment is the byte range [start, end) of a // or /* */ comment.
type comment struct {
	start, end Pos
	block      bool
}

// real returns the number of real tokens (excluding markers and EOF).
func (s *scanned) real() int { return len(s.toks) / 2 }

type scanner struct {
	file      string
	src       []byte
	off       int
	line      int
	lineStart int
	out       scanned
	brackets  matcher
}

// bom is the UTF-8 encoding of U+FEFF. A file may start with it; it is
// skipped, and column 1 of line 1 is the byte after it (offsets still count
// from the start of the file).
const bom = "\xef\xbb\xbf"

func scan(file string, src []byte) *scanned {
	s := &scanner{file: file, src: src, line: 1}
	if bytes.HasPrefix(src, []byte(bom)) {
		s.off, s.lineStart = len(bom), len(bom)
	}
	s.out.unmatched = map[int]bool{}
	for s.out.fatal == nil {
		s.skipSpace()
		if s.off >= len(s.src) {
			break
		}
		s.next()
	}
	eof := s.pos()
	s.out.open = append(s.out.open, s.brackets.top())
	s.out.toks = append(s.out.toks, lexer.Token{Type: lexer.EOF, Pos: lexPos(eof)})
	return &s.out
}

func (s *scanner) pos() Pos {
	return Pos{File: s.file, Line: s.line, Col: s.off - s.lineStart + 1, Offset: s.off}
}

func lexPos(p Pos) lexer.Position {
	return lexer.Position{Filename: p.File, Offset: p.Offset, Line: p.Line, Column: p.Col}
}

// advance moves over n bytes that contain no newline.
func (s *scanner) advance(n int) { s.off += n }

func (s *scanner) newline() {
	s.off++
	s.line++
	s.lineStart = s.off
}

// skipSpace skips whitespace and comments.
func (s *scanner) skipSpace() {
	for s.off < len(s.src) {
		c := s.src[s.off]
		switch {
		case c == '\n':
			s.newline()
		case c == ' ' || c == '\t' || c == '\r':
			s.off++
		case c == '/' && s.peek(1) == '/':
			start := s.pos()
			for s.off < len(s.src) && s.src[s.off] != '\n' {
				s.off++
			}
			s.out.comments = append(s.out.comments, comment{start: start, end: s.pos()})
		case c == '/' && s.peek(1) == '*':
			start := s.pos()
			s.advance(2)
			for {
				if s.off >= len(s.src) {
					s.out.errs = append(s.out.errs, lexError{pos: start, msg: "unterminated block comment; missing \"*/\"", toEOF: true})
					return
				}
				if s.src[s.off] == '*' && s.peek(1) == '/' {
					s.advance(2)
					s.out.comments = append(s.out.comments, comment{start: start, end: s.pos(), block: true})
					break
				}
				if s.src[s.off] == '\n' {
					s.newline()
				} else {
					s.off++
				}
			}
		default:
			return
		}
	}
}

func (s *scanner) peek(k int) byte {
	if s.off+k < len(s.src) {
		return s.src[s.off+k]
	}
	return 0
}

// errorLine records a lexical error at p and skips the rest of the line:
// the whole line is blanked before parsing anyway.
func (s *scanner) errorLine(p Pos, format string, args ...any) {
	s.out.errs = append(s.out.errs, lexError{pos: p, msg: fmt.Sprintf(format, args...)})
	for s.off < len(s.src) && s.src[s.off] != '\n' {
		s.off++
	}
}

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isIdentByte(c byte) bool  { return isIdentStart(c) || isDigit(c) }

// next scans one token at s.off (not whitespace, not EOF).
func (s *scanner) next() {
	start := s.pos()
	c := s.src[s.off]
	switch {
	case isIdentStart(c):
		for s.off < len(s.src) && isIdentByte(s.src[s.off]) {
			s.off++
		}
		text := string(s.src[start.Offset:s.off])
		typ := tIdent
		if keywords[text] {
			typ = tKeyword
		}
		s.emit(typ, text, start)
	case isDigit(c) || c == '.' && isDigit(s.peek(1)):
		s.number(start)
	case c == '"':
		s.string(start)
	case c == '*' && s.peek(1) == '*':
		s.advance(2)
		s.emit(tPunct, "**", start)
	case c < utf8.RuneSelf && isPunct(c):
		s.advance(1)
		s.emit(tPunct, string(c), start)
	default:
		r, size := utf8.DecodeRune(s.src[s.off:])
		switch {
		case r == utf8.RuneError && size == 1:
			s.errorLine(start, "invalid UTF-8 encoding (byte 0x%02x)", c)
		case c == '.':
			s.errorLine(start, "unexpected \".\"; names cannot contain dots")
		case unicode.IsPrint(r):
			s.errorLine(start, "invalid character %U %q", r, r)
		default:
			s.errorLine(start, "invalid character %U", r)
		}
	}
}

func isPunct(c byte) bool {
	switch c {
	case '+', '-', '*', '/', '@', '=', ':', ',', '(', ')', '{', '}', '[', ']':
		return true
	}
	return false
}

// number scans digits [. digits] [e [+-] digits], or . digits [exponent].
func (s *scanner) number(start Pos) {
	digits := func() int {
		n := 0
		for s.off < len(s.src) && isDigit(s.src[s.off]) {
			s.off++
			n++
		}
		return n
	}
	digits()
	typ := tInt
	if s.off < len(s.src) && s.src[s.off] == '.' {
		s.off++
		digits()
		typ = tFloat
	}
	if s.off < len(s.src) && (s.src[s.off] == 'e' || s.src[s.off] == 'E') {
		s.off++
		if s.off < len(s.src) && (s.src[s.off] == '+' || s.src[s.off] == '-') {
			s.off++
		}
		typ = tFloat
		if digits() == 0 {
			s.errorLine(start, "malformed number %q: exponent has no digits", s.src[start.Offset:s.off])
			return
		}
	}
	if s.off < len(s.src) && (isIdentByte(s.src[s.off]) || s.src[s.off] == '.') {
		for s.off < len(s.src) && (isIdentByte(s.src[s.off]) || s.src[s.off] == '.') {
			s.off++
		}
		s.errorLine(start, "malformed number %q", s.src[start.Offset:s.off])
		return
	}
	s.emit(typ, string(s.src[start.Offset:s.off]), start)
}

// string scans a double-quoted literal with Go escapes, on one line.
func (s *scanner) string(start Pos) {
	s.off++
	for {
		if s.off >= len(s.src) || s.src[s.off] == '\n' {
			s.errorLine(start, "unterminated string literal")
			return
		}
		c := s.src[s.off]
		s.off++
		if c == '\\' && s.off < len(s.src) && s.src[s.off] != '\n' {
			s.off++
		} else if c == '"' {
			break
		}
	}
	text := string(s.src[start.Offset:s.off])
	if _, err := strconv.Unquote(text); err != nil || !utf8.ValidString(text) {
		s.errorLine(start, "invalid string literal %s", text)
		return
	}
	s.emit(tString, text, start)
}

// emit appends a token and its end marker, and tracks bracket nesting.
func (s *scanner) emit(typ lexer.TokenType, text string, start Pos) {
	idx := s.out.real()
	if idx >= maxTokens {
		s.out.fatal = &lexError{pos: start, msg: fmt.Sprintf("file too large: more than %d tokens", maxTokens)}
		return
	}
	tok := lexer.Token{Type: typ, Value: text, Pos: lexPos(start)}
	s.out.open = append(s.out.open, s.brackets.top())
	s.out.toks = append(s.out.toks, tok, lexer.Token{Type: tEnd, Pos: lexPos(s.pos())})
	s.brackets.token(&s.out, idx, tok)
}

// matcher matches brackets over a token sequence: the scanner runs it as it
// emits tokens, and Parse runs it again over the tokens left after
// recovery removed some (rematch).
type matcher struct {
	stack    []int32 // indexes into openers of open brackets
	minusRun int     // consecutive "-" tokens
	blockKw  string  // last model/def/repeat keyword not yet given a "{"
}

func (m *matcher) top() int32 {
	if len(m.stack) == 0 {
		return -1
	}
	return m.stack[len(m.stack)-1]
}

// token records real token idx in out's openers and unmatched, and sets
// out.fatal when brackets plus unary minus signs nest too deeply. The
// caller has recorded out.open[idx] = m.top() already.
func (m *matcher) token(out *scanned, idx int, tok lexer.Token) {
	text := tok.Value
	if tok.Type == tKeyword && (text == "model" || text == "def" || text == "repeat") {
		m.blockKw = text
	}
	if tok.Type != tPunct {
		m.minusRun = 0
		return
	}
	switch text {
	case "-":
		m.minusRun++
	case "(", "[", "{":
		m.minusRun = 0
		label := ""
		if text == "{" {
			label = "block"
			if m.blockKw != "" {
				label = m.blockKw + " block"
				m.blockKw = ""
			}
		}
		out.openers = append(out.openers, opener{pos: posOf(tok.Pos), text: text, label: label, close: -1})
		m.stack = append(m.stack, int32(len(out.openers)-1))
	case ")", "]", "}":
		m.minusRun = 0
		want := map[string]string{")": "(", "]": "[", "}": "{"}[text]
		// Pop to the nearest matching opener; openers skipped are unclosed
		// but their error will surface in the parser.
		matched := false
		for i := len(m.stack) - 1; i >= 0; i-- {
			if o := &out.openers[m.stack[i]]; o.text == want {
				o.close = tok.Pos.Offset
				m.stack = m.stack[:i]
				matched = true
				break
			}
		}
		if !matched {
			out.unmatched[idx] = true
		}
	default:
		m.minusRun = 0
	}
	if depth := len(m.stack) + m.minusRun; depth > maxNesting {
		out.fatal = &lexError{pos: posOf(tok.Pos), msg: fmt.Sprintf("expression nested too deeply (more than %d levels of brackets and unary minus)", maxNesting)}
	}
}

// rematch recomputes open, openers, unmatched and fatal over the live real
// tokens of s (a removed token has type tEnd), as scanning the source with
// the removed tokens blanked would.
func (s *scanned) rematch() {
	var m matcher
	s.openers = s.openers[:0]
	clear(s.unmatched)
	n := s.real()
	for i := range n {
		s.open[i] = m.top()
		tok := s.toks[2*i]
		if tok.Type == tEnd {
			continue
		}
		m.token(s, i, tok)
		if s.fatal != nil {
			return
		}
	}
	s.open[n] = m.top()
}

func posOf(p lexer.Position) Pos {
	return Pos{File: p.Filename, Line: p.Line, Col: p.Column, Offset: p.Offset}
}

// tokenLexer feeds pre-scanned tokens to participle.
type tokenLexer struct {
	toks []lexer.Token
	i    int
}

func (l *tokenLexer) Next() (lexer.Token, error) {
	t := l.toks[l.i]
	if l.i < len(l.toks)-1 {
		l.i++
	}
	return t, nil
}

// definition is the participle lexer definition backed by scan. Parse does
// not go through Lex (it hands participle the scanned tokens directly), but
// Lex works for tools that want a participle lexer.
type definition struct{}

func (definition) Symbols() map[string]lexer.TokenType { return symbols }

func (definition) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	sc := scan(filename, src)
	if sc.fatal != nil {
		return nil, fmt.Errorf("%s: %s", sc.fatal.pos, sc.fatal.msg)
	}
	if len(sc.errs) > 0 {
		return nil, fmt.Errorf("%s: %s", sc.errs[0].pos, sc.errs[0].msg)
	}
	return &tokenLexer{toks: sc.toks}, nil
}
