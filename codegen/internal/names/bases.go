package names

import (
	"strings"

	"github.com/mdlc/mdlc/ir"
)

// Bases returns, for every value of g, the name from the model's source a
// generator makes its identifier from (Namer.Name), so that both code
// generators name a buffer the same way:
//   - an output, loss or metric: its result name ("probs", "loss");
//   - a named value: its name (a binding "hidden", a param "hidden.w", an
//     input, a gradient autodiff named "d.hidden"); optimizer state without
//     its "optimizer." prefix ("hidden.w.m");
//   - a param's gradient: "d." and the param's name ("d.hidden.w");
//   - an update: "new." and its target's name ("new.step");
//   - any other value: the name its first user's name starts from and its
//     op ("loss.log_softmax": the log-softmax computed for the loss;
//     "d.logits.reduce_sum"), or its op alone when nothing uses it.
func Bases(g *ir.Graph) map[*ir.Value]string {
	base := map[*ir.Value]string{}
	from := map[*ir.Value]string{} // the source name a derived base starts from
	set := func(v *ir.Value, s string) {
		if base[v] == "" && s != "" {
			base[v] = s
		}
	}
	for _, r := range g.Results {
		if r.Kind != ir.ResultGrad {
			set(r.Value, r.Name)
		}
	}
	for _, v := range g.Values {
		set(v, sourceName(v))
	}
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		set(r.Value, "d."+r.Name)
	}
	for _, u := range g.Updates {
		set(u.Value, "new."+sourceName(u.Target))
	}
	first := map[*ir.Value]*ir.Value{}
	for _, v := range g.Values {
		for _, a := range v.Args {
			if first[a] == nil {
				first[a] = v
			}
		}
	}
	origin := func(v *ir.Value) string {
		if s := from[v]; s != "" {
			return s
		}
		return base[v]
	}
	for i := len(g.Values) - 1; i >= 0; i-- {
		v := g.Values[i]
		if base[v] != "" {
			continue
		}
		if u := first[v]; u != nil && origin(u) != "" {
			from[v] = origin(u)
			base[v] = from[v] + "." + v.Op.Name
			continue
		}
		base[v] = v.Op.Name
	}
	return base
}

// sourceName is v's name, optimizer state's without its "optimizer." prefix
// (optimizer.hidden.w.m: the prefix keeps the checkpoint name apart from
// the model's names; the namer does that here).
func sourceName(v *ir.Value) string {
	if v.Op.Name == "state" {
		return strings.TrimPrefix(v.Name, "optimizer.")
	}
	return v.Name
}
