package eval

import "github.com/mdlc/mdlc/ir"

// Footprint is about how many bytes of float64 tensors GradCheck holds at
// batch size n, with the bindings Random makes: every value of g (Run keeps
// them all, the bindings included), the computed values of the loss graph
// (each finite difference runs it while those are kept) and the perturbed
// copy of the largest param. largest is the value of g with the most
// elements (nil for an empty graph). Counts are float64s: no shape or batch
// size overflows them.
func Footprint(g *ir.Graph, n int) (bytes float64, largest *ir.Value) {
	var elems, most, param float64
	for _, v := range g.Values {
		e := v.Type.Shape.Elements(n)
		elems += e
		if largest == nil || e > most {
			largest, most = v, e
		}
		if v.Op.Name == "param" {
			param = max(param, e)
		}
	}
	if loss := g.TrainLoss(); loss != nil {
		for _, v := range lossGraph(g, loss).Values {
			if !v.Op.Bound {
				elems += v.Type.Shape.Elements(n)
			}
		}
	}
	return 8 * (elems + param), largest
}
