// Command charlstm trains examples/charlstm/charlstm.mdl, a 2-layer LSTM
// byte-level language model compiled to the Go package ./charlstm, on Isaac
// Newton's Opticks (the text in every Go installation's src/testdata), cut
// 90/10 into training and validation bytes and into windows of 64 bytes.
// Each epoch prints the training and validation loss in nats per byte.
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
	goruntime "runtime"
	"time"

	"github.com/mdlc/mdlc/examples/charlstm/charlstm"
	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/data"
	training "github.com/mdlc/mdlc/train"
)

func main() {
	epochs := flag.Int("epochs", 10, "passes over the training windows")
	text := flag.String("text", filepath.Join(goruntime.GOROOT(), "src", "testdata", "Isaac.Newton-Opticks.txt"), "the text to model")
	stride := flag.Int("stride", 64, "bytes between the starts of consecutive training windows")
	seed := flag.Uint64("seed", 1, "seed of the initializers and the shuffling")
	save := flag.String("save", "", "write the model to this safetensors file after every epoch")
	load := flag.String("load", "", "start from the model saved in this safetensors file")
	batch := flag.Int("batch", charlstm.MaxBatch, fmt.Sprintf("windows per step (at most %d)", charlstm.MaxBatch))
	flag.Parse()
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
	start := time.Now()
	h, err := training.Fit(ctx, m, tl, vl, training.Options{Epochs: *epochs, Checkpoint: *save, Progress: os.Stdout})
	if err != nil {
		log.Fatal(err)
	}
	_, losses := h.Series("val_loss")
	if len(losses) > 0 {
		fmt.Printf("\nvalidation loss %.3f nats/byte after %d epochs, %s\n", losses[len(losses)-1], len(losses), time.Since(start).Round(time.Second))
	}
	if *save != "" {
		fmt.Println("saved", *save)
	}
}
