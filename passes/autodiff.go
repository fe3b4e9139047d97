// Autodiff: reverse-mode differentiation of the loss.
//
// The pass appends to the graph the gradient of its loss (the training
// path's: g.TrainLoss, see ir/modes.go) with respect to
// every param and exposes each as a grad result named after the param, in
// param order. It runs in four stages:
//
//  1. Activity: a value is active when it is f32, its op is differentiable
//     (not NoGrad) and it is a param or has an active arg. Only active values
//     receive gradients, so nothing is differentiated through constants,
//     inputs, integer or bool values.
//  2. Reverse sweep: seed d loss / d loss with const 1.0 and visit the values
//     in reverse graph order, calling each op's Grad rule (ir/grad.go). A
//     value used more than once gets the sum (add) of its uses' gradients.
//     The gradient of a named value is named "d." and its name ("d.hidden",
//     "d.hidden.w"), for the generated code.
//  3. Results: one ResultGrad per param. A param the loss does not depend on
//     gets a zero gradient and a warning at its position.
//  4. Cleanup: rules build d/d arg for every f32 arg, active or not; backward
//     values no gradient uses are dropped, and the graph is renumbered.
//
// It leaves the forward graph alone (no forward value is changed, moved or
// removed; outputs, metrics, updates and the optimizer are untouched) and does
// not simplify the backward graph (g*1, adds of zeros): later passes do.
// Every new value carries the position of the forward value it
// differentiates. The loss must be declared, and the pass runs once: a graph
// that already has grad results is an error.

package passes

import (
	"fmt"

	"github.com/mdlc/mdlc/ir"
)

// Autodiff appends the backward graph and the grad results (see above). On
// error the graph is left as it was.
func Autodiff(g *ir.Graph, c *Context) error {
	nf, nr := len(g.Values), len(g.Results)
	err := autodiff(g, c)
	if err != nil {
		clear(g.Values[nf:])
		g.Values, g.Results = g.Values[:nf], g.Results[:nr]
	}
	return err
}

func autodiff(g *ir.Graph, c *Context) error {
	loss := g.TrainLoss() // the training path's (ir/modes.go)
	if loss == nil {
		return fmt.Errorf("no loss declared")
	}
	if len(g.ResultsOf(ir.ResultGrad)) > 0 {
		return fmt.Errorf("graph already has gradients (autodiff runs once)")
	}
	nf := len(g.Values)
	fwd := g.Values[:nf:nf]

	// 1. Activity.
	active := make(map[*ir.Value]bool, nf)
	for _, v := range fwd {
		if v.Type.DType != ir.F32 || v.Op.NoGrad {
			continue
		}
		if v.Op.Name == "param" {
			active[v] = true
			continue
		}
		for _, a := range v.Args {
			if active[a] {
				active[v] = true
				break
			}
		}
	}

	// 2. Reverse sweep.
	b := ir.NewBuilder(g)
	grads := map[*ir.Value]*ir.Value{}
	if active[loss] {
		b.Pos = loss.Pos
		grads[loss] = b.Const(1, ir.F32)
	}
	for i := nf - 1; i >= 0; i-- {
		v := fwd[i]
		gv := grads[v]
		if gv == nil || v.Op.Bound {
			continue
		}
		if v.Op.Grad == nil {
			return posErr(v.Pos, "op %s has no gradient rule", v.Op.Name)
		}
		b.Pos = v.Pos
		da := v.Op.Grad(b, v, gv)
		if err := b.Err(); err != nil {
			return posErr(v.Pos, "gradient of %s %v: %v", v.Op.Name, v, err)
		}
		if len(da) != len(v.Args) {
			return posErr(v.Pos, "gradient rule of %s returned %d values for %d args", v.Op.Name, len(da), len(v.Args))
		}
		for j, a := range v.Args {
			d := da[j]
			if d == nil || !active[a] {
				continue
			}
			if !d.Type.Equal(a.Type) {
				return posErr(v.Pos, "gradient rule of %s gives %s for arg %d of type %s", v.Op.Name, d.Type, j, a.Type)
			}
			if prev := grads[a]; prev != nil {
				b.Pos = a.Pos
				d = b.Add(prev, d)
				b.Pos = v.Pos
			}
			grads[a] = d
		}
	}

	// The gradient of a named forward value is named after it: "d.hidden".
	for _, v := range fwd {
		if d := grads[v]; d != nil && v.Name != "" && d.Name == "" && d.ID >= nf {
			d.Name = "d." + v.Name
		}
	}

	// 3. Results.
	for _, p := range g.Params() {
		gp := grads[p]
		if gp == nil {
			b.Pos = p.Pos
			gp = b.BroadcastTo(b.Const(0, ir.F32), p.Type.Shape)
			if c != nil {
				c.Warnf(p.Pos, "parameter %s does not affect the loss; its gradient is always zero", p.Name)
			}
		}
		g.Results = append(g.Results, ir.Result{Kind: ir.ResultGrad, Name: p.Name, Value: gp})
	}
	if err := b.Err(); err != nil {
		return fmt.Errorf("autodiff: %v", err)
	}

	// 4. Cleanup.
	live := map[*ir.Value]bool{}
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		live[r.Value] = true
	}
	for i := len(g.Values) - 1; i >= nf; i-- {
		if v := g.Values[i]; live[v] {
			for _, a := range v.Args {
				live[a] = true
			}
		}
	}
	kept := g.Values[:nf]
	for _, v := range g.Values[nf:] {
		if live[v] {
			kept = append(kept, v)
		}
	}
	clear(g.Values[len(kept):])
	g.Values = kept
	g.Renumber()
	return nil
}

func posErr(p ir.Pos, format string, args ...any) error {
	return &PosError{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

// PosError is a pass's error about the model's source: a setting it
// refuses, a name it cannot use, at Pos (invalid when the source has no
// place for it). Run wraps it; errors.As finds it.
type PosError struct {
	Pos ir.Pos
	Msg string
}

func (e *PosError) Error() string {
	if e.Pos.IsValid() {
		return fmt.Sprintf("%s: %s", e.Pos, e.Msg)
	}
	return e.Msg
}
