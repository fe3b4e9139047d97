package main

import (
	"os"
	"testing"

	"github.com/mdlc/mdlc/runtime/data"
)

// TestMNISTAccuracy trains the generated MLP on MNIST for 5 epochs, as
// `go run ./examples/mnist_mlp` does, and requires 97.5% test accuracy.
func TestMNISTAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for 5 epochs")
	}
	dir, err := data.GoMNISTDir()
	if err != nil {
		t.Fatal(err)
	}
	trainSet, test, err := data.LoadMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, accs := train(trainSet, test, 5, 64, 1, os.Stdout)
	best := 0.0
	for _, a := range accs {
		best = max(best, a)
	}
	if best < 0.975 {
		t.Errorf("best test accuracy in 5 epochs %.2f%%, want >= 97.5%%", 100*best)
	}
}
