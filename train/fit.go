// Package train runs the training loop of a compiled model (any
// runtime.Model): epochs of optimizer steps over a data.Loader, evaluation on
// a validation Loader over the whole set after each epoch, callbacks,
// cancellation by a context, a checkpoint every epoch plus the best one by a
// monitored value, exact resume, early stopping, progress lines or a bar, and
// the run's history, curves, confusion matrix and TensorBoard scalars.
//
// Fit is the loop; Command is the `mdlc train`, `mdlc eval` and
// `mdlc predict` command line, over Fit, for a program that links a model
// (the one mdlc builds into its cache).
//
// What it does not do: compute training metrics other than the loss
// (Model.Train returns only the loss).
package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/mdlc/mdlc/metrics"
	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/data"
	"github.com/mdlc/mdlc/train/curves"
	"github.com/mdlc/mdlc/train/progress"
	"github.com/mdlc/mdlc/train/tblog"
)

// Options configure Fit. Only Epochs is required.
type Options struct {
	// Epochs is the number of epochs the run ends after, counting the ones
	// a resumed run had done.
	Epochs int
	// Checkpoint is the file the model is saved to after every epoch (with
	// Model.Save, atomic); its history goes beside it (HistoryPath) and the
	// best model to BestPath(Checkpoint). Empty: no checkpoints.
	Checkpoint string
	// Resume continues the run saved in Checkpoint: the model and the
	// history are loaded and training goes on at the next epoch. The
	// order of an epoch is a function of the loader's (seed, epoch) and
	// the optimizer's step is in the checkpoint, so the result is the same
	// as an uninterrupted run's, bit for bit. Without a checkpoint file the
	// run starts from the beginning.
	Resume bool
	// Monitor is the value that chooses the best epoch and stops early:
	// "val_loss" by default, "loss" without validation data; any name of
	// the logs (val_accuracy, val_f1, ...).
	Monitor string
	// Mode is "min" or "max"; empty means max for a name containing
	// accuracy, precision, recall, f1 or r2, else min (as Keras's "auto").
	Mode string
	// Patience stops training when the monitored value has not improved
	// (by more than MinDelta) for this many epochs; 0 never stops early.
	Patience int
	MinDelta float64
	// LogDir receives history.csv, history.json, one PNG per quantity, the
	// confusion matrix (confusion.png) after every epoch, and TensorBoard
	// event files (LogDir/train and LogDir/validation, tags epoch_loss,
	// epoch_accuracy, ... as Keras's TensorBoard callback). Empty: none.
	LogDir string
	// Progress receives the progress of each epoch (a bar on a terminal,
	// else one line per epoch); nil shows nothing.
	Progress     io.Writer
	ProgressMode progress.Mode
	// Classes names the classes in reports and the confusion matrix.
	Classes []string
	// Callbacks are called in order.
	Callbacks []Callback
	// Workers is the number of goroutines that fill (and augment) the
	// training batches ahead of the steps; 0 means 1.
	Workers int
	// Rank is the process's rank in data-parallel training (dist/mpi:
	// the model has the all-reduce hook and the training loader reads its
	// share, data.LoaderOptions.Rank and World). Only rank 0 writes the
	// checkpoints, the history, the logs and the progress; every rank
	// reads the checkpoint to resume (a file system every rank sees) and
	// evaluates the whole validation set (the ranks' parameters being the
	// same, so are their results). World is the number of ranks: the
	// progress counts World times a rank's examples per step (every rank's
	// share of an epoch has the same batches).
	Rank, World int
}

// Callback holds functions Fit calls; any may be nil. An error stops
// training and Fit returns it, except ErrStop, which ends training as
// early stopping does.
type Callback struct {
	// OnEpochBegin is called before epoch's first step (epochs count from 1).
	OnEpochBegin func(epoch int) error
	// OnStepEnd is called after each step with the batch's size and loss.
	OnStepEnd func(epoch, step, n int, loss float32) error
	// OnEpochEnd is called after the epoch's evaluation and checkpoints.
	OnEpochEnd func(epoch int, logs Logs) error
}

// ErrStop, returned by a callback, ends training after the current epoch
// without an error.
var ErrStop = errors.New("train: stop")

// Logs are the values of one epoch, in order: loss, then val_loss, the
// model's declared metrics (val_NAME) and, for a classifier, val_accuracy,
// val_precision, val_recall and val_f1 (macro averages) unless declared,
// for a regressor val_mse, val_mae and val_r2; last learning_rate, the
// rate of the optimizer's next step (its schedule at the step counter, as
// Keras logs it).
type Logs []curves.Value

// Get returns the value of name.
func (l Logs) Get(name string) (float64, bool) {
	for _, v := range l {
		if v.Name == name {
			return v.Value, true
		}
	}
	return 0, false
}

// History is what a run did.
type History struct {
	curves.History // every epoch's Logs, the resumed ones included
	Monitor        string
	// BestEpoch is the epoch with the best monitored value (0 if none) and
	// Best that value.
	BestEpoch int
	Best      float64
	// Stopped is true when early stopping (or ErrStop) ended the run.
	Stopped bool
	// Report is the last validation classification report (nil when the
	// model is not a classifier or there is no validation data).
	Report *metrics.Report
	// Regression is the last validation regression report (MSE, MAE and
	// R^2; nil when the model is not a regressor or there is no
	// validation data).
	Regression *metrics.RegressionReport
}

// BestPath is the path of the best model beside checkpoint:
// model.safetensors gives model.best.safetensors.
func BestPath(checkpoint string) string {
	ext := filepath.Ext(checkpoint)
	return strings.TrimSuffix(checkpoint, ext) + ".best" + ext
}

// HistoryPath is the path of a checkpoint's history (what Resume reads):
// model.safetensors gives model.history.json.
func HistoryPath(checkpoint string) string {
	ext := filepath.Ext(checkpoint)
	return strings.TrimSuffix(checkpoint, ext) + ".history.json"
}

// improves reports whether v is better than best in mode.
func improves(v, best, minDelta float64, max bool) bool {
	if math.IsNaN(best) {
		return !math.IsNaN(v)
	}
	if max {
		return v > best+minDelta
	}
	return v < best-minDelta
}

func maxMode(monitor, mode string) (bool, error) {
	switch mode {
	case "min":
		return false, nil
	case "max":
		return true, nil
	case "", "auto":
		for _, s := range []string{"acc", "precision", "recall", "f1", "r2"} {
			if strings.Contains(monitor, s) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("train: mode %q: want min or max", mode)
}

// Fit trains m on trainData for opts.Epochs epochs (see Options) and
// evaluates it on valData (nil for none) after each. It returns the
// history so far with any error; when ctx is done it returns ctx.Err()
// between two steps, and the checkpoint of the last completed epoch is left
// as it was.
func Fit(ctx context.Context, m runtime.Model, trainData, valData *data.Loader, opts Options) (*History, error) {
	if opts.Epochs < 1 {
		return nil, fmt.Errorf("train: %d epochs", opts.Epochs)
	}
	if trainData == nil {
		return nil, errors.New("train: no training data")
	}
	spec := m.Spec()
	for _, l := range []*data.Loader{trainData, valData} {
		if l != nil && l.BatchSize() > spec.MaxBatch {
			return nil, fmt.Errorf("train: batch size %d exceeds the model's largest batch %d (compile it with a larger -batch)", l.BatchSize(), spec.MaxBatch)
		}
	}
	if trainData.Steps() == 0 {
		return nil, errors.New("train: the training data has no examples")
	}
	h := &History{Monitor: opts.Monitor, Best: math.NaN()}
	if h.Monitor == "" {
		h.Monitor = "val_loss"
		if valData == nil {
			h.Monitor = "loss"
		}
	}
	isMax, err := maxMode(h.Monitor, opts.Mode)
	if err != nil {
		return nil, err
	}

	start := 0 // epochs done
	if opts.Resume && opts.Checkpoint != "" {
		if start, err = resume(m, trainData, opts, h, isMax); err != nil {
			return nil, err
		}
	}
	wait := 0 // epochs since the best
	if h.BestEpoch > 0 {
		wait = start - h.BestEpoch
	}
	if start >= opts.Epochs || opts.Patience > 0 && wait >= opts.Patience {
		h.Stopped = start < opts.Epochs
		return h, nil
	}

	writer := opts.Rank == 0
	if !writer {
		opts.Progress, opts.LogDir = nil, ""
	}
	var tb [2]*tblog.Writer
	if opts.LogDir != "" {
		for i, sub := range []string{"train", "validation"} {
			if i == 1 && valData == nil {
				continue
			}
			if tb[i], err = tblog.Create(filepath.Join(opts.LogDir, sub), tblog.Options{}); err != nil {
				return h, fmt.Errorf("train: %w", err)
			}
			defer tb[i].Close()
		}
	}
	var pr *progress.Progress
	if opts.Progress != nil {
		pr = progress.New(opts.Progress, progress.Options{Mode: opts.ProgressMode})
	}
	ev := newEvaluator(spec, valData)
	pf := newPrefetcher(trainData, opts.Workers)

	for epoch := start; epoch < opts.Epochs; epoch++ {
		e := epoch + 1 // as shown and logged
		for _, c := range opts.Callbacks {
			if c.OnEpochBegin != nil {
				if err := c.OnEpochBegin(e); err != nil {
					return h, stopErr(h, err)
				}
			}
		}
		if pr != nil {
			pr.StartEpoch(e, opts.Epochs, trainData.Steps())
		}
		loss, err := runEpoch(ctx, m, pf, epoch, opts, pr)
		if err != nil {
			return h, stopErr(h, err)
		}
		logs := Logs{{Name: "loss", Value: loss.Value()}}
		if valData != nil {
			if err := ctx.Err(); err != nil {
				return h, err
			}
			res, err := ev.run(m)
			if err != nil {
				return h, fmt.Errorf("train: epoch %d: validation: %w", e, err)
			}
			logs = append(logs, res.logs("val_")...)
			if res.report != nil {
				res.report.Names = opts.Classes
				h.Report = res.report
			}
			if res.reg != nil {
				h.Regression = res.reg
			}
		}
		if o := spec.Optimizer; o != nil {
			logs = append(logs, Value("learning_rate", o.LearningRate(stepsDone(m, int64(e)*int64(trainData.Steps())))))
		}
		if pr != nil {
			if err := pr.EndEpoch(summary(logs)); err != nil {
				return h, err
			}
		}
		h.Add(e, logs...)

		v, ok := logs.Get(h.Monitor)
		if !ok {
			return h, fmt.Errorf("train: monitored value %s is not among the logs (%s)", h.Monitor, names(logs))
		}
		better := improves(v, h.Best, opts.MinDelta, isMax)
		if better {
			h.Best, h.BestEpoch, wait = v, e, 0
		} else {
			wait++
		}
		if opts.Checkpoint != "" && writer {
			if err := m.Save(opts.Checkpoint); err != nil {
				return h, fmt.Errorf("train: checkpoint: %w", err)
			}
			if err := writeHistory(HistoryPath(opts.Checkpoint), &h.History); err != nil {
				return h, fmt.Errorf("train: checkpoint history: %w", err)
			}
			if better {
				if err := m.Save(BestPath(opts.Checkpoint)); err != nil {
					return h, fmt.Errorf("train: best checkpoint: %w", err)
				}
			}
		}
		if opts.LogDir != "" {
			if err := writeLogs(opts.LogDir, h, tb, e, logs); err != nil {
				return h, err
			}
		}
		stop := false
		for _, c := range opts.Callbacks {
			if c.OnEpochEnd != nil {
				if err := c.OnEpochEnd(e, logs); err != nil {
					if !errors.Is(err, ErrStop) {
						return h, err
					}
					stop = true
				}
			}
		}
		if stop || opts.Patience > 0 && wait >= opts.Patience {
			h.Stopped = e < opts.Epochs
			break
		}
	}
	return h, nil
}

// runEpoch runs the steps of epoch and returns the mean loss.
func runEpoch(ctx context.Context, m runtime.Model, pf *prefetcher, epoch int, opts Options, pr *progress.Progress) (*metrics.Mean, error) {
	e := epoch + 1
	spec := m.Spec()
	st := pf.start(epoch)
	defer st.close()
	var loss metrics.Mean
	var view runtime.Batch
	for step := 0; ; step++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, ok := st.next()
		if !ok {
			break
		}
		if f.err != nil {
			st.release(f.b)
			return nil, fmt.Errorf("train: epoch %d: %w", e, f.err)
		}
		n := f.n
		view = trim(view, f.b, spec.Inputs, n)
		l, err := m.Train(view, n)
		st.release(f.b)
		if err != nil {
			return nil, fmt.Errorf("train: epoch %d, step %d: %w", e, step+1, err)
		}
		if err := loss.Add(l, n); err != nil {
			return nil, fmt.Errorf("train: epoch %d, step %d: loss %v", e, step+1, l)
		}
		if pr != nil {
			pr.Step(n*max(opts.World, 1), float64(l), nil)
		}
		for _, c := range opts.Callbacks {
			if c.OnStepEnd != nil {
				if err := c.OnStepEnd(e, step, n, l); err != nil {
					return nil, err
				}
			}
		}
	}
	return &loss, nil
}

// stopErr turns ErrStop from a callback mid-epoch into a stop.
func stopErr(h *History, err error) error {
	if errors.Is(err, ErrStop) {
		h.Stopped = true
		return nil
	}
	return err
}

func names(logs Logs) string {
	var s []string
	for _, v := range logs {
		s = append(s, v.Name)
	}
	return strings.Join(s, ", ")
}

func summary(logs Logs) progress.Summary {
	var s progress.Summary
	var val *progress.Scores
	for _, v := range logs {
		switch {
		case v.Name == "loss":
			s.Train.Loss = v.Value
		case v.Name == "learning_rate":
			s.LearningRate = v.Value
		case v.Name == "val_loss":
			val = &progress.Scores{Loss: v.Value}
		case strings.HasPrefix(v.Name, "val_") && val != nil:
			val.Metrics = append(val.Metrics, progress.Metric{Name: strings.TrimPrefix(v.Name, "val_"), Value: v.Value})
		default:
			s.Train.Metrics = append(s.Train.Metrics, progress.Metric{Name: v.Name, Value: v.Value})
		}
	}
	s.Val = val
	return s
}

// stepsDone is the optimizer's step counter of m (its optimizer.step
// state), or counted when m does not show its state.
func stepsDone(m runtime.Model, counted int64) int64 {
	if st, ok := m.(interface{ State() []runtime.Tensor }); ok {
		for _, t := range st.State() {
			if t.Name == "optimizer.step" && len(t.Data) == 1 {
				return int64(t.Data[0])
			}
		}
	}
	return counted
}

// resume loads the checkpoint and its history into m and h and returns the
// number of epochs done; no checkpoint file means none.
func resume(m runtime.Model, trainData *data.Loader, opts Options, h *History, isMax bool) (int, error) {
	if _, err := os.Stat(opts.Checkpoint); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	f, err := os.Open(HistoryPath(opts.Checkpoint))
	if err != nil {
		return 0, fmt.Errorf("train: resume: the history of %s: %w", opts.Checkpoint, err)
	}
	defer f.Close()
	hist, err := curves.ReadJSON(f)
	if err != nil {
		return 0, fmt.Errorf("train: resume: %s: %w", f.Name(), err)
	}
	if err := m.Load(opts.Checkpoint); err != nil {
		return 0, fmt.Errorf("train: resume: %w", err)
	}
	done := len(hist.Rows)
	for i, r := range hist.Rows {
		if r.Epoch != i+1 {
			return 0, fmt.Errorf("train: resume: %s: epoch %d in row %d", f.Name(), r.Epoch, i+1)
		}
	}
	// The optimizer's step counter, when the model has one, must be where
	// the history says (a checkpoint written without its history is not
	// resumed).
	if st, ok := m.(interface{ State() []runtime.Tensor }); ok {
		for _, t := range st.State() {
			if t.Name == "optimizer.step" && len(t.Data) == 1 {
				if want := done * trainData.Steps(); int(t.Data[0]) != want {
					return 0, fmt.Errorf("train: resume: %s is at step %d, its history at epoch %d (%d steps); they do not belong together", opts.Checkpoint, int(t.Data[0]), done, want)
				}
			}
		}
	}
	h.History = *hist
	for _, r := range hist.Rows {
		if v, ok := r.Values[h.Monitor]; ok && improves(v, h.Best, opts.MinDelta, isMax) {
			h.Best, h.BestEpoch = v, r.Epoch
		}
	}
	return done, nil
}

// writeHistory writes h as JSON to path through a temporary file.
func writeHistory(path string, h *curves.History) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".history-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := h.WriteJSON(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeLogs writes the history files, the curves, the confusion matrix and
// the epoch's TensorBoard scalars.
func writeLogs(dir string, h *History, tb [2]*tblog.Writer, epoch int, logs Logs) error {
	if _, err := h.WriteFiles(dir); err != nil {
		return fmt.Errorf("train: logs: %w", err)
	}
	if h.Report != nil && len(h.Report.Confusion) > 0 {
		classes := h.Report.Names
		if len(classes) != h.Report.Classes {
			classes = nil
			for i := range h.Report.Classes {
				classes = append(classes, fmt.Sprint(i))
			}
		}
		if err := curves.ConfusionMatrix(filepath.Join(dir, "confusion.png"), h.Report.Confusion, classes); err != nil {
			return fmt.Errorf("train: logs: %w", err)
		}
	}
	var sc [2][]tblog.Scalar
	for _, v := range logs {
		i, name := 0, v.Name
		if n, ok := strings.CutPrefix(name, "val_"); ok {
			i, name = 1, n
		}
		sc[i] = append(sc[i], tblog.Scalar{Tag: "epoch_" + name, Value: v.Value})
	}
	for i, w := range tb {
		if w != nil && len(sc[i]) > 0 {
			if err := w.Scalars(int64(epoch-1), sc[i]...); err != nil {
				return fmt.Errorf("train: logs: %w", err)
			}
		}
	}
	return nil
}

// Value is a named value of Logs.
func Value(name string, v float64) curves.Value { return curves.Value{Name: name, Value: v} }
