package dsl

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"
)

// bigWithErrors is a model whose first statement is an expression of about
// exprBytes bytes, followed by nerr statements with a syntax error each.
func bigWithErrors(exprBytes, nerr int) []byte {
	var b bytes.Buffer
	b.WriteString("model M {\n    input x: f32[N]\n    y = x")
	for b.Len() < exprBytes {
		b.WriteString(" + relu(x) * 0.5")
	}
	b.WriteString("\n")
	for i := range nerr {
		fmt.Fprintf(&b, "    bad%d oops\n", i)
	}
	b.WriteString("    loss mean(y)\n}\n")
	return b.Bytes()
}

// TestLargeExpressionManyErrors: a 500 KB expression followed by 25 syntax
// errors reports the first 20 of them, each at its own line. Recovery
// re-parses only the statement of each error (BenchmarkParseManyErrors
// measures it).
func TestLargeExpressionManyErrors(t *testing.T) {
	src := bigWithErrors(500<<10, 25)
	_, diags := Parse("big.mdl", src)
	if len(diags) != maxErrors {
		t.Fatalf("%d diagnostics, want %d:\n%s", len(diags), maxErrors, diags.Error())
	}
	for i, d := range diags {
		want := `unexpected "oops"; expected "="`
		if d.Pos.Line != 4+i || !strings.HasPrefix(d.Msg, want) {
			t.Errorf("diagnostic %d: %s, want line %d: %s", i, d, 4+i, want)
		}
	}
	if !strings.HasSuffix(diags[maxErrors-1].Msg, "(and stopping after 20 errors)") {
		t.Errorf("last diagnostic %q does not say it stopped", diags[maxErrors-1].Msg)
	}
}

// BenchmarkParseManyErrors parses a 500 KB expression followed by 25
// statements with syntax errors.
func BenchmarkParseManyErrors(b *testing.B) {
	src := bigWithErrors(500<<10, 25)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := Parse("big.mdl", src); len(diags) != maxErrors {
			b.Fatalf("%d diagnostics", len(diags))
		}
	}
}

// BenchmarkParseLarge parses the same 500 KB expression without errors, for
// comparison: recovery should cost little more than one parse.
func BenchmarkParseLarge(b *testing.B) {
	src := bigWithErrors(500<<10, 0)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		Parse("big.mdl", src)
	}
}

// referenceSyntax is recovery as it was before recovery.go: parse the whole
// file with the grammar, and after each error blank its statement, scan
// again and parse the whole file again. Parse must report what it reports.
func referenceSyntax(p *parseState, buf []byte, sc *scanned) *File {
	for {
		pl, err := lexer.Upgrade(&tokenLexer{toks: sc.toks}, tEnd)
		if err != nil {
			panic(err)
		}
		g, err := parser().ParseFromLexer(pl)
		if err == nil {
			return p.convertFile(g)
		}
		pos, msg, hint, fatal := p.describe(sc, err)
		if !p.addHint(pos, msg, hint) || fatal {
			return nil
		}
		start, end := stmtBounds(buf, sc, pos.Offset)
		blank(buf, start, end)
		if sc = scan(p.file, buf); sc.fatal != nil || len(sc.errs) > 0 {
			return nil
		}
	}
}

// recoverySeeds are the sources the differential test mutates: every .mdl
// file and .mdl section of the repository's testdata and examples.
func recoverySeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, pat := range []string{"testdata/ok/*.mdl", "../examples/*/*.mdl", "../codegen/go/testdata/models/*.mdl"} {
		paths, _ := filepath.Glob(pat)
		for _, path := range paths {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			seeds = append(seeds, src)
		}
	}
	for _, pat := range []string{"testdata/syntax/*.txtar", "../ir/lower/testdata/*/*.txtar"} {
		paths, _ := filepath.Glob(pat)
		for _, path := range paths {
			ar, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range ar.Files {
				if strings.HasSuffix(f.Name, ".mdl") {
					seeds = append(seeds, f.Data)
				}
			}
		}
	}
	if len(seeds) < 40 {
		t.Fatalf("only %d seeds", len(seeds))
	}
	return seeds
}

// mutate applies n random edits to src: deleting, duplicating or moving a
// line or a few bytes, and inserting tokens that break statements.
func mutate(rng *rand.Rand, src []byte, n int) []byte {
	pieces := []string{"(", ")", "{", "}", "[", "]", "=", ",", ":", "-", "*", "**", "+", "x", "1", "\n", " ",
		"model", "def", "repeat 2 {", "param", "loss", "input", "const", "/*", "*/", "//", "M {", "f(", "\"s\"", "..", "@"}
	out := append([]byte(nil), src...)
	for range n {
		lines := bytes.SplitAfter(out, []byte("\n"))
		switch k := rng.IntN(6); {
		case k == 0 && len(lines) > 1: // delete a line
			i := rng.IntN(len(lines))
			lines = append(lines[:i], lines[i+1:]...)
			out = bytes.Join(lines, nil)
		case k == 1 && len(lines) > 1: // duplicate a line elsewhere
			i, j := rng.IntN(len(lines)), rng.IntN(len(lines))
			l := append([]byte(nil), lines[i]...)
			lines = append(lines[:j], append([][]byte{l}, lines[j:]...)...)
			out = bytes.Join(lines, nil)
		case k == 2 && len(out) > 0: // delete a few bytes
			i := rng.IntN(len(out))
			j := min(len(out), i+1+rng.IntN(4))
			out = append(out[:i:i], out[j:]...)
		default: // insert a piece
			i := rng.IntN(len(out) + 1)
			p := pieces[rng.IntN(len(pieces))]
			out = append(out[:i:i], append([]byte(p), out[i:]...)...)
		}
	}
	return out
}

func checkSameAsReference(t *testing.T, src []byte) {
	t.Helper()
	f1, d1 := Parse("m.mdl", src)
	f2, d2 := parse("m.mdl", src, referenceSyntax)
	s := Sources{"m.mdl": src}
	if diff := cmp.Diff(d2.Format(s), d1.Format(s)); diff != "" {
		t.Fatalf("diagnostics differ from the reference (-reference +Parse):\n%s\nsource:\n%s", diff, src)
	}
	if diff := cmp.Diff(f2, f1); diff != "" {
		t.Fatalf("AST differs from the reference (-reference +Parse):\n%s\nsource:\n%s", diff, src)
	}
}

// TestRecoveryMatchesReference: Parse reports the same diagnostics and
// returns the same AST as the reference recovery, on every seed and on
// 4000 random mutations of them.
func TestRecoveryMatchesReference(t *testing.T) {
	seeds := recoverySeeds(t)
	for _, src := range seeds {
		checkSameAsReference(t, src)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 4000 {
		src := seeds[rng.IntN(len(seeds))]
		checkSameAsReference(t, mutate(rng, src, 1+rng.IntN(6)))
	}
}

// FuzzRecovery compares Parse with the reference recovery on any input.
func FuzzRecovery(f *testing.F) {
	for _, src := range recoverySeeds(f) {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 1<<16 {
			return
		}
		checkSameAsReference(t, src)
	})
}
