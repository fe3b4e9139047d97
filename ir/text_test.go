package ir

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"
)

// Golden files in testdata/text: section "input" is IR text, "output" its
// canonical re-print. Refresh with go test ./ir -run TestTextGolden -update.
func TestTextGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/text/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input := section(t, ar, "input")
			g, err := ParseText("input", input)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got := Format(g)
			if *update {
				setSection(ar, "output", got)
				if err := os.WriteFile(file, txtar.Format(ar), 0o666); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(string(section(t, ar, "output")), got); diff != "" {
				t.Errorf("output differs (-want +got); rerun with -update:\n%s", diff)
			}
			checkRoundTrip(t, g)
		})
	}
}

// TestTextGoldenCoversOps fails when an op of the table appears in no golden file.
func TestTextGoldenCoversOps(t *testing.T) {
	files, _ := filepath.Glob("testdata/text/*.txtar")
	seen := map[string]bool{}
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		g, err := ParseText(file, section(t, ar, "input"))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, v := range g.Values {
			seen[v.Op.Name] = true
		}
	}
	for _, op := range Ops() {
		if !seen[op.Name] {
			t.Errorf("op %s appears in no testdata/text golden file", op.Name)
		}
	}
}

func section(t testing.TB, ar *txtar.Archive, name string) []byte {
	for _, f := range ar.Files {
		if f.Name == name {
			return f.Data
		}
	}
	t.Fatalf("no section %q", name)
	return nil
}

func setSection(ar *txtar.Archive, name, data string) {
	for i := range ar.Files {
		if ar.Files[i].Name == name {
			ar.Files[i].Data = []byte(data)
			return
		}
	}
	ar.Files = append(ar.Files, txtar.File{Name: name, Data: []byte(data)})
}

// checkRoundTrip checks that Format(g) parses back to the same text and to
// a graph equal to g field by field.
func checkRoundTrip(t testing.TB, g *Graph) {
	t.Helper()
	text := Format(g)
	g2, err := ParseText("reprint", []byte(text))
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, text)
	}
	if text2 := Format(g2); text2 != text {
		t.Fatalf("re-print differs:\n%s", cmp.Diff(text, text2))
	}
	if err := graphsEqual(g, g2); err != nil {
		t.Fatalf("re-parsed graph differs: %v", err)
	}
}

// graphsEqual compares two graphs field by field (values by index; NaN
// equals NaN; nil and empty slices and maps are equal).
func graphsEqual(a, b *Graph) error {
	if a.Name != b.Name {
		return fmt.Errorf("name %q vs %q", a.Name, b.Name)
	}
	if len(a.Values) != len(b.Values) {
		return fmt.Errorf("%d vs %d values", len(a.Values), len(b.Values))
	}
	ia, ib := map[*Value]int{}, map[*Value]int{}
	for i := range a.Values {
		ia[a.Values[i]], ib[b.Values[i]] = i, i
	}
	same := func(x, y *Value) bool {
		i, ok1 := ia[x]
		j, ok2 := ib[y]
		return ok1 && ok2 && i == j
	}
	for i, x := range a.Values {
		y := b.Values[i]
		switch {
		case x.ID != y.ID:
			return fmt.Errorf("%%%d: ID %d vs %d", i, x.ID, y.ID)
		case x.Op != y.Op:
			return fmt.Errorf("%%%d: op %s vs %s", i, x.Op, y.Op)
		case !x.Type.Equal(y.Type):
			return fmt.Errorf("%%%d: type %s vs %s", i, x.Type, y.Type)
		case x.Name != y.Name:
			return fmt.Errorf("%%%d: name %q vs %q", i, x.Name, y.Name)
		case x.Pos != y.Pos:
			return fmt.Errorf("%%%d: pos %v vs %v", i, x.Pos, y.Pos)
		case len(x.Args) != len(y.Args):
			return fmt.Errorf("%%%d: %d vs %d args", i, len(x.Args), len(y.Args))
		}
		for j := range x.Args {
			if !same(x.Args[j], y.Args[j]) {
				return fmt.Errorf("%%%d: arg %d differs", i, j)
			}
		}
		if err := attrsEqual(x.Attrs, y.Attrs); err != nil {
			return fmt.Errorf("%%%d: %v", i, err)
		}
	}
	if len(a.Results) != len(b.Results) {
		return fmt.Errorf("%d vs %d results", len(a.Results), len(b.Results))
	}
	for i, r := range a.Results {
		s := b.Results[i]
		if r.Kind != s.Kind || r.Name != s.Name || !same(r.Value, s.Value) {
			return fmt.Errorf("result %d: %v %q vs %v %q", i, r.Kind, r.Name, s.Kind, s.Name)
		}
	}
	if len(a.Updates) != len(b.Updates) {
		return fmt.Errorf("%d vs %d updates", len(a.Updates), len(b.Updates))
	}
	for i, u := range a.Updates {
		w := b.Updates[i]
		if !same(u.Target, w.Target) || !same(u.Value, w.Value) {
			return fmt.Errorf("update %d differs", i)
		}
	}
	if (a.Optimizer == nil) != (b.Optimizer == nil) {
		return fmt.Errorf("optimizer %v vs %v", a.Optimizer, b.Optimizer)
	}
	if o, p := a.Optimizer, b.Optimizer; o != nil {
		if o.Name != p.Name || o.Pos != p.Pos {
			return fmt.Errorf("optimizer %q %v vs %q %v", o.Name, o.Pos, p.Name, p.Pos)
		}
		if err := attrsEqual(o.Attrs, p.Attrs); err != nil {
			return fmt.Errorf("optimizer: %v", err)
		}
	}
	return nil
}

func attrsEqual(a, b Attrs) error {
	if len(a) != len(b) {
		return fmt.Errorf("attrs %v vs %v", a, b)
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok || reflect.TypeOf(x) != reflect.TypeOf(y) {
			return fmt.Errorf("attr %s: %#v vs %#v", k, x, y)
		}
		eq := false
		switch x := x.(type) {
		case float64:
			eq = sameFloat(x, y.(float64))
		case []float64:
			ys := y.([]float64)
			eq = len(x) == len(ys)
			for i := 0; eq && i < len(x); i++ {
				eq = sameFloat(x[i], ys[i])
			}
		case Shape:
			eq = x.Equal(y.(Shape))
		case []int:
			eq = fmt.Sprint(x) == fmt.Sprint(y)
		default:
			eq = x == y
		}
		if !eq {
			return fmt.Errorf("attr %s: %#v vs %#v", k, x, y)
		}
	}
	return nil
}

// sameFloat is bit equality, except that all NaNs are equal.
func sameFloat(x, y float64) bool {
	if math.IsNaN(x) || math.IsNaN(y) {
		return math.IsNaN(x) && math.IsNaN(y)
	}
	return math.Float64bits(x) == math.Float64bits(y)
}

// TestTextBuiltGraph prints a graph made with the Builder (non-dense IDs,
// every optimizer attribute kind, odd names and files) and parses it back.
func TestTextBuiltGraph(t *testing.T) {
	g := &Graph{Name: "two words"}
	b := NewBuilder(g)
	b.Pos = Pos{File: "dir with space/m.mdl", Line: 2, Col: 7}
	x := b.Op("input", Attrs{"role": "input", "dtype": F32, "shape": Shape{N, 3}})
	x.Name = "x"
	b.Pos = Pos{File: "m.mdl", Line: 3, Col: 1}
	w := b.Op("param", Attrs{"dtype": F32, "shape": Shape{3, 2}, "init": "normal", "init_args": []float64{0, 0.02}})
	w.Name = "w\x00\"é"
	m := b.Op("state", Attrs{"dtype": F32, "shape": Shape{3, 2}, "init": "zeros"})
	m.Name = "w.m"
	b.Pos = Pos{}
	y := b.Op("matmul", nil, x, w)
	loss := b.Op("reduce_mean", Attrs{"axes": []int{0, 1}}, y)
	m2 := b.Add(m, m)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	g.Results = []Result{{ResultOutput, "y", y}, {ResultLoss, "loss", loss}, {ResultGrad, "w\x00\"é", m2}}
	g.Updates = []Update{{m, m2}}
	g.Optimizer = &Optimizer{Name: "adam", Pos: Pos{File: "C:\\m.mdl", Line: 9, Col: -1}, Attrs: Attrs{
		"lr": 1.0, "neg zero": math.Copysign(0, -1), "nan": math.NaN(), "inf": math.Inf(-1), "steps": 10,
		"axes": []int{}, "betas": []float64{0.9, 1}, "shape": Shape{64 * N, 3}, "amsgrad": false,
		"schedule": "cosine", "dtype": I32,
	}}
	if err := Verify(g); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Print(&buf, g); err != nil {
		t.Fatal(err)
	}
	if buf.String() != Format(g) {
		t.Fatal("Print and Format differ")
	}
	for _, want := range []string{`graph "two words" {`, `@ "dir with space/m.mdl":2:7`, `lr: 1.0`, `neg zero`, `"w\x00\"é"`,
		`update "w.m" = %5`, `axes: ints[]`, `betas: floats[0.9, 1.0]`, `shape: shape[64*N, 3]`, `inf: -Inf`, `nan: NaN`} {
		if !strings.Contains(buf.String(), want) && !strings.Contains(buf.String(), strings.ReplaceAll(want, `update "w.m"`, "update w.m")) {
			t.Errorf("missing %s in\n%s", want, buf.String())
		}
	}
	checkRoundTrip(t, g)

	// IDs are printed by index; the graph is not modified.
	g.Values[0].ID = 40
	if got := Format(g); got != buf.String() {
		t.Errorf("non-dense IDs change the text:\n%s", cmp.Diff(buf.String(), got))
	}
	if g.Values[0].ID != 40 {
		t.Error("Format renumbered the graph")
	}
}

// TestPrintInvalid checks that Print reports what has no text form but
// still writes the rest.
func TestPrintInvalid(t *testing.T) {
	g := &Graph{Name: "bad"}
	b := NewBuilder(g)
	c := b.Const(1, F32)
	g.Values = append(g.Values, nil)
	g.Results = []Result{{ResultOutput, "c", c}, {ResultOutput, "d", &Value{}}}
	g.Optimizer = &Optimizer{Name: "sgd", Attrs: Attrs{"lr": float32(1)}}
	var buf bytes.Buffer
	err := Print(&buf, g)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"%0 = const", "%1 = <nil>", "output d = %?", "lr: <float32>"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("missing %q in\n%s", want, buf.String())
		}
	}
	if err := Print(&buf, nil); err == nil {
		t.Error("nil graph: no error")
	}
}

func TestParseTextErrors(t *testing.T) {
	const in = `graph g {
  %0 = input {role: "input", dtype: f32, shape: [N, 3]} : f32[N, 3] "x"
`
	tests := []struct {
		name, src, want string
	}{
		{"empty", ``, `t:1:1: expected "graph", found end of input`},
		{"no brace", "graph g\n%0", `t:2:1: expected "{", found %0`},
		{"eof", in, `t:3:1: unexpected end of input; missing "}"`},
		{"unknown op", in + `  %1 = reul %0 : f32[N, 3]` + "\n}", `t:3:8: unknown op "reul"; did you mean relu?`},
		{"unknown attr", in + `  %1 = softmax %0 {axes: 1} : f32[N, 3]` + "\n}", `t:3:20: softmax has no attribute "axes"; did you mean axis?`},
		{"missing attr", in + `  %1 = softmax %0 : f32[N, 3]` + "\n}", `t:3:8: softmax: missing attribute "axis"`},
		{"duplicate attr", in + `  %1 = softmax %0 {axis: 1, axis: 1} : f32[N, 3]` + "\n}", `t:3:29: duplicate attribute "axis"`},
		{"attr kind", in + `  %1 = softmax %0 {axis: 1.5} : f32[N, 3]` + "\n}", `t:3:26: invalid integer 1.5`},
		{"undefined", in + `  %1 = relu %2 : f32[N, 3]` + "\n}", `t:3:13: undefined value %2`},
		{"redefinition", in + `  %0 = relu %0 : f32[N, 3]` + "\n}", `t:3:3: redefinition of %0`},
		{"out of order", in + `  %2 = relu %0 : f32[N, 3]` + "\n}", `t:3:3: value %2 out of order; expected %1`},
		{"type mismatch", in + `  %1 = reduce_sum %0 {axes: [1]} : f32[N, 3]` + "\n}", `t:3:36: type mismatch: written f32[N, 3], but reduce_sum infers f32[N]`},
		{"shape rule", in + `  %1 = transpose %0 {perm: [0, 0]} : f32[N, 3]` + "\n}", `t:3:8: transpose: [0 0] is not a permutation`},
		{"bad dim", in + `  %1 = reshape %0 {shape: [3*M]} : f32[N, 3]` + "\n}", `t:3:30: expected N after 3*, found "M"`},
		{"unterminated", in + `  %1 = relu %0 : f32[N, 3] "x` + "\n}", `t:3:28: unterminated string`},
		{"bad char", in + "  %1 = relu %0 : f32[N, 3] $\n}", `t:3:28: unexpected "$"`},
		{"bad line", in + "  %1 = relu %0 : f32[N, 3] @ f.mdl:0:1\n}", `t:3:36: line must be positive, got 0`},
		{"no file", in + "  %1 = relu %0 : f32[N, 3] @ :1:1\n}", `t:3:28: expected a file name after @`},
		{"unknown target", in + "  update nosuch = %0\n}", `t:3:10: update target "nosuch" is not the name of a param or state`},
		{"update input", in + "  update x = %0\n}", `t: %0 (input): update target must be a param or state`},
		{"second optimizer", in + "  optimizer sgd\n  optimizer sgd\n}", `t:4:3: second optimizer`},
		{"trailing", in + "}\n}", `t:4:1: unexpected "}" after the graph`},
		{"int range", in + `  %1 = softmax %0 {axis: 99999999999999999999} : f32[N, 3]` + "\n}", `t:3:26: invalid integer 99999999999999999999`},
		{"float range", `graph g { optimizer o {lr: 1e999} }`, `t:1:28: invalid number 1e999`},
		{"rank limit", "graph g { %0 = numel {shape: [" + strings.Repeat("1, ", 65) + "]} : f32 }", `t:1:223: more than 64 elements`},
		{"verify", in + "  %1 = param {dtype: f32, shape: [3], init: \"zeros\"} : f32[3] \"x\"\n}", `t: %1 (param): name "x" already used by %0`},
		{"two losses", in + "  loss a = %0\n  loss b = %0\n}", `loss must be a f32 scalar`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := ParseText("t", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error; parsed\n%s", Format(g))
			}
			if g != nil {
				t.Error("graph returned with an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n  %v\nwant\n  %s", err, tt.want)
			}
		})
	}
}

func TestParseTextTooLarge(t *testing.T) {
	_, err := ParseText("big", make([]byte, maxTextSize+1))
	if err == nil || !strings.Contains(err.Error(), "big:1:1: input is") {
		t.Fatalf("got %v", err)
	}
}

func FuzzParseText(f *testing.F) {
	files, _ := filepath.Glob("testdata/text/*.txtar")
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, s := range ar.Files {
			f.Add(s.Data)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		g, err := ParseText("fuzz", src)
		if err != nil {
			return
		}
		checkRoundTrip(t, g)
	})
}
