package dsl

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTokens(t *testing.T) {
	src := "\xef\xbb\xbf// c\nmodel M { x = -1.5 /* b\n*/ }\r\n"
	toks, diags := Tokens("t.mdl", []byte(src))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	type tok struct {
		Kind                   TokenKind
		Text                   string
		Line, Col, Off, EndOff int
	}
	var got []tok
	for _, x := range toks {
		got = append(got, tok{x.Kind, x.Text, x.Pos.Line, x.Pos.Col, x.Pos.Offset, x.End.Offset})
	}
	want := []tok{
		{TokenComment, "// c", 1, 1, 3, 7},
		{TokenKeyword, "model", 2, 1, 8, 13},
		{TokenIdent, "M", 2, 7, 14, 15},
		{TokenPunct, "{", 2, 9, 16, 17},
		{TokenIdent, "x", 2, 11, 18, 19},
		{TokenPunct, "=", 2, 13, 20, 21},
		{TokenPunct, "-", 2, 15, 22, 23},
		{TokenFloat, "1.5", 2, 16, 23, 26},
		{TokenComment, "/* b\n*/", 2, 20, 27, 34},
		{TokenPunct, "}", 3, 4, 35, 36},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, diags := Tokens("t.mdl", []byte("x = 1 $\n")); diags.Error() != `t.mdl:1:7: invalid character U+0024 '$'` {
		t.Errorf("lexical error: %v", diags)
	}
}
