// Command fashion_cnn trains examples/fashion_cnn/fashion_cnn.mdl, the Keras
// tutorial CNN compiled to the Go package ./fashioncnn, on Fashion-MNIST
// (the Debian package dataset-fashion-mnist) with train.Fit: 10 epochs of
// Adam with batch 128, evaluated on the test set after each epoch, and the
// classification report of the last epoch.
package main

//go:generate go run github.com/mdlc/mdlc/cmd/mdlc build -o fashioncnn fashion_cnn.mdl

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/mdlc/mdlc/examples/fashion_cnn/fashioncnn"
	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/data"
	training "github.com/mdlc/mdlc/train"
)

func main() {
	epochs := flag.Int("epochs", 10, "passes over the training set")
	dir := flag.String("data", "", "directory with the Fashion-MNIST IDX files (default "+data.FashionMNISTDir+")")
	seed := flag.Uint64("seed", 1, "seed of the initializers, dropout and the shuffling")
	save := flag.String("save", "", "write the model to this safetensors file after every epoch (and the best to FILE.best)")
	logdir := flag.String("logdir", "", "write the history, curves, confusion matrix and TensorBoard files here")
	batch := flag.Int("batch", 128, fmt.Sprintf("examples per step (at most %d)", fashioncnn.MaxBatch))
	flag.Parse()
	trainSet, test, err := data.LoadFashionMNIST(*dir)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Fashion-MNIST: %d training and %d test images; BLAS %s\n", trainSet.N, test.N, runtime.BLAS())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	opts := training.Options{Epochs: *epochs, Checkpoint: *save, LogDir: *logdir, Classes: data.FashionMNISTClasses}
	_, h, err := fit(ctx, trainSet, test, opts, *batch, *seed, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	_, accs := h.Series("val_accuracy")
	if len(accs) > 0 {
		fmt.Printf("\ntest accuracy %.2f%% after %d epochs, %s\n", 100*accs[len(accs)-1], len(accs), time.Since(start).Round(time.Second))
	}
	if h.Report != nil {
		fmt.Println("\ntest set, last epoch:")
		h.Report.Table(os.Stdout)
	}
	if *save != "" {
		fmt.Println("saved", *save)
	}
}

// fit trains a fresh model with train.Fit, the test set as validation data.
func fit(ctx context.Context, trainSet, test data.Source, opts training.Options, batch int, seed uint64, w io.Writer) (*fashioncnn.Model, *training.History, error) {
	m := fashioncnn.New(fashioncnn.WithSeed(seed))
	spec := m.Spec()
	tl, err := data.NewLoader(trainSet, spec.Inputs, data.LoaderOptions{BatchSize: batch, Shuffle: true, Seed: seed})
	if err != nil {
		return nil, nil, err
	}
	vl, err := data.NewLoader(test, spec.Inputs, data.LoaderOptions{BatchSize: fashioncnn.MaxBatch})
	if err != nil {
		return nil, nil, err
	}
	opts.Progress = w
	h, err := training.Fit(ctx, m, tl, vl, opts)
	return m, h, err
}
