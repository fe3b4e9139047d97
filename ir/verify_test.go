package ir

import (
	"strings"
	"testing"
)

// One test per Verify rule: each builds a small valid graph, checks that
// Verify accepts it, breaks it in one way and checks the message.

// vgraph is a small valid graph: inputs x and y, a param w, a state m,
// h = x @ w, loss = mean((h - y)^2), and an update of w and m.
type vgraph struct {
	g                   *Graph
	x, y, w, m, h, loss *Value
	wNew, mNew          *Value
}

func newVGraph(t *testing.T) *vgraph {
	t.Helper()
	g := &Graph{Name: "v"}
	b := NewBuilder(g)
	v := &vgraph{g: g}
	v.x = b.Op("input", Attrs{"role": "input", "dtype": F32, "shape": Shape{N, 3}})
	v.x.Name = "x"
	v.y = b.Op("input", Attrs{"role": "target", "dtype": F32, "shape": Shape{N, 2}})
	v.y.Name = "y"
	v.w = b.Op("param", Attrs{"dtype": F32, "shape": Shape{3, 2}, "init": "zeros"})
	v.w.Name = "w"
	v.m = b.Op("state", Attrs{"dtype": F32, "shape": Shape{3, 2}, "init": "zeros"})
	v.m.Name = "w.m"
	v.h = b.Op("matmul", nil, v.x, v.w)
	d := b.Sub(v.h, v.y)
	v.loss = b.Op("reduce_mean", Attrs{"axes": []int{0, 1}}, b.Mul(d, d))
	v.mNew = b.Add(v.m, v.w)
	v.wNew = b.Sub(v.w, v.mNew)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	g.Results = []Result{{ResultOutput, "h", v.h}, {ResultLoss, "loss", v.loss}}
	g.Updates = []Update{{v.w, v.wNew}, {v.m, v.mNew}}
	if err := Verify(g); err != nil {
		t.Fatalf("valid graph rejected: %v", err)
	}
	return v
}

// wantVerify checks that Verify fails with a message containing want.
func wantVerify(t *testing.T, g *Graph, want string) {
	t.Helper()
	err := Verify(g)
	if err == nil {
		t.Fatalf("Verify passed; want an error containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("Verify: %v\nwant an error containing %q", err, want)
	}
}

func TestVerifyNilValue(t *testing.T) {
	v := newVGraph(t)
	v.g.Values = append(v.g.Values, nil)
	wantVerify(t, v.g, "value 10: nil value or op")
}

func TestVerifyOpNotInTable(t *testing.T) {
	v := newVGraph(t)
	fake := *v.h.Op
	v.h.Op = &fake
	wantVerify(t, v.g, `%4 (matmul): op "matmul" is not the op table's`)
}

func TestVerifyArity(t *testing.T) {
	v := newVGraph(t)
	v.h.Args = append(v.h.Args, v.x)
	wantVerify(t, v.g, "%4 (matmul): has 3 args, op takes 2")
}

func TestVerifyAttrs(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		v := newVGraph(t)
		delete(v.loss.Attrs, "axes")
		wantVerify(t, v.g, `reduce_mean: missing attribute "axes"`)
	})
	t.Run("unknown", func(t *testing.T) {
		v := newVGraph(t)
		v.loss.Attrs["axis"] = 0
		wantVerify(t, v.g, `reduce_mean: unknown attribute "axis"`)
	})
	t.Run("kind", func(t *testing.T) {
		v := newVGraph(t)
		v.loss.Attrs["axes"] = 0
		wantVerify(t, v.g, `reduce_mean: attribute "axes" must be ints, got int`)
	})
}

func TestVerifyDenseIDs(t *testing.T) {
	v := newVGraph(t)
	v.h.ID = 9
	wantVerify(t, v.g, "%9 (matmul): ID 9 at position 4 (IDs must be dense")
}

func TestVerifyValueTwice(t *testing.T) {
	v := newVGraph(t)
	v.g.Values = append(v.g.Values, v.h)
	v.g.Renumber()
	wantVerify(t, v.g, "appears twice in the graph")
}

func TestVerifyArgNotEarlier(t *testing.T) {
	t.Run("later", func(t *testing.T) {
		v := newVGraph(t)
		vs := v.g.Values
		vs[3], vs[4] = vs[4], vs[3] // x y w h m ...
		vs[2], vs[3] = vs[3], vs[2] // x y h w m ...: h reads w
		v.g.Renumber()
		wantVerify(t, v.g, "%2 (matmul): arg 1 is not an earlier value of the graph")
	})
	t.Run("outside", func(t *testing.T) {
		v := newVGraph(t)
		other := newVGraph(t)
		v.h.Args[0] = other.x
		wantVerify(t, v.g, "%4 (matmul): arg 0 is not an earlier value of the graph")
	})
	t.Run("nil", func(t *testing.T) {
		v := newVGraph(t)
		v.h.Args[1] = nil
		wantVerify(t, v.g, "%4 (matmul): arg 1 is not an earlier value of the graph")
	})
}

func TestVerifyTypeMismatch(t *testing.T) {
	v := newVGraph(t)
	v.h.Type = Type{DType: F32, Shape: Shape{N, 3}}
	wantVerify(t, v.g, "%4 (matmul): type f32[N, 3], but its op infers f32[N, 2]")
}

func TestVerifyShapeRule(t *testing.T) {
	v := newVGraph(t)
	v.loss.Attrs["axes"] = []int{0, 2}
	wantVerify(t, v.g, "reduce_mean: axis 2 out of range for rank 2")
}

func TestVerifySourceNoName(t *testing.T) {
	v := newVGraph(t)
	v.m.Name = ""
	wantVerify(t, v.g, "%3 (state): state has no name")
}

func TestVerifySourceDuplicateName(t *testing.T) {
	v := newVGraph(t)
	v.m.Name = "x"
	wantVerify(t, v.g, `%3 (state): name "x" already used by %0`)
}

func TestVerifyResultNotInGraph(t *testing.T) {
	t.Run("outside", func(t *testing.T) {
		v := newVGraph(t)
		v.g.Results = append(v.g.Results, Result{ResultMetric, "acc", newVGraph(t).loss})
		wantVerify(t, v.g, `graph: metric "acc" refers to a value not in the graph`)
	})
	t.Run("nil", func(t *testing.T) {
		v := newVGraph(t)
		v.g.Results[0].Value = nil
		wantVerify(t, v.g, `graph: output "h" refers to a value not in the graph`)
	})
}

func TestVerifyDuplicateResult(t *testing.T) {
	v := newVGraph(t)
	v.g.Results = append(v.g.Results, Result{ResultOutput, "h", v.loss})
	wantVerify(t, v.g, `graph: duplicate output "h"`)
	// The same name under another kind is fine.
	v.g.Results[2].Kind = ResultMetric
	if err := Verify(v.g); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyTwoLosses(t *testing.T) {
	v := newVGraph(t)
	v.g.Results = append(v.g.Results, Result{ResultLoss, "loss2", v.loss})
	wantVerify(t, v.g, "graph: 2 losses; at most one allowed")
}

func TestVerifyLossNotScalar(t *testing.T) {
	v := newVGraph(t)
	v.g.Results[1].Value = v.h
	wantVerify(t, v.g, "%4 (matmul): loss must be a f32 scalar, got f32[N, 2]")
}

func TestVerifyUpdateNotInGraph(t *testing.T) {
	v := newVGraph(t)
	v.g.Updates[0].Value = newVGraph(t).wNew
	wantVerify(t, v.g, "graph: update refers to a value not in the graph")
}

func TestVerifyUpdateTargetNotParam(t *testing.T) {
	v := newVGraph(t)
	v.g.Updates[0].Target = v.mNew
	wantVerify(t, v.g, "(add): update target must be a param or state")
}

func TestVerifyUpdateTwice(t *testing.T) {
	v := newVGraph(t)
	v.g.Updates = append(v.g.Updates, Update{v.w, v.wNew})
	wantVerify(t, v.g, "%2 (param): updated twice")
}

func TestVerifyUpdateTypeMismatch(t *testing.T) {
	v := newVGraph(t)
	v.g.Updates[0].Value = v.loss
	wantVerify(t, v.g, "%2 (param): update value %7 has type f32, target has f32[3, 2]")
}

// TestVerifyReportsAll checks that every violation is reported, not just the first.
func TestVerifyReportsAll(t *testing.T) {
	v := newVGraph(t)
	v.m.Name = ""
	v.g.Results = append(v.g.Results, Result{ResultLoss, "loss2", v.h})
	err := Verify(v.g)
	if err == nil {
		t.Fatal("Verify passed")
	}
	for _, want := range []string{"state has no name", "2 losses", "loss must be a f32 scalar"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}
