package dsl

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFormat(t *testing.T) {
	src := Sources{"model.mdl": []byte("model M {\n    hidden = reul(dense(image, 256))\n\tx =\ty\n}\n")}
	ds := Diagnostics{
		{Pos: Pos{File: "model.mdl", Line: 2, Col: 14}, Msg: "unknown function reul; did you mean relu?", Hint: "did you mean relu?"},
		{Pos: Pos{File: "model.mdl", Line: 3, Col: 6}, Msg: "unused binding x", Severity: Warning, Hint: "remove it",
			Related: []Related{{Pos: Pos{File: "model.mdl", Line: 1, Col: 7}, Msg: "in model M"}}},
		{Pos: Pos{File: "other.mdl", Line: 1, Col: 1}, Msg: "no source"},
		{Msg: "no position"},
	}
	want := `model.mdl:2:14: unknown function reul; did you mean relu?
        hidden = reul(dense(image, 256))
                 ^
model.mdl:3:6: warning: unused binding x
    	x =	y
    	   	^
    hint: remove it
model.mdl:1:7: note: in model M
other.mdl:1:1: no source
no position
`
	if diff := cmp.Diff(want, ds.Format(src)); diff != "" {
		t.Errorf("Format mismatch (-want +got):\n%s", diff)
	}
	if !ds.HasErrors() || (Diagnostics{ds[1]}).HasErrors() {
		t.Errorf("HasErrors wrong")
	}
	if (Diagnostics{ds[1]}).Err() != nil || ds.Err() == nil {
		t.Errorf("Err wrong")
	}
	if got := ds.Error(); !strings.HasPrefix(got, "model.mdl:2:14: unknown function reul") || strings.Count(got, "\n") != 3 {
		t.Errorf("Error() = %q", got)
	}
}

func TestFormatLongLine(t *testing.T) {
	line := strings.Repeat("a", 1000) + "X" + strings.Repeat("b", 1000)
	got := Diagnostics{{Pos: Pos{File: "f", Line: 1, Col: 1001}, Msg: "m"}}.Format(Sources{"f": []byte(line)})
	lines := strings.Split(got, "\n")
	if len(lines[1]) > maxExcerpt+20 {
		t.Fatalf("excerpt not truncated: %d bytes", len(lines[1]))
	}
	if i, j := strings.Index(lines[1], "X"), strings.Index(lines[2], "^"); i != j {
		t.Errorf("caret at %d, X at %d:\n%s", j, i, got)
	}
}

func TestSort(t *testing.T) {
	ds := Diagnostics{
		{Pos: Pos{File: "b", Line: 1, Col: 1}, Msg: "4"},
		{Pos: Pos{File: "a", Line: 2, Col: 1}, Msg: "3"},
		{Pos: Pos{File: "a", Line: 1, Col: 5}, Msg: "2"},
		{Pos: Pos{File: "a", Line: 1, Col: 1}, Msg: "1a"},
		{Pos: Pos{File: "a", Line: 1, Col: 1}, Msg: "1b"},
	}
	ds.Sort()
	var got []string
	for _, d := range ds {
		got = append(got, d.Msg)
	}
	if diff := cmp.Diff([]string{"1a", "1b", "2", "3", "4"}, got); diff != "" {
		t.Error(diff)
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"relu", "gelu", "dense", "softmax", "layer_norm", "input", "model"}
	for _, tc := range []struct{ name, want string }{
		{"reul", "relu"},  // transposition
		{"rel", "relu"},   // deletion; relu wins the tie with gelu by order
		{"dens", "dense"}, // insertion
		{"sofmax", "softmax"},
		{"layernorm", "layer_norm"},
		{"inptu", "input"},
		{"modle", "model"},
		{"relu", ""}, // exact match is not a suggestion
		{"xyz", ""},  // too far
		{"", ""},
		{"softplus", ""},
	} {
		if got := Suggest(tc.name, cands); got != tc.want {
			t.Errorf("Suggest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	if d := editDistance("kitten", "sitting"); d != 3 {
		t.Errorf("editDistance(kitten, sitting) = %d", d)
	}
}
