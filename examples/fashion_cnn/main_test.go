package main

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/mdlc/mdlc/runtime/data"
	training "github.com/mdlc/mdlc/train"
)

// TestFashionAccuracy trains the generated CNN for one epoch on the first
// 12,000 Fashion-MNIST training images and requires 75% accuracy on the
// first 2,000 test images (measured: 77.65%). The full run, `go run
// ./examples/fashion_cnn`, reached 91.3% at epoch 9 and 91.0% at epoch 10
// (README). It skips when the Debian package dataset-fashion-mnist is not
// installed, unless MDLC_CI=1.
func TestFashionAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for an epoch")
	}
	trainSet, test, err := data.LoadFashionMNIST("")
	if errors.Is(err, data.ErrNoFashionMNIST) && os.Getenv("MDLC_CI") != "1" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	first := func(src *data.Dataset, n int) *data.Subset {
		s := &data.Subset{Src: src, Index: make([]int, n)}
		for i := range s.Index {
			s.Index[i] = i
		}
		return s
	}
	_, h, err := fit(context.Background(), first(trainSet, 12000), first(test, 2000), training.Options{Epochs: 1}, 128, 1, os.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	_, accs := h.Series("val_accuracy")
	if len(accs) != 1 || accs[0] < 0.75 {
		t.Errorf("test accuracy after one epoch on 12,000 images %v, want >= 75%%", accs)
	}
}
