package ir

import "fmt"

// Modes: training and inference as two paths of one graph.
//
// A layer whose semantics depend on the mode (batch_norm: batch statistics
// in training, moving statistics in inference; dropout: a random mask in
// training, the identity in inference) is lowered to two values: the
// inference value, which everything after it uses as it is lowered, and its
// training twin. SplitModes then resolves the modes once, before any pass:
// every value that depends on a value with a twin gets a training copy (the
// same op and attributes over the training versions of its args, inserted
// right after it), so the graph holds the inference path and the training
// path side by side, sharing every value that does not depend on the mode.
//
// Results and updates choose a path: outputs, metrics and the loss are the
// inference path's (Forward and Eval); the loss of the training path is the
// train_loss result (ResultTrainLoss, only when it differs from the loss),
// which autodiff differentiates and TrainStep returns; updates (the layers'
// state updates, such as batch_norm's moving statistics) read the training
// path. The planner's entry masks (passes/storage.go) then give every unit
// the entry points that need it: Forward and Eval never run a training-only
// value and TrainStep never runs an inference-only one.

// SplitModes resolves the training twins of g (twins[inference] =
// training; a twin must come before any value that uses its inference
// value) as described above. Values without twins upstream are shared by
// both paths. The graph is renumbered. It panics if a twin comes after its
// inference value (a lowering bug).
func SplitModes(g *Graph, twins map[*Value]*Value) {
	if len(twins) == 0 {
		return
	}
	train := map[*Value]*Value{} // value -> its training version, when it differs
	tr := func(v *Value) *Value {
		if t := train[v]; t != nil {
			return t
		}
		return v
	}
	var out []*Value
	seen := make(map[*Value]bool, len(g.Values))
	for _, v := range g.Values {
		out = append(out, v)
		seen[v] = true
		if t := twins[v]; t != nil {
			if !seen[t] {
				panic(fmt.Sprintf("ir.SplitModes: the training twin %%%d of %%%d %s comes after it", t.ID, v.ID, v.Op.Name))
			}
			train[v] = tr(t)
			continue
		}
		var args []*Value
		for i, a := range v.Args {
			if t := train[a]; t != nil {
				if args == nil {
					args = append([]*Value(nil), v.Args...)
				}
				args[i] = t
			}
		}
		if args == nil {
			continue
		}
		c := &Value{Op: v.Op, Type: Type{v.Type.DType, v.Type.Shape.Clone()}, Args: args, Attrs: v.Attrs.Clone(), Name: v.Name, Pos: v.Pos}
		train[v] = c
		out = append(out, c)
	}
	g.Values = out
	if l := g.Loss(); l != nil && train[l] != nil {
		g.Results = append(g.Results, Result{Kind: ResultTrainLoss, Name: "loss", Value: train[l]})
	}
	for i, u := range g.Updates {
		g.Updates[i].Value = tr(u.Value)
	}
	g.Renumber()
}
