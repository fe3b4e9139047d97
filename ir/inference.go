package ir

import "fmt"

// Inference reduces a model to its inference graph, what `mdlc build
// -inference` compiles: the outputs of the inference path (modes.go) and
// nothing else. It drops the loss, the training loss, the metrics and every
// update and the optimizer declaration, then every value that does not
// reach an output: the training path, the targets, the parameters and state
// the outputs do not read (the optimizer's, dropout's random key). The
// state the outputs read stays (batch_norm's moving statistics). Inputs
// (role input) stay even when unused: they are the model's interface.
//
// It must run before the passes (on a lowered graph). A model without an
// output has nothing to infer: that is an error.
func Inference(g *Graph) error {
	outs := g.ResultsOf(ResultOutput)
	if len(outs) == 0 {
		return fmt.Errorf("model %s declares no output: an inference build would compute nothing (declare one with `output NAME = ...`)", g.Name)
	}
	if g.Plan != nil || len(g.ResultsOf(ResultGrad)) > 0 {
		return fmt.Errorf("ir.Inference: model %s has already been through the passes", g.Name)
	}
	var roots []*Value
	for _, r := range outs {
		roots = append(roots, r.Value)
	}
	live := Reaches(roots...)
	out := g.Values[:0]
	for _, v := range g.Values {
		if live[v] || v.Op.Name == "input" && v.Attrs.String("role") == "input" {
			out = append(out, v)
		}
	}
	clear(g.Values[len(out):])
	g.Values = out
	g.Results = outs
	g.Updates = nil
	g.Optimizer = nil
	g.Groups = nil
	g.Renumber()
	return nil
}
