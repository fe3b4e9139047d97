package editors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/lower"
)

var update = flag.Bool("update", false, "rewrite textmate/snap/*.snap from the examples")

const (
	grammarPath = "textmate/mdl.tmLanguage.json"
	toolDir     = "textmate/node_modules/vscode-tmgrammar-test/dist"
	snapDir     = "textmate/snap"
)

// ---------------------------------------------------------------------------
// The grammar file

// rule is a TextMate grammar rule, as much of it as the tests read.
type rule struct {
	Name          string          `json:"name"`
	ContentName   string          `json:"contentName"`
	Match         string          `json:"match"`
	Begin         string          `json:"begin"`
	End           string          `json:"end"`
	Include       string          `json:"include"`
	Patterns      []rule          `json:"patterns"`
	Captures      map[string]rule `json:"captures"`
	BeginCaptures map[string]rule `json:"beginCaptures"`
	EndCaptures   map[string]rule `json:"endCaptures"`
}

type grammar struct {
	ScopeName  string          `json:"scopeName"`
	FileTypes  []string        `json:"fileTypes"`
	Patterns   []rule          `json:"patterns"`
	Repository map[string]rule `json:"repository"`
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func loadGrammar(t *testing.T) *grammar {
	t.Helper()
	var g grammar
	readJSON(t, grammarPath, &g)
	return &g
}

// children lists the rules nested in r.
func (r *rule) children() []rule {
	out := append([]rule(nil), r.Patterns...)
	for _, m := range []map[string]rule{r.Captures, r.BeginCaptures, r.EndCaptures} {
		for _, c := range m {
			out = append(out, c)
		}
	}
	return out
}

// TestGrammarStructure checks that every include names a repository entry
// and every entry is reachable from the top-level patterns.
func TestGrammarStructure(t *testing.T) {
	g := loadGrammar(t)
	if g.ScopeName != "source.mdl" || !slices.Equal(g.FileTypes, []string{"mdl"}) {
		t.Errorf("scopeName %q, fileTypes %q; want source.mdl, [mdl]", g.ScopeName, g.FileTypes)
	}
	reached := map[string]bool{}
	var walk func(where string, r rule)
	walk = func(where string, r rule) {
		if inc, ok := strings.CutPrefix(r.Include, "#"); ok {
			next, found := g.Repository[inc]
			switch {
			case !found:
				t.Errorf("%s: include #%s: no such repository entry", where, inc)
			case !reached[inc]:
				reached[inc] = true
				walk("#"+inc, next)
			}
		} else if r.Include != "" && r.Include != "$self" && r.Include != "$base" {
			t.Errorf("%s: include %q: want #name, $self or $base", where, r.Include)
		}
		for _, c := range r.children() {
			walk(where, c)
		}
	}
	walk("patterns", rule{Patterns: g.Patterns})
	for name := range g.Repository {
		if !reached[name] {
			t.Errorf("repository entry %q is never included", name)
		}
	}
}

// TestManifest checks the VS Code manifest against the grammar, and the
// language configuration's comment tokens against the lexer.
func TestManifest(t *testing.T) {
	g := loadGrammar(t)
	var m struct {
		Contributes struct {
			Languages []struct {
				ID            string   `json:"id"`
				Extensions    []string `json:"extensions"`
				Configuration string   `json:"configuration"`
			} `json:"languages"`
			Grammars []struct {
				Language  string `json:"language"`
				ScopeName string `json:"scopeName"`
				Path      string `json:"path"`
			} `json:"grammars"`
		} `json:"contributes"`
	}
	readJSON(t, "textmate/package.json", &m)
	langs, gs := m.Contributes.Languages, m.Contributes.Grammars
	if len(langs) != 1 || len(gs) != 1 {
		t.Fatalf("package.json contributes %d languages and %d grammars; want one each", len(langs), len(gs))
	}
	if gs[0].Language != langs[0].ID || gs[0].ScopeName != g.ScopeName ||
		filepath.Join("textmate", gs[0].Path) != filepath.FromSlash(grammarPath) {
		t.Errorf("package.json grammar %+v; want language %q, scopeName %q, path ./%s", gs[0], langs[0].ID, g.ScopeName, filepath.Base(grammarPath))
	}
	var exts []string
	for _, ft := range g.FileTypes {
		exts = append(exts, "."+ft)
	}
	if !slices.Equal(langs[0].Extensions, exts) {
		t.Errorf("package.json extensions %q; the grammar's fileTypes give %q", langs[0].Extensions, exts)
	}

	var conf struct {
		Comments struct {
			LineComment  string    `json:"lineComment"`
			BlockComment [2]string `json:"blockComment"`
		} `json:"comments"`
	}
	readJSON(t, filepath.Join("textmate", langs[0].Configuration), &conf)
	c := conf.Comments
	src := fmt.Sprintf("%s model {\n%s model ( \n %s const A = 1\n", c.LineComment, c.BlockComment[0], c.BlockComment[1])
	if _, diags := dsl.Parse("comments.mdl", []byte(src)); diags.HasErrors() || c.LineComment == "" {
		t.Errorf("language-configuration.json comments %+v are not the lexer's:\n%s", c, diags)
	}
}

// ---------------------------------------------------------------------------
// The compiler's names

// supportLists maps each builtin kind of ir/lower/builtins.go to the
// repository entry of the grammar that lists its names.
var supportLists = map[string]string{
	"kindOp":     "support-ops",
	"kindLayer":  "support-layers",
	"kindLoss":   "support-losses",
	"kindMetric": "support-metrics",
}

// keywordScopes is the scope the grammar gives each keyword of dsl/scan.go.
var keywordScopes = map[string]string{
	"model":     "storage.type.model.mdl",
	"def":       "storage.type.function.mdl",
	"const":     "storage.type.const.mdl",
	"input":     "keyword.declaration.input.mdl",
	"target":    "keyword.declaration.target.mdl",
	"param":     "keyword.declaration.param.mdl",
	"output":    "keyword.declaration.output.mdl",
	"loss":      "keyword.other.loss.mdl",
	"metric":    "keyword.other.metric.mdl",
	"optimizer": "keyword.other.optimizer.mdl",
	"repeat":    "keyword.control.repeat.mdl",
	"return":    "keyword.control.return.mdl",
	"true":      "constant.language.boolean.mdl",
	"false":     "constant.language.boolean.mdl",
}

func parseGo(t *testing.T, path string) *ast.File {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// stringLit returns the value of a string literal expression.
func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// litKeys returns the string elements of a slice literal or the string keys
// of a map literal.
func litKeys(e ast.Expr) []string {
	cl, ok := e.(*ast.CompositeLit)
	if !ok {
		return nil
	}
	var out []string
	for _, el := range cl.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok {
			el = kv.Key
		}
		if s, ok := stringLit(el); ok {
			out = append(out, s)
		}
	}
	return out
}

// varKeys returns litKeys of the package-level variable name in f.
func varKeys(t *testing.T, f *ast.File, name string) []string {
	t.Helper()
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, s := range gd.Specs {
			vs, ok := s.(*ast.ValueSpec)
			if ok && len(vs.Names) == 1 && vs.Names[0].Name == name && len(vs.Values) == 1 {
				if keys := litKeys(vs.Values[0]); len(keys) > 0 {
					return keys
				}
			}
		}
	}
	t.Fatalf("no literal var %s found; update editors_test.go to read it", name)
	return nil
}

// builtinKind returns X from &builtin{kind: X, ...}.
func builtinKind(e ast.Expr) string {
	u, ok := e.(*ast.UnaryExpr)
	if !ok {
		return ""
	}
	cl, ok := u.X.(*ast.CompositeLit)
	if !ok {
		return ""
	}
	for _, el := range cl.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok {
			if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "kind" {
				if v, ok := kv.Value.(*ast.Ident); ok {
					return v.Name
				}
			}
		}
	}
	return ""
}

// builtinsEntry matches `builtins[KEY] = VALUE` and returns KEY and VALUE.
func builtinsEntry(n ast.Node) (ast.Expr, ast.Expr, bool) {
	as, ok := n.(*ast.AssignStmt)
	if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
		return nil, nil, false
	}
	ix, ok := as.Lhs[0].(*ast.IndexExpr)
	if !ok {
		return nil, nil, false
	}
	if id, ok := ix.X.(*ast.Ident); !ok || id.Name != "builtins" {
		return nil, nil, false
	}
	return ix.Index, as.Rhs[0], true
}

// compilerBuiltins reads the function table of ir/lower/builtins.go (an
// unexported map filled in init): name -> kind. It understands
// `builtins["name"] = &builtin{kind: K, ...}` and range loops over a slice
// or map literal whose body does `builtins[name] = &builtin{kind: K, ...}`.
func compilerBuiltins(t *testing.T) map[string]string {
	t.Helper()
	path := "../ir/lower/builtins.go"
	f := parseGo(t, path)
	out := map[string]string{}
	add := func(name, kind string) {
		if kind == "" {
			t.Errorf("%s: builtin %s: no `kind:` field found; update editors_test.go", path, name)
		}
		out[name] = kind
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if rs, ok := n.(*ast.RangeStmt); ok {
			ast.Inspect(rs.Body, func(m ast.Node) bool {
				key, val, ok := builtinsEntry(m)
				if id, isID := key.(*ast.Ident); ok && isID && (rangeVar(rs.Key, id) || rangeVar(rs.Value, id)) {
					for _, name := range litKeys(rs.X) {
						add(name, builtinKind(val))
					}
				}
				return true
			})
			return true
		}
		if key, val, ok := builtinsEntry(n); ok {
			if name, ok := stringLit(key); ok {
				add(name, builtinKind(val))
			}
		}
		return true
	})
	if len(out) < 40 || out["relu"] != "kindOp" || out["dense"] != "kindLayer" || out["mse"] != "kindLoss" || out["accuracy"] != "kindMetric" {
		t.Fatalf("%s: read %d builtins (%v); the table's layout changed: update compilerBuiltins", path, len(out), out)
	}
	return out
}

func rangeVar(v ast.Expr, id *ast.Ident) bool {
	x, ok := v.(*ast.Ident)
	return ok && x.Name == id.Name
}

// compilerNames returns the names the compiler knows, grouped by the
// grammar's support-* repository entry that must list them.
func compilerNames(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for name, kind := range compilerBuiltins(t) {
		list, ok := supportLists[kind]
		if !ok {
			t.Errorf("builtin %s has kind %s, which the grammar has no list for: add a support-* entry to %s and to supportLists", name, kind, grammarPath)
			continue
		}
		out[list] = append(out[list], name)
	}
	out["support-initializers"] = varKeys(t, parseGo(t, "../ir/lower/builtins.go"), "initAliases")
	for _, o := range ir.Optimizers {
		out["support-optimizers"] = append(out["support-optimizers"], o.Name)
	}
	for _, names := range out {
		sort.Strings(names)
	}
	return out
}

func lexerKeywords(t *testing.T) []string {
	t.Helper()
	kws := varKeys(t, parseGo(t, "../dsl/scan.go"), "keywords")
	sort.Strings(kws)
	return kws
}

var supportMatch = regexp.MustCompile(`^\\b\(\?:([a-z0-9_]+(?:\|[a-z0-9_]+)*)\)\\b$`)

// TestGrammarKnowsBuiltins checks that each support-* list of the grammar
// holds exactly the compiler's names of its kind, and that the grammar
// gives every keyword of the lexer a scope (keywordScopes).
func TestGrammarKnowsBuiltins(t *testing.T) {
	g := loadGrammar(t)
	want := compilerNames(t)
	for key := range g.Repository {
		if strings.HasPrefix(key, "support-") && want[key] == nil {
			t.Errorf("grammar list %s has no counterpart in the compiler", key)
		}
	}
	for key, names := range want {
		r, ok := g.Repository[key]
		wantMatch := `\b(?:` + strings.Join(names, "|") + `)\b`
		if !ok {
			t.Errorf("grammar lacks repository entry %s: {\"match\": %q, \"name\": \"support.function.<kind>.mdl\"}", key, wantMatch)
			continue
		}
		m := supportMatch.FindStringSubmatch(r.Match)
		if m == nil || !strings.HasPrefix(r.Name, "support.function.") {
			t.Errorf("grammar %s: match %q, name %q; want a match of the form %q and a support.function.* name", key, r.Match, r.Name, wantMatch)
			continue
		}
		got := strings.Split(m[1], "|")
		if missing, extra := diffSets(names, got); len(missing)+len(extra) > 0 || !slices.IsSorted(got) {
			t.Errorf("grammar %s is out of date with the compiler (missing %v, not in the compiler %v); want\n\t\"match\": %q",
				key, missing, extra, wantMatch)
		}
	}
	kws := lexerKeywords(t)
	var mapped []string
	for kw := range keywordScopes {
		mapped = append(mapped, kw)
	}
	sort.Strings(mapped)
	if missing, extra := diffSets(kws, mapped); len(missing)+len(extra) > 0 {
		t.Errorf("dsl/scan.go keywords %v; keywordScopes lacks %v and has %v besides: give new keywords a rule in %s and an entry here",
			kws, missing, extra, grammarPath)
	}
}

// diffSets returns the elements of want missing from got, and those of got
// not in want.
func diffSets(want, got []string) (missing, extra []string) {
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	return missing, extra
}

// TestCompilerAcceptsNames checks what compilerNames and lexerKeywords read
// from the Go sources against the compiler itself: each builtin and
// initializer resolves, each keyword is reserved.
func TestCompilerAcceptsNames(t *testing.T) {
	names := compilerNames(t)
	unknown := func(src, what string) bool {
		_, diags := lower.Source("names.mdl", []byte(src))
		for _, d := range diags {
			if strings.HasPrefix(d.Msg, "unknown "+what) {
				return true
			}
		}
		return false
	}
	call := "model M {\n  input x: f32[N]\n  y = %s(x)\n}\n"
	init := "model M {\n  param p: f32[2] = %s\n}\n"
	opt := "model M {\n  param p: f32\n  loss p\n  optimizer %s(lr: 0.1)\n}\n"
	if !unknown(fmt.Sprintf(call, "no_such_fn"), "function") || !unknown(fmt.Sprintf(init, "no_such_init"), "initializer") ||
		!unknown(fmt.Sprintf(opt, "no_such_opt"), "optimizer") {
		t.Fatal("lowering no longer says \"unknown function/initializer/optimizer\"; update this test")
	}
	for key, list := range names {
		for _, name := range list {
			switch {
			case key == "support-initializers" && unknown(fmt.Sprintf(init, name), "initializer"),
				key == "support-optimizers" && unknown(fmt.Sprintf(opt, name), "optimizer"),
				key != "support-initializers" && key != "support-optimizers" && unknown(fmt.Sprintf(call, name), "function"):
				t.Errorf("%s read %s from the compiler's sources, but the compiler does not know it", key, name)
			}
		}
	}
	for _, kw := range lexerKeywords(t) {
		if _, diags := dsl.Parse("kw.mdl", []byte("const "+kw+" = 1\n")); !diags.HasErrors() {
			t.Errorf("keyword %s read from dsl/scan.go parses as a name", kw)
		}
	}
}

// ---------------------------------------------------------------------------
// Tests that run through node

// nodeTool returns the path of node and of the vscode-tmgrammar-test script
// (unit.js or snapshot.js). Without them the test skips, or fails when
// MDLC_CI=1.
func nodeTool(t *testing.T, script string) (node, path string) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...) + "; install Node.js and run `npm ci --ignore-scripts` in editors/textmate"
		if os.Getenv("MDLC_CI") == "1" {
			t.Fatal(msg + " (MDLC_CI=1: required)")
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not found")
	}
	path = filepath.Join(toolDir, script)
	if _, err := os.Stat(path); err != nil {
		missing("vscode-tmgrammar-test is not installed (%s)", path)
	}
	return node, path
}

// runNode runs script with args in textmate/ (whose package.json maps .mdl
// to the grammar) and returns its output and whether it exited 0.
func runNode(t *testing.T, node, script string, args ...string) (string, bool) {
	t.Helper()
	abs, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{abs}, args...)...)
	cmd.Dir = "textmate"
	cmd.Env = append(os.Environ(), "FORCE_COLOR=0")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		// The tool's assertion parser backtracks without end on some
		// malformed lines, e.g. two " - " exclusions in one assertion.
		t.Fatalf("%s timed out; check the assertion lines of the test files:\n%s", filepath.Base(script), out)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return string(out), err == nil
}

// generatedTest is a grammar test file with one assertion per builtin,
// initializer, optimizer and keyword the compiler knows.
func generatedTest(t *testing.T) string {
	t.Helper()
	g := loadGrammar(t)
	var b strings.Builder
	b.WriteString(`// SYNTAX TEST "source.mdl" "every name the compiler knows (generated by editors_test.go)"` + "\n")
	line := func(prefix, name, suffix, scope string) {
		fmt.Fprintf(&b, "%s%s%s\n", prefix, name, suffix)
		if len(prefix) < 2 {
			fmt.Fprintf(&b, "// <%s%s %s\n", strings.Repeat("~", len(prefix)), strings.Repeat("-", len(name)), scope)
		} else {
			fmt.Fprintf(&b, "//%s%s %s\n", strings.Repeat(" ", len(prefix)-2), strings.Repeat("^", len(name)), scope)
		}
	}
	names := compilerNames(t)
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		scope := g.Repository[key].Name
		for _, name := range names[key] {
			switch key {
			case "support-optimizers":
				line("optimizer ", name, "(lr: 0.1)", scope)
			case "support-initializers":
				line("param p: f32[4] = ", name, "", scope)
				line("param p: f32[4] = ", name, "(1)", scope)
			default:
				line("y = ", name, "(x, axis: -1)", scope)
			}
		}
	}
	for _, kw := range lexerKeywords(t) {
		line("", kw, " x", keywordScopes[kw])
	}
	path := filepath.Join(t.TempDir(), "generated.mdl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestGrammarTests runs textmate/tests/*.mdl and a generated test of every
// compiler name through vscode-tmgrammar-test.
func TestGrammarTests(t *testing.T) {
	node, script := nodeTool(t, "unit.js")
	tests, _ := filepath.Glob("textmate/tests/*.mdl")
	if len(tests) == 0 {
		t.Fatal("no grammar tests in textmate/tests")
	}
	for _, f := range tests {
		// Reading each file here also lets go test's cache see edits.
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte(`// SYNTAX TEST "source.mdl"`)) {
			t.Errorf("%s: the first line must be // SYNTAX TEST \"source.mdl\" \"description\"", f)
		}
	}
	args := []string{"tests/*.mdl", generatedTest(t)}
	out, ok := runNode(t, node, script, args...)
	if !ok {
		t.Fatalf("vscode-tmgrammar-test %s failed:\n%s", strings.Join(args, " "), out)
	}
	// One "✓ FILE run successfuly." line per file.
	if n := strings.Count(out, "✓ "); n != len(tests)+1 {
		t.Fatalf("vscode-tmgrammar-test reported %d passing files, want %d:\n%s", n, len(tests)+1, out)
	}
	t.Log(out)
}

// TestSnapshots tokenizes every example model (examples/*/*.mdl) and
// compares the scopes with textmate/snap/NAME.mdl.snap; -update rewrites
// them.
func TestSnapshots(t *testing.T) {
	node, script := nodeTool(t, "snapshot.js")
	examples, _ := filepath.Glob("../examples/*/*.mdl")
	if len(examples) == 0 {
		t.Fatal("no examples found")
	}
	tmp := t.TempDir()
	var args []string
	seen := map[string]string{}
	for _, ex := range examples {
		base := filepath.Base(ex)
		if prev, dup := seen[base]; dup {
			t.Fatalf("examples %s and %s share a file name; snapshots are named by it", prev, ex)
		}
		seen[base] = ex
		copyFile(t, ex, filepath.Join(tmp, base))
		snap := filepath.Join(snapDir, base+".snap")
		if _, err := os.Stat(snap); err == nil {
			copyFile(t, snap, filepath.Join(tmp, base+".snap"))
		} else if !*update {
			t.Errorf("%s has no snapshot %s; run go test ./editors -run Snapshots -update", ex, snap)
			continue
		}
		args = append(args, filepath.Join(tmp, base))
	}
	snaps, _ := filepath.Glob(filepath.Join(snapDir, "*.snap"))
	for _, s := range snaps {
		if _, ok := seen[strings.TrimSuffix(filepath.Base(s), ".snap")]; ok {
			continue
		}
		if *update {
			if err := os.Remove(s); err != nil {
				t.Fatal(err)
			}
		} else {
			t.Errorf("%s: no such example; run go test ./editors -run Snapshots -update", s)
		}
	}
	if len(args) == 0 {
		return
	}
	if *update {
		args = append([]string{"--updateSnapshot"}, args...)
	}
	out, ok := runNode(t, node, script, args...)
	if !ok {
		t.Fatalf("vscode-tmgrammar-snap failed; if the change is intended, run go test ./editors -run Snapshots -update:\n%s", out)
	}
	t.Log(out)
	if *update {
		if err := os.MkdirAll(snapDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for base := range seen {
			copyFile(t, filepath.Join(tmp, base+".snap"), filepath.Join(snapDir, base+".snap"))
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
