package progress

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// clock returns a clock that advances by step at every reading.
func clock(step time.Duration) func() time.Time {
	t := time.Unix(1700000000, 0)
	return func() time.Time { t = t.Add(step); return t }
}

func TestLines(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1700000000, 0)
	p := New(&buf, Options{Mode: Lines, Now: func() time.Time { return now }})

	p.StartEpoch(3, 10, 4)
	for range 4 {
		now = now.Add(3075 * time.Millisecond)
		p.Step(13300, 0.5, []Metric{{"accuracy", 0.8}})
	}
	if err := p.EndEpoch(Summary{
		Train:        Scores{Loss: 0.43214, Metrics: []Metric{{"accuracy", 0.87654}, {"f1", 0.5}}},
		Val:          &Scores{Loss: 0.50119, Metrics: []Metric{{"accuracy", 0.84213}, {"f1", 0.25}}},
		LearningRate: 0.001,
	}); err != nil {
		t.Fatal(err)
	}

	p.StartEpoch(4, 10, 0)
	now = now.Add(500 * time.Millisecond)
	p.Step(32, 2, nil)
	p.Step(32, 1, nil)
	p.EndEpoch(Summary{Train: Scores{Loss: 1.5}})

	p.StartEpoch(5, 10, 0)
	p.EndEpoch(Summary{Train: Scores{Loss: 1}})

	want := "epoch 3/10 - 12.3s - loss 0.4321 - accuracy 0.8765 - f1 0.5000 - val_loss 0.5012 - val_accuracy 0.8421 - val_f1 0.2500 - lr 0.001 - 4,325 examples/s\n" +
		"epoch 4/10 - 0.5s - loss 1.5000 - 128 examples/s\n" +
		"epoch 5/10 - 0.0s - loss 1.0000\n"
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// A writer that is not a terminal gets the lines in Auto mode.
func TestAutoNotTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{Now: clock(time.Second)})
	p.StartEpoch(1, 1, 2)
	p.Step(1, 1, nil)
	p.Step(1, 1, nil)
	p.EndEpoch(Summary{Train: Scores{Loss: 1}})
	if got, want := buf.String(), "epoch 1/1 - 1.0s - loss 1.0000 - 2 examples/s\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) || IsTerminal(&buf) {
		t.Error("IsTerminal of a file or buffer")
	}
}

func TestBar(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{Mode: Bar, Now: clock(100 * time.Millisecond), Throttle: -1})
	p.StartEpoch(2, 5, 4)
	for i := range 4 {
		p.Step(32, float64(4-i), []Metric{{"accuracy", 0.25 * float64(i+1)}})
	}
	p.EndEpoch(Summary{Train: Scores{Loss: 2.5}})
	out := buf.String()
	for _, want := range []string{
		"epoch 2/5",
		"(1/4",
		"(3/4",
		"[=",
		"loss 4.0000 - accuracy 0.2500",
		"loss 3.0000 - accuracy 0.7500", // the mean of 4, 3, 2
		"examples/s",
		"\r",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("bar output lacks %q:\n%q", want, out)
		}
	}
	// The clock is read at the start, at each step (for the rate) and at the
	// end. The bar is cleared and the summary line ends the epoch.
	last := out[strings.LastIndexByte(out, '\r')+1:]
	if want := "epoch 2/5 - 0.5s - loss 2.5000 - 256 examples/s\n"; last != want {
		t.Errorf("last line %q, want %q", last, want)
	}

	// Unknown steps: a spinner, then the line.
	buf.Reset()
	p.StartEpoch(3, 5, 0)
	p.Step(10, 1, nil)
	p.EndEpoch(Summary{Train: Scores{Loss: 1}})
	out = buf.String()
	if !strings.Contains(out, "epoch 3/5 - loss 1.0000") || !strings.HasSuffix(out, "\repoch 3/5 - 0.2s - loss 1.0000 - 50 examples/s\n") {
		t.Errorf("spinner output %q", out)
	}
}

func TestThousands(t *testing.T) {
	for x, want := range map[float64]string{0: "0", 999.4: "999", 999.5: "1,000", 4321: "4,321", 1234567: "1,234,567"} {
		if got := thousands(x); got != want {
			t.Errorf("thousands(%g) = %q, want %q", x, got, want)
		}
	}
}

// More steps than announced, and an epoch ended before any step: no panic,
// the summary line still ends the epoch.
func TestBarOddSteps(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{Mode: Bar, Now: clock(time.Second)})
	p.StartEpoch(1, 2, 2)
	for range 5 {
		p.Step(1, 1, nil)
	}
	p.EndEpoch(Summary{Train: Scores{Loss: 1}})
	p.StartEpoch(2, 2, 3)
	p.EndEpoch(Summary{Train: Scores{Loss: 1}})
	if out := buf.String(); !strings.HasSuffix(out, "epoch 2/2 - 1.0s - loss 1.0000\n") {
		t.Errorf("output %q", out)
	}
}
