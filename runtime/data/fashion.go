package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// FashionMNISTDir is where the Debian package dataset-fashion-mnist
// installs Fashion-MNIST's four gzip'd IDX files.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// FashionMNISTClasses are Fashion-MNIST's class names; label i is
// FashionMNISTClasses[i].
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// ErrNoFashionMNIST is wrapped by LoadFashionMNIST's error when the
// directory lacks the dataset's files.
var ErrNoFashionMNIST = errors.New("Fashion-MNIST not found")

// LoadFashionMNIST reads Fashion-MNIST (60,000 training and 10,000 test
// images of 28x28 grayscale clothing, 10 classes) from dir, or from
// FashionMNISTDir when dir is "". The files are MNIST's
// (train-images-idx3-ubyte, ... each raw or .gz; see LoadMNIST); the
// examples' shape is [28 28 1], an NHWC image without the batch axis.
// When a file is missing the error wraps ErrNoFashionMNIST and says how to
// install the Debian package.
func LoadFashionMNIST(dir string) (train, test *Dataset, err error) {
	if dir == "" {
		dir = FashionMNISTDir
	}
	for _, name := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
		if _, err := findIDX(dir, name); err != nil {
			if _, statErr := os.Stat(dir); errors.Is(statErr, fs.ErrNotExist) {
				err = fmt.Errorf("%s does not exist", dir)
			}
			return nil, nil, fmt.Errorf("data: %w: %v; install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist), which puts the files in %s, or name their directory", ErrNoFashionMNIST, err, FashionMNISTDir)
		}
	}
	train, test, err = LoadMNIST(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("data: Fashion-MNIST: %w", err)
	}
	for _, d := range []*Dataset{train, test} {
		if d.Shape[0] != 28 || d.Shape[1] != 28 {
			return nil, nil, fmt.Errorf("data: Fashion-MNIST in %s: images are %dx%d, want 28x28", dir, d.Shape[0], d.Shape[1])
		}
		d.Shape = []int{28, 28, 1}
	}
	return train, test, nil
}
