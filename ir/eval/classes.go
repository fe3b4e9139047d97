package eval

import "github.com/mdlc/mdlc/ir"

// Classes returns, for an i32 input of g, the number of valid index values
// implied by its uses: the depth of a one_hot, the rows of a gather table,
// or the class axis of an argmax compared with it. It returns 2 when
// nothing bounds it. Use it with Random to draw valid labels and tokens.
func Classes(g *ir.Graph) func(v *ir.Value) int {
	bound := map[*ir.Value]int{}
	note := func(v *ir.Value, k int) {
		if k > 0 && (bound[v] == 0 || k < bound[v]) {
			bound[v] = k
		}
	}
	for _, v := range g.Values {
		switch v.Op.Name {
		case "one_hot":
			note(v.Args[0], v.Attrs.Int("depth"))
		case "gather":
			note(v.Args[1], int(v.Args[0].Type.Shape[0]))
		case "scatter_add":
			note(v.Args[0], v.Attrs.Int("rows"))
		}
	}
	return func(v *ir.Value) int {
		if k, ok := bound[v]; ok {
			return k
		}
		return 2
	}
}
