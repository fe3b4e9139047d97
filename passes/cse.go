// CSE: common subexpression elimination.
//
// Two values with the same op, the same args (in order, or in either order
// for commutative ops), the same attributes and the same type compute the
// same thing; the pass keeps the first and points every use of the second
// at it. Constants with equal dtype and value merge the same way. Inputs,
// params and state are never merged (each is its own storage). One forward
// sweep suffices because args are remapped before a value is keyed.

package passes

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mdlc/mdlc/ir"
)

// CSE merges values that compute the same thing.
func CSE(g *ir.Graph, c *Context) error {
	r := newRewriter(g)
	seen := map[string]*ir.Value{}
	_, err := r.run(func(v *ir.Value) (*ir.Value, error) {
		if v.Op.Bound {
			return nil, nil
		}
		k := cseKey(v)
		if w, ok := seen[k]; ok {
			return w, nil
		}
		seen[k] = v
		return nil, nil
	})
	return err
}

func cseKey(v *ir.Value) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", v.Op.Name, v.Type)
	ids := make([]int, len(v.Args))
	for i, a := range v.Args {
		ids[i] = a.ID
	}
	if v.Op.Commutative {
		sort.Ints(ids)
	}
	fmt.Fprint(&b, ids)
	keys := make([]string, 0, len(v.Attrs))
	for k := range v.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%#v", k, v.Attrs[k])
	}
	return b.String()
}
