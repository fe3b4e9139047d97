package dsl

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func parseFile(t *testing.T, path string) *File {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := Parse(filepath.Base(path), src)
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", diags.Format(Sources{filepath.Base(path): src}))
	}
	return f
}

func TestParseLinReg(t *testing.T) {
	f := parseFile(t, "testdata/ok/linreg.mdl")
	if len(f.Models) != 1 || f.Models[0].Name.Name != "LinReg" || len(f.Decls) != 1 {
		t.Fatalf("models = %+v", f.Models)
	}
	body := f.Models[0].Body
	if len(body) != 7 {
		t.Fatalf("got %d statements, want 7", len(body))
	}
	in := body[0].(*InputDecl)
	if in.Target || in.Name.Name != "x" || TypeString(in.Type) != "f32[N]" {
		t.Errorf("input = %+v", in)
	}
	if tg := body[1].(*InputDecl); !tg.Target || tg.Name.Name != "y" {
		t.Errorf("target = %+v", tg)
	}
	p := body[2].(*ParamDecl)
	if !p.Type.Scalar || p.Init.(*Number).Value != 0 || !p.Init.(*Number).IsInt {
		t.Errorf("param = %+v", p)
	}
	a := body[4].(*Assign)
	if got := sexpr(a.Value); got != "(+ theta0 (* theta1 x))" {
		t.Errorf("pred = %s", got)
	}
	// Positions are 1-based; End is just past the node.
	if want := (Pos{File: "linreg.mdl", Line: 7, Col: 5, Offset: a.Pos.Offset}); a.Pos != want {
		t.Errorf("assign pos = %+v, want %+v", a.Pos, want)
	}
	if a.End.Line != 7 || a.End.Col != 31 {
		t.Errorf("assign end = %v, want 7:31", a.End)
	}
	if bin := a.Value.(*Binary); bin.OpPos.Col != 19 || bin.Pos.Col != 12 {
		t.Errorf("binary pos %v oppos %v", bin.Pos, bin.OpPos)
	}
	if l := body[5].(*LossDecl); l.Value.(*Call).Func.Name != "mse" {
		t.Errorf("loss = %s", ExprString(l.Value))
	}
	opt := body[6].(*OptimizerDecl).Call
	if opt.Func.Name != "sgd" || len(opt.Named) != 1 || opt.Named[0].Name.Name != "lr" || opt.Named[0].Value.(*Number).Value != 0.01 {
		t.Errorf("optimizer = %s", ExprString(opt))
	}
}

func TestParseMnist(t *testing.T) {
	f := parseFile(t, "testdata/ok/mnist_mlp.mdl")
	body := f.Models[0].Body
	if got := TypeString(body[0].(*InputDecl).Type); got != "f32[N, 784]" {
		t.Errorf("image type = %s", got)
	}
	if got := sexpr(body[2].(*Assign).Value); got != "relu(dense(image, 256))" {
		t.Errorf("hidden = %s", got)
	}
	out := body[4].(*OutputDecl)
	if out.Name.Name != "probs" || out.Value == nil {
		t.Errorf("output = %+v", out)
	}
	m := body[6].(*MetricDecl)
	if m.Name != nil || m.Value.(*Call).Func.Name != "accuracy" {
		t.Errorf("metric = %+v", m)
	}
	if n := body[7].(*OptimizerDecl).Call.Named[0].Value.(*Number); n.Value != 1e-3 || n.IsInt || n.Text != "1e-3" {
		t.Errorf("lr = %+v", n)
	}
}

func TestParseTinyGPT(t *testing.T) {
	f := parseFile(t, "testdata/ok/tiny_gpt.mdl")
	if len(f.Consts) != 1 || len(f.Defs) != 1 || len(f.Models) != 1 || len(f.Decls) != 3 {
		t.Fatalf("decls: %d consts %d defs %d models %d total", len(f.Consts), len(f.Defs), len(f.Models), len(f.Decls))
	}
	if _, ok := f.Decls[1].(*Def); !ok {
		t.Errorf("Decls[1] = %T, want *Def (source order)", f.Decls[1])
	}
	if c := f.Consts[0]; len(c.Items) != 4 || c.Items[3].Name.Name != "L" || c.Items[3].Value.(*Number).Value != 4 {
		t.Errorf("consts = %+v", c.Items)
	}
	d := f.Defs[0]
	if d.Name.Name != "block" || len(d.Params) != 2 {
		t.Fatalf("def = %+v", d)
	}
	if p := d.Params[0]; p.Type.Kind != KindTensor || TypeString(p.Type.Tensor) != "f32[N, T, D]" {
		t.Errorf("param 0 = %+v", p.Type)
	}
	if p := d.Params[1]; p.Type.Kind != KindInt || p.Type.Tensor != nil {
		t.Errorf("param 1 = %+v", p.Type)
	}
	att := d.Body[0].(*Assign).Value.(*Binary).R.(*Call)
	if len(att.Args) != 1 || len(att.Named) != 2 || att.Named[1].Name.Name != "causal" || !att.Named[1].Value.(*Bool).Value {
		t.Errorf("attention call = %s", ExprString(att))
	}
	ret := d.Body[1].(*Return)
	if got := sexpr(ret.Value); got != "(+ x dense(gelu(dense(layer_norm(x), (* 4 D))), D))" {
		t.Errorf("return = %s", got)
	}

	body := f.Models[0].Body
	if _, ok := body[0].(*ConstDecl); !ok {
		t.Errorf("model body[0] = %T", body[0])
	}
	h := body[3].(*Assign).Value.(*Binary)
	ip, ok := h.R.(*InlineParam)
	if !ok || ip.Decl.Name.Name != "pos" || TypeString(ip.Decl.Type) != "f32[T, D]" || sexpr(ip.Decl.Init) != "normal(0.02)" {
		t.Fatalf("inline param = %s", ExprString(h))
	}
	rep := body[4].(*Repeat)
	if rep.Count.(*Ident).Name != "L" || len(rep.Body) != 1 {
		t.Errorf("repeat = %+v", rep)
	}
	if blk := rep.Body[0].(*Assign).Value.(*Call); blk.Order[0] != 0 || blk.Order[1] != -1 {
		t.Errorf("block call order = %v", blk.Order)
	}
	if o := body[7].(*OutputDecl); o.Name.Name != "o" || o.Value == nil {
		t.Errorf("output o = %+v", o)
	}
	if o := body[8].(*OutputDecl); o.Name.Name != "h" || o.Value != nil {
		t.Errorf("output h = %+v", o)
	}
	if m := body[9].(*MetricDecl); m.Name == nil || m.Name.Name != "acc" {
		t.Errorf("metric = %+v", m)
	}
}

func TestPrecedence(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"a + b * c", "(+ a (* b c))"},
		{"a - b - c", "(- (- a b) c)"},
		{"a * b / c @ d", "(@ (/ (* a b) c) d)"},
		{"-a ** b", "(- (** a b))"},
		{"a ** b ** c", "(** a (** b c))"},
		{"a ** -b ** c", "(** a (- (** b c)))"},
		{"- - a * b", "(* (- (- a)) b)"},
		{"(a + b) * c", "(* (+ a b) c)"},
		{"f(a, k: 1, b)", "f(a, k: 1, b)"},
		{"1e-3 + .5 + 1. + 7E+1 + 3", "(+ (+ (+ (+ 1e-3 .5) 1.) 7E+1) 3)"},
		{`"s\t" + true`, `(+ "s\t" true)`},
		{"x + param w: f32 = 1 + 2", "(+ (+ x (param w: f32 = 1)) 2)"},
		{"x * param s: f32[4] = normal(0.5, 1) + b", "(+ (* x (param s: f32[4] = normal(0.5, 1))) b)"},
		{"x * param s: f32[4] = normal(0.5) ** 2", "(* x (** (param s: f32[4] = normal(0.5)) 2))"},
		{"x + param w: f32 = -(1 + 2) * 3", "(+ x (* (param w: f32 = (- (+ 1 2))) 3))"},
		{"x + param w: f32 = - -A", "(+ x (param w: f32 = (- (- A))))"},
		{"x + param w: f32[2] - 1", "(- (+ x (param w: f32[2] = <nil>)) 1)"},
		{"conv2d(x, 8, (3, 1 + 1), stride: (2, -A))", "conv2d(x, 8, (tuple 3 (+ 1 1)), stride: (tuple 2 (- A)))"},
		{"((a), (b, c), d)", "(tuple a (tuple b c) d)"},
	} {
		src := "const A = " + tc.src
		f, diags := Parse("t.mdl", []byte(src))
		if len(diags) > 0 {
			t.Errorf("%s: %v", tc.src, diags)
			continue
		}
		e := f.Consts[0].Items[0].Value
		if got := sexpr(e); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.src, got, tc.want)
		}
		// ExprString must print something that parses back to the same tree.
		f2, diags := Parse("t.mdl", []byte("const A = "+ExprString(e)))
		if len(diags) > 0 || sexpr(f2.Consts[0].Items[0].Value) != tc.want {
			t.Errorf("%s: ExprString %q does not round-trip (%v)", tc.src, ExprString(e), diags)
		}
	}
}

// sexpr prints e with explicit structure: (op l r), (- x), f(args).
func sexpr(e Expr) string {
	switch e := e.(type) {
	case *Binary:
		return fmt.Sprintf("(%s %s %s)", e.Op, sexpr(e.L), sexpr(e.R))
	case *Unary:
		return fmt.Sprintf("(- %s)", sexpr(e.X))
	case *Tuple:
		var xs []string
		for _, x := range e.Elems {
			xs = append(xs, sexpr(x))
		}
		return "(tuple " + strings.Join(xs, " ") + ")"
	case *Call:
		var args []string
		for _, i := range e.Order {
			if i >= 0 {
				args = append(args, sexpr(e.Args[i]))
			} else {
				args = append(args, e.Named[-i-1].Name.Name+": "+sexpr(e.Named[-i-1].Value))
			}
		}
		return e.Func.Name + "(" + strings.Join(args, ", ") + ")"
	case *InlineParam:
		init := "<nil>"
		if e.Decl.Init != nil {
			init = sexpr(e.Decl.Init)
		}
		return fmt.Sprintf("(param %s: %s = %s)", e.Decl.Name.Name, TypeString(e.Decl.Type), init)
	}
	return ExprString(e)
}

func TestInspectVisitsEveryNodeWithPosition(t *testing.T) {
	for _, path := range []string{"testdata/ok/tiny_gpt.mdl", "testdata/ok/exprs.mdl"} {
		f := parseFile(t, path)
		n := 0
		Inspect(f, func(x Node) bool {
			n++
			p, e := x.Position(), x.EndPosition()
			if p.Line < 1 || p.Col < 1 || p.File == "" || e.Offset <= p.Offset {
				t.Errorf("%s: %T has span %+v..%+v", path, x, p, e)
			}
			return true
		})
		if n < 50 {
			t.Errorf("%s: Inspect visited only %d nodes", path, n)
		}
	}
}

// TestLimits checks that hostile inputs fail fast with one clear error.
func TestLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  []byte
		want string
	}{
		{"10MB parens", append([]byte("const A = "), bytes.Repeat([]byte("("), 10<<20)...), "nested too deeply"},
		{"100k minus", append([]byte("const A = "), bytes.Repeat([]byte("-"), 100_000)...), "nested too deeply"},
		{"nested blocks", []byte("model M {" + strings.Repeat("repeat 2 {", 300)), "nested too deeply"},
		{"17MB", make([]byte, 17<<20), "file too large"},
		{"many tokens", bytes.Repeat([]byte("a = 1\n"), 200_000), "more than 524288 tokens"},
		{"long sum", append([]byte("const A = 1"), bytes.Repeat([]byte("+1"), 5000)...), "expression too complex"},
		{"many errors", bytes.Repeat([]byte("x\n"), 1000), "stopping after 20 errors"},
		{"binary", []byte{0, 1, 2, 0xff, 0xfe, '\n', 0x80}, "invalid character U+0000"},
	} {
		start := time.Now()
		f, diags := Parse("big.mdl", tc.src)
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("%s: took %v", tc.name, el)
		}
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: got file=%v diags:\n%.500s\nwant %q", tc.name, f != nil, diags.Error(), tc.want)
		}
		if len(diags) > maxErrors {
			t.Errorf("%s: %d diagnostics, want at most %d", tc.name, len(diags), maxErrors)
		}
	}
}

func TestEmptyFile(t *testing.T) {
	for _, src := range []string{"", "  \n// only a comment\n/* and */"} {
		f, diags := Parse("e.mdl", []byte(src))
		if f == nil || len(diags) > 0 || len(f.Decls) != 0 {
			t.Errorf("%q: file %v diags %v", src, f, diags)
		}
	}
}

// TestByteOrderMark: a leading UTF-8 byte-order mark is skipped; column 1
// is the character after it, and an error on line 1 shows the line without
// it, the caret under the right character.
func TestByteOrderMark(t *testing.T) {
	src, err := os.ReadFile("testdata/ok/linreg.mdl")
	if err != nil {
		t.Fatal(err)
	}
	withBOM := append([]byte("\xef\xbb\xbf"), src...)
	f, diags := Parse("linreg.mdl", withBOM)
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", diags.Format(Sources{"linreg.mdl": withBOM}))
	}
	want, _ := Parse("linreg.mdl", src)
	// Same tree, offsets 3 bytes further on.
	for _, f := range []*File{f, want} {
		Inspect(f, func(n Node) bool {
			if id, ok := n.(*Ident); ok && id.Name == "theta1" && id.Pos.Line == 8 {
				if id.Pos.Col != 12 {
					t.Errorf("theta1 at column %d, want 12", id.Pos.Col)
				}
			}
			return true
		})
	}
	if got, w := f.Models[0].Pos, want.Models[0].Pos; got.Line != w.Line || got.Col != w.Col || got.Offset != w.Offset+3 {
		t.Errorf("model at %+v, want line/col of %+v and offset +3", got, w)
	}

	bad := []byte("\xef\xbb\xbfmodle M {}\n")
	_, diags = Parse("bad.mdl", bad)
	got := diags.Format(Sources{"bad.mdl": bad})
	wantDiag := `bad.mdl:1:1: unexpected "modle"; expected "const", "def" or "model"
    modle M {}
    ^
    hint: did you mean "model"?
`
	if got != wantDiag {
		t.Errorf("got\n%s\nwant\n%s", got, wantDiag)
	}
	// Only a leading BOM is skipped.
	if _, diags := Parse("mid.mdl", []byte("model M {}\n\xef\xbb\xbf")); !strings.Contains(diags.Error(), "invalid character U+FEFF") {
		t.Errorf("BOM after the start: %v", diags)
	}
}

// TestInlineParamInitializer: an inline param's initializer is one operand,
// so what follows it continues the enclosing expression; a statement's
// param takes a whole expression; a missing initializer says what fits.
func TestInlineParamInitializer(t *testing.T) {
	src := "model M {\n    param a: f32 = 1 + 2\n    y = x * param s: f32[4] = normal(0.5, 1) + b\n    z = param t: f32 = (A * 2)\n}\n"
	f, diags := Parse("m.mdl", []byte(src))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	body := f.Models[0].Body
	if got := sexpr(body[0].(*ParamDecl).Init); got != "(+ 1 2)" {
		t.Errorf("statement param init = %s", got)
	}
	if got := sexpr(body[1].(*Assign).Value); got != "(+ (* x (param s: f32[4] = normal(0.5, 1))) b)" {
		t.Errorf("inline param = %s", got)
	}
	ip := body[2].(*Assign).Value.(*InlineParam)
	if got := sexpr(ip.Decl.Init); got != "(* A 2)" || ip.End.Col != 31 {
		t.Errorf("parenthesized init = %s, param ends at %v", got, ip.End)
	}

	bad := []byte("model M {\n    y = x * param s: f32[4] = + b\n}\n")
	_, diags = Parse("bad.mdl", bad)
	want := `bad.mdl:2:31: unexpected "+"; expected an initializer such as normal(0.02), or an expression in parentheses
        y = x * param s: f32[4] = + b
                                  ^
`
	if got := diags.Format(Sources{"bad.mdl": bad}); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
