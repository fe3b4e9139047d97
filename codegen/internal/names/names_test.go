package names

import "testing"

func TestName(t *testing.T) {
	n := New([]string{"m", "params"})
	n.Avoid = func(id string) bool { return id == "range" }
	for _, c := range []struct{ in, suffix, want string }{
		{"hidden.w", "", "hiddenW"},
		{"hidden.w", "Grad", "hiddenWGrad"},
		{"hidden.w", "", "hiddenW2"},
		{"h_1.w", "", "h1W"},
		{"2x", "", "v2x"},
		{"Layer", "", "layer"},
		{"m", "", "m2"},
		{"params", "", "params2"},
		{"range", "", "range2"},
		{"é!", "", "v"},
	} {
		if got := n.Name(c.in, c.suffix); got != c.want {
			t.Errorf("Name(%q, %q) = %q, want %q", c.in, c.suffix, got, c.want)
		}
	}
	cu := New(nil)
	cu.Adjust = func(id string) string {
		if id == "i0" {
			return id + "_"
		}
		return id
	}
	if got := cu.Name("i0", ""); got != "i0_" {
		t.Errorf("adjusted: %q, want i0_", got)
	}
	if got := cu.Name("i0", ""); got != "i0_2" {
		t.Errorf("adjusted again: %q, want i0_2", got)
	}
}
