// Package format prints .mdl source in its one canonical layout; it is
// what `mdlc fmt` runs.
//
// # How
//
// The formatter re-spaces the token stream: dsl.Tokens gives every token
// and comment with its position, and dsl.Parse gives the AST, from which
// the formatter takes what the tokens alone do not say: where each
// declaration and statement starts and ends, which "-" are unary, how many
// statements each block holds. It decides the whitespace between each two
// tokens and never adds, drops or reorders one, so the result parses to the
// same AST and every comment keeps its place among the tokens (the tests
// check both, and that formatting twice changes nothing). A file with
// errors is not formatted.
//
// # The layout
//
//   - One statement or declaration per line; 4 spaces of indentation per
//     block. A block written on one line with at most one statement stays
//     on one line (`repeat L { h = block(h) }`); any other block has its
//     "{" end a line and its "}" start one.
//   - Line breaks inside a statement are kept where a break reads well:
//     after "(", "[", "," or "=", on either side of a binary operator,
//     before ")" or "]", and next to a comment; other lines are joined (so
//     a "{" joins its header). A continuation line is indented one level
//     deeper than the line that opened the innermost bracket still open, or
//     than its statement when none is; a line that starts with ")" or "]"
//     is as deep as the line of its "(" or "[".
//   - Blank lines are kept, a run of them as one, none at the start or end
//     of the file or of a block.
//   - One space around binary operators (`**` too) and "=", and after ","
//     and ":"; none inside brackets, before "," or ":", after a unary "-",
//     or between a name and the "(" of its call or the "[" of its type;
//     `{}` for an empty one-line block.
//   - Comments keep their text (line comments lose trailing blanks). A
//     comment on a line of its own is indented like the code that follows
//     it (inside a block before its "}"). A // comment after code is one
//     space after it, and the // comments that end consecutive lines of
//     the same indentation are aligned one space past the longest code
//     among those lines.
//   - input, target, param and output statements on consecutive lines of a
//     block, each on one line, have their keywords padded to the longest
//     one, so that the names line up: `input  x: f32[N]` over
//     `target y: f32[N]`.
//   - A leading byte-order mark is dropped; lines end in "\n"; the file
//     ends with one newline (an empty file stays empty).
package format

import (
	"bytes"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/mdlc/mdlc/dsl"
)

// Source formats one .mdl file. When src has errors it returns them and
// no output.
func Source(filename string, src []byte) ([]byte, dsl.Diagnostics) {
	f, diags := dsl.Parse(filename, src)
	if diags.HasErrors() {
		return nil, diags
	}
	toks, tdiags := dsl.Tokens(filename, src)
	if tdiags.HasErrors() {
		return nil, tdiags
	}
	p := &printer{src: src, toks: toks, info: collect(f)}
	p.matchBraces()
	p.layout()
	alignKeywords(p.lines)
	alignComments(p.lines)
	return render(p.lines), diags
}

// stmt is what the AST says about a declaration or statement.
type stmt struct {
	end     int    // offset just past its last token
	keyword string // "input", "target", "param" or "output" (they align), else ""
}

// info is what the formatter takes from the AST, by byte offset.
type info struct {
	stmts  map[int]stmt // by offset of the first token
	unary  map[int]bool // offsets of unary "-"
	blocks map[int]int  // statements of each block, by offset of its "}"
}

func collect(f *dsl.File) *info {
	in := &info{stmts: map[int]stmt{}, unary: map[int]bool{}, blocks: map[int]int{}}
	var stmts func([]dsl.Stmt)
	block := func(n dsl.Node, body []dsl.Stmt) {
		in.blocks[n.EndPosition().Offset-1] = len(body)
		stmts(body)
	}
	add := func(n dsl.Node, kw string) {
		in.stmts[n.Position().Offset] = stmt{end: n.EndPosition().Offset, keyword: kw}
	}
	stmts = func(body []dsl.Stmt) {
		for _, s := range body {
			kw := ""
			switch s := s.(type) {
			case *dsl.InputDecl:
				kw = "input"
				if s.Target {
					kw = "target"
				}
			case *dsl.ParamDecl:
				kw = "param"
			case *dsl.OutputDecl:
				kw = "output"
			case *dsl.Repeat:
				block(s, s.Body)
			}
			add(s, kw)
		}
	}
	for _, d := range f.Decls {
		add(d, "")
		switch d := d.(type) {
		case *dsl.Model:
			block(d, d.Body)
		case *dsl.Def:
			block(d, d.Body)
		}
	}
	dsl.Inspect(f, func(n dsl.Node) bool {
		if u, ok := n.(*dsl.Unary); ok {
			in.unary[u.Pos.Offset] = true
		}
		return true
	})
	return in
}

// line is one output line (a block comment may make it several).
type line struct {
	indent  int
	blank   bool   // a blank line before it
	code    string // the line without its trailing // comment
	trail   string // a // comment after code, or ""
	kwLen   int    // length of the keyword of an aligned statement, or 0
	aligned bool   // one input/target/param/output statement, whole
	multi   bool   // holds a line break (a block comment): aligns nothing
}

type printer struct {
	src   []byte
	toks  []dsl.Token
	info  *info
	match map[int]int  // "{" offset -> "}" offset, and back
	one   map[int]bool // oneLine by "{" offset
	lines []*line
}

func (p *printer) matchBraces() {
	p.match, p.one = map[int]int{}, map[int]bool{}
	var stack []int
	for _, t := range p.toks {
		switch {
		case t.Kind != dsl.TokenPunct:
		case t.Text == "{":
			stack = append(stack, t.Pos.Offset)
		case t.Text == "}" && len(stack) > 0:
			o := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			p.match[o], p.match[t.Pos.Offset] = t.Pos.Offset, o
		}
	}
}

// oneLine reports whether the block whose "{" or "}" is at off stays on one
// line: it is written on one line and it, and every block in it, holds at
// most one statement.
func (p *printer) oneLine(off int) bool {
	open, close := off, p.match[off]
	if p.src[off] == '}' {
		open, close = close, off
	}
	if one, ok := p.one[open]; ok {
		return one
	}
	one := !bytes.Contains(p.src[open:close], []byte("\n"))
	i := sort.Search(len(p.toks), func(i int) bool { return p.toks[i].Pos.Offset >= open })
	for ; one && i < len(p.toks) && p.toks[i].Pos.Offset < close; i++ {
		if t := p.toks[i]; t.Kind == dsl.TokenPunct && t.Text == "{" {
			one = p.info.blocks[p.match[t.Pos.Offset]] <= 1
		}
	}
	p.one[open] = one
	return one
}

// frame is the state of one block level (the file is the outermost).
type frame struct {
	oneLine bool
	stmtEnd int        // end of the statement being printed, or -1
	groups  []int      // brackets open in it: the indentation of the line of each
	kwStmt  *alignable // the aligned statement that started the current line
}

type alignable struct {
	line *line
	end  int
}

func (p *printer) layout() {
	frames := []*frame{{stmtEnd: -1}}
	depth := 0      // multi-line blocks open
	opened := false // the last line ends with the "{" of a multi-line block
	var cur *line
	var prev *dsl.Token
	var b strings.Builder
	code := false // the current line has a token, not only comments
	flush := func() {
		if cur != nil {
			cur.code = strings.TrimRight(b.String(), " ")
			b.Reset()
		}
	}
	for i := range p.toks {
		t := &p.toks[i]
		fr := frames[len(frames)-1]
		is := func(s string) bool { return t.Kind == dsl.TokenPunct && t.Text == s }
		st, starts := p.info.stmts[t.Pos.Offset]
		if fr.stmtEnd >= 0 && t.Pos.Offset >= fr.stmtEnd {
			fr.stmtEnd, fr.groups = -1, nil
		}
		closesBlock := is("}") && !p.oneLine(t.Pos.Offset)
		newlines := 0
		if prev != nil {
			newlines = bytes.Count(p.src[prev.End.Offset:t.Pos.Offset], []byte("\n"))
		}
		prevOpensBlock := prev != nil && prev.Kind == dsl.TokenPunct && prev.Text == "{" && !p.oneLine(prev.Pos.Offset)
		brk := prev == nil ||
			prev.Kind == dsl.TokenComment && strings.HasPrefix(prev.Text, "//") ||
			starts && !fr.oneLine && code ||
			prevOpensBlock && (t.Kind != dsl.TokenComment || newlines > 0) ||
			closesBlock ||
			newlines > 0 && breakable(prev, t, p.info)
		if closesBlock {
			depth--
		}
		if brk {
			flush()
			cur = &line{blank: newlines > 1 && !opened && !closesBlock}
			opened, code = false, false
			p.lines = append(p.lines, cur)
			switch {
			case t.Kind == dsl.TokenComment:
				// Like the code that follows: the block's statements, or a
				// continuation of the statement it is in.
				cur.indent = 4 * depth
				if fr.stmtEnd >= 0 && !p.nextStarts(i) {
					cur.indent = continuation(fr, 4*depth, false)
				}
			case fr.stmtEnd >= 0 && !starts && !closesBlock && !is("{"):
				cur.indent = continuation(fr, 4*depth, is(")") || is("]"))
			default:
				cur.indent = 4 * depth
			}
			fr.kwStmt = nil
			if starts && st.keyword != "" {
				cur.kwLen = len(t.Text)
				fr.kwStmt = &alignable{line: cur, end: st.end}
			}
		} else if space(prev, t, p.info) {
			b.WriteByte(' ')
		}
		if starts {
			fr.stmtEnd, fr.groups = st.end, nil
		}

		// The token itself.
		switch {
		case t.Kind == dsl.TokenComment && strings.HasPrefix(t.Text, "//"):
			text := strings.TrimRight(t.Text, " \t\r")
			if b.Len() > 0 {
				cur.trail = text
			} else {
				b.WriteString(text)
			}
		case t.Kind == dsl.TokenComment:
			text := strings.ReplaceAll(t.Text, "\r\n", "\n")
			if strings.Contains(text, "\n") {
				cur.multi = true
			}
			b.WriteString(text)
		default:
			b.WriteString(t.Text)
			code = true
		}
		if a := fr.kwStmt; a != nil && a.line == cur && t.End.Offset == a.end && t.Kind != dsl.TokenComment {
			cur.aligned = true
		}

		// Nesting.
		if t.Kind == dsl.TokenPunct {
			switch t.Text {
			case "(", "[":
				fr.groups = append(fr.groups, cur.indent)
			case ")", "]":
				if len(fr.groups) > 0 {
					fr.groups = fr.groups[:len(fr.groups)-1]
				}
			case "{":
				one := p.oneLine(t.Pos.Offset)
				if !one {
					depth++
					opened = true
				}
				frames = append(frames, &frame{oneLine: one, stmtEnd: -1})
			case "}":
				if len(frames) > 1 {
					frames = frames[:len(frames)-1]
				}
			}
		}
		prev = t
	}
	flush()
}

// nextStarts reports whether the first token after the comments from i on
// starts a statement or closes a block.
func (p *printer) nextStarts(i int) bool {
	for ; i < len(p.toks); i++ {
		t := p.toks[i]
		if t.Kind == dsl.TokenComment {
			continue
		}
		_, starts := p.info.stmts[t.Pos.Offset]
		return starts || t.Kind == dsl.TokenPunct && t.Text == "}"
	}
	return true
}

// continuation is the indentation of a line inside a statement at base
// indentation: one level deeper than the line that opened the innermost
// open bracket, or than the statement; a line that starts with a closer is
// as deep as the line of its opener.
func continuation(fr *frame, base int, closer bool) int {
	n := len(fr.groups)
	switch {
	case closer && n > 0:
		return fr.groups[n-1]
	case n > 0:
		return fr.groups[n-1] + 4
	}
	return base + 4
}

// breakable reports whether a line break the source has between prev and
// t is kept: next to a comment, after an opening bracket, "," or "=", or
// on either side of a binary operator or before a closing bracket. Others
// (`model` and its name, a name and its "(", around ":", before "{") are
// joined.
func breakable(prev, t *dsl.Token, in *info) bool {
	binary := func(x *dsl.Token) bool {
		return isPunct(x, "+", "-", "*", "/", "@", "**") && !(x.Text == "-" && in.unary[x.Pos.Offset])
	}
	return prev.Kind == dsl.TokenComment || t.Kind == dsl.TokenComment ||
		isPunct(prev, "(", "[", ",", "=") || binary(prev) ||
		binary(t) || isPunct(t, ")", "]")
}

func isPunct(x *dsl.Token, ss ...string) bool {
	if x.Kind != dsl.TokenPunct {
		return false
	}
	for _, s := range ss {
		if x.Text == s {
			return true
		}
	}
	return false
}

// space reports whether one space separates prev and t on a line.
func space(prev, t *dsl.Token, in *info) bool {
	punct := isPunct
	switch {
	case punct(prev, "(", "["):
		return false
	case t.Kind == dsl.TokenComment || prev.Kind == dsl.TokenComment:
		return !punct(t, ",", ")", "]")
	case punct(t, ",", ")", "]", ":"):
		return false
	case punct(t, "(", "[") && prev.Kind == dsl.TokenIdent:
		return false
	case punct(prev, "-") && in.unary[prev.Pos.Offset]:
		return false
	case punct(t, "}") && punct(prev, "{"):
		return false
	}
	return true
}

// alignKeywords pads the keywords of aligned statements on consecutive
// lines of one block to the longest.
func alignKeywords(lines []*line) {
	for i := 0; i < len(lines); {
		j := i + 1
		if lines[i].aligned {
			for j < len(lines) && lines[j].aligned && !lines[j].blank && lines[j].indent == lines[i].indent {
				j++
			}
			w := 0
			for _, l := range lines[i:j] {
				w = max(w, l.kwLen)
			}
			for _, l := range lines[i:j] {
				l.code = l.code[:l.kwLen] + strings.Repeat(" ", w-l.kwLen) + l.code[l.kwLen:]
			}
		}
		i = j
	}
}

// alignComments aligns the // comments that end consecutive lines of the
// same indentation.
func alignComments(lines []*line) {
	for i := 0; i < len(lines); {
		j := i + 1
		if lines[i].trail != "" && !lines[i].multi {
			for j < len(lines) && lines[j].trail != "" && !lines[j].multi && !lines[j].blank && lines[j].indent == lines[i].indent {
				j++
			}
			w := 0
			for _, l := range lines[i:j] {
				w = max(w, l.indent+utf8.RuneCountInString(l.code))
			}
			for _, l := range lines[i:j] {
				l.code += strings.Repeat(" ", w-l.indent-utf8.RuneCountInString(l.code))
			}
		}
		i = j
	}
}

func render(lines []*line) []byte {
	var b strings.Builder
	for i, l := range lines {
		if l.blank && i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat(" ", l.indent))
		b.WriteString(l.code)
		if l.trail != "" {
			b.WriteByte(' ')
			b.WriteString(l.trail)
		}
		b.WriteByte('\n')
	}
	return []byte(b.String())
}
