package augment

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// testdata/keras_ref.json holds images warped by Keras's own scipy path
// (testdata/keras_ref.py: apply_affine_transform with
// scipy.ndimage.affine_transform, then the flips); the one matrix and warp
// here must give the same values.
func TestMatchesKerasScipy(t *testing.T) {
	data, err := os.ReadFile("testdata/keras_ref.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		H, W, C int
		Pix     []uint8
		Cases   []struct {
			Theta, Tx, Ty, Shear float64
			Zx, Zy               *float64
			FlipH                bool   `json:"flip_h"`
			FlipV                bool   `json:"flip_v"`
			FillMode             string `json:"fill_mode"`
			Cval                 float64
			Order                *int // absent: 1 (bilinear)
			Out                  []float64
		}
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	src := Image{Width: ref.W, Height: ref.H, Channels: ref.C, Pix: ref.Pix}
	for i, c := range ref.Cases {
		tr := Transform{Theta: c.Theta, Tx: c.Tx, Ty: c.Ty, Shear: c.Shear, Zx: 1, Zy: 1, FlipHorizontal: c.FlipH, FlipVertical: c.FlipV}
		if c.Zx != nil {
			tr.Zx, tr.Zy = *c.Zx, *c.Zy
		}
		p := Params{Cval: c.Cval}
		if c.FillMode != "" {
			if p.FillMode, err = ParseFillMode(c.FillMode); err != nil {
				t.Fatal(err)
			}
		}
		order := 1
		if c.Order != nil {
			order = *c.Order
		}
		if order == 0 {
			p.Interpolation = Nearest
		}
		got := warp(t, p, src, tr)
		for k := range got {
			if math.Abs(float64(got[k])-c.Out[k]) > 5e-4 {
				t.Errorf("case %d %+v %v order %d: value %d (pixel %d, %d) = %v, Keras %v", i, tr, p.FillMode, order, k, k/ref.C/ref.W, k/ref.C%ref.W, got[k], c.Out[k])
				break
			}
		}
	}
}
