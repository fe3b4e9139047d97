package eval

import "github.com/mdlc/mdlc/ir"

// Classes returns, for an i32 input of g, the number of valid index values
// implied by its uses (Graph.IndexBound), or 2 when nothing bounds it. Use
// it with Random to draw valid labels and tokens.
func Classes(g *ir.Graph) func(v *ir.Value) int {
	return func(v *ir.Value) int {
		if k := g.IndexBound(v); k > 0 {
			return k
		}
		return 2
	}
}
