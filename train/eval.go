package train

// Evaluation over a whole set: the loss as a mean weighted by each batch's
// example count, the metrics the .mdl declares likewise (metrics.Means),
// and from Model.Predict a classification report for a classifier or a
// regression report (MSE, MAE, R^2) for a regressor.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/metrics"
	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/data"
	"github.com/mdlc/mdlc/train/curves"
)

// Result is one evaluation over a whole set.
type Result struct {
	Loss    float64
	Metrics []string  // the model's declared metrics
	Values  []float64 // their means, in order
	Count   int64     // examples
	report  *metrics.Report
	reg     *metrics.RegressionReport
}

// Report is the classification report, nil when the model is not a
// classifier.
func (r *Result) Report() *metrics.Report { return r.report }

// Regression is the regression report (MSE, MAE and R^2 of the output
// against its target), nil when the model is not a regressor.
func (r *Result) Regression() *metrics.RegressionReport { return r.reg }

// logs returns the result as Logs with each name prefixed: loss, the
// declared metrics, and for a classifier accuracy (unless declared),
// precision, recall and f1 (macro averages), for a regressor mse, mae and
// r2 (means over the outputs) unless declared.
func (r *Result) logs(prefix string) Logs {
	l := Logs{{Name: prefix + "loss", Value: r.Loss}}
	for i, n := range r.Metrics {
		l = append(l, Value(prefix+n, r.Values[i]))
	}
	var add []curves.Value
	if rep := r.report; rep != nil {
		add = []curves.Value{Value("accuracy", rep.Accuracy), Value("precision", rep.Macro.Precision), Value("recall", rep.Macro.Recall), Value("f1", rep.Macro.F1)}
	}
	if rep := r.reg; rep != nil {
		add = []curves.Value{Value("mse", rep.MSE), Value("mae", rep.MAE), Value("r2", rep.R2)}
	}
	for _, v := range add {
		if _, ok := l.Get(prefix + v.Name); !ok {
			l = append(l, Value(prefix+v.Name, v.Value))
		}
	}
	return l
}

// evaluator evaluates a model on a loader with buffers made once.
type evaluator struct {
	spec    runtime.Spec
	data    *data.Loader
	b, view runtime.Batch
	outs    [][]float32
	mvals   []float32
	out     int // the classifier's or regressor's output, -1 when none
	target  int // its target among the inputs
	classes int // 1: a binary classifier; 0: a regressor
}

// classifier returns the output and target that make spec a classifier:
// the first output of shape [N, k] with the first i32 target of shape [N]
// (k >= 2 classes), or an output [N, 1] read as the probability of class 1
// with 0/1 targets f32 [N] or [N, 1] (a binary classifier, threshold 0.5);
// ok is false when there is none.
func classifier(spec runtime.Spec) (out, target, k int, ok bool) {
	out, target = -1, -1
	for i, o := range spec.Outputs {
		if len(o.Shape) == 2 && o.Shape[0] == -1 && o.Shape[1] >= 1 && o.DType == runtime.F32 {
			out, k = i, o.Shape[1]
			break
		}
	}
	for i, in := range spec.Inputs {
		if in.Role != "target" {
			continue
		}
		// k classes: i32 labels [N]; one probability of class 1 (a
		// sigmoid output, as Keras's BinaryAccuracy reads it): 0/1
		// targets f32 [N] or [N, 1].
		labels := in.DType == runtime.I32 && len(in.Shape) == 1 && in.Shape[0] == -1 && k >= 2
		binary := in.DType == runtime.F32 && k == 1 && in.Shape[0] == -1 && (len(in.Shape) == 1 || len(in.Shape) == 2 && in.Shape[1] == 1)
		if labels || binary {
			target = i
			break
		}
	}
	return out, target, k, out >= 0 && target >= 0
}

// regressor returns the output and target that make spec a regressor: the
// first f32 output with a batch axis and an f32 target of the same shape,
// whose values per example (width) are compared one to one; ok is false
// when there is none.
func regressor(spec runtime.Spec) (out, target, width int, ok bool) {
	for i, o := range spec.Outputs {
		w, batched := o.PerExample()
		if o.DType != runtime.F32 || !batched {
			continue
		}
		for j, in := range spec.Inputs {
			if in.Role == "target" && in.DType == runtime.F32 && slices.Equal(in.Shape, o.Shape) {
				return i, j, w, true
			}
		}
	}
	return -1, -1, 0, false
}

func newEvaluator(spec runtime.Spec, l *data.Loader) *evaluator {
	if l == nil {
		return nil
	}
	ev := &evaluator{spec: spec, data: l, b: l.NewBatch(), mvals: make([]float32, len(spec.Metrics)), out: -1}
	if out, target, k, ok := classifier(spec); ok && (ev.b[target].I32 != nil || k == 1 && ev.b[target].F32 != nil) {
		ev.out, ev.target, ev.classes = out, target, k
	} else if out, target, _, ok := regressor(spec); ok && ev.b[target].F32 != nil {
		ev.out, ev.target = out, target
	}
	ev.outs = make([][]float32, len(spec.Outputs))
	for i, o := range spec.Outputs {
		per := 1
		for _, d := range o.Shape {
			if d < 0 {
				per *= -d * l.BatchSize()
			} else {
				per *= d
			}
		}
		ev.outs[i] = make([]float32, per)
	}
	return ev
}

// Evaluate evaluates m over every example of l (see Result).
func Evaluate(m runtime.Model, l *data.Loader) (*Result, error) {
	if l == nil {
		return nil, fmt.Errorf("train: Evaluate: no data")
	}
	if l.BatchSize() > m.Spec().MaxBatch {
		return nil, fmt.Errorf("train: batch size %d exceeds the model's largest batch %d", l.BatchSize(), m.Spec().MaxBatch)
	}
	return newEvaluator(m.Spec(), l).run(m)
}

func (ev *evaluator) run(m runtime.Model) (*Result, error) {
	var loss metrics.Mean
	means := metrics.NewMeans(ev.spec.Metrics)
	var cls *metrics.Classification
	var reg *metrics.Regression
	switch {
	case ev.out >= 0 && ev.classes == 0:
		w, _ := ev.spec.Outputs[ev.out].PerExample()
		reg = metrics.NewRegression(w)
	case ev.out >= 0 && ev.classes == 1:
		cls = metrics.NewBinary(metrics.DefaultThreshold)
	case ev.out >= 0:
		cls = metrics.NewClassification(ev.classes)
	}
	for step := range ev.data.Steps() {
		n, err := ev.data.Load(ev.b, 0, step)
		if err != nil {
			return nil, err
		}
		ev.view = trim(ev.view, ev.b, ev.spec.Inputs, n)
		l, err := m.Evaluate(ev.view, n, ev.mvals)
		if err != nil {
			return nil, err
		}
		if err := loss.Add(l, n); err != nil {
			return nil, fmt.Errorf("loss: %w", err)
		}
		if err := means.Add(ev.mvals, n); err != nil {
			return nil, err
		}
		if cls != nil || reg != nil {
			if err := m.Predict(ev.view, n, ev.outs); err != nil {
				return nil, err
			}
		}
		if reg != nil {
			if err := reg.Add(ev.outs[ev.out], ev.b[ev.target].F32, n); err != nil {
				return nil, err
			}
		}
		if cls != nil {
			var err error
			if ev.classes == 1 {
				err = cls.AddTargets(ev.outs[ev.out], ev.b[ev.target].F32, n)
			} else {
				err = cls.Add(ev.outs[ev.out], ev.b[ev.target].I32, n)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	r := &Result{Loss: loss.Value(), Metrics: ev.spec.Metrics, Values: means.Values(), Count: loss.Count()}
	if cls != nil {
		rep := cls.Report()
		r.report = &rep
	}
	if reg != nil {
		rep := reg.Report()
		rep.Names = regressionNames(ev.spec.Outputs[ev.out])
		r.reg = &rep
	}
	return r, nil
}

// regressionNames names the values of one example of output o in a
// regression report: o's name for one value, NAME[i] or NAME[i,j] (the
// indices of its per-example axes) for several.
func regressionNames(o runtime.IO) []string {
	w, _ := o.PerExample()
	if w == 1 {
		return []string{o.Name}
	}
	var dims []int
	prod := 1
	for _, d := range o.Shape {
		if d > 0 {
			dims = append(dims, d)
			prod *= d
		}
	}
	if prod != w { // a k*N axis: the report numbers the values
		return nil
	}
	names := make([]string, w)
	idx := make([]string, len(dims))
	for i := range names {
		r := i
		for a := len(dims) - 1; a >= 0; a-- {
			idx[a] = strconv.Itoa(r % dims[a])
			r /= dims[a]
		}
		names[i] = o.Name + "[" + strings.Join(idx, ",") + "]"
	}
	return names
}

// trim returns b with every batched value cut to n examples (the generated
// models take exactly n examples), sharing b's storage; dst is reused.
func trim(dst, b runtime.Batch, inputs []runtime.IO, n int) runtime.Batch {
	dst = append(dst[:0], b...)
	for k, in := range inputs {
		per, batched := in.PerExample()
		if !batched || k >= len(dst) {
			continue
		}
		if v := dst[k]; v.F32 != nil && len(v.F32) >= n*per {
			dst[k].F32 = v.F32[:n*per]
		} else if v.I32 != nil && len(v.I32) >= n*per {
			dst[k].I32 = v.I32[:n*per]
		}
	}
	return dst
}
