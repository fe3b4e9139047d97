package passes_test

import (
	"strings"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
)

// planned runs the whole pipeline on an example at level.
func planned(t *testing.T, path string, level passes.Level) *ir.Graph {
	t.Helper()
	g := lowerExample(t, path)
	if _, err := passes.Run(g, passes.Options{VerifyEach: true, Level: level, MaxBatch: 128}); err != nil {
		t.Fatal(err)
	}
	if g.Plan == nil || g.Plan.UnitOf == nil {
		t.Fatal("no plan")
	}
	return g
}

// The plan of the MNIST MLP, as both backends read it: the storage of
// every value, the units, the entry points and the phases.
func TestPlanMNIST(t *testing.T) {
	g := planned(t, "../examples/mnist_mlp/mnist_mlp.mdl", passes.Default)
	pl := g.Plan
	byName := func(name string) *ir.Value {
		for _, v := range g.Values {
			if v.Name == name {
				return v
			}
		}
		t.Fatalf("no value %q", name)
		return nil
	}
	want := map[string]ir.Storage{
		"image": ir.StoreInput, "label": ir.StoreInput, "hidden.w": ir.StoreParams, "optimizer.step": ir.StoreState, "optimizer.hidden.w.m": ir.StoreState,
		"hidden": ir.StoreArena, "logits": ir.StoreArena, "d.hidden.w": ir.StoreGrads, "d.logits.b": ir.StoreGrads,
	}
	for name, s := range want {
		if got := pl.Slots[byName(name)].Storage; got != s {
			t.Errorf("%s: storage %s, want %s", name, got, s)
		}
	}
	// Every computed value is in exactly one unit; sources and views in none.
	for _, v := range g.Values {
		u := pl.UnitOf[v]
		computed := !v.Op.Bound && !v.Op.Inline && !v.Op.View
		if computed != (u != nil) {
			t.Errorf("%%%d %s: unit %v", v.ID, v.Op.Name, u)
		}
		s := pl.Slots[v]
		switch {
		case v.Op.Inline && s.Storage != ir.StoreInline, v.Op.View && s.Storage != ir.StoreAlias:
			t.Errorf("%%%d %s: storage %s", v.ID, v.Op.Name, s.Storage)
		case s.Storage == ir.StoreRegister && (u == nil || u.Kind == ir.UnitOp):
			t.Errorf("%%%d %s: a register outside a loop", v.ID, v.Op.Name)
		}
	}
	// Contractions write their epilogue's output; the optimizer update is
	// one flat unit writing params and state in place.
	var contract, update int
	for _, u := range pl.Units {
		switch u.Kind {
		case ir.UnitContract:
			contract++
			a := u.Values[0]
			if s := pl.Slots[a]; s.Storage != ir.StoreAlias || pl.UnitOf[s.Of] != u || !pl.Stored(s.Of) {
				t.Errorf("contraction %%%d writes %v", a.ID, s)
			}
		case ir.UnitUpdate:
			update++
			if len(u.Flat.Lanes) != len(g.Params()) || len(u.Flat.Runs) != 2 || u.Flat.Runs[0].Kind != "m" || u.Flat.Runs[1].Kind != "v" {
				t.Errorf("flat update: %d lanes, runs %+v", len(u.Flat.Lanes), u.Flat.Runs)
			}
			for v, target := range u.Flat.Targets {
				if pl.Slots[v].Storage != ir.StoreTarget || target.Op.Name != "param" && target.Op.Name != "state" {
					t.Errorf("%%%d updates %v in place, storage %s", v.ID, target, pl.Slots[v].Storage)
				}
			}
		}
	}
	if contract != 2 || update != 1 {
		t.Errorf("%d contraction units, %d flat updates; want 2 and 1", contract, update)
	}
	if len(pl.Apply) != 1 || pl.Apply[0].Target.Name != "optimizer.step" {
		t.Errorf("updates applied by copy: %v, want only step's", pl.Apply)
	}
	if len(pl.GradCopy) != 0 {
		t.Errorf("gradients copied: %v", pl.GradCopy)
	}
	// Entry points: forward reads only the image; each runs its units in
	// step order; the phases never go back.
	if ins := pl.Entries[ir.EntryForward].Inputs; len(ins) != 1 || ins[0].Name != "image" {
		t.Errorf("forward reads %v", ins)
	}
	for e, ep := range pl.Entries {
		last := ir.PhaseForward
		for _, u := range ep.Units {
			if !u.Runs(ir.Entry(e)) {
				t.Errorf("%s runs a unit not marked for it", ir.Entry(e))
			}
			if ir.Entry(e) == ir.EntryStep && u.Phase < last {
				t.Errorf("step: a %s unit after a %s one", u.Phase, last)
			}
			last = max(last, u.Phase)
		}
	}
	if n := len(pl.Entries[ir.EntryForward].Units); n != 3 {
		t.Errorf("forward runs %d units, want 3 (two layers and the softmax)", n)
	}
}

// Below -O2 nothing shares memory: the arena is the sum of the slots.
func TestPlanNaive(t *testing.T) {
	g := planned(t, "../examples/mnist_mlp/mnist_mlp.mdl", passes.O0)
	sum := 0
	for _, v := range g.Values {
		if s := g.Plan.Slots[v]; s.Storage == ir.StoreArena {
			sum += s.Size
		}
	}
	for _, s := range g.Plan.Scratch {
		sum += s.Size
	}
	if g.Plan.Arena != sum {
		t.Errorf("arena %d, slots %d: memory is shared at -O0", g.Plan.Arena, sum)
	}
	for _, u := range g.Plan.Units {
		if u.Kind != ir.UnitOp {
			t.Errorf("a %s unit at -O0", u.Kind)
		}
	}
}

// A group whose member reads a value computed after the group is emitted
// is refused with a message naming both.
func TestPlanGroupOrder(t *testing.T) {
	g := lowerExample(t, "../examples/linreg/linreg.mdl")
	if _, err := passes.Run(g, passes.Options{Upto: "dce", VerifyEach: true}); err != nil {
		t.Fatal(err)
	}
	// theta1 * x, then + theta0, then - y: group the first and the last only.
	var mul, sub *ir.Value
	for _, v := range g.Values {
		if v.Op.Name == "mul" && mul == nil {
			mul = v
		}
		if v.Op.Name == "sub" && sub == nil {
			sub = v
		}
	}
	g.Groups = []ir.Group{{Kind: ir.KindElementwise, Values: []*ir.Value{mul, sub}}}
	err := passes.Memplan(g, &passes.Context{MaxBatch: 8})
	if err == nil || !strings.Contains(err.Error(), "computed later") {
		t.Fatalf("err = %v", err)
	}
}
