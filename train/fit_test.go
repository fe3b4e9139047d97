package train_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/examples/mnist_mlp/mnistmlp"
	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/data"
	"github.com/mdlc/mdlc/train"
)

// synthetic is n examples of 784 values whose class (0..9) is the block of
// 78 values that is bright, with noise drawn from seed.
func synthetic(n int, seed uint64) *data.Dataset {
	d := &data.Dataset{N: n, Dim: 784, X: make([]float32, n*784), Y: make([]int32, n)}
	rng := runtime.NewRNG(seed)
	for i := range n {
		c := i % 10
		d.Y[i] = int32(c)
		x := d.X[i*784 : (i+1)*784]
		for j := range x {
			x[j] = float32(0.3 * rng.Float64())
		}
		for j := c * 78; j < (c+1)*78; j++ {
			x[j] += 0.5
		}
	}
	return d
}

func loaders(t *testing.T, m runtime.Model) (tr, val *data.Loader) {
	t.Helper()
	var err error
	tr, err = data.NewLoader(synthetic(300, 1), m.Spec().Inputs, data.LoaderOptions{BatchSize: 32, Shuffle: true, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	val, err = data.NewLoader(synthetic(100, 2), m.Spec().Inputs, data.LoaderOptions{BatchSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	return tr, val
}

func newModel() *mnistmlp.Model { return mnistmlp.New(mnistmlp.WithSeed(3)) }

func TestFitLearnsAndCheckpoints(t *testing.T) {
	m := newModel()
	tr, val := loaders(t, m)
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "m.safetensors")
	var out bytes.Buffer
	var ends []int
	h, err := train.Fit(context.Background(), m, tr, val, train.Options{
		Epochs: 3, Checkpoint: ckpt, LogDir: filepath.Join(dir, "logs"), Progress: &out,
		Callbacks: []train.Callback{{OnEpochEnd: func(e int, logs train.Logs) error { ends = append(ends, e); return nil }}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ends, []int{1, 2, 3}) || len(h.Rows) != 3 {
		t.Fatalf("epochs ended %v, history %d rows", ends, len(h.Rows))
	}
	_, loss := h.Series("loss")
	if !(loss[2] < loss[0]) {
		t.Errorf("loss %v does not decrease", loss)
	}
	_, acc := h.Series("val_accuracy")
	if acc[2] < 0.9 {
		t.Errorf("validation accuracy %v, want >= 0.9", acc)
	}
	if h.Report == nil || h.Report.Count != 100 {
		t.Fatalf("report %+v", h.Report)
	}
	for _, p := range []string{ckpt, train.BestPath(ckpt), train.HistoryPath(ckpt), "logs/history.csv", "logs/history.json", "logs/loss.png", "logs/val_accuracy.png", "logs/confusion.png"} {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	for _, sub := range []string{"train", "validation"} {
		if fs, _ := filepath.Glob(filepath.Join(dir, "logs", sub, "events.out.tfevents.*")); len(fs) != 1 {
			t.Errorf("%s: event files %v", sub, fs)
		}
	}
	if !strings.Contains(out.String(), "epoch 3/3") || !strings.Contains(out.String(), "val_loss") {
		t.Errorf("progress:\n%s", out.String())
	}
	// The best model is the epoch with the lowest val_loss.
	_, vl := h.Series("val_loss")
	if want := slices.Index(vl, slices.Min(vl)) + 1; h.BestEpoch != want {
		t.Errorf("best epoch %d, val_loss %v", h.BestEpoch, vl)
	}
	// Evaluate on the saved checkpoint gives the last epoch's values.
	m2 := newModel()
	if err := m2.Load(ckpt); err != nil {
		t.Fatal(err)
	}
	res, err := train.Evaluate(m2, val)
	if err != nil {
		t.Fatal(err)
	}
	if res.Loss != vl[2] {
		t.Errorf("evaluate after load: loss %v, want %v", res.Loss, vl[2])
	}
}

func TestFitEarlyStopping(t *testing.T) {
	m := newModel()
	tr, val := loaders(t, m)
	// val_loss falls every epoch, so in max mode it never improves on the
	// first epoch: patience 2 stops after epoch 3.
	h, err := train.Fit(context.Background(), m, tr, val, train.Options{Epochs: 10, Monitor: "val_loss", Mode: "max", Patience: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Rows) != 3 || !h.Stopped || h.BestEpoch != 1 {
		t.Errorf("%d epochs, stopped %v, best epoch %d", len(h.Rows), h.Stopped, h.BestEpoch)
	}
}

func TestFitCancel(t *testing.T) {
	m := newModel()
	tr, val := loaders(t, m)
	ckpt := filepath.Join(t.TempDir(), "m.safetensors")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var saved []byte
	_, err := train.Fit(ctx, m, tr, val, train.Options{Epochs: 3, Checkpoint: ckpt, Callbacks: []train.Callback{{
		OnEpochEnd: func(e int, _ train.Logs) error {
			var err error
			saved, err = os.ReadFile(ckpt)
			return err
		},
		OnStepEnd: func(e, step, n int, loss float32) error {
			if e == 2 && step == 3 {
				cancel()
			}
			return nil
		},
	}}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	now, err := os.ReadFile(ckpt)
	if err != nil || !bytes.Equal(now, saved) {
		t.Errorf("the checkpoint of epoch 1 changed (err %v)", err)
	}
}

func TestResumeIsExact(t *testing.T) {
	straight := newModel()
	tr, val := loaders(t, straight)
	if _, err := train.Fit(context.Background(), straight, tr, val, train.Options{Epochs: 2}); err != nil {
		t.Fatal(err)
	}

	ckpt := filepath.Join(t.TempDir(), "m.safetensors")
	first := newModel()
	if _, err := train.Fit(context.Background(), first, tr, val, train.Options{Epochs: 1, Checkpoint: ckpt}); err != nil {
		t.Fatal(err)
	}
	resumed := mnistmlp.New(mnistmlp.WithSeed(99)) // another init: everything comes from the checkpoint
	h, err := train.Fit(context.Background(), resumed, tr, val, train.Options{Epochs: 2, Checkpoint: ckpt, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Rows) != 2 || h.Rows[1].Epoch != 2 {
		t.Fatalf("history after resume: %+v", h.Rows)
	}
	want, got := straight.Params(), resumed.Params()
	for i := range want {
		for j := range want[i].Data {
			if want[i].Data[j] != got[i].Data[j] {
				t.Fatalf("%s[%d]: resumed %v, straight %v", want[i].Name, j, got[i].Data[j], want[i].Data[j])
			}
		}
	}
	// A checkpoint whose history disagrees with its step is refused.
	if err := os.WriteFile(train.HistoryPath(ckpt), []byte(`{"epoch": [1], "loss": [1]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = train.Fit(context.Background(), newModel(), tr, val, train.Options{Epochs: 3, Checkpoint: ckpt, Resume: true})
	if err == nil || !strings.Contains(err.Error(), "do not belong together") {
		t.Errorf("mismatched history: err %v", err)
	}
}

// The batches are a function of (epoch, step): any number of prefetching
// workers trains the same parameters.
func TestFitWorkersSameParams(t *testing.T) {
	var params [][]runtime.Tensor
	for _, w := range []int{1, 3} {
		m := newModel()
		tr, val := loaders(t, m)
		if _, err := train.Fit(context.Background(), m, tr, val, train.Options{Epochs: 2, Workers: w}); err != nil {
			t.Fatal(err)
		}
		params = append(params, m.Params())
	}
	for i := range params[0] {
		if !slices.Equal(params[0][i].Data, params[1][i].Data) {
			t.Fatalf("%s differs between 1 and 3 workers", params[0][i].Name)
		}
	}
}
