package data

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadFashionMNISTSmall(t *testing.T) {
	dir := t.TempDir()
	_, _, err := LoadFashionMNIST(dir)
	if !errors.Is(err, ErrNoFashionMNIST) || !strings.Contains(err.Error(), "dataset-fashion-mnist") {
		t.Fatalf("empty dir: %v", err)
	}
	_, _, err = LoadFashionMNIST(filepath.Join(dir, "absent"))
	if !errors.Is(err, ErrNoFashionMNIST) || !strings.Contains(err.Error(), "absent does not exist") {
		t.Fatalf("missing dir: %v", err)
	}
	img := make([]byte, 2*28*28)
	img[0] = 255
	write := func(name string, b []byte) { os.WriteFile(filepath.Join(dir, name), b, 0o644) }
	write("train-images-idx3-ubyte.gz", gz(idxBytes([]int{2, 28, 28}, img)))
	write("train-labels-idx1-ubyte.gz", gz(idxBytes([]int{2}, []byte{9, 0})))
	write("t10k-images-idx3-ubyte.gz", gz(idxBytes([]int{1, 28, 28}, img[:784])))
	if _, _, err := LoadFashionMNIST(dir); !errors.Is(err, ErrNoFashionMNIST) || !strings.Contains(err.Error(), "t10k-labels-idx1-ubyte") {
		t.Fatalf("one file missing: %v", err)
	}
	write("t10k-labels-idx1-ubyte.gz", gz(idxBytes([]int{1}, []byte{3})))
	train, test, err := LoadFashionMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 2 || test.N != 1 || train.X[0] != 1 || !slices.Equal(train.Y, []int32{9, 0}) || test.Y[0] != 3 {
		t.Fatalf("train %d %v, test %d %v", train.N, train.Y, test.N, test.Y)
	}
	if f := train.Fields()[0]; !slices.Equal(f.Shape, []int{28, 28, 1}) {
		t.Fatalf("image field shape %v, want [28 28 1]", f.Shape)
	}
	write("t10k-images-idx3-ubyte.gz", gz(idxBytes([]int{1, 27, 29}, img[:27*29])))
	if _, _, err := LoadFashionMNIST(dir); err == nil || !strings.Contains(err.Error(), "27x29") {
		t.Fatalf("wrong size: %v", err)
	}
}

// TestLoadFashionMNIST reads the Debian package's files; it skips when the
// package is not installed, unless MDLC_CI=1.
func TestLoadFashionMNIST(t *testing.T) {
	train, test, err := LoadFashionMNIST("")
	if errors.Is(err, ErrNoFashionMNIST) && os.Getenv("MDLC_CI") != "1" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 60000 || test.N != 10000 || train.Dim != 784 || len(train.X) != 60000*784 {
		t.Fatalf("train %d×%d, test %d×%d", train.N, train.Dim, test.N, test.Dim)
	}
	if train.Y[0] != 9 || test.Y[0] != 9 {
		t.Fatalf("first labels %d %d, want 9 9 (ankle boots)", train.Y[0], test.Y[0])
	}
	counts := make([]int, 10)
	for _, y := range test.Y {
		counts[y]++
	}
	for c, k := range counts {
		if k != 1000 {
			t.Fatalf("test class %d (%s) has %d images, want 1000", c, FashionMNISTClasses[c], k)
		}
	}
}
