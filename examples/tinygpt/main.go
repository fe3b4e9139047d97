// Command tinygpt trains examples/tinygpt/tinygpt.mdl, a byte-level GPT
// compiled to the Go package ./tinygpt, on Isaac Newton's Opticks (the
// public-domain text every Go installation ships as
// $GOROOT/src/testdata/Isaac.Newton-Opticks.txt): the first 90% of the
// bytes train, the last 10% validate. train.Fit prints the training and
// validation loss of each epoch in nats per byte (the mean cross-entropy
// of predicting each next byte); then the model writes text, one byte at a
// time, with a temperature and a top-k cut (train/sample).
//
//	go run ./examples/tinygpt                 # train 2 epochs, then sample
//	go run ./examples/tinygpt -save gpt.safetensors
//	go run ./examples/tinygpt -load gpt.safetensors -epochs 0 -prompt "Light is"
package main

//go:generate go run github.com/mdlc/mdlc/cmd/mdlc build -o tinygpt -batch 16 tinygpt.mdl

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/mdlc/mdlc/examples/tinygpt/tinygpt"
	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/data"
	training "github.com/mdlc/mdlc/train"
	"github.com/mdlc/mdlc/train/sample"
)

// window is T, the model's context: the bytes of one example.
const window = 64

// config is one run: training (Epochs 0: none), then sampling.
type config struct {
	Data        string
	Epochs      int
	Batch       int
	Stride      int // bytes between the starts of training windows
	Seed        uint64
	Save, Load  string
	Steps       int // stop each epoch after this many steps (0: whole epochs)
	Generate    int // bytes to sample
	Prompt      string
	Temperature float64
	TopK        int
}

func main() {
	var c config
	flag.StringVar(&c.Data, "data", "", "text file to train on (default: $GOROOT/src/testdata/Isaac.Newton-Opticks.txt)")
	flag.IntVar(&c.Epochs, "epochs", 2, "passes over the training windows")
	flag.IntVar(&c.Batch, "batch", 16, fmt.Sprintf("windows per step (at most %d)", tinygpt.MaxBatch))
	flag.IntVar(&c.Stride, "stride", 32, "bytes between the starts of consecutive training windows")
	flag.Uint64Var(&c.Seed, "seed", 1, "seed of the initializers, the shuffling and the sampling")
	flag.StringVar(&c.Save, "save", "", "write the model to this safetensors file after every epoch")
	flag.StringVar(&c.Load, "load", "", "start from the model in this safetensors file")
	flag.IntVar(&c.Generate, "n", 400, "bytes to sample after training")
	flag.StringVar(&c.Prompt, "prompt", "The Rays of Light ", "text the sample starts with")
	flag.Float64Var(&c.Temperature, "temperature", 0.8, "sampling temperature (below 1: more conservative)")
	flag.IntVar(&c.TopK, "topk", 40, "sample among the k most likely bytes (0: all)")
	flag.Parse()
	if c.Data == "" {
		c.Data = opticks()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, _, err := run(ctx, c, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// opticks is the path of the Opticks text of the Go installation.
func opticks() string {
	path, err := data.OpticksPath()
	if err != nil {
		log.Fatalf("%v (or pass -data)", err)
	}
	return path
}

// run trains (unless c.Epochs is 0) and samples; it returns the model and
// the training history (nil without training).
func run(ctx context.Context, c config, w io.Writer) (*tinygpt.Model, *training.History, error) {
	if c.Batch < 1 || c.Batch > tinygpt.MaxBatch {
		return nil, nil, fmt.Errorf("-batch %d: want 1 to %d", c.Batch, tinygpt.MaxBatch)
	}
	m := tinygpt.New(tinygpt.WithSeed(c.Seed))
	if c.Load != "" {
		if err := m.Load(c.Load); err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(w, "loaded %s\n", c.Load)
	}
	var h *training.History
	if c.Epochs > 0 {
		text, err := data.LoadText(c.Data, window, c.Stride)
		if err != nil {
			return nil, nil, err
		}
		trainText, valText, err := text.Split(0.1)
		if err != nil {
			return nil, nil, err
		}
		valText.Stride = window // validation: every byte predicted once
		spec := m.Spec()
		tl, err := data.NewLoader(trainText, spec.Inputs, data.LoaderOptions{BatchSize: c.Batch, Shuffle: true, Seed: c.Seed})
		if err != nil {
			return nil, nil, err
		}
		vl, err := data.NewLoader(valText, spec.Inputs, data.LoaderOptions{BatchSize: tinygpt.MaxBatch})
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(w, "%s: %d bytes, %d training windows of %d bytes (stride %d), %d validation windows; %d parameters; BLAS %s\n",
			filepath.Base(c.Data), len(text.Bytes), trainText.Len(), window, c.Stride, valText.Len(), params(m), runtime.BLAS())
		opts := training.Options{Epochs: c.Epochs, Checkpoint: c.Save, Progress: w}
		start := time.Now()
		if c.Steps > 0 {
			opts.Callbacks = append(opts.Callbacks, training.Callback{OnStepEnd: func(_, step, _ int, _ float32) error {
				if step+1 >= c.Steps {
					return training.ErrStop
				}
				return nil
			}})
		}
		if h, err = training.Fit(ctx, m, tl, vl, opts); err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(w, "trained in %s (loss in nats per byte)\n", time.Since(start).Round(time.Second))
	}
	if c.Generate > 0 {
		s, err := sample.New(m, sample.Options{Temperature: c.Temperature, TopK: c.TopK, Seed: c.Seed, Pad: ' '})
		if err != nil {
			return nil, nil, err
		}
		prompt := make([]int32, len(c.Prompt))
		for i := range len(c.Prompt) {
			prompt[i] = int32(c.Prompt[i])
		}
		out, err := s.Generate(prompt, c.Generate)
		if err != nil {
			return nil, nil, err
		}
		text := make([]byte, len(out))
		for i, b := range out {
			text[i] = byte(b)
		}
		fmt.Fprintf(w, "\nsample (temperature %g, top-k %d):\n%s\n", c.Temperature, c.TopK, text)
	}
	return m, h, nil
}

func params(m *tinygpt.Model) int {
	n := 0
	for _, p := range m.Params() {
		n += len(p.Data)
	}
	return n
}
