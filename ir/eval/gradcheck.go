package eval

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"text/tabwriter"

	"github.com/mdlc/mdlc/ir"
)

// GradCheckOptions tune GradCheck; zero fields take the defaults.
type GradCheckOptions struct {
	// Eps is the finite-difference step, relative to the element: an element
	// x is moved by h = Eps * max(1, |x|) each way. Default 1e-6.
	Eps float64
	// MaxElems bounds the elements checked per param; bigger params are
	// checked on a deterministic sample of that many. Default 64.
	MaxElems int
	// Seed picks the sample of big params (same seed, same elements).
	Seed uint64
}

// ParamError is how far the autodiff gradient of one param is from the
// finite-difference gradient on the checked elements.
type ParamError struct {
	Name    string
	Shape   ir.Shape
	MaxAbs  float64 // max_i |a_i - f_i|
	MaxRel  float64 // MaxAbs / max_i max(|a_i|, |f_i|): see GradCheck
	Checked int     // elements compared
	Total   int     // elements of the param
}

// GradCheck compares the gradients g computes (its grad results, from
// autodiff) with central finite differences of its loss, all in float64,
// at batch size n and the bindings bind (which it does not modify).
//
// For each checked element x_i of a param, f_i = (L(x_i+h) - L(x_i-h)) /
// (2h) with every other binding fixed, and a_i is the grad result's element.
// The relative error of a param is normwise:
//
//	MaxRel = max_i |a_i - f_i| / max_i max(|a_i|, |f_i|)
//
// (0 when both gradients are all zero). A finite difference carries an
// absolute error of about 1e-16 |L| / h, so an elementwise relative error
// measures that noise, not the rule, on components much smaller than the
// others; the normwise error is immune to that and to the loss's scale,
// and still sees any wrong component that matters next to the largest one.
// A NaN anywhere makes both errors NaN.
func GradCheck(g *ir.Graph, n int, bind map[string]*ir.Tensor, opt GradCheckOptions) ([]ParamError, error) {
	if opt.Eps <= 0 {
		opt.Eps = 1e-6
	}
	if opt.MaxElems <= 0 {
		opt.MaxElems = 64
	}
	loss := g.TrainLoss()
	if loss == nil {
		return nil, fmt.Errorf("gradcheck: graph %s has no loss", g.Name)
	}
	gradOf := map[string]*ir.Value{}
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		gradOf[r.Name] = r.Value
	}
	params := g.Params()
	for _, p := range params {
		if gradOf[p.Name] == nil {
			return nil, fmt.Errorf("gradcheck: param %s has no grad result (run autodiff first)", p.Name)
		}
	}
	env, err := Run(g, n, bind)
	if err != nil {
		return nil, err
	}
	fwd := lossGraph(g, loss)
	lossAt := func(b map[string]*ir.Tensor) (float64, error) {
		e, err := Run(fwd, n, b)
		if err != nil {
			return 0, err
		}
		return e[loss].Data[0], nil
	}

	var out []ParamError
	for pi, p := range params {
		t, ok := bind[p.Name]
		if !ok {
			return nil, fmt.Errorf("gradcheck: no value bound for param %s", p.Name)
		}
		a := env[gradOf[p.Name]].Data
		idx := sample(len(t.Data), opt.MaxElems, opt.Seed+uint64(pi))
		pert := t.Clone()
		b := make(map[string]*ir.Tensor, len(bind))
		for k, v := range bind {
			b[k] = v
		}
		b[p.Name] = pert
		var maxAbs, scale float64
		for _, i := range idx {
			x := t.Data[i]
			h := opt.Eps * max(1, math.Abs(x))
			xp, xm := x+h, x-h
			pert.Data[i] = xp
			lp, err := lossAt(b)
			if err != nil {
				return nil, err
			}
			pert.Data[i] = xm
			lm, err := lossAt(b)
			if err != nil {
				return nil, err
			}
			pert.Data[i] = x
			f := (lp - lm) / (xp - xm)
			maxAbs = nanMax(maxAbs, math.Abs(a[i]-f))
			scale = nanMax(scale, max(math.Abs(a[i]), math.Abs(f)))
		}
		rel := 0.0
		switch {
		case math.IsNaN(maxAbs) || math.IsNaN(scale):
			rel = math.NaN()
		case maxAbs > 0:
			rel = maxAbs / scale
		}
		out = append(out, ParamError{Name: p.Name, Shape: p.Type.Shape.Clone(), MaxAbs: maxAbs, MaxRel: rel,
			Checked: len(idx), Total: len(t.Data)})
	}
	return out, nil
}

// lossGraph is g cut down to the values the loss depends on, with the loss as
// its only result (the values are shared, not copied).
func lossGraph(g *ir.Graph, loss *ir.Value) *ir.Graph {
	need := map[*ir.Value]bool{loss: true}
	for i := len(g.Values) - 1; i >= 0; i-- {
		if v := g.Values[i]; need[v] {
			for _, a := range v.Args {
				need[a] = true
			}
		}
	}
	sub := &ir.Graph{Name: g.Name, Results: []ir.Result{{Kind: ir.ResultLoss, Name: "loss", Value: loss}}}
	for _, v := range g.Values {
		if need[v] {
			sub.Values = append(sub.Values, v)
		}
	}
	return sub
}

// sample returns all of 0..total-1 when total <= k, else k distinct indices
// drawn with seed, sorted.
func sample(total, k int, seed uint64) []int {
	if total <= k {
		out := make([]int, total)
		for i := range out {
			out[i] = i
		}
		return out
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	picked := map[int]bool{}
	out := make([]int, 0, k)
	for len(out) < k {
		if i := r.IntN(total); !picked[i] {
			picked[i] = true
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// nanMax is max that keeps a NaN once seen.
func nanMax(m, x float64) float64 {
	if math.IsNaN(m) || math.IsNaN(x) {
		return math.NaN()
	}
	return max(m, x)
}

// FormatGradCheck prints one aligned row per param:
//
//	param  shape  max abs err  max rel err
//
// marking with FAIL the rows whose relative error is over tol (or NaN), and
// noting sampled params. It reports whether every row is within tol.
func FormatGradCheck(w io.Writer, errs []ParamError, tol float64) (ok bool) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "param\tshape\tmax abs err\tmax rel err\t")
	ok = true
	for _, e := range errs {
		note := ""
		if !(e.MaxRel <= tol) {
			note = "FAIL"
			ok = false
		}
		if e.Checked < e.Total {
			if note != "" {
				note += " "
			}
			note += fmt.Sprintf("(%d of %d elements)", e.Checked, e.Total)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2e\t%.2e\t%s\n", e.Name, e.Shape, e.MaxAbs, e.MaxRel, note)
	}
	tw.Flush()
	return ok
}
