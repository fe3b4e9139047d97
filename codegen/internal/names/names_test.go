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
	ix := New([]string{"i"})
	ix.Avoid = func(id string) bool { return len(id) > 1 && id[0] == 'i' && id[1] >= '0' && id[1] <= '9' }
	if got := ix.Name("i", ""); got != "i_2" {
		t.Errorf("a reserved name whose numbered forms are avoided: %q, want i_2", got)
	}
	up := New([]string{"ARENA"})
	up.Style = Upper
	for _, c := range []struct{ in, suffix, want string }{{"d.hidden.w", "", "D_HIDDEN_W"}, {"arena", "", "ARENA_2"}, {"loss.log_softmax", "", "LOSS_LOG_SOFTMAX"}} {
		if got := up.Name(c.in, c.suffix); got != c.want {
			t.Errorf("Upper: Name(%q, %q) = %q, want %q", c.in, c.suffix, got, c.want)
		}
	}
	sn := New(nil)
	sn.Style = Snake
	if got := sn.Name("hidden", "Forward"); got != "hidden_forward" {
		t.Errorf("Snake: %q, want hidden_forward", got)
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
