package dsl

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Severity says whether a diagnostic stops compilation.
type Severity int

const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Related is a secondary location attached to a diagnostic
// ("note: previous definition here").
type Related struct {
	Pos Pos
	Msg string
}

// Diagnostic is one compiler message tied to a source position.
// Hint is an optional suggestion printed on its own line by Format
// (unless Msg already contains it).
type Diagnostic struct {
	Pos      Pos
	Msg      string
	Hint     string
	Severity Severity
	Related  []Related
}

// String renders d on one line: file:line:col: [warning: ]msg.
func (d Diagnostic) String() string {
	var b strings.Builder
	if d.Pos.IsValid() || d.Pos.File != "" {
		b.WriteString(posPrefix(d.Pos))
		b.WriteString(": ")
	}
	if d.Severity == Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(d.Msg)
	return b.String()
}

// posPrefix is file:line:col, dropping the parts that are unknown.
func posPrefix(p Pos) string {
	switch {
	case p.Line <= 0:
		return p.File
	case p.File == "":
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	}
	return p.String()
}

// Diagnostics is a list of diagnostics. As an error it renders one line per
// diagnostic; use Err to get a nil error when there are no errors.
type Diagnostics []Diagnostic

// Errorf appends an error at pos.
func (ds *Diagnostics) Errorf(pos Pos, format string, args ...any) {
	*ds = append(*ds, Diagnostic{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// Warnf appends a warning at pos.
func (ds *Diagnostics) Warnf(pos Pos, format string, args ...any) {
	*ds = append(*ds, Diagnostic{Pos: pos, Msg: fmt.Sprintf(format, args...), Severity: Warning})
}

// Error renders every diagnostic on its own line, without source excerpts.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// HasErrors reports whether any diagnostic has Severity Error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Err returns ds as an error if it has errors, and nil otherwise.
func (ds Diagnostics) Err() error {
	if ds.HasErrors() {
		return ds
	}
	return nil
}

// Sort orders ds by file, line and column, keeping the relative order of
// diagnostics at the same position.
func (ds Diagnostics) Sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Pos, ds[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// Sources maps file names (as in Pos.File) to their contents, for Format.
type Sources map[string][]byte

// Format renders each diagnostic as
//
//	model.mdl:3:15: unknown function reul; did you mean relu?
//	    hidden = reul(dense(image, 256))
//	             ^
//	    hint: ...
//	model.mdl:1:1: note: related message
//
// The source line and caret are omitted when the file is not in src or the
// position is unknown. Tabs in the source line are repeated in the caret
// line so the caret aligns.
func (ds Diagnostics) Format(src Sources) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
		writeExcerpt(&b, src, d.Pos)
		if d.Hint != "" && !strings.Contains(d.Msg, d.Hint) {
			b.WriteString("    hint: " + d.Hint + "\n")
		}
		for _, r := range d.Related {
			if r.Pos.IsValid() || r.Pos.File != "" {
				b.WriteString(posPrefix(r.Pos) + ": ")
			}
			b.WriteString("note: " + r.Msg + "\n")
		}
	}
	return b.String()
}

// maxExcerpt bounds the bytes of a source line shown in an excerpt; longer
// lines are cut to a window around the column.
const maxExcerpt = 160

// writeExcerpt writes the source line of p and a caret under p.Col.
func writeExcerpt(b *strings.Builder, src Sources, p Pos) {
	text, ok := src[p.File]
	if !ok || p.Line <= 0 {
		return
	}
	line, ok := sourceLine(text, p.Line)
	if !ok {
		return
	}
	col := p.Col - 1 // byte index of the caret within line
	col = max(0, min(col, len(line)))
	start, end := 0, len(line)
	if len(line) > maxExcerpt {
		start = max(0, col-maxExcerpt/2)
		end = min(len(line), start+maxExcerpt)
		start, end = runeStart(line, start), runeStart(line, end)
	}
	var shown, pad strings.Builder
	if start > 0 {
		shown.WriteString("...")
		pad.WriteString("   ")
	}
	for i := start; i < end; {
		r, size := utf8.DecodeRuneInString(line[i:])
		switch {
		case r == '\t':
			shown.WriteByte('\t')
		case r == utf8.RuneError && size == 1, !unicode.IsPrint(r):
			shown.WriteByte('?')
		default:
			shown.WriteString(line[i : i+size])
		}
		if i < col {
			if r == '\t' {
				pad.WriteByte('\t')
			} else {
				pad.WriteByte(' ')
			}
		}
		i += size
	}
	if end < len(line) {
		shown.WriteString("...")
	}
	b.WriteString("    " + shown.String() + "\n")
	b.WriteString("    " + pad.String() + "^\n")
}

// sourceLine returns line n (1-based) of text without its line terminator
// (and line 1 without a byte-order mark, which columns do not count).
func sourceLine(text []byte, n int) (string, bool) {
	if n == 1 {
		text = bytes.TrimPrefix(text, []byte(bom))
	}
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(text, '\n')
		if j < 0 {
			return "", false
		}
		text = text[j+1:]
	}
	if j := bytes.IndexByte(text, '\n'); j >= 0 {
		text = text[:j]
	}
	return strings.TrimSuffix(string(text), "\r"), true
}

// runeStart moves i back to the start of the UTF-8 sequence containing it.
func runeStart(s string, i int) int {
	for i > 0 && i < len(s) && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}

// Suggest returns the candidate closest to name by edit distance, or "" if
// none is within max(1, len(name)/3) edits. The distance is Levenshtein's
// plus adjacent transpositions (optimal string alignment), so "reul" is one
// edit from "relu". Ties go to the earliest candidate. If name is itself a
// candidate there is nothing to suggest.
func Suggest(name string, candidates []string) string {
	best, bestDist := "", max(1, utf8.RuneCountInString(name)/3)+1
	for _, c := range candidates {
		if c == name {
			return ""
		}
		if d := editDistance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b in
// runes: insertions, deletions, substitutions and adjacent transpositions.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// d[i][j] over three rolling rows.
	pp := make([]int, len(rb)+1) // row i-2
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], pp[j-2]+1)
			}
		}
		pp, prev, cur = prev, cur, pp
	}
	return prev[len(rb)]
}
