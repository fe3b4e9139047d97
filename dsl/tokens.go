package dsl

import (
	"sort"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// TokenKind classifies a Token.
type TokenKind int

const (
	TokenIdent   TokenKind = iota // a name
	TokenKeyword                  // const def model ... true false
	TokenInt                      // 784
	TokenFloat                    // 1e-3
	TokenString                   // "cosine"
	TokenPunct                    // + - * / @ ** = : , ( ) [ ] { }
	TokenComment                  // // to end of line, or /* ... */
)

// Token is a token or comment of a .mdl file as written, for tools that
// work on the source text (mdlc fmt). End is just past its last byte.
type Token struct {
	Kind TokenKind
	Text string // as written; a comment with its // or /* */
	Pos  Pos
	End  Pos
}

// Tokens returns the tokens and comments of src in source order, or the
// lexical errors and limits Parse would report (without recovering from
// them: the tokens are then incomplete).
func Tokens(filename string, src []byte) ([]Token, Diagnostics) {
	var diags Diagnostics
	if len(src) > maxFileSize {
		diags.Errorf(Pos{File: filename, Line: 1, Col: 1}, "file too large: %d bytes (limit %d MiB)", len(src), maxFileSize>>20)
		return nil, diags
	}
	sc := scan(filename, src)
	if sc.fatal != nil {
		diags.Errorf(sc.fatal.pos, "%s", sc.fatal.msg)
		return nil, diags
	}
	for _, e := range sc.errs {
		diags.Errorf(e.pos, "%s", e.msg)
	}
	toks := make([]Token, 0, sc.real()+len(sc.comments))
	for i := range sc.real() {
		t, end := sc.toks[2*i], sc.toks[2*i+1]
		toks = append(toks, Token{Kind: tokenKind(t.Type), Text: t.Value, Pos: posOf(t.Pos), End: posOf(end.Pos)})
	}
	for _, c := range sc.comments {
		text := string(src[c.start.Offset:c.end.Offset])
		if !c.block {
			text = strings.TrimRight(text, "\r")
		}
		toks = append(toks, Token{Kind: TokenComment, Text: text, Pos: c.start, End: c.end})
	}
	sort.SliceStable(toks, func(i, j int) bool { return toks[i].Pos.Offset < toks[j].Pos.Offset })
	diags.Sort()
	return toks, diags
}

func tokenKind(t lexer.TokenType) TokenKind {
	switch t {
	case tIdent:
		return TokenIdent
	case tKeyword:
		return TokenKeyword
	case tInt:
		return TokenInt
	case tFloat:
		return TokenFloat
	case tString:
		return TokenString
	}
	return TokenPunct
}
