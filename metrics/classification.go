package metrics

import (
	"fmt"
	"math"
)

// DefaultThreshold is the usual threshold of NewBinary for probabilities.
const DefaultThreshold = 0.5

// Classification accumulates a confusion matrix and the rank of the true
// class over a whole evaluation set. The zero value is not usable; make one
// with NewClassification or NewBinary.
type Classification struct {
	k         int     // classes
	width     int     // scores per example: k, or 1 for NewBinary
	threshold float32 // NewBinary: predict 1 when p > threshold
	confusion []int64 // (k, k): [true*k + predicted]
	ranks     []int64 // (k): ranks[r] examples whose true class ranked r
	n         int64   // examples counted
	err       error   // a bad constructor argument, returned by every Add
}

// NewClassification returns an accumulator for k >= 2 classes whose Add takes
// k scores (probabilities or logits) per example.
func NewClassification(k int) *Classification {
	c := &Classification{k: k, width: k}
	if k < 2 {
		c.err = fmt.Errorf("metrics: NewClassification(%d): need at least 2 classes", k)
		return c
	}
	c.confusion = make([]int64, k*k)
	c.ranks = make([]int64, k)
	return c
}

// NewBinary returns a two-class accumulator whose Add takes one probability
// (or logit) of class 1 per example and predicts class 1 when it is above
// threshold.
func NewBinary(threshold float32) *Classification {
	c := &Classification{k: 2, width: 1, threshold: threshold}
	if math.IsNaN(float64(threshold)) {
		c.err = fmt.Errorf("metrics: NewBinary: threshold is NaN")
		return c
	}
	c.confusion = make([]int64, 4)
	c.ranks = make([]int64, 2)
	return c
}

// Classes returns the number of classes.
func (c *Classification) Classes() int { return c.k }

// Width returns the number of scores Add takes per example.
func (c *Classification) Width() int { return c.width }

// Count returns the number of examples counted so far.
func (c *Classification) Count() int64 { return c.n }

// Reset forgets every example counted.
func (c *Classification) Reset() {
	clear(c.confusion)
	clear(c.ranks)
	c.n = 0
}

// Add counts the first n examples: scores holds n rows of Width() scores
// (row-major, as a model's output), labels n class ids in [0, Classes()).
// On an error nothing is counted.
func (c *Classification) Add(scores []float32, labels []int32, n int) error {
	if err := c.checkSizes("labels", scores, len(labels), n, 1); err != nil {
		return err
	}
	for i := range n {
		if l := labels[i]; l < 0 || int(l) >= c.k {
			return fmt.Errorf("metrics: label %d of example %d out of range [0, %d)", l, i, c.k)
		}
	}
	if err := c.checkScores(scores, n); err != nil {
		return err
	}
	for i := range n {
		c.count(scores[i*c.width:(i+1)*c.width], int(labels[i]))
	}
	return nil
}

// AddTargets is Add with float targets of the scores' shape instead of
// labels: one-hot rows of Width() values (exactly one 1, the rest 0), or for
// NewBinary one value, 0 or 1, per example.
func (c *Classification) AddTargets(scores, targets []float32, n int) error {
	if err := c.checkSizes("targets", scores, len(targets), n, c.width); err != nil {
		return err
	}
	for i := range n {
		if _, ok := c.target(targets[i*c.width : (i+1)*c.width]); !ok {
			if c.width == 1 {
				return fmt.Errorf("metrics: target of example %d is %v, want 0 or 1", i, targets[i])
			}
			return fmt.Errorf("metrics: target row of example %d is not one-hot", i)
		}
	}
	if err := c.checkScores(scores, n); err != nil {
		return err
	}
	for i := range n {
		l, _ := c.target(targets[i*c.width : (i+1)*c.width])
		c.count(scores[i*c.width:(i+1)*c.width], int(l))
	}
	return nil
}

// checkSizes checks the constructor, n and the lengths of scores and of the
// labels or targets (per values per example).
func (c *Classification) checkSizes(what string, scores []float32, have, n, per int) error {
	switch {
	case c.err != nil:
		return c.err
	case c.confusion == nil:
		return fmt.Errorf("metrics: Classification not made by NewClassification or NewBinary")
	case n < 0:
		return fmt.Errorf("metrics: negative example count %d", n)
	case len(scores)/c.width < n:
		return fmt.Errorf("metrics: %d scores for %d examples of %d", len(scores), n, c.width)
	case have/per < n:
		return fmt.Errorf("metrics: %d %s for %d examples of %d", have, what, n, per)
	}
	return nil
}

// checkScores rejects a NaN among the first n rows of scores.
func (c *Classification) checkScores(scores []float32, n int) error {
	for i, s := range scores[:n*c.width] {
		if s != s {
			return fmt.Errorf("metrics: score %d of example %d is NaN", i%c.width, i/c.width)
		}
	}
	return nil
}

// target returns the label of a one-hot (or 0/1) target row.
func (c *Classification) target(row []float32) (int32, bool) {
	if c.width == 1 {
		switch row[0] {
		case 0:
			return 0, true
		case 1:
			return 1, true
		}
		return 0, false
	}
	l := int32(-1)
	for j, t := range row {
		switch {
		case t == 0:
		case t == 1 && l < 0:
			l = int32(j)
		default:
			return 0, false
		}
	}
	return l, l >= 0
}

// count adds one example with scores row and true class y.
func (c *Classification) count(row []float32, y int) {
	var pred, rank int
	if c.width == 1 {
		if row[0] > c.threshold {
			pred = 1
		}
		if pred != y {
			rank = 1
		}
	} else {
		sy := row[y]
		for j, s := range row {
			if s > row[pred] {
				pred = j
			}
			if s > sy || (s == sy && j < y) {
				rank++
			}
		}
	}
	c.confusion[y*c.k+pred]++
	c.ranks[rank]++
	c.n++
}
