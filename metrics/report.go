package metrics

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// Scores are precision, recall and F1 of one class or one average, with its
// support (true examples of the class; all examples for an average).
type Scores struct {
	Precision, Recall, F1 float64
	Support               int64
}

// Warning records a metric given a defined Value (0, or 1 for the R^2 of
// exact predictions of constant targets) because its formula divides by zero,
// as scikit-learn's UndefinedMetricWarning does.
type Warning struct {
	Metric string  // "accuracy", "precision", "recall", "f1", "mse", "mae" or "r2"
	Index  int     // the class (classification) or output (regression); -1 for the whole set
	Value  float64 // the value reported
	Reason string
}

func (w Warning) String() string { return w.text(strconv.Itoa) }

// text formats w, naming its index with name.
func (w Warning) text(name func(int) string) string {
	if w.Index < 0 {
		return fmt.Sprintf("%s set to %g: %s", w.Metric, w.Value, w.Reason)
	}
	return fmt.Sprintf("%s of %s set to %g: %s", w.Metric, name(w.Index), w.Value, w.Reason)
}

// Report is a classification report over every example added.
type Report struct {
	Classes int
	// Names are the class names Table prints (e.g. an image folder's class
	// sub-folders); nil prints class ids. Report leaves it nil.
	Names     []string
	Count     int64     // examples
	Confusion [][]int64 // (k, k): [true][predicted]
	Accuracy  float64
	// TopK[i] is the fraction of examples whose true class is among the i+1
	// highest scores; TopK[0] == Accuracy and TopK[k-1] == 1.
	TopK     []float64
	PerClass []Scores // (k)
	// Averages over classes; Support is Count. Micro's three values equal
	// Accuracy (single-label classification).
	Macro, Micro, Weighted Scores
	Warnings               []Warning
}

// Report computes every metric over the examples added so far.
func (c *Classification) Report() Report {
	k := c.k
	r := Report{Classes: k, Count: c.n}
	if c.err != nil || c.confusion == nil {
		r.Warnings = append(r.Warnings, Warning{"accuracy", -1, 0, "bad accumulator"})
		return r
	}
	warn := func(metric string, index int, reason string) {
		r.Warnings = append(r.Warnings, Warning{metric, index, 0, reason})
	}
	n := float64(c.n)
	r.Confusion = make([][]int64, k)
	r.PerClass = make([]Scores, k)
	r.TopK = make([]float64, k)
	var correct, hits int64
	for i := range k {
		r.Confusion[i] = append([]int64(nil), c.confusion[i*k:(i+1)*k]...)
		correct += c.confusion[i*k+i]
		hits += c.ranks[i]
		if c.n > 0 {
			r.TopK[i] = float64(hits) / n
		}
	}
	if c.n == 0 {
		warn("accuracy", -1, "no examples")
	} else {
		r.Accuracy = float64(correct) / n
	}
	r.Micro = Scores{r.Accuracy, r.Accuracy, r.Accuracy, c.n}
	r.Macro.Support, r.Weighted.Support = c.n, c.n
	for i := range k {
		var support, predicted int64
		for j := range k {
			support += c.confusion[i*k+j]
			predicted += c.confusion[j*k+i]
		}
		tp := c.confusion[i*k+i]
		fp, fn := predicted-tp, support-tp
		s := Scores{Support: support}
		if predicted == 0 {
			warn("precision", i, "no predicted examples")
		} else {
			s.Precision = float64(tp) / float64(predicted)
		}
		if support == 0 {
			warn("recall", i, "no true examples")
		} else {
			s.Recall = float64(tp) / float64(support)
		}
		if d := 2*tp + fp + fn; d == 0 {
			warn("f1", i, "no true nor predicted examples")
		} else {
			s.F1 = float64(2*tp) / float64(d)
		}
		r.PerClass[i] = s
		r.Macro.Precision += s.Precision
		r.Macro.Recall += s.Recall
		r.Macro.F1 += s.F1
		w := float64(support)
		r.Weighted.Precision += w * s.Precision
		r.Weighted.Recall += w * s.Recall
		r.Weighted.F1 += w * s.F1
	}
	r.Macro.Precision /= float64(k)
	r.Macro.Recall /= float64(k)
	r.Macro.F1 /= float64(k)
	if c.n > 0 {
		r.Weighted.Precision /= n
		r.Weighted.Recall /= n
		r.Weighted.F1 /= n
	}
	return r
}

// Binary returns the scores of class 1 for a two-class report (scikit-learn's
// average="binary", pos_label=1) and false for any other.
func (r Report) Binary() (Scores, bool) {
	if r.Classes != 2 || len(r.PerClass) != 2 {
		return Scores{}, false
	}
	return r.PerClass[1], true
}

// name returns the printed name of class i.
func (r Report) name(i int) string {
	if i < len(r.Names) && r.Names[i] != "" {
		return r.Names[i]
	}
	return strconv.Itoa(i)
}

// Table writes the report as scikit-learn's classification_report does (with
// 4 digits), then top-k accuracies, the confusion matrix and the warnings.
func (r Report) Table(w io.Writer) error {
	b := bufio.NewWriter(w)
	nw := len("weighted avg")
	if len(r.TopK) > 2 {
		nw = len("top-2 accuracy")
	}
	for i := range r.Classes {
		nw = max(nw, len(r.name(i)))
	}
	fmt.Fprintf(b, "%*s %10s %10s %10s %10s\n\n", nw, "", "precision", "recall", "f1-score", "support")
	row := func(name string, s Scores) {
		fmt.Fprintf(b, "%*s %10.4f %10.4f %10.4f %10d\n", nw, name, s.Precision, s.Recall, s.F1, s.Support)
	}
	for i, s := range r.PerClass {
		row(r.name(i), s)
	}
	fmt.Fprintln(b)
	fmt.Fprintf(b, "%*s %10s %10s %10.4f %10d\n", nw, "accuracy", "", "", r.Accuracy, r.Count)
	row("macro avg", r.Macro)
	row("weighted avg", r.Weighted)
	if len(r.TopK) > 2 {
		fmt.Fprintln(b)
		for i := 1; i < len(r.TopK)-1 && i < 5; i++ {
			fmt.Fprintf(b, "%*s %10s %10s %10.4f %10d\n", nw, fmt.Sprintf("top-%d accuracy", i+1), "", "", r.TopK[i], r.Count)
		}
	}
	if len(r.Confusion) > 0 {
		cw := 1
		for i, row := range r.Confusion {
			cw = max(cw, len(r.name(i)))
			for _, v := range row {
				cw = max(cw, len(strconv.FormatInt(v, 10)))
			}
		}
		fmt.Fprintf(b, "\nconfusion matrix (rows: true class, columns: predicted class)\n%*s", nw, "")
		for i := range r.Confusion {
			fmt.Fprintf(b, " %*s", cw, r.name(i))
		}
		fmt.Fprintln(b)
		for i, row := range r.Confusion {
			fmt.Fprintf(b, "%*s", nw, r.name(i))
			for _, v := range row {
				fmt.Fprintf(b, " %*d", cw, v)
			}
			fmt.Fprintln(b)
		}
	}
	writeWarnings(b, r.Warnings, r.name)
	return b.Flush()
}

// writeWarnings lists warnings, naming each index with name.
func writeWarnings(b *bufio.Writer, ws []Warning, name func(int) string) {
	if len(ws) == 0 {
		return
	}
	fmt.Fprintf(b, "\nwarnings:\n")
	for _, x := range ws {
		fmt.Fprintf(b, "  %s\n", x.text(name))
	}
}
