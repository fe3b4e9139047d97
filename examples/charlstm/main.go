// Command charlstm trains examples/charlstm/charlstm.mdl, a 2-layer LSTM
// byte-level language model compiled to the Go package ./charlstm, on Isaac
// Newton's Opticks (the text in every Go installation's src/testdata), cut
// 90/10 into training and validation bytes and into windows of 64 bytes.
// Each epoch prints the training and validation loss in nats per byte;
// then it samples text from the model, one byte at a time, with a
// temperature and a top-k cut (train/sample), as examples/tinygpt does.
package main

//go:generate go run github.com/mdlc/mdlc/cmd/mdlc build -o charlstm -batch 32 charlstm.mdl

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/mdlc/mdlc/examples/charlstm/charlstm"
	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/data"
	training "github.com/mdlc/mdlc/train"
	"github.com/mdlc/mdlc/train/sample"
)

func main() {
	epochs := flag.Int("epochs", 10, "passes over the training windows (0: only sample)")
	text := flag.String("text", "", "the text to model (default: $GOROOT/src/testdata/Isaac.Newton-Opticks.txt)")
	stride := flag.Int("stride", 64, "bytes between the starts of consecutive training windows")
	seed := flag.Uint64("seed", 1, "seed of the initializers and the shuffling")
	save := flag.String("save", "", "write the model to this safetensors file after every epoch")
	load := flag.String("load", "", "start from the model saved in this safetensors file")
	batch := flag.Int("batch", charlstm.MaxBatch, fmt.Sprintf("windows per step (at most %d)", charlstm.MaxBatch))
	generate := flag.Int("n", 400, "bytes to sample after training")
	prompt := flag.String("prompt", "The Rays of Light ", "text the sample starts with")
	temperature := flag.Float64("temperature", 0.8, "sampling temperature (below 1: more conservative)")
	topK := flag.Int("topk", 40, "sample among the k most likely bytes (0: all)")
	flag.Parse()
	if *text == "" {
		path, err := data.OpticksPath()
		if err != nil {
			log.Fatalf("%v (or pass -text)", err)
		}
		*text = path
	}
	all, err := data.LoadText(*text, 64, *stride)
	if err != nil {
		log.Fatal(err)
	}
	trainSet, val, err := all.Split(0.1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d training and %d validation windows of 64 bytes; BLAS %s\n", filepath.Base(*text), trainSet.Len(), val.Len(), runtime.BLAS())

	m := charlstm.New(charlstm.WithSeed(*seed))
	if *load != "" {
		if err := m.Load(*load); err != nil {
			log.Fatal(err)
		}
	}
	spec := m.Spec()
	tl, err := data.NewLoader(trainSet, spec.Inputs, data.LoaderOptions{BatchSize: *batch, Shuffle: true, Seed: *seed})
	if err != nil {
		log.Fatal(err)
	}
	vl, err := data.NewLoader(val, spec.Inputs, data.LoaderOptions{BatchSize: charlstm.MaxBatch})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *epochs > 0 { // -epochs 0 only samples (from -load)
		start := time.Now()
		h, err := training.Fit(ctx, m, tl, vl, training.Options{Epochs: *epochs, Checkpoint: *save, Progress: os.Stdout})
		if err != nil {
			log.Fatal(err)
		}
		_, losses := h.Series("val_loss")
		if len(losses) > 0 {
			fmt.Printf("\nvalidation loss %.3f nats/byte after %d epochs, %s\n", losses[len(losses)-1], len(losses), time.Since(start).Round(time.Second))
		}
	}
	if *save != "" {
		fmt.Println("saved", *save)
	}
	if *generate > 0 {
		s, err := sample.New(m, sample.Options{Temperature: *temperature, TopK: *topK, Seed: *seed, Pad: ' '})
		if err != nil {
			log.Fatal(err)
		}
		start := make([]int32, len(*prompt))
		for i := range len(*prompt) {
			start[i] = int32((*prompt)[i])
		}
		out, err := s.Generate(start, *generate)
		if err != nil {
			log.Fatal(err)
		}
		text := make([]byte, len(out))
		for i, b := range out {
			text[i] = byte(b)
		}
		fmt.Printf("\nsample (temperature %g, top-k %d):\n%s\n", *temperature, *topK, text)
	}
}
