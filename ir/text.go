package ir

// The text form of graphs: Print and Format write it, ParseText reads it
// back. The two round-trip exactly: Format(ParseText(Format(g))) ==
// Format(g), and the parsed graph equals g field by field.
//
//	graph LinReg {
//	  %0 = input {role: "input", dtype: f32, shape: [N]} : f32[N] "x" @ linreg.mdl:3:12
//	  %1 = param {dtype: f32, shape: [], init: "zeros"} : f32 "b" @ linreg.mdl:4:12
//	  %2 = mul %1, %0 : f32[N] @ linreg.mdl:7:23
//	  output y = %2
//	  update b = %5
//	  optimizer adam {beta1: 0.9, lr: 0.001} @ linreg.mdl:9:5
//	}
//
// A value line is `%ID = op ARGS {ATTRS} : TYPE "name" @ file:line:col`;
// args, attrs, name and position are omitted when empty. Attributes appear
// in the op's schema order and are read with the schema's kinds. Optimizer
// attributes have no schema, so they are written self-describing: sorted by
// key, floats always with a '.' or an exponent (1.0, not 1), lists tagged
// with their kind (ints[1, 2], floats[0.5], shape[N, 3]). Update targets
// are written by name (they are named params or state). Names that are not
// identifiers ([A-Za-z_][A-Za-z0-9_.]*) are quoted. `//` starts a comment.
//
// The printer numbers values by their index in Graph.Values, whatever
// their IDs; it never modifies the graph. The parser requires %0, %1, ...
// in order, uses before definitions, builds values with NewValue (which
// infers types), checks every written type against the inferred one, and
// finally runs Verify.

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Limits of the parser.
const (
	maxTextSize = 16 << 20 // bytes of input
	maxAttrList = 64       // elements of an ints or shape attribute
)

// ---------------------------------------------------------------------------
// Printer

// Format returns the text form of g. Values that cannot be written (an
// attribute of a type outside the schema's, a nil value) are written in a
// form the parser rejects; Print reports them as errors.
func Format(g *Graph) string {
	var p printer
	p.graph(g)
	return p.buf.String()
}

// Print writes the text form of g to w. It returns the first write error or
// the first part of g that has no text form.
func Print(w io.Writer, g *Graph) error {
	var p printer
	p.graph(g)
	if _, err := w.Write(p.buf.Bytes()); err != nil {
		return err
	}
	return p.err
}

type printer struct {
	buf   bytes.Buffer
	ids   map[*Value]int    // index in g.Values (first occurrence)
	bound map[string]*Value // first input, param or state of each name
	err   error
}

func (p *printer) errorf(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("ir: print: "+format, args...)
	}
}

func (p *printer) graph(g *Graph) {
	if g == nil {
		p.errorf("nil graph")
		p.buf.WriteString("graph <nil> {\n}\n")
		return
	}
	p.ids = make(map[*Value]int, len(g.Values))
	p.bound = map[string]*Value{}
	for i, v := range g.Values {
		if _, dup := p.ids[v]; v != nil && !dup {
			p.ids[v] = i
		}
		if v != nil && v.Op != nil && v.Op.Bound && v.Name != "" && p.bound[v.Name] == nil {
			p.bound[v.Name] = v
		}
	}
	fmt.Fprintf(&p.buf, "graph %s {\n", quoteName(g.Name))
	for i, v := range g.Values {
		p.value(i, v)
	}
	for _, r := range g.Results {
		kind := fmt.Sprintf("resultkind(%d)", r.Kind)
		if int(r.Kind) < len(resultKindNames) {
			kind = r.Kind.String()
		} else {
			p.errorf("result %q has unknown kind %d", r.Name, r.Kind)
		}
		fmt.Fprintf(&p.buf, "  %s %s = %s\n", kind, quoteName(r.Name), p.ref(r.Value))
	}
	for _, u := range g.Updates {
		target := p.ref(u.Target)
		if t := u.Target; t != nil && t.Name != "" && p.bound[t.Name] == t {
			target = quoteName(t.Name)
		}
		fmt.Fprintf(&p.buf, "  update %s = %s\n", target, p.ref(u.Value))
	}
	for _, gr := range g.Groups {
		fmt.Fprintf(&p.buf, "  group %s", gr.Kind)
		lanes := gr.Lanes
		if lanes == nil {
			lanes = [][]*Value{gr.Values}
		} else {
			p.buf.WriteString(" lanes")
		}
		for i, lane := range lanes {
			if i > 0 {
				p.buf.WriteString(" |")
			}
			for j, v := range lane {
				if j > 0 {
					p.buf.WriteString(",")
				}
				p.buf.WriteString(" " + p.ref(v))
			}
		}
		p.buf.WriteString("\n")
	}
	if pl := g.Plan; pl != nil {
		fmt.Fprintf(&p.buf, "  plan batch %d arena %d iarena %d\n", pl.MaxBatch, pl.Arena, pl.IArena)
		slot := func(kw string, v *Value, s Slot) {
			fmt.Fprintf(&p.buf, "  %s %s %s", kw, p.ref(v), s.Storage)
			switch {
			case s.Storage.InBlock():
				fmt.Fprintf(&p.buf, " %d %d", s.Offset, s.Size)
			case s.Storage == StoreAlias:
				p.buf.WriteString(" " + p.ref(s.Of))
			}
			p.buf.WriteString("\n")
		}
		for _, v := range g.Values {
			if s, ok := pl.Slots[v]; ok {
				slot("slot", v, s)
			}
			if s, ok := pl.Scratch[v]; ok {
				slot("scratch", v, s)
			}
		}
	}
	if o := g.Optimizer; o != nil {
		fmt.Fprintf(&p.buf, "  optimizer %s", quoteName(o.Name))
		if len(o.Attrs) > 0 {
			keys := make([]string, 0, len(o.Attrs))
			for k := range o.Attrs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			p.buf.WriteString(" {")
			for i, k := range keys {
				if i > 0 {
					p.buf.WriteString(", ")
				}
				p.buf.WriteString(quoteName(k))
				p.buf.WriteString(": ")
				p.untyped(o.Attrs[k])
			}
			p.buf.WriteString("}")
		}
		p.pos(o.Pos)
		p.buf.WriteString("\n")
	}
	p.buf.WriteString("}\n")
}

func (p *printer) ref(v *Value) string {
	if i, ok := p.ids[v]; ok {
		return "%" + strconv.Itoa(i)
	}
	p.errorf("reference to a value not in the graph")
	return "%?"
}

func (p *printer) value(i int, v *Value) {
	fmt.Fprintf(&p.buf, "  %%%d = ", i)
	if v == nil || v.Op == nil {
		p.errorf("%%%d: nil value or op", i)
		p.buf.WriteString("<nil>\n")
		return
	}
	p.buf.WriteString(v.Op.Name)
	for j, a := range v.Args {
		if j > 0 {
			p.buf.WriteByte(',')
		}
		p.buf.WriteByte(' ')
		p.buf.WriteString(p.ref(a))
	}
	if len(v.Attrs) > 0 {
		p.buf.WriteString(" {")
		n := 0
		sep := func(k string) {
			if n > 0 {
				p.buf.WriteString(", ")
			}
			n++
			p.buf.WriteString(quoteName(k))
			p.buf.WriteString(": ")
		}
		for _, s := range v.Op.Attrs {
			if x, ok := v.Attrs[s.Name]; ok {
				sep(s.Name)
				p.typed(s.Kind, x)
			}
		}
		var extra []string // not in the schema: invalid, but show them
		for k := range v.Attrs {
			if v.Op.Attr(k) == nil {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		for _, k := range extra {
			sep(k)
			p.untyped(v.Attrs[k])
		}
		p.buf.WriteString("}")
	}
	p.buf.WriteString(" : ")
	p.buf.WriteString(v.Type.String())
	if v.Name != "" {
		p.buf.WriteByte(' ')
		p.buf.WriteString(strconv.Quote(v.Name))
	}
	p.pos(v.Pos)
	p.buf.WriteByte('\n')
}

func (p *printer) pos(pos Pos) {
	if !pos.IsValid() {
		return
	}
	file := pos.File
	if !isPlainFile(file) {
		file = strconv.Quote(file)
	}
	fmt.Fprintf(&p.buf, " @ %s:%d:%d", file, pos.Line, pos.Col)
}

// typed writes x as an attribute of kind k; x of another Go type is
// written untyped.
func (p *printer) typed(k AttrKind, x any) {
	b := &p.buf
	switch x := x.(type) {
	case int:
		if k == AttrInt {
			b.WriteString(strconv.Itoa(x))
			return
		}
	case []int:
		if k == AttrInts {
			writeList(b, x, strconv.Itoa)
			return
		}
	case float64:
		if k == AttrFloat {
			b.WriteString(formatFloat(x))
			return
		}
	case []float64:
		if k == AttrFloats {
			writeList(b, x, formatFloat)
			return
		}
	case bool:
		if k == AttrBool {
			b.WriteString(strconv.FormatBool(x))
			return
		}
	case string:
		if k == AttrString {
			b.WriteString(strconv.Quote(x))
			return
		}
	case DType:
		if k == AttrDType {
			b.WriteString(x.String())
			return
		}
	case Shape:
		if k == AttrShape {
			b.WriteString(x.String())
			return
		}
	}
	p.untyped(x)
}

// untyped writes x so that its Go type can be read back without a schema.
func (p *printer) untyped(x any) {
	b := &p.buf
	switch x := x.(type) {
	case int:
		b.WriteString(strconv.Itoa(x))
	case []int:
		b.WriteString("ints")
		writeList(b, x, strconv.Itoa)
	case float64:
		b.WriteString(untypedFloat(x))
	case []float64:
		b.WriteString("floats")
		writeList(b, x, untypedFloat)
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case string:
		b.WriteString(strconv.Quote(x))
	case DType:
		b.WriteString(x.String())
	case Shape:
		b.WriteString("shape")
		b.WriteString(x.String())
	default:
		p.errorf("attribute value %v of type %T has no text form", x, x)
		fmt.Fprintf(b, "<%T>", x)
	}
}

func writeList[T any](b *bytes.Buffer, xs []T, f func(T) string) {
	b.WriteByte('[')
	for i, x := range xs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f(x))
	}
	b.WriteByte(']')
}

// formatFloat is the shortest text that parses back to x: 0.1, 1e-300, -0,
// NaN, +Inf, -Inf.
func formatFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// untypedFloat is formatFloat made distinct from an int literal (1.0, -0.0).
func untypedFloat(x float64) string {
	s := formatFloat(x)
	if isIntLiteral(s) {
		s += ".0"
	}
	return s
}

func isIntLiteral(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// quoteName writes s bare if it is an identifier, quoted otherwise.
func quoteName(s string) string {
	if isIdent(s) {
		return s
	}
	return strconv.Quote(s)
}

func isIdent(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentChar(s[i]) {
			return false
		}
	}
	return true
}

// isPlainFile reports whether a position's file can be written unquoted.
func isPlainFile(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isFileChar(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isLetter(c byte) bool     { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isIdentStart(c byte) bool { return isLetter(c) || c == '_' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) || c == '.' }
func isFileChar(c byte) bool   { return isIdentChar(c) || c == '/' || c == '-' }

// ---------------------------------------------------------------------------
// Lexer

type tokKind uint8

const (
	tEOF    tokKind = iota
	tIdent          // graph, f32, reduce_sum, hidden.w
	tNumber         // 3, -1, 0.5, 1e-300, +Inf
	tString         // "x" (text is the unquoted value)
	tRef            // %3 (text is the digits)
	tPunct          // = { } [ ] , : * @
)

type token struct {
	kind      tokKind
	text      string
	line, col int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tString:
		return "string " + strconv.Quote(t.text)
	case tRef:
		return "%" + t.text
	}
	return strconv.Quote(t.text)
}

// parseError is a positioned error; bailout carries it out of the parser.
type parseError struct {
	file      string
	line, col int
	msg       string
}

func (e *parseError) Error() string { return fmt.Sprintf("%s:%d:%d: %s", e.file, e.line, e.col, e.msg) }

type bailout struct{ err error }

type parser struct {
	file      string
	src       []byte
	off       int // next byte to lex
	line      int // line of src[off]
	lineStart int // offset of the start of that line
	tok       token

	g     *Graph
	bound map[string]*Value // first input, param or state of each name
}

func (p *parser) errorAt(line, col int, format string, args ...any) {
	panic(bailout{&parseError{p.file, line, col, fmt.Sprintf(format, args...)}})
}

func (p *parser) errorf(t token, format string, args ...any) {
	p.errorAt(t.line, t.col, format, args...)
}

// skipSpace skips white space and // comments.
func (p *parser) skipSpace() {
	for p.off < len(p.src) {
		switch c := p.src[p.off]; {
		case c == '\n':
			p.off++
			p.line++
			p.lineStart = p.off
		case c == ' ' || c == '\t' || c == '\r':
			p.off++
		case c == '/' && p.off+1 < len(p.src) && p.src[p.off+1] == '/':
			for p.off < len(p.src) && p.src[p.off] != '\n' {
				p.off++
			}
		default:
			return
		}
	}
}

// next lexes the token at p.off into p.tok.
func (p *parser) next() {
	p.skipSpace()
	t := token{line: p.line, col: p.off - p.lineStart + 1}
	if p.off >= len(p.src) {
		t.kind = tEOF
		p.tok = t
		return
	}
	start := p.off
	c := p.src[p.off]
	switch {
	case isIdentStart(c):
		for p.off < len(p.src) && isIdentChar(p.src[p.off]) {
			p.off++
		}
		t.kind, t.text = tIdent, string(p.src[start:p.off])
	case isDigit(c) || (c == '-' || c == '+') && p.off+1 < len(p.src) && (isIdentChar(p.src[p.off+1])):
		p.off++
		for p.off < len(p.src) {
			d := p.src[p.off]
			e := p.src[p.off-1] | 0x20 // lower case
			if isIdentChar(d) || (d == '+' || d == '-') && (e == 'e' || e == 'p') {
				p.off++
				continue
			}
			break
		}
		t.kind, t.text = tNumber, string(p.src[start:p.off])
	case c == '"':
		t.kind, t.text = tString, p.lexString(t)
	case c == '%':
		p.off++
		for p.off < len(p.src) && isDigit(p.src[p.off]) {
			p.off++
		}
		if p.off == start+1 {
			p.errorf(t, "expected a value number after %%")
		}
		t.kind, t.text = tRef, string(p.src[start+1:p.off])
	case strings.IndexByte("={}[],:*@|", c) >= 0:
		p.off++
		t.kind, t.text = tPunct, string(c)
	default:
		if c < ' ' || c >= 0x7f {
			p.errorf(t, "unexpected character %q", rune(c))
		}
		p.errorf(t, "unexpected %q", string(c))
	}
	p.tok = t
}

// lexString reads the Go string literal at p.off and returns its value.
func (p *parser) lexString(t token) string {
	start := p.off
	p.off++
	for {
		if p.off >= len(p.src) || p.src[p.off] == '\n' {
			p.errorf(t, "unterminated string")
		}
		c := p.src[p.off]
		p.off++
		if c == '"' {
			break
		}
		if c == '\\' && p.off < len(p.src) && p.src[p.off] != '\n' {
			p.off++
		}
	}
	s, err := strconv.Unquote(string(p.src[start:p.off]))
	if err != nil {
		p.errorf(t, "invalid string literal %s", p.src[start:p.off])
	}
	return s
}

func (p *parser) is(punct string) bool { return p.tok.kind == tPunct && p.tok.text == punct }

func (p *parser) isKeyword(kw string) bool { return p.tok.kind == tIdent && p.tok.text == kw }

func (p *parser) accept(punct string) bool {
	if p.is(punct) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expect(punct string) {
	if !p.accept(punct) {
		p.errorf(p.tok, "expected %q, found %s", punct, p.tok)
	}
}

// ---------------------------------------------------------------------------
// Parser

// ParseText parses the text form of a graph (see Format). Errors read
// "filename:line:col: message"; a graph that parses but fails Verify is
// returned with Verify's error.
func ParseText(filename string, src []byte) (g *Graph, err error) {
	if len(src) > maxTextSize {
		return nil, &parseError{filename, 1, 1, fmt.Sprintf("input is %d bytes; the limit is %d", len(src), maxTextSize)}
	}
	p := &parser{file: filename, src: src, line: 1, g: &Graph{}, bound: map[string]*Value{}}
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			g, err = nil, b.err
		}
	}()
	p.next()
	p.graph()
	if err := Verify(p.g); err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	return p.g, nil
}

// graph = "graph" name "{" { value | result | update | optimizer } "}"
func (p *parser) graph() {
	if !p.isKeyword("graph") {
		p.errorf(p.tok, "expected \"graph\", found %s", p.tok)
	}
	p.next()
	p.g.Name = p.name("graph name")
	p.expect("{")
	for !p.is("}") {
		switch t := p.tok; {
		case t.kind == tRef:
			p.value()
		case t.kind == tIdent && (t.text == "output" || t.text == "loss" || t.text == "metric" || t.text == "grad" || t.text == "train_loss"):
			p.result()
		case p.isKeyword("update"):
			p.update()
		case p.isKeyword("optimizer"):
			p.optimizer()
		case p.isKeyword("group"):
			p.group()
		case p.isKeyword("plan"):
			p.plan()
		case p.isKeyword("slot"), p.isKeyword("scratch"):
			p.slot()
		case t.kind == tEOF:
			p.errorf(t, "unexpected end of input; missing \"}\"")
		default:
			p.errorf(t, "expected a value, result, update or optimizer, found %s", t)
		}
	}
	p.next()
	if p.tok.kind != tEOF {
		p.errorf(p.tok, "unexpected %s after the graph", p.tok)
	}
}

// value = ref "=" op [ref {"," ref}] [attrs] ":" type [string] [pos]
func (p *parser) value() {
	g := p.g
	idTok := p.tok
	id, err := strconv.Atoi(idTok.text)
	switch {
	case err != nil:
		p.errorf(idTok, "bad value number %%%s", idTok.text)
	case id < len(g.Values):
		p.errorf(idTok, "redefinition of %%%d", id)
	case id > len(g.Values):
		p.errorf(idTok, "value %%%d out of order; expected %%%d", id, len(g.Values))
	}
	p.next()
	p.expect("=")
	opTok := p.tok
	if opTok.kind != tIdent {
		p.errorf(opTok, "expected an op name, found %s", opTok)
	}
	op := LookupOp(opTok.text)
	if op == nil {
		p.errorf(opTok, "unknown op %q%s", opTok.text, hint(opTok.text, opNames()))
	}
	p.next()
	var args []*Value
	if p.tok.kind == tRef {
		args = append(args, p.ref())
		for p.accept(",") {
			args = append(args, p.ref())
		}
	}
	attrs := Attrs{}
	if p.is("{") {
		p.attrs(op, attrs)
	}
	p.expect(":")
	typTok := p.tok
	typ := p.typ()
	v, err := NewValue(op, attrs, args...)
	if err != nil {
		p.errorf(opTok, "%v", err)
	}
	if !typ.Equal(v.Type) {
		p.errorf(typTok, "type mismatch: written %s, but %s infers %s", typ, op.Name, v.Type)
	}
	if p.tok.kind == tString {
		v.Name = p.tok.text
		p.next()
	}
	if p.is("@") {
		v.Pos = p.pos()
	}
	v.ID = id
	g.Values = append(g.Values, v)
	if op.Bound && v.Name != "" && p.bound[v.Name] == nil {
		p.bound[v.Name] = v
	}
}

// result = ("output" | "loss" | "metric" | "grad" | "train_loss") name "=" ref
func (p *parser) result() {
	var kind ResultKind
	for k, n := range resultKindNames {
		if n == p.tok.text {
			kind = ResultKind(k)
		}
	}
	p.next()
	name := p.name("result name")
	p.expect("=")
	p.g.Results = append(p.g.Results, Result{Kind: kind, Name: name, Value: p.ref()})
}

// group = "group" kind ["lanes"] ref {"," ref} {"|" ref {"," ref}}
func (p *parser) group() {
	p.next()
	t := p.tok
	kindName := p.name("group kind")
	kind := FusionKind(255)
	for i, n := range fusionKindNames {
		if n == kindName {
			kind = FusionKind(i)
		}
	}
	if kind == 255 {
		p.errorf(t, "unknown group kind %q", kindName)
	}
	gr := Group{Kind: kind}
	lanes := false
	if p.isKeyword("lanes") {
		p.next()
		lanes = true
	}
	lane := []*Value{p.ref()}
	for {
		if p.accept(",") {
			lane = append(lane, p.ref())
			continue
		}
		if lanes && p.accept("|") {
			gr.Lanes = append(gr.Lanes, lane)
			lane = []*Value{p.ref()}
			continue
		}
		break
	}
	if lanes {
		gr.Lanes = append(gr.Lanes, lane)
		for _, l := range gr.Lanes {
			gr.Values = append(gr.Values, l...)
		}
	} else {
		gr.Values = lane
	}
	p.g.Groups = append(p.g.Groups, gr)
}

// plan = "plan" "batch" int "arena" int "iarena" int
func (p *parser) plan() {
	p.next()
	if p.g.Plan != nil {
		p.errorf(p.tok, "second plan")
	}
	pl := &Plan{Slots: map[*Value]Slot{}, Scratch: map[*Value]Slot{}}
	for _, field := range []*int{&pl.MaxBatch, &pl.Arena, &pl.IArena} {
		p.name("plan field")
		*field = p.int()
	}
	p.g.Plan = pl
}

// slot = ("slot" | "scratch") ref storage [int int | ref]
func (p *parser) slot() {
	t := p.tok
	scratch := t.text == "scratch"
	p.next()
	if p.g.Plan == nil {
		p.errorf(t, "%s before plan", t.text)
		return
	}
	v := p.ref()
	st := p.tok
	name := p.name("storage")
	s := Slot{Storage: StoreNone}
	for i, n := range storageNames {
		if n == name && i > 0 {
			s.Storage = Storage(i)
		}
	}
	switch {
	case s.Storage == StoreNone:
		p.errorf(st, "unknown storage %q", name)
	case s.Storage.InBlock():
		s.Offset = p.int()
		s.Size = p.int()
	case s.Storage == StoreAlias:
		s.Of = p.ref()
	}
	if scratch {
		p.g.Plan.Scratch[v] = s
	} else {
		p.g.Plan.Slots[v] = s
	}
}

// update = "update" (name | ref) "=" ref
func (p *parser) update() {
	p.next()
	var target *Value
	if p.tok.kind == tRef {
		target = p.ref()
	} else {
		t := p.tok
		name := p.name("update target")
		if target = p.bound[name]; target == nil {
			p.errorf(t, "update target %q is not the name of a param or state", name)
		}
	}
	p.expect("=")
	p.g.Updates = append(p.g.Updates, Update{Target: target, Value: p.ref()})
}

// optimizer = "optimizer" name [attrs] [pos]
func (p *parser) optimizer() {
	if p.g.Optimizer != nil {
		p.errorf(p.tok, "second optimizer")
	}
	p.next()
	o := &Optimizer{Name: p.name("optimizer name")}
	if p.is("{") {
		o.Attrs = Attrs{}
		p.attrs(nil, o.Attrs)
	}
	if p.is("@") {
		o.Pos = p.pos()
	}
	p.g.Optimizer = o
}

// name = ident | string
func (p *parser) name(what string) string {
	if p.tok.kind != tIdent && p.tok.kind != tString {
		p.errorf(p.tok, "expected %s, found %s", what, p.tok)
	}
	s := p.tok.text
	p.next()
	return s
}

// ref = "%" digits, naming an earlier value.
func (p *parser) ref() *Value {
	t := p.tok
	if t.kind != tRef {
		p.errorf(t, "expected a value reference, found %s", t)
	}
	id, err := strconv.Atoi(t.text)
	if err != nil || id >= len(p.g.Values) {
		p.errorf(t, "undefined value %%%s", t.text)
	}
	p.next()
	return p.g.Values[id]
}

// attrs = "{" [name ":" value {"," name ":" value}] "}". With op, names
// and kinds come from its schema; without, values are read untyped.
func (p *parser) attrs(op *OpDef, a Attrs) {
	p.expect("{")
	for !p.is("}") {
		t := p.tok
		key := p.name("attribute name")
		if _, dup := a[key]; dup {
			p.errorf(t, "duplicate attribute %q", key)
		}
		p.expect(":")
		if op == nil {
			a[key] = p.untyped()
		} else {
			s := op.Attr(key)
			if s == nil {
				var names []string
				for _, s := range op.Attrs {
					names = append(names, s.Name)
				}
				p.errorf(t, "%s has no attribute %q%s", op.Name, key, hint(key, names))
			}
			a[key] = p.typed(s.Kind)
		}
		if !p.accept(",") {
			break
		}
	}
	p.expect("}")
}

func (p *parser) typed(k AttrKind) any {
	switch k {
	case AttrInt:
		return p.int()
	case AttrInts:
		var xs []int
		p.list(maxAttrList, func() { xs = append(xs, p.int()) })
		return xs
	case AttrFloat:
		return p.float()
	case AttrFloats:
		var xs []float64
		p.list(-1, func() { xs = append(xs, p.float()) })
		return xs
	case AttrBool:
		t := p.tok
		if t.kind == tIdent && (t.text == "true" || t.text == "false") {
			p.next()
			return t.text == "true"
		}
		p.errorf(t, "expected true or false, found %s", t)
	case AttrString:
		t := p.tok
		if t.kind != tString {
			p.errorf(t, "expected a string, found %s", t)
		}
		p.next()
		return t.text
	case AttrDType:
		return p.dtype()
	case AttrShape:
		return p.shape(maxAttrList)
	}
	panic("ir: unknown attribute kind " + k.String())
}

// untyped reads a schema-less attribute value (see untypedFloat and the
// kind-tagged lists written by printer.untyped).
func (p *parser) untyped() any {
	t := p.tok
	switch t.kind {
	case tString:
		p.next()
		return t.text
	case tNumber:
		if isIntLiteral(t.text) {
			return p.int()
		}
		return p.float()
	case tIdent:
		switch t.text {
		case "true", "false":
			p.next()
			return t.text == "true"
		case "NaN", "Inf":
			return p.float()
		case "ints", "floats", "shape":
			p.next()
			if !p.is("[") {
				p.errorf(p.tok, "expected \"[\" after %s, found %s", t.text, p.tok)
			}
			return p.typed(map[string]AttrKind{"ints": AttrInts, "floats": AttrFloats, "shape": AttrShape}[t.text])
		}
		if d, ok := ParseDType(t.text); ok {
			p.next()
			return d
		}
	}
	p.errorf(t, "expected an attribute value, found %s", t)
	return nil
}

// list = "[" [elem {"," elem}] "]" with at most max elements (max < 0: any).
func (p *parser) list(max int, elem func()) {
	p.expect("[")
	n := 0
	for !p.is("]") {
		if n == max {
			p.errorf(p.tok, "more than %d elements", max)
		}
		elem()
		n++
		if !p.accept(",") {
			break
		}
	}
	p.expect("]")
}

func (p *parser) int() int {
	t := p.tok
	if t.kind != tNumber {
		p.errorf(t, "expected an integer, found %s", t)
	}
	i, err := strconv.Atoi(t.text)
	if err != nil {
		p.errorf(t, "invalid integer %s", t.text)
	}
	p.next()
	return i
}

// float reads a number, NaN or Inf.
func (p *parser) float() float64 {
	t := p.tok
	var x float64
	switch {
	case t.kind == tIdent && t.text == "NaN":
		x = math.NaN()
	case t.kind == tIdent && t.text == "Inf":
		x = math.Inf(1)
	case t.kind == tNumber:
		var err error
		if x, err = strconv.ParseFloat(t.text, 64); err != nil {
			p.errorf(t, "invalid number %s", t.text)
		}
	default:
		p.errorf(t, "expected a number, found %s", t)
	}
	p.next()
	return x
}

func (p *parser) dtype() DType {
	t := p.tok
	d, ok := ParseDType(t.text)
	if t.kind != tIdent || !ok {
		p.errorf(t, "expected a dtype (f32, i32, bool), found %s", t)
	}
	p.next()
	return d
}

// shape = "[" [dim {"," dim}] "]"; dim = int | "N" | int "*" "N".
func (p *parser) shape(max int) Shape {
	s := Shape{}
	p.list(max, func() {
		t := p.tok
		if t.kind == tIdent && t.text == "N" {
			p.next()
			s = append(s, N)
			return
		}
		k := p.int()
		if k < 0 {
			p.errorf(t, "negative dimension %d", k)
		}
		if p.accept("*") {
			if !p.isKeyword("N") {
				p.errorf(p.tok, "expected N after %d*, found %s", k, p.tok)
			}
			p.next()
			if k == 0 {
				p.errorf(t, "zero multiple of N")
			}
			k = -k
		}
		s = append(s, Dim(k))
	})
	return s
}

// type = dtype [shape]
func (p *parser) typ() Type {
	t := Type{DType: p.dtype()}
	if p.is("[") {
		t.Shape = p.shape(-1)
	}
	return t
}

// pos = "@" file ":" line ":" col, where file is a string or a run of
// file characters. p.tok is the "@"; the file is lexed here by hand.
func (p *parser) pos() Pos {
	at := p.tok
	for p.off < len(p.src) && (p.src[p.off] == ' ' || p.src[p.off] == '\t') {
		p.off++
	}
	t := token{line: p.line, col: p.off - p.lineStart + 1}
	var pos Pos
	start := p.off
	switch {
	case p.off < len(p.src) && p.src[p.off] == '"':
		pos.File = p.lexString(t)
	default:
		for p.off < len(p.src) && isFileChar(p.src[p.off]) {
			p.off++
		}
		if p.off == start {
			p.errorf(at, "expected a file name after @")
		}
		pos.File = string(p.src[start:p.off])
	}
	p.next()
	p.expect(":")
	t = p.tok
	if pos.Line = p.int(); pos.Line <= 0 {
		p.errorf(t, "line must be positive, got %d", pos.Line)
	}
	p.expect(":")
	pos.Col = p.int()
	return pos
}

func opNames() []string {
	var names []string
	for _, op := range opTable {
		names = append(names, op.Name)
	}
	return names
}

// hint returns "; did you mean X?" for the candidate closest to s, if one
// is within a couple of edits.
func hint(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD && d < len(c) {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return "; did you mean " + best + "?"
}

// editDistance is the Levenshtein distance, capped for long inputs.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c = 1 + min(prev[j-1], prev[j], cur[j-1])
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
