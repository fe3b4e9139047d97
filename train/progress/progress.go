// Package progress shows the progress of training, one epoch at a time, as
// Keras does: on a terminal a bar per epoch with the step count, the elapsed
// and remaining time, the running loss and metrics and the examples per
// second,
//
//	50% [==============>...............] (2/4) [1s:1s] epoch 3/10 - loss 0.4321 - accuracy 0.8765 - 4,321 examples/s
//
// replaced by a summary line when the epoch ends; elsewhere (a pipe, a log
// file) only the summary line of each epoch:
//
//	epoch 3/10 - 12.3s - loss 0.4321 - accuracy 0.8765 - val_loss 0.5012 - val_accuracy 0.8421 - lr 0.001 - 4,321 examples/s
//
// The bar is drawn by github.com/schollz/progressbar/v3.
package progress

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Mode chooses between the bar and the summary lines.
type Mode int

const (
	// Auto draws the bar when the writer is a terminal.
	Auto Mode = iota
	// Bar always draws the bar (e.g. for a terminal the program knows of).
	Bar
	// Lines writes only the summary line of each epoch.
	Lines
)

// Options configure a Progress; the zero value is usable.
type Options struct {
	Mode Mode
	// Now is the clock for epoch times and rates; time.Now if nil.
	Now func() time.Time
	// Width is the width of the bar in characters; 30 if zero.
	Width int
	// Throttle is the least time between two redraws of the bar; 100ms if
	// zero, none if negative.
	Throttle time.Duration
}

// Metric is one named value, shown in the order given.
type Metric struct {
	Name  string
	Value float64
}

// Scores are the loss and metrics of one pass over a data set.
type Scores struct {
	Loss    float64
	Metrics []Metric
}

// Summary is what an epoch ends with.
type Summary struct {
	Train Scores
	// Val is the validation scores, nil without validation.
	Val *Scores
	// LearningRate is shown when not zero.
	LearningRate float64
}

// Progress shows the epochs of one training run. It is not safe for
// concurrent use.
type Progress struct {
	w    io.Writer
	opts Options
	bar  bool

	epoch, epochs, steps int
	start                time.Time
	step, examples       int
	lossSum              float64 // sum of loss*n over the epoch's steps
	pb                   *progressbar.ProgressBar
}

// New returns a Progress writing to w.
func New(w io.Writer, opts Options) *Progress {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Width == 0 {
		opts.Width = 30
	}
	if opts.Throttle == 0 {
		opts.Throttle = 100 * time.Millisecond
	}
	bar := opts.Mode == Bar
	if opts.Mode == Auto {
		bar = IsTerminal(w)
	}
	return &Progress{w: w, opts: opts, bar: bar}
}

// IsTerminal reports whether w is a file open on a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// StartEpoch starts epoch (counted from 1) of epochs, of steps steps (0 if
// unknown).
func (p *Progress) StartEpoch(epoch, epochs, steps int) {
	p.epoch, p.epochs, p.steps = epoch, epochs, steps
	p.start = p.opts.Now()
	p.step, p.examples, p.lossSum = 0, 0, 0
	if !p.bar {
		return
	}
	max := steps
	if max <= 0 {
		max = -1 // a spinner
	}
	throttle := p.opts.Throttle
	if throttle < 0 {
		throttle = 0
	}
	p.pb = progressbar.NewOptions(max,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(p.prefix()),
		progressbar.OptionSetWidth(p.opts.Width),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(throttle),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetSpinnerChangeInterval(0), // no goroutine drawing behind our back
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetTheme(progressbar.Theme{
			Saucer: "=", SaucerHead: ">", SaucerPadding: ".",
			BarStart: "[", BarEnd: "]",
		}),
	)
}

func (p *Progress) prefix() string {
	return fmt.Sprintf("epoch %d/%d", p.epoch, p.epochs)
}

// Step records one step over n examples with its loss and the running
// metrics; the bar shows the mean loss of the epoch so far.
func (p *Progress) Step(n int, loss float64, metrics []Metric) {
	p.step++
	p.examples += n
	p.lossSum += loss * float64(n)
	if p.pb == nil {
		return
	}
	var b strings.Builder
	b.WriteString(p.prefix())
	if p.examples > 0 {
		fmt.Fprintf(&b, " - loss %.4f", p.lossSum/float64(p.examples))
	}
	for _, m := range metrics {
		fmt.Fprintf(&b, " - %s %.4f", m.Name, m.Value)
	}
	if rate := p.rate(); rate > 0 {
		fmt.Fprintf(&b, " - %s examples/s", thousands(rate))
	}
	p.pb.Describe(b.String())
	p.pb.Add(1)
}

// rate is the examples per second of the epoch so far, 0 if unknown.
func (p *Progress) rate() float64 {
	secs := p.opts.Now().Sub(p.start).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(p.examples) / secs
}

// EndEpoch clears the bar and writes the epoch's summary line.
func (p *Progress) EndEpoch(s Summary) error {
	elapsed := p.opts.Now().Sub(p.start)
	if p.pb != nil {
		p.pb.Finish()
		p.pb = nil
	}
	_, err := io.WriteString(p.w, p.Line(s, elapsed))
	return err
}

// Line is the summary line of the current epoch, elapsed long, with its
// newline.
func (p *Progress) Line(s Summary, elapsed time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s - %.1fs - loss %.4f", p.prefix(), elapsed.Seconds(), s.Train.Loss)
	for _, m := range s.Train.Metrics {
		fmt.Fprintf(&b, " - %s %.4f", m.Name, m.Value)
	}
	if s.Val != nil {
		fmt.Fprintf(&b, " - val_loss %.4f", s.Val.Loss)
		for _, m := range s.Val.Metrics {
			fmt.Fprintf(&b, " - val_%s %.4f", m.Name, m.Value)
		}
	}
	if s.LearningRate != 0 {
		fmt.Fprintf(&b, " - lr %s", strconv.FormatFloat(s.LearningRate, 'g', 4, 64))
	}
	if secs := elapsed.Seconds(); secs > 0 && p.examples > 0 {
		fmt.Fprintf(&b, " - %s examples/s", thousands(float64(p.examples)/secs))
	}
	b.WriteByte('\n')
	return b.String()
}

// thousands is x rounded to an integer with commas between groups of three
// digits.
func thousands(x float64) string {
	s := strconv.FormatInt(int64(x+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
