package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Regression accumulates, per output, the sums MSE, MAE and R^2 need over a
// whole evaluation set, in float64. Make one with NewRegression.
type Regression struct {
	d   int      // outputs per example
	n   int64    // examples counted
	out []regSum // (d)
	err error    // a bad constructor argument, returned by every Add
}

// regSum holds one output's sums over the examples counted.
type regSum struct {
	sse  float64 // sum (y - p)^2
	sae  float64 // sum |y - p|
	mean float64 // mean of y
	m2   float64 // sum (y - mean)^2
}

// NewRegression returns an accumulator for d >= 1 outputs per example.
func NewRegression(d int) *Regression {
	if d < 1 {
		return &Regression{d: d, err: fmt.Errorf("metrics: NewRegression(%d): need at least 1 output", d)}
	}
	return &Regression{d: d, out: make([]regSum, d)}
}

// Outputs returns the number of outputs per example.
func (r *Regression) Outputs() int { return r.d }

// Count returns the number of examples counted so far.
func (r *Regression) Count() int64 { return r.n }

// Reset forgets every example counted.
func (r *Regression) Reset() {
	clear(r.out)
	r.n = 0
}

// Add counts the first n examples: pred and target hold n rows of Outputs()
// values each. A NaN or infinite value is an error; on an error nothing is
// counted.
func (r *Regression) Add(pred, target []float32, n int) error {
	switch {
	case r.err != nil:
		return r.err
	case r.out == nil:
		return fmt.Errorf("metrics: Regression not made by NewRegression")
	case n < 0:
		return fmt.Errorf("metrics: negative example count %d", n)
	case len(pred)/r.d < n:
		return fmt.Errorf("metrics: %d predictions for %d examples of %d", len(pred), n, r.d)
	case len(target)/r.d < n:
		return fmt.Errorf("metrics: %d targets for %d examples of %d", len(target), n, r.d)
	}
	m := n * r.d
	for i := range m {
		if p, y := float64(pred[i]), float64(target[i]); math.IsNaN(p) || math.IsInf(p, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
			return fmt.Errorf("metrics: prediction or target %d of example %d is not finite (%v, %v)", i%r.d, i/r.d, pred[i], target[i])
		}
	}
	if n == 0 {
		return nil
	}
	na, nb := float64(r.n), float64(n)
	for j := range r.out {
		// The batch's mean and sum of squared deviations, merged with the
		// set's (Chan, Golub and LeVeque's pairwise update).
		var sum, sse, sae float64
		for i := j; i < m; i += r.d {
			y, p := float64(target[i]), float64(pred[i])
			sum += y
			sse += (y - p) * (y - p)
			sae += math.Abs(y - p)
		}
		mb := sum / nb
		var m2 float64
		for i := j; i < m; i += r.d {
			dy := float64(target[i]) - mb
			m2 += dy * dy
		}
		o := &r.out[j]
		delta := mb - o.mean
		o.mean += delta * nb / (na + nb)
		o.m2 += m2 + delta*delta*na*nb/(na+nb)
		o.sse += sse
		o.sae += sae
	}
	r.n += int64(n)
	return nil
}

// RegressionScores are the metrics of one output or their means.
type RegressionScores struct {
	MSE, MAE, R2 float64
}

// RegressionReport is a regression report over every example added.
type RegressionReport struct {
	Outputs int
	Count   int64 // examples
	// Names are the output names Table prints; nil prints output ids.
	// Report leaves it nil.
	Names     []string
	PerOutput []RegressionScores // (d)
	// Mean over outputs (scikit-learn's multioutput="uniform_average").
	RegressionScores
	Warnings []Warning
}

// Report computes every metric over the examples added so far.
func (r *Regression) Report() RegressionReport {
	rep := RegressionReport{Outputs: r.d, Count: r.n, PerOutput: make([]RegressionScores, len(r.out))}
	warn := func(metric string, index int, reason string) {
		rep.Warnings = append(rep.Warnings, Warning{metric, index, 0, reason})
	}
	switch {
	case r.err != nil || r.out == nil:
		warn("mse", -1, "bad accumulator")
		return rep
	case r.n == 0:
		warn("mse", -1, "no examples")
		warn("mae", -1, "no examples")
		warn("r2", -1, "no examples")
		return rep
	}
	n := float64(r.n)
	for j, o := range r.out {
		s := RegressionScores{MSE: o.sse / n, MAE: o.sae / n}
		switch {
		case r.n < 2:
			warn("r2", j, "fewer than two examples")
		case o.m2 == 0 && o.sse == 0:
			s.R2 = 1
			rep.Warnings = append(rep.Warnings, Warning{"r2", j, 1, "constant targets, exact predictions"})
		case o.m2 == 0:
			warn("r2", j, "constant targets")
		default:
			s.R2 = 1 - o.sse/o.m2
		}
		rep.PerOutput[j] = s
		rep.MSE += s.MSE
		rep.MAE += s.MAE
		rep.R2 += s.R2
	}
	d := float64(len(r.out))
	rep.MSE /= d
	rep.MAE /= d
	rep.R2 /= d
	return rep
}

// name returns the printed name of output j.
func (rep RegressionReport) name(j int) string {
	if j < len(rep.Names) && rep.Names[j] != "" {
		return rep.Names[j]
	}
	return strconv.Itoa(j)
}

// Table writes MSE, MAE and R^2 per output (when there are several) and
// their means, then the warnings.
func (rep RegressionReport) Table(w io.Writer) error {
	b := bufio.NewWriter(w)
	nw := len("mean")
	for j := range rep.PerOutput {
		nw = max(nw, len(rep.name(j)))
	}
	fmt.Fprintf(b, "%*s %12s %12s %12s %10s\n\n", nw, "", "mse", "mae", "r2", "count")
	row := func(name string, s RegressionScores) {
		fmt.Fprintf(b, "%*s %12.6g %12.6g %12.6g %10d\n", nw, name, s.MSE, s.MAE, s.R2, rep.Count)
	}
	if len(rep.PerOutput) > 1 {
		for j, s := range rep.PerOutput {
			row(rep.name(j), s)
		}
	}
	row("mean", rep.RegressionScores)
	writeWarnings(b, rep.Warnings, rep.name)
	return b.Flush()
}
