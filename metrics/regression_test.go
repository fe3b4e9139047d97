package metrics

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func checkRegression(t *testing.T, what string, got, want RegressionScores) {
	t.Helper()
	if !near(got.MSE, want.MSE) || !near(got.MAE, want.MAE) || !near(got.R2, want.R2) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

// scikit-learn's documented examples, by hand. One output: y 3 -.5 2 7,
// p 2.5 0 2 8: residuals .5 -.5 0 -1, sse 1.5, sum |r| 2, mean y 2.875,
// sum (y - mean)^2 29.1875.
func TestRegressionOneOutput(t *testing.T) {
	r := NewRegression(1)
	// Batches of 3 and 1; the first prediction buffer is longer.
	if err := r.Add([]float32{2.5, 0, 2, 99}, []float32{3, -.5, 2}, 3); err != nil {
		t.Fatal(err)
	}
	if err := r.Add([]float32{8}, []float32{7}, 1); err != nil {
		t.Fatal(err)
	}
	rep := r.Report()
	want := RegressionScores{MSE: .375, MAE: .5, R2: 1 - 1.5/29.1875} // r2_score's 0.948...
	checkRegression(t, "mean", rep.RegressionScores, want)
	checkRegression(t, "output 0", rep.PerOutput[0], want)
	if rep.Count != 4 || len(rep.Warnings) != 0 {
		t.Errorf("count %d warnings %v", rep.Count, rep.Warnings)
	}
}

// Two outputs: y [[.5 1] [-1 1] [7 -6]], p [[0 2] [-1 2] [8 -5]].
// Output 0: sse 1.25, sum |r| 1.5, sum (y - mean)^2 217/6.
// Output 1: sse 3, sum |r| 3, sum (y - mean)^2 294/9.
// Means: MSE .708..., MAE .75, R^2 .936... (uniform_average).
func TestRegressionTwoOutputs(t *testing.T) {
	r := NewRegression(2)
	pred := []float32{0, 2, -1, 2, 8, -5}
	target := []float32{.5, 1, -1, 1, 7, -6}
	for i := range 3 {
		if err := r.Add(pred[2*i:], target[2*i:], 1); err != nil {
			t.Fatal(err)
		}
	}
	rep := r.Report()
	o0 := RegressionScores{MSE: 1.25 / 3, MAE: .5, R2: 1 - 1.25/(217./6)}
	o1 := RegressionScores{MSE: 1, MAE: 1, R2: 1 - 3/(294./9)}
	checkRegression(t, "output 0", rep.PerOutput[0], o0)
	checkRegression(t, "output 1", rep.PerOutput[1], o1)
	checkRegression(t, "mean", rep.RegressionScores, RegressionScores{
		MSE: (o0.MSE + o1.MSE) / 2, MAE: .75, R2: (o0.R2 + o1.R2) / 2})
}

// The sums merged batch by batch agree with a direct two-pass computation.
func TestRegressionBatches(t *testing.T) {
	const n = 1001
	rng := rand.New(rand.NewPCG(3, 4))
	pred := make([]float32, n)
	target := make([]float32, n)
	var mean float64
	for i := range n {
		target[i] = float32(1000 + rng.NormFloat64())
		pred[i] = target[i] + float32(.1*rng.NormFloat64())
		mean += float64(target[i]) / n
	}
	var sse, sae, m2 float64
	for i := range n {
		y, p := float64(target[i]), float64(pred[i])
		sse += (y - p) * (y - p)
		sae += math.Abs(y - p)
		m2 += (y - mean) * (y - mean)
	}
	r := NewRegression(1)
	for i, b := 0, 1; i < n; i, b = i+b, b%29+1 {
		if err := r.Add(pred[i:], target[i:], min(b, n-i)); err != nil {
			t.Fatal(err)
		}
	}
	got := r.Report().RegressionScores
	want := RegressionScores{MSE: sse / n, MAE: sae / n, R2: 1 - sse/m2}
	const tol = 1e-9
	if math.Abs(got.MSE-want.MSE) > tol*want.MSE || math.Abs(got.MAE-want.MAE) > tol*want.MAE || math.Abs(got.R2-want.R2) > tol {
		t.Errorf("batched %+v, want %+v", got, want)
	}
}

func TestRegressionUndefined(t *testing.T) {
	for _, tc := range []struct {
		name         string
		pred, target []float32
		want         RegressionScores
		warnings     []string
	}{
		{"constant exact", []float32{2, 2, 2}, []float32{2, 2, 2}, RegressionScores{0, 0, 1},
			[]string{"r2 of 0 set to 1: constant targets, exact predictions"}},
		{"constant", []float32{1, 2, 3}, []float32{2, 2, 2}, RegressionScores{2. / 3, 2. / 3, 0},
			[]string{"r2 of 0 set to 0: constant targets"}},
		{"one example", []float32{1}, []float32{3}, RegressionScores{4, 2, 0},
			[]string{"r2 of 0 set to 0: fewer than two examples"}},
		{"empty", nil, nil, RegressionScores{},
			[]string{"mse set to 0: no examples", "mae set to 0: no examples", "r2 set to 0: no examples"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRegression(1)
			if err := r.Add(tc.pred, tc.target, len(tc.pred)); err != nil {
				t.Fatal(err)
			}
			rep := r.Report()
			checkRegression(t, "mean", rep.RegressionScores, tc.want)
			checkWarnings(t, rep.Warnings, tc.warnings...)
		})
	}
}

func TestRegressionErrors(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		name         string
		r            *Regression
		pred, target []float32
		n            int
		want         string
	}{
		{"short predictions", NewRegression(2), []float32{1, 2, 3}, []float32{1, 2, 3, 4}, 2, "3 predictions for 2 examples of 2"},
		{"short targets", NewRegression(1), []float32{1, 2}, []float32{1}, 2, "1 targets for 2 examples of 1"},
		{"negative n", NewRegression(1), nil, nil, -2, "negative example count -2"},
		{"NaN prediction", NewRegression(1), []float32{1, nan}, []float32{1, 2}, 2, "prediction or target 0 of example 1 is not finite"},
		{"infinite target", NewRegression(2), []float32{1, 2}, []float32{inf, 2}, 1, "prediction or target 0 of example 0 is not finite"},
		{"no output", NewRegression(0), []float32{1}, []float32{1}, 1, "NewRegression(0): need at least 1 output"},
		{"zero value", &Regression{}, []float32{1}, []float32{1}, 1, "not made by NewRegression"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.Add(tc.pred, tc.target, tc.n)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if tc.r.Count() != 0 {
				t.Errorf("counted %d examples of a bad batch", tc.r.Count())
			}
			_ = tc.r.Report() // no panic
		})
	}
}

func TestRegressionTable(t *testing.T) {
	r := NewRegression(2)
	if err := r.Add([]float32{0, 2, -1, 2, 8, -5}, []float32{.5, 1, -1, 1, 7, -6}, 3); err != nil {
		t.Fatal(err)
	}
	rep := r.Report()
	rep.Names = []string{"x", "y"}
	var b strings.Builder
	if err := rep.Table(&b); err != nil {
		t.Fatal(err)
	}
	want := `              mse          mae           r2      count

   x     0.416667          0.5     0.965438          3
   y            1            1     0.908163          3
mean     0.708333         0.75     0.936801          3
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
