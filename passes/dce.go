// DCE: dead code elimination.
//
// A value is live when a result (output, loss, metric, grad) or an update
// depends on it. The pass removes every other computed value. It keeps all
// inputs, params and state even when unused: they are the model's interface
// (a checkpoint and a caller still see them). It runs one backward sweep;
// it does not look inside values (a live value keeps all its args).

package passes

import "github.com/mdlc/mdlc/ir"

// DCE removes values no result or update depends on.
func DCE(g *ir.Graph, c *Context) error {
	var roots []*ir.Value
	for _, r := range g.Results {
		roots = append(roots, r.Value)
	}
	for _, u := range g.Updates {
		roots = append(roots, u.Value)
	}
	live := ir.Reaches(roots...)
	out := g.Values[:0]
	for _, v := range g.Values {
		if live[v] || v.Op.Bound {
			out = append(out, v)
		}
	}
	clear(g.Values[len(out):])
	g.Values = out
	g.Renumber()
	return nil
}
