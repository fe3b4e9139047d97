package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
)

// Mean accumulates a value computed per batch as a mean over the batch's
// examples (a loss, or a metric the .mdl declares as runtime.Model.Evaluate
// fills it), weighted by the batch's example count, so Value is the mean over
// the whole set. It is exact for a per-example mean such as accuracy; a ratio
// whose denominator is not the example count (precision, recall) is not a
// mean of batch values: use Classification for those. The zero value is an
// empty Mean.
type Mean struct {
	sum float64 // sum of value * n
	n   int64
}

// Add counts a batch of n examples whose mean is value. A non-finite value
// or a negative n is an error, and nothing is counted.
func (m *Mean) Add(value float32, n int) error {
	v := float64(value)
	switch {
	case n < 0:
		return fmt.Errorf("metrics: negative example count %d", n)
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Errorf("metrics: batch mean is %v", value)
	}
	m.sum += v * float64(n)
	m.n += int64(n)
	return nil
}

// Value returns the mean over every example counted, 0 when there is none.
func (m *Mean) Value() float64 {
	if m.n == 0 {
		return 0
	}
	return m.sum / float64(m.n)
}

// Count returns the number of examples counted.
func (m *Mean) Count() int64 { return m.n }

// Reset forgets every batch counted.
func (m *Mean) Reset() { *m = Mean{} }

// Means is one Mean per named value: the metrics of runtime.Spec.Metrics.
type Means struct {
	names []string
	means []Mean
}

// NewMeans returns a Mean for each name.
func NewMeans(names []string) *Means {
	return &Means{names: append([]string(nil), names...), means: make([]Mean, len(names))}
}

// Names returns the names, in order.
func (m *Means) Names() []string { return m.names }

// Add counts a batch of n examples whose means are values, one per name (as
// runtime.Model.Evaluate fills them). On an error nothing is counted.
func (m *Means) Add(values []float32, n int) error {
	if len(values) != len(m.means) {
		return fmt.Errorf("metrics: %d values for %d metrics", len(values), len(m.means))
	}
	for i, v := range values {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("metrics: batch mean of %s is %v", m.names[i], v)
		}
	}
	if n < 0 {
		return fmt.Errorf("metrics: negative example count %d", n)
	}
	for i, v := range values {
		m.means[i].Add(v, n) // checked above
	}
	return nil
}

// Value returns the mean of the i-th value.
func (m *Means) Value(i int) float64 { return m.means[i].Value() }

// Values returns every mean, in order.
func (m *Means) Values() []float64 {
	vs := make([]float64, len(m.means))
	for i := range m.means {
		vs[i] = m.means[i].Value()
	}
	return vs
}

// Reset forgets every batch counted.
func (m *Means) Reset() { clear(m.means) }

// Table writes one line per name: the name and its mean.
func (m *Means) Table(w io.Writer) error {
	b := bufio.NewWriter(w)
	nw := 0
	for _, s := range m.names {
		nw = max(nw, len(s))
	}
	for i, s := range m.names {
		fmt.Fprintf(b, "%*s %10.4f\n", nw, s, m.means[i].Value())
	}
	return b.Flush()
}
