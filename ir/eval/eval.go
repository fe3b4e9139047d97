// Package eval is the float64 reference interpreter of ir graphs: the
// oracle every other execution path (generated Go, CUDA) is checked against.
// It runs each value's reference kernel from the op table in graph order.
package eval

import (
	"fmt"
	"math/rand/v2"

	"github.com/mdlc/mdlc/ir"
)

// Env maps values to their tensors.
type Env map[*ir.Value]*ir.Tensor

// Run evaluates every value of g for batch size n. bind supplies inputs,
// params and state by name; each must have the value's type with N = n.
// It returns the tensors of all values.
func Run(g *ir.Graph, n int, bind map[string]*ir.Tensor) (Env, error) {
	if n <= 0 {
		return nil, fmt.Errorf("eval: batch size %d must be positive", n)
	}
	ctx := &ir.EvalCtx{N: n}
	env := make(Env, len(g.Values))
	args := []*ir.Tensor{}
	for _, v := range g.Values {
		want := v.Type.Shape.Resolve(n)
		if v.Op.Bound {
			t, ok := bind[v.Name]
			if !ok {
				return nil, fmt.Errorf("eval: no value bound for %s %q", v.Op.Name, v.Name)
			}
			if !sameShape(t.Shape, want) || len(t.Data) != numel(want) {
				return nil, fmt.Errorf("eval: %s %q has shape %v, want %v", v.Op.Name, v.Name, t.Shape, want)
			}
			env[v] = t
			continue
		}
		if v.Op.Eval == nil {
			return nil, fmt.Errorf("eval: op %s has no reference kernel", v.Op.Name)
		}
		args = args[:0]
		for _, a := range v.Args {
			t, ok := env[a]
			if !ok {
				return nil, fmt.Errorf("eval: %%%d uses %%%d before it is computed", v.ID, a.ID)
			}
			args = append(args, t)
		}
		t, err := v.Op.Eval(ctx, v, args)
		if err != nil {
			return nil, fmt.Errorf("eval: %%%d %s: %w", v.ID, v.Op.Name, err)
		}
		if !sameShape(t.Shape, want) {
			return nil, fmt.Errorf("eval: %%%d %s produced shape %v, want %v", v.ID, v.Op.Name, t.Shape, want)
		}
		env[v] = t
	}
	return env, nil
}

// Step runs one training step: it evaluates g and returns the new bindings
// after applying g.Updates (params and state take their updated values).
func Step(g *ir.Graph, n int, bind map[string]*ir.Tensor) (Env, map[string]*ir.Tensor, error) {
	env, err := Run(g, n, bind)
	if err != nil {
		return nil, nil, err
	}
	next := make(map[string]*ir.Tensor, len(bind))
	for k, t := range bind {
		next[k] = t
	}
	for _, u := range g.Updates {
		next[u.Target.Name] = env[u.Value].Clone()
	}
	return env, next, nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Random returns bindings for every input, param and state of g with batch
// size n: f32 values uniform in [-1, 1), i32 values in [0, hi) where hi is
// taken from classes(name) (default 2), bools 0 or 1, the words of a random
// key (init random_key) in [0, 2^16). Deterministic per seed.
func Random(g *ir.Graph, n int, seed uint64, classes func(v *ir.Value) int) map[string]*ir.Tensor {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := map[string]*ir.Tensor{}
	for _, v := range g.Values {
		if !v.Op.Bound {
			continue
		}
		t := ir.NewTensor(v.Type.Shape.Resolve(n))
		for i := range t.Data {
			switch v.Type.DType {
			case ir.I32:
				hi := 2
				if classes != nil {
					hi = max(1, classes(v))
				}
				t.Data[i] = float64(r.IntN(hi))
			case ir.Bool:
				t.Data[i] = float64(r.IntN(2))
			default:
				if v.Attrs.String("init") == "random_key" { // 16-bit words
					t.Data[i] = float64(r.IntN(1 << 16))
					continue
				}
				t.Data[i] = 2*r.Float64() - 1
			}
		}
		out[v.Name] = t
	}
	return out
}
