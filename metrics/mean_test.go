package metrics

import (
	"math"
	"strings"
	"testing"
)

func TestMean(t *testing.T) {
	var m Mean
	if m.Value() != 0 {
		t.Errorf("empty mean = %v", m.Value())
	}
	for _, b := range []struct {
		v float32
		n int
	}{{.5, 4}, {1, 2}, {.25, 2}, {7, 0}} {
		if err := m.Add(b.v, b.n); err != nil {
			t.Fatal(err)
		}
	}
	// (.5*4 + 1*2 + .25*2) / 8, not the mean of the batch means.
	if m.Value() != .5625 || m.Count() != 8 {
		t.Errorf("mean %v of %d, want 0.5625 of 8", m.Value(), m.Count())
	}
	if err := m.Add(float32(math.NaN()), 1); err == nil {
		t.Error("NaN: no error")
	}
	if err := m.Add(1, -1); err == nil {
		t.Error("negative n: no error")
	}
	if m.Count() != 8 {
		t.Errorf("bad batches counted: %d", m.Count())
	}
	m.Reset()
	if m.Value() != 0 || m.Count() != 0 {
		t.Errorf("after Reset: %v of %d", m.Value(), m.Count())
	}
}

// Per-batch accuracies weighted by batch size give the accuracy of the set.
func TestMeanOfBatchAccuracy(t *testing.T) {
	const n, k = 1000, 5
	scores, labels := randomSet(n, k)
	c := NewClassification(k)
	var m Mean
	for i, b := 0, 1; i < n; i, b = i+b, b%37+1 {
		nb := min(b, n-i)
		batch := NewClassification(k)
		if err := batch.Add(scores[i*k:], labels[i:], nb); err != nil {
			t.Fatal(err)
		}
		if err := c.Add(scores[i*k:], labels[i:], nb); err != nil {
			t.Fatal(err)
		}
		if err := m.Add(float32(batch.Report().Accuracy), nb); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := m.Value(), c.Report().Accuracy; math.Abs(got-want) > 1e-7 {
		t.Errorf("mean of batch accuracies %v, want %v", got, want)
	}
}

func TestMeans(t *testing.T) {
	m := NewMeans([]string{"accuracy", "loss"})
	if err := m.Add([]float32{1, 2}, 1); err != nil {
		t.Fatal(err)
	}
	if err := m.Add([]float32{.5, 4}, 3); err != nil {
		t.Fatal(err)
	}
	if err := m.Add([]float32{1}, 1); err == nil || !strings.Contains(err.Error(), "1 values for 2 metrics") {
		t.Errorf("short values: error %v", err)
	}
	if err := m.Add([]float32{1, float32(math.Inf(-1))}, 1); err == nil || !strings.Contains(err.Error(), "batch mean of loss is -Inf") {
		t.Errorf("infinite value: error %v", err)
	}
	if err := m.Add([]float32{1, 1}, -1); err == nil {
		t.Error("negative n: no error")
	}
	if got := m.Values(); got[0] != .625 || got[1] != 3.5 || m.Value(1) != 3.5 {
		t.Errorf("values %v, want [0.625 3.5]", got)
	}
	var b strings.Builder
	if err := m.Table(&b); err != nil {
		t.Fatal(err)
	}
	if want := "accuracy     0.6250\n    loss     3.5000\n"; b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	m.Reset()
	if got := m.Values(); got[0] != 0 || got[1] != 0 {
		t.Errorf("after Reset: %v", got)
	}
}
