package format

import (
	"bufio"
	"bytes"
	"flag"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlc/mdlc/dsl"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the output.mdl sections of testdata/*.txtar")

// TestGolden formats the input.mdl section of each testdata archive and
// compares the result with its output.mdl section, which must itself be
// formatted.
func TestGolden(t *testing.T) {
	paths, _ := filepath.Glob("testdata/*.txtar")
	if len(paths) == 0 {
		t.Fatal("no testdata/*.txtar")
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			sections := map[string][]byte{}
			for _, f := range ar.Files {
				sections[f.Name] = f.Data
			}
			in := sections["input.mdl"]
			got, diags := Source("input.mdl", in)
			if len(diags) > 0 {
				t.Fatalf("diagnostics:\n%s", diags.Format(dsl.Sources{"input.mdl": in}))
			}
			checkFormatted(t, "input.mdl", in, got)
			if *update {
				for i := range ar.Files {
					if ar.Files[i].Name == "output.mdl" {
						ar.Files[i].Data = got
					}
				}
				if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(string(sections["output.mdl"]), string(got)); diff != "" {
				t.Errorf("output mismatch (-want +got); rerun with -update if intended:\n%s", diff)
			}
		})
	}
}

// checkFormatted fails unless out, the formatting of src, parses to the
// same AST (positions aside) and the same tokens, keeps every comment, and
// formats to itself.
func checkFormatted(t *testing.T, name string, src, out []byte) {
	t.Helper()
	f1, d1 := dsl.Parse(name, src)
	f2, d2 := dsl.Parse(name, out)
	if d1.HasErrors() || d2.HasErrors() {
		t.Fatalf("%s: errors before (%v) or after formatting:\n%s\n%s", name, d1, d2.Format(dsl.Sources{name: out}), out)
	}
	if diff := cmp.Diff(f1, f2, cmpopts.IgnoreTypes(dsl.Pos{})); diff != "" {
		t.Fatalf("%s: formatting changed the AST (-before +after):\n%s\nformatted:\n%s", name, diff, out)
	}
	t1, _ := dsl.Tokens(name, src)
	t2, _ := dsl.Tokens(name, out)
	if diff := cmp.Diff(texts(t1), texts(t2)); diff != "" {
		t.Fatalf("%s: formatting changed the tokens or comments (-before +after):\n%s\nformatted:\n%s", name, diff, out)
	}
	again, diags := Source(name, out)
	if len(diags) > 0 {
		t.Fatalf("%s: formatted source has diagnostics: %v", name, diags)
	}
	if diff := cmp.Diff(string(out), string(again)); diff != "" {
		t.Fatalf("%s: formatting is not idempotent (-once +twice):\n%s", name, diff)
	}
}

// texts lists the tokens' texts, comments as the formatter keeps them.
func texts(toks []dsl.Token) []string {
	var out []string
	for _, t := range toks {
		s := t.Text
		if t.Kind == dsl.TokenComment {
			s = strings.ReplaceAll(s, "\r\n", "\n")
			if strings.HasPrefix(s, "//") {
				s = strings.TrimRight(s, " \t")
			}
		}
		out = append(out, s)
	}
	return out
}

// corpus returns every .mdl source of the repository: the .mdl files, the
// .mdl sections of testdata archives and the model blocks of README.md.
func corpus(t testing.TB) map[string][]byte {
	root := "../.."
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case strings.HasSuffix(path, ".mdl"):
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out[rel] = src
		case strings.HasSuffix(path, ".txtar") && strings.Contains(filepath.ToSlash(path), "/testdata/"):
			ar, err := txtar.ParseFile(path)
			if err != nil {
				return err
			}
			for _, f := range ar.Files {
				if strings.HasSuffix(f.Name, ".mdl") {
					out[rel+":"+f.Name] = f.Data
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range readmeModels(t, root+"/README.md") {
		out[name] = src
	}
	return out
}

// readmeModels returns the ```-fenced blocks of a markdown file that hold
// models, by "README.md:LINE" of their first line.
func readmeModels(t testing.TB, path string) map[string][]byte {
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, b := range fencedBlocks(src) {
		if _, diags := dsl.Parse("README.md", b.text); !diags.HasErrors() && bytes.Contains(b.text, []byte("model ")) {
			out["README.md:"+itoa(b.line)] = b.text
		}
	}
	return out
}

type block struct {
	line int // of the first line inside the fence
	text []byte
}

// fencedBlocks returns the bodies of the ``` blocks without a language.
func fencedBlocks(src []byte) []block {
	var blocks []block
	var cur *block
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case cur == nil && l == "```":
			cur = &block{line: n + 1}
		case cur == nil:
		case strings.HasPrefix(l, "```"):
			blocks = append(blocks, *cur)
			cur = nil
		default:
			cur.text = append(append(cur.text, l...), '\n')
		}
	}
	return blocks
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		if n /= 10; n == 0 {
			return string(b)
		}
	}
}

// TestCorpus formats every .mdl source of the repository: the result
// parses to the same AST and tokens, keeps every comment and is a fixed
// point; a source with errors gives Parse's errors and no output.
func TestCorpus(t *testing.T) {
	srcs := corpus(t)
	ok := 0
	for name, src := range srcs {
		out, diags := Source(name, src)
		if _, want := dsl.Parse(name, src); want.HasErrors() {
			if out != nil || diags.Error() != want.Error() {
				t.Errorf("%s: got output %v and diagnostics %v, want none and %v", name, out != nil, diags, want)
			}
			continue
		}
		checkFormatted(t, name, src, out)
		ok++
	}
	if ok < 30 {
		t.Errorf("only %d formattable sources in the corpus", ok)
	}
}

// TestCanonical: the examples and README.md's models are formatted.
func TestCanonical(t *testing.T) {
	srcs := readmeModels(t, "../../README.md")
	paths, _ := filepath.Glob("../../examples/*/*.mdl")
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		srcs[p] = src
	}
	if len(srcs) < 3 {
		t.Fatalf("only %d sources", len(srcs))
	}
	for name, src := range srcs {
		out, diags := Source(name, src)
		if len(diags) > 0 {
			t.Errorf("%s: %v", name, diags)
			continue
		}
		if diff := cmp.Diff(string(src), string(out)); diff != "" {
			t.Errorf("%s is not formatted (-have +mdlc fmt):\n%s", name, diff)
		}
	}
}

// FuzzFormat: on any source that parses, formatting keeps the AST, the
// tokens and the comments and is idempotent. Seeds: the corpus.
func FuzzFormat(f *testing.F) {
	for _, src := range corpus(f) {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		out, diags := Source("fuzz.mdl", src)
		if diags.HasErrors() {
			if out != nil {
				t.Fatal("output for a source with errors")
			}
			return
		}
		checkFormatted(t, "fuzz.mdl", src, out)
	})
}

// TestSourceEdges: a byte-order mark is dropped, CRLF line ends become
// LF, an empty file stays empty, a file of comments keeps them, a file
// with errors gives them and no output.
func TestSourceEdges(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"bom", "\xef\xbb\xbfmodel M {\n  input x: f32[N]\n}", "model M {\n    input x: f32[N]\n}\n"},
		{"crlf", "// c  \r\nmodel M {\r\n\tinput x: f32[N] // x\r\n\r\n\r\n  /* a\r\n  b */\r\n}\r\n", "// c\nmodel M {\n    input x: f32[N] // x\n\n    /* a\n  b */\n}\n"},
		{"empty", "", ""},
		{"blank", "\n\n  \n", ""},
		{"comments", "\n// one\n\n\n/* two */\n", "// one\n\n/* two */\n"},
		{"no final newline", "const A = 1", "const A = 1\n"},
	} {
		got, diags := Source("e.mdl", []byte(tc.src))
		if len(diags) > 0 || string(got) != tc.want {
			t.Errorf("%s: got %q (%v), want %q", tc.name, got, diags, tc.want)
		}
	}
	bad := []byte("model M {\n    input x: f32[N]\n    pred x + 1\n}\n")
	out, diags := Source("bad.mdl", bad)
	if out != nil || diags.Error() != `bad.mdl:3:10: unexpected "x"; expected "="` {
		t.Errorf("errors: output %q, diagnostics %v", out, diags)
	}
}

// TestRespaced formats the corpus with random whitespace, line breaks and
// comments between its tokens: every result keeps the AST, tokens and
// comments and is a fixed point.
func TestRespaced(t *testing.T) {
	seps := []string{" ", "  ", "\t", "\n", "\n\n\n", " /* c */ ", " /* a\nb */ ", " // c\n", "\n// own line\n", "\r\n"}
	rng := rand.New(rand.NewPCG(3, 4))
	n := 0
	for name, src := range corpus(t) {
		if _, diags := dsl.Parse(name, src); diags.HasErrors() {
			continue
		}
		toks, _ := dsl.Tokens(name, src)
		for range 20 {
			var b bytes.Buffer
			for i, tok := range toks {
				if i > 0 {
					b.WriteString(seps[rng.IntN(len(seps))])
				}
				b.WriteString(tok.Text)
				if tok.Kind == dsl.TokenComment && strings.HasPrefix(tok.Text, "//") {
					b.WriteByte('\n')
				}
			}
			out, diags := Source(name, b.Bytes())
			if len(diags) > 0 {
				t.Fatalf("%s respaced: %v\n%s", name, diags, b.Bytes())
			}
			checkFormatted(t, name, b.Bytes(), out)
			n++
		}
	}
	if n < 500 {
		t.Errorf("only %d respaced sources", n)
	}
}
