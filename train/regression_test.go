package train_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/mdlc/mdlc/examples/linreg/linreg"
	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/data"
	"github.com/mdlc/mdlc/train"
)

// lineSource is n points x in [0, 5) with y = 2 + 0.5x + noise, drawn from
// seed.
type lineSource struct {
	x, y []float32
}

func newLine(n int, seed uint64) lineSource {
	rng := runtime.NewRNG(seed)
	s := lineSource{make([]float32, n), make([]float32, n)}
	for i := range n {
		s.x[i] = float32(5 * rng.Float64())
		s.y[i] = 2 + 0.5*s.x[i] + float32(0.2*(rng.Float64()-0.5))
	}
	return s
}

func (s lineSource) Len() int { return len(s.x) }

func (s lineSource) Fields() []data.Field {
	return []data.Field{{Name: "x", DType: runtime.F32, Shape: []int{}}, {Name: "y", DType: runtime.F32, Shape: []int{}}}
}

func (s lineSource) Read(f, i int, dst runtime.Value) error {
	if i < 0 || i >= len(s.x) || len(dst.F32) != 1 {
		return fmt.Errorf("no example %d", i)
	}
	dst.F32[0] = [2][]float32{s.x, s.y}[f][i]
	return nil
}

// A model whose output has its target's shape (linreg's pred and y) is a
// regressor: Fit logs val_mse, val_mae and val_r2 over the whole
// validation set every epoch and keeps the last regression report, equal to
// the metrics computed here from Forward.
func TestFitRegression(t *testing.T) {
	m := linreg.New()
	trainSet, valSet := newLine(60, 1), newLine(23, 2)
	tr, err := data.NewLoader(trainSet, m.Spec().Inputs, data.LoaderOptions{BatchSize: 5, Shuffle: true, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	val, err := data.NewLoader(valSet, m.Spec().Inputs, data.LoaderOptions{BatchSize: 4}) // a partial last batch
	if err != nil {
		t.Fatal(err)
	}
	h, err := train.Fit(context.Background(), m, tr, val, train.Options{Epochs: 40, Monitor: "val_r2"})
	if err != nil {
		t.Fatal(err)
	}
	if h.Regression == nil || h.Report != nil {
		t.Fatalf("regression report %v, classification report %v: want only a regression report", h.Regression, h.Report)
	}
	var sse, sae, mean, m2 float64
	for i := range valSet.x {
		p, err := m.Forward(valSet.x[i:i+1], 1)
		if err != nil {
			t.Fatal(err)
		}
		d := float64(valSet.y[i]) - float64(p[0])
		sse += d * d
		sae += math.Abs(d)
		mean += float64(valSet.y[i])
	}
	n := float64(len(valSet.x))
	mean /= n
	for _, y := range valSet.y {
		m2 += (float64(y) - mean) * (float64(y) - mean)
	}
	want := map[string]float64{"val_mse": sse / n, "val_mae": sae / n, "val_r2": 1 - sse/m2}
	last := h.Rows[len(h.Rows)-1].Values
	for name, w := range want {
		if got := last[name]; math.Abs(got-w) > 1e-5*math.Max(1, math.Abs(w)) {
			t.Errorf("%s = %.7g, want %.7g", name, got, w)
		}
	}
	if r := h.Regression; r.Count != 23 || math.Abs(r.R2-want["val_r2"]) > 1e-5 || len(r.Names) != 1 || r.Names[0] != "pred" {
		t.Errorf("report %+v", *r)
	}
	if lr, ok := last["learning_rate"]; !ok || math.Abs(lr-0.01) > 1e-12 {
		t.Errorf("learning_rate %v (logged: %v), want linreg's 0.01", lr, ok)
	}
	if want["val_r2"] < 0.9 {
		t.Errorf("R^2 %.3f after 40 epochs, want >= 0.9", want["val_r2"])
	}
	if h.BestEpoch == 0 || h.Best < want["val_r2"]-1e-9 {
		t.Errorf("best val_r2 %.4f at epoch %d: monitoring r2 must maximize it", h.Best, h.BestEpoch)
	}
}
