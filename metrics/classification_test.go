package metrics

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

const eps = 1e-12

func near(a, b float64) bool { return math.Abs(a-b) <= eps*math.Max(1, math.Abs(b)) }

func checkScores(t *testing.T, what string, got, want Scores) {
	t.Helper()
	if !near(got.Precision, want.Precision) || !near(got.Recall, want.Recall) || !near(got.F1, want.F1) || got.Support != want.Support {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

func checkWarnings(t *testing.T, got []Warning, want ...string) {
	t.Helper()
	var s []string
	for _, w := range got {
		s = append(s, w.String())
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(s, "\n"), strings.Join(want, "\n"))
	}
}

// checkFinite fails if any value of r is NaN or infinite.
func checkFinite(t *testing.T, r Report) {
	t.Helper()
	vs := []float64{r.Accuracy}
	vs = append(vs, r.TopK...)
	for _, s := range append(r.PerClass, r.Macro, r.Micro, r.Weighted) {
		vs = append(vs, s.Precision, s.Recall, s.F1)
	}
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("non-finite value in %+v", r)
		}
	}
}

// The binary case by hand: labels 0 1 1 0 1 1, p(1) .2 .9 .4 .6 .5 .7,
// predicted (p > .5) 0 1 0 1 0 1:
//
//	confusion [[1 1] [2 2]]
//	class 0: tp 1 fp 2 fn 1: P 1/3 R 1/2 F1 2/5
//	class 1: tp 2 fp 1 fn 2: P 2/3 R 1/2 F1 4/7
var (
	binProbs  = []float32{.2, .9, .4, .6, .5, .7}
	binLabels = []int32{0, 1, 1, 0, 1, 1}
)

func checkBinary(t *testing.T, r Report) {
	t.Helper()
	if want := [][]int64{{1, 1}, {2, 2}}; !reflect.DeepEqual(r.Confusion, want) {
		t.Errorf("confusion = %v, want %v", r.Confusion, want)
	}
	if r.Count != 6 || !near(r.Accuracy, .5) {
		t.Errorf("count %d accuracy %v, want 6 0.5", r.Count, r.Accuracy)
	}
	checkScores(t, "class 0", r.PerClass[0], Scores{1. / 3, .5, .4, 2})
	checkScores(t, "class 1", r.PerClass[1], Scores{2. / 3, .5, 4. / 7, 4})
	b, ok := r.Binary()
	if !ok {
		t.Fatal("Binary: not binary")
	}
	checkScores(t, "binary", b, Scores{2. / 3, .5, 4. / 7, 4})
	checkScores(t, "macro", r.Macro, Scores{.5, .5, (.4 + 4./7) / 2, 6})
	checkScores(t, "micro", r.Micro, Scores{.5, .5, .5, 6})
	checkScores(t, "weighted", r.Weighted, Scores{5. / 9, .5, (2*.4 + 4*4./7) / 6, 6})
	if want := []float64{.5, 1}; !reflect.DeepEqual(r.TopK, want) {
		t.Errorf("top-k = %v, want %v", r.TopK, want)
	}
	checkWarnings(t, r.Warnings)
	checkFinite(t, r)
}

func TestBinary(t *testing.T) {
	c := NewBinary(DefaultThreshold)
	// Two batches; the first buffer is longer than its 4 examples.
	if err := c.Add(append(binProbs[:4:4], 99), append(binLabels[:4:4], 7), 4); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(binProbs[4:], binLabels[4:], 2); err != nil {
		t.Fatal(err)
	}
	checkBinary(t, c.Report())
}

func TestBinaryTargets(t *testing.T) {
	c := NewBinary(DefaultThreshold)
	targets := make([]float32, len(binLabels))
	for i, l := range binLabels {
		targets[i] = float32(l)
	}
	if err := c.AddTargets(binProbs, targets, 6); err != nil {
		t.Fatal(err)
	}
	checkBinary(t, c.Report())
}

// Two softmax columns give the same report: a tie (.5, .5) is class 0, as
// p > .5 is.
func TestTwoClassScores(t *testing.T) {
	c := NewClassification(2)
	var scores, onehot []float32
	for i, p := range binProbs {
		scores = append(scores, 1-p, p)
		onehot = append(onehot, float32(1-binLabels[i]), float32(binLabels[i]))
	}
	if err := c.Add(scores, binLabels, 6); err != nil {
		t.Fatal(err)
	}
	checkBinary(t, c.Report())
	c.Reset()
	if err := c.AddTargets(scores, onehot, 6); err != nil {
		t.Fatal(err)
	}
	checkBinary(t, c.Report())
}

// Three classes, by hand: class 1 is never predicted, class 2 has no
// examples. Labels 0 0 0 1 1, predicted 0 0 2 0 2:
//
//	confusion [[2 0 1] [1 0 1] [0 0 0]]
//	class 0: tp 2 fp 1 fn 1: P 2/3 R 2/3 F1 2/3, support 3
//	class 1: tp 0 fp 0 fn 2: P 0 (warned) R 0 F1 0, support 2
//	class 2: tp 0 fp 2 fn 0: P 0 R 0 (warned) F1 0, support 0
var (
	threeScores = []float32{
		.5, .5, 0, // a tie: the first maximum, 0
		3, 1, 2,
		-1, -2, 0, // logits
		.6, .3, .1,
		.2, .2, .6,
	}
	threeLabels = []int32{0, 0, 0, 1, 1}
)

func TestThreeClasses(t *testing.T) {
	c := NewClassification(3)
	if err := c.Add(threeScores, threeLabels, 5); err != nil {
		t.Fatal(err)
	}
	r := c.Report()
	if want := [][]int64{{2, 0, 1}, {1, 0, 1}, {0, 0, 0}}; !reflect.DeepEqual(r.Confusion, want) {
		t.Errorf("confusion = %v, want %v", r.Confusion, want)
	}
	if !near(r.Accuracy, .4) {
		t.Errorf("accuracy = %v, want 0.4", r.Accuracy)
	}
	checkScores(t, "class 0", r.PerClass[0], Scores{2. / 3, 2. / 3, 2. / 3, 3})
	checkScores(t, "class 1", r.PerClass[1], Scores{0, 0, 0, 2})
	checkScores(t, "class 2", r.PerClass[2], Scores{0, 0, 0, 0})
	checkScores(t, "macro", r.Macro, Scores{2. / 9, 2. / 9, 2. / 9, 5})
	checkScores(t, "micro", r.Micro, Scores{.4, .4, .4, 5})
	checkScores(t, "weighted", r.Weighted, Scores{.4, .4, .4, 5})
	if _, ok := r.Binary(); ok {
		t.Error("Binary of three classes: ok")
	}
	checkWarnings(t, r.Warnings,
		"precision of 1 set to 0: no predicted examples",
		"recall of 2 set to 0: no true examples")
	checkFinite(t, r)
}

// A fourth class neither true nor predicted: its F1 is warned too, and
// macro averages count it.
func TestAbsentClass(t *testing.T) {
	c := NewClassification(4)
	var scores []float32
	for i := range 5 {
		scores = append(scores, threeScores[3*i:3*i+3]...)
		scores = append(scores, -10)
	}
	if err := c.Add(scores, threeLabels, 5); err != nil {
		t.Fatal(err)
	}
	r := c.Report()
	checkScores(t, "class 3", r.PerClass[3], Scores{0, 0, 0, 0})
	checkScores(t, "macro", r.Macro, Scores{1. / 6, 1. / 6, 1. / 6, 5})
	checkScores(t, "weighted", r.Weighted, Scores{.4, .4, .4, 5})
	checkWarnings(t, r.Warnings,
		"precision of 1 set to 0: no predicted examples",
		"recall of 2 set to 0: no true examples",
		"precision of 3 set to 0: no predicted examples",
		"recall of 3 set to 0: no true examples",
		"f1 of 3 set to 0: no true nor predicted examples")
	checkFinite(t, r)
}

func TestTopK(t *testing.T) {
	c := NewClassification(4)
	scores := []float32{
		4, 3, 2, 1, // label 0: rank 0
		4, 3, 2, 1, // label 1: rank 1
		4, 3, 2, 1, // label 3: rank 3
		1, 2, 2, 0, // label 2: 1 ties it with a smaller index: rank 1
		1, 2, 2, 0, // label 1: 2 ties it with a larger index: rank 0
	}
	if err := c.Add(scores, []int32{0, 1, 3, 2, 1}, 5); err != nil {
		t.Fatal(err)
	}
	r := c.Report()
	if want := []float64{.4, .8, .8, 1}; !reflect.DeepEqual(r.TopK, want) {
		t.Errorf("top-k = %v, want %v", r.TopK, want)
	}
	if r.TopK[0] != r.Accuracy {
		t.Errorf("top-1 %v != accuracy %v", r.TopK[0], r.Accuracy)
	}
}

// randomSet makes n examples of k classes, deterministically.
func randomSet(n, k int) ([]float32, []int32) {
	rng := rand.New(rand.NewPCG(1, 2))
	scores := make([]float32, n*k)
	labels := make([]int32, n)
	for i := range n {
		labels[i] = int32(rng.IntN(k))
		for j := range k {
			scores[i*k+j] = float32(rng.IntN(4)) // many ties
		}
		if rng.IntN(2) == 0 {
			scores[i*k+int(labels[i])] += 2
		}
	}
	return scores, labels
}

// Over a random set: the confusion matrix matches a direct count, micro
// averages and weighted recall equal accuracy, and the report does not
// depend on how the set is split into batches.
func TestRandomSet(t *testing.T) {
	const n, k = 1000, 5
	scores, labels := randomSet(n, k)
	whole := NewClassification(k)
	if err := whole.Add(scores, labels, n); err != nil {
		t.Fatal(err)
	}
	r := whole.Report()
	want := make([][]int64, k)
	for i := range want {
		want[i] = make([]int64, k)
	}
	for i := range n {
		row := scores[i*k : (i+1)*k]
		pred := 0
		for j := range row {
			if row[j] > row[pred] {
				pred = j
			}
		}
		want[labels[i]][pred]++
	}
	if !reflect.DeepEqual(r.Confusion, want) {
		t.Errorf("confusion = %v, want %v", r.Confusion, want)
	}
	checkScores(t, "micro", r.Micro, Scores{r.Accuracy, r.Accuracy, r.Accuracy, n})
	if !near(r.Weighted.Recall, r.Accuracy) {
		t.Errorf("weighted recall %v != accuracy %v", r.Weighted.Recall, r.Accuracy)
	}
	if r.TopK[0] != r.Accuracy || r.TopK[k-1] != 1 {
		t.Errorf("top-k = %v, accuracy %v", r.TopK, r.Accuracy)
	}
	batched := NewClassification(k)
	for i, b := 0, 1; i < n; i, b = i+b, b%37+1 {
		m := min(b, n-i)
		if err := batched.Add(scores[i*k:], labels[i:], m); err != nil {
			t.Fatal(err)
		}
	}
	if got := batched.Report(); !reflect.DeepEqual(got, r) {
		t.Errorf("batched report differs:\n%+v\nwant\n%+v", got, r)
	}
	checkFinite(t, r)
}

func TestEmpty(t *testing.T) {
	r := NewClassification(2).Report()
	checkWarnings(t, r.Warnings,
		"accuracy set to 0: no examples",
		"precision of 0 set to 0: no predicted examples",
		"recall of 0 set to 0: no true examples",
		"f1 of 0 set to 0: no true nor predicted examples",
		"precision of 1 set to 0: no predicted examples",
		"recall of 1 set to 0: no true examples",
		"f1 of 1 set to 0: no true nor predicted examples")
	checkFinite(t, r)
}

func TestClassificationErrors(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name    string
		c       *Classification
		scores  []float32
		labels  []int32
		targets []float32
		n       int
		want    string
	}{
		{"negative label", NewClassification(3), []float32{1, 0, 0, 1, 0, 0}, []int32{0, -1}, nil, 2, "label -1 of example 1 out of range [0, 3)"},
		{"label k", NewClassification(3), []float32{1, 0, 0}, []int32{3}, nil, 1, "label 3 of example 0 out of range [0, 3)"},
		{"binary label 2", NewBinary(.5), []float32{.1}, []int32{2}, nil, 1, "label 2 of example 0 out of range [0, 2)"},
		{"short scores", NewClassification(3), []float32{1, 0, 0, 1}, []int32{0, 0}, nil, 2, "4 scores for 2 examples of 3"},
		{"short labels", NewClassification(2), []float32{1, 0, 0, 1}, []int32{0}, nil, 2, "1 labels for 2 examples of 1"},
		{"negative n", NewClassification(2), nil, nil, nil, -1, "negative example count -1"},
		{"NaN score", NewClassification(2), []float32{1, 0, 0, nan}, []int32{0, 1}, nil, 2, "score 1 of example 1 is NaN"},
		{"one class", NewClassification(1), []float32{1}, []int32{0}, nil, 1, "NewClassification(1): need at least 2 classes"},
		{"zero value", &Classification{}, []float32{1}, []int32{0}, nil, 1, "not made by NewClassification"},
		{"NaN threshold", NewBinary(nan), []float32{1}, []int32{0}, nil, 1, "threshold is NaN"},
		{"two ones", NewClassification(2), []float32{1, 0}, nil, []float32{1, 1}, 1, "target row of example 0 is not one-hot"},
		{"no one", NewClassification(2), []float32{1, 0}, nil, []float32{0, 0}, 1, "target row of example 0 is not one-hot"},
		{"smoothed", NewClassification(2), []float32{1, 0}, nil, []float32{.9, .1}, 1, "target row of example 0 is not one-hot"},
		{"binary target", NewBinary(.5), []float32{1, 0}, nil, []float32{1, .5}, 2, "target of example 1 is 0.5, want 0 or 1"},
		{"short targets", NewClassification(2), []float32{1, 0, 1, 0}, nil, []float32{1, 0, 1}, 2, "3 targets for 2 examples of 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.targets != nil {
				err = tc.c.AddTargets(tc.scores, tc.targets, tc.n)
			} else {
				err = tc.c.Add(tc.scores, tc.labels, tc.n)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if tc.c.Count() != 0 {
				t.Errorf("counted %d examples of a bad batch", tc.c.Count())
			}
			checkFinite(t, tc.c.Report()) // no panic
		})
	}
}

func TestAddAllocs(t *testing.T) {
	scores, labels := randomSet(64, 5)
	c := NewClassification(5)
	if a := testing.AllocsPerRun(10, func() { _ = c.Add(scores, labels, 64) }); a != 0 {
		t.Errorf("Add allocates %v times", a)
	}
}

func TestTable(t *testing.T) {
	c := NewClassification(3)
	if err := c.Add(threeScores, threeLabels, 5); err != nil {
		t.Fatal(err)
	}
	r := c.Report()
	r.Names = []string{"cat", "dog", "horse"}
	var b strings.Builder
	if err := r.Table(&b); err != nil {
		t.Fatal(err)
	}
	want := `                precision     recall   f1-score    support

           cat     0.6667     0.6667     0.6667          3
           dog     0.0000     0.0000     0.0000          2
         horse     0.0000     0.0000     0.0000          0

      accuracy                           0.4000          5
     macro avg     0.2222     0.2222     0.2222          5
  weighted avg     0.4000     0.4000     0.4000          5

top-2 accuracy                           0.8000          5

confusion matrix (rows: true class, columns: predicted class)
                 cat   dog horse
           cat     2     0     1
           dog     1     0     1
         horse     0     0     0

warnings:
  precision of dog set to 0: no predicted examples
  recall of horse set to 0: no true examples
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
