package train_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/data"
	"github.com/mdlc/mdlc/train"
)

// images is a data.ImageSource of 28x28 gray images with int labels.
type images struct {
	pix    []uint8
	labels []int32
}

func newImages(n int, seed uint64) *images {
	d := synthetic(n, seed)
	im := &images{pix: make([]uint8, len(d.X)), labels: d.Y}
	for i, v := range d.X {
		im.pix[i] = uint8(min(v, 1) * 255)
	}
	return im
}

func (s *images) Len() int { return len(s.labels) }
func (s *images) Fields() []data.Field {
	return []data.Field{{Name: "image", DType: runtime.F32, Shape: []int{28, 28, 1}}, {Name: "label", DType: runtime.I32, Shape: []int{}}}
}
func (s *images) Read(f, i int, dst runtime.Value) error {
	if f == 1 {
		dst.I32[0] = s.labels[i]
		return nil
	}
	data.RescaleInto(dst.F32, s.pix[i*784:(i+1)*784], 1.0/255)
	return nil
}
func (s *images) ImageShape() (h, w, c int)    { return 28, 28, 1 }
func (s *images) Image(i int) ([]uint8, error) { return s.pix[i*784 : (i+1)*784], nil }

// Augmented training resumed after one epoch equals two epochs straight,
// and any number of workers gives the same parameters.
func TestAugmentedResumeIsExact(t *testing.T) {
	p, err := train.ParseAugment("rotation=15,width_shift=0.1,height_shift=0.1,zoom=0.1")
	if err != nil {
		t.Fatal(err)
	}
	loaders := func(m runtime.Model) (*data.Loader, *data.Loader) {
		aug, err := train.NewAugmented(newImages(200, 1), p, 5)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := data.NewLoader(aug, m.Spec().Inputs, data.LoaderOptions{BatchSize: 32, Shuffle: true, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		val, err := data.NewLoader(newImages(50, 2), m.Spec().Inputs, data.LoaderOptions{BatchSize: 50})
		if err != nil {
			t.Fatal(err)
		}
		return tr, val
	}
	var runs [][]runtime.Tensor
	for _, c := range []struct {
		resume  bool
		workers int
	}{{false, 1}, {true, 1}, {false, 3}} {
		m := newModel()
		tr, val := loaders(m)
		ckpt := filepath.Join(t.TempDir(), "m.safetensors")
		if c.resume {
			if _, err := train.Fit(context.Background(), m, tr, val, train.Options{Epochs: 1, Checkpoint: ckpt, Workers: c.workers}); err != nil {
				t.Fatal(err)
			}
			m = newModel()
			tr, val = loaders(m)
		}
		h, err := train.Fit(context.Background(), m, tr, val, train.Options{Epochs: 2, Checkpoint: ckpt, Resume: c.resume, Workers: c.workers})
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Rows) != 2 {
			t.Fatalf("%+v: %d epochs in the history", c, len(h.Rows))
		}
		runs = append(runs, m.Params())
	}
	for r := 1; r < len(runs); r++ {
		for i := range runs[0] {
			if !slices.Equal(runs[0][i].Data, runs[r][i].Data) {
				t.Fatalf("run %d: %s differs from the straight run", r, runs[0][i].Name)
			}
		}
	}
	// Augmentation changes the images, and differently per epoch.
	aug, _ := train.NewAugmented(newImages(1, 1), p, 5)
	a, b, plain := make([]float32, 784), make([]float32, 784), make([]float32, 784)
	aug.ReadEpoch(0, 0, 0, runtime.Value{F32: a})
	aug.ReadEpoch(0, 0, 1, runtime.Value{F32: b})
	aug.Read(0, 0, runtime.Value{F32: plain})
	orig := make([]float32, 784)
	newImages(1, 1).Read(0, 0, runtime.Value{F32: orig})
	if slices.Equal(a, plain) || slices.Equal(a, b) || !slices.Equal(plain, orig) {
		t.Errorf("augmented images: epoch 0 equals the original %v, equals epoch 1 %v; Read is the original %v", slices.Equal(a, plain), slices.Equal(a, b), slices.Equal(plain, orig))
	}
}
