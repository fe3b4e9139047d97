package augment

import (
	"fmt"
	"math"
)

// FillMode says what an output pixel whose source lies outside the image
// gets, as Keras's fill_mode (scipy.ndimage's modes, on the pixel grid).
type FillMode int

const (
	FillNearest  FillMode = iota // aaaa|abcd|dddd: the edge pixel repeated (Keras's default)
	FillConstant                 // kkkk|abcd|kkkk: Params.Cval outside [0, n-1]
	FillReflect                  // dcba|abcd|dcba: mirrored about the edge, edge repeated once
	FillWrap                     // abcd|abcd|abcd: periodic (scipy's grid-wrap; see the package doc)
)

var fillModeNames = [...]string{FillNearest: "nearest", FillConstant: "constant", FillReflect: "reflect", FillWrap: "wrap"}

func (f FillMode) String() string {
	if f >= 0 && int(f) < len(fillModeNames) {
		return fillModeNames[f]
	}
	return fmt.Sprintf("FillMode(%d)", int(f))
}

// ParseFillMode reads Keras's name of a fill mode.
func ParseFillMode(s string) (FillMode, error) {
	for i, n := range fillModeNames {
		if n == s {
			return FillMode(i), nil
		}
	}
	return 0, fmt.Errorf("augment: unknown fill mode %q (want nearest, constant, reflect or wrap)", s)
}

// Interpolation is how a source pixel between grid points is read.
type Interpolation int

const (
	Bilinear Interpolation = iota // Keras's default interpolation_order=1
	Nearest                       // interpolation_order=0: the closest grid point
)

// Params are Keras ImageDataGenerator's geometric augmentation parameters,
// with the same meanings and units. The zero value changes nothing.
type Params struct {
	RotationRange    float64    // degrees: theta uniform in [-r, r]
	WidthShiftRange  float64    // r < 1: a fraction of the width; r >= 1: pixels; shift uniform in [-r, r]
	HeightShiftRange float64    // the same for the height
	ShearRange       float64    // degrees: shear angle uniform in [-r, r]
	ZoomRange        [2]float64 // [lo, hi]: zx and zy each uniform in it; Zoom(z) gives Keras's float form; {0, 0} means none
	HorizontalFlip   bool       // flip columns with probability 1/2
	VerticalFlip     bool       // flip rows with probability 1/2

	FillMode      FillMode
	Cval          float64 // the value outside the image with FillConstant, in pixel units (before Rescale)
	Interpolation Interpolation
	Rescale       float64 // every output value is multiplied by it after the transform; 0 means 1
}

// Zoom is Keras's zoom_range given as one float z: [1-z, 1+z].
func Zoom(z float64) [2]float64 { return [2]float64{1 - z, 1 + z} }

// Validate reports parameters Keras would reject or that make no image.
func (p Params) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"rotation range", p.RotationRange}, {"width shift range", p.WidthShiftRange}, {"height shift range", p.HeightShiftRange}, {"shear range", p.ShearRange}, {"cval", p.Cval}, {"rescale", p.Rescale}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("augment: %s is %v", f.name, f.v)
		}
		if f.v < 0 && f.name != "cval" && f.name != "rescale" {
			return fmt.Errorf("augment: %s %v is negative", f.name, f.v)
		}
	}
	if z := p.ZoomRange; z != [2]float64{} && !(z[0] > 0 && z[0] <= z[1] && !math.IsInf(z[1], 0)) {
		return fmt.Errorf("augment: zoom range %v: want 0 < lo <= hi", z)
	}
	if p.FillMode < FillNearest || p.FillMode > FillWrap {
		return fmt.Errorf("augment: unknown fill mode %v", p.FillMode)
	}
	if p.Interpolation != Bilinear && p.Interpolation != Nearest {
		return fmt.Errorf("augment: unknown interpolation %d", int(p.Interpolation))
	}
	return nil
}

// Transform is one sampled augmentation, in Keras's transform_parameters
// terms: Tx moves along rows and Zx scales rows (Keras names the row axis
// x), Ty and Zy the columns.
type Transform struct {
	Theta          float64 // rotation, degrees
	Tx, Ty         float64 // shift in pixels: rows, columns
	Shear          float64 // degrees
	Zx, Zy         float64 // zoom: rows, columns (1 is none)
	FlipHorizontal bool    // columns reversed after the warp
	FlipVertical   bool    // rows reversed after the warp
}

// Identity is the transform that changes nothing.
var Identity = Transform{Zx: 1, Zy: 1}

// Sample draws the transform of example index in epoch for an h x w image,
// as Keras's get_random_transform: theta, tx (height), ty (width), shear,
// zx, zy, horizontal flip, vertical flip, each uniform as Keras draws it.
// Each parameter has its own draw slot in the (seed, epoch, index) stream,
// so enabling one parameter leaves the others' values unchanged.
func (p Params) Sample(h, w int, seed uint64, epoch uint32, index uint64) Transform {
	s := newStream(seed, epoch, index)
	t := Identity
	u0, u1 := s.uniforms(0)
	u2, u3 := s.uniforms(1)
	u4, u5 := s.uniforms(2)
	u6, u7 := s.uniforms(3)
	if r := p.RotationRange; r != 0 {
		t.Theta = uniform(-r, r, u0)
	}
	t.Tx = shift(p.HeightShiftRange, h, u1)
	t.Ty = shift(p.WidthShiftRange, w, u2)
	if r := p.ShearRange; r != 0 {
		t.Shear = uniform(-r, r, u3)
	}
	if z := p.ZoomRange; z != [2]float64{} && z != [2]float64{1, 1} {
		t.Zx = uniform(z[0], z[1], u4)
		t.Zy = uniform(z[0], z[1], u5)
	}
	t.FlipHorizontal = p.HorizontalFlip && u6 < 0.5
	t.FlipVertical = p.VerticalFlip && u7 < 0.5
	return t
}

func uniform(lo, hi, u float64) float64 { return lo + (hi-lo)*u }

// shift is Keras's float shift range: uniform in [-r, r], times the size
// when r < 1.
func shift(r float64, size int, u float64) float64 {
	if r == 0 {
		return 0
	}
	v := uniform(-r, r, u)
	if r < 1 {
		v *= float64(size)
	}
	return v
}

// Matrix is a 3x3 affine map of homogeneous pixel coordinates (row, col, 1);
// a warp by M gives output pixel o the source value at M o (it maps output
// to input, as scipy.ndimage.affine_transform).
type Matrix [3][3]float64

// Mul returns m n (n applied first).
func (m Matrix) Mul(n Matrix) Matrix {
	var r Matrix
	for i := range 3 {
		for j := range 3 {
			for k := range 3 {
				r[i][j] += m[i][k] * n[k][j]
			}
		}
	}
	return r
}

// Apply returns m (row, col, 1).
func (m Matrix) Apply(row, col float64) (float64, float64) {
	return m[0][0]*row + m[0][1]*col + m[0][2], m[1][0]*row + m[1][1]*col + m[1][2]
}

// Eye is the identity matrix.
var Eye = Matrix{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}

// Matrix is the one warp of t on an h x w image, composed as Keras's
// apply_affine_transform: rotation @ shift @ shear @ zoom, conjugated by a
// move of the origin to the image center ((h-1)/2, (w-1)/2); then the flips,
// which Keras applies to the warped image, as a reindexing of the output.
func (t Transform) Matrix(h, w int) Matrix {
	a := Eye
	if t.Theta != 0 {
		th := t.Theta * math.Pi / 180
		s, c := math.Sincos(th)
		a = a.Mul(Matrix{{c, -s, 0}, {s, c, 0}, {0, 0, 1}})
	}
	if t.Tx != 0 || t.Ty != 0 {
		a = a.Mul(Matrix{{1, 0, t.Tx}, {0, 1, t.Ty}, {0, 0, 1}})
	}
	if t.Shear != 0 {
		sh := t.Shear * math.Pi / 180
		s, c := math.Sincos(sh)
		a = a.Mul(Matrix{{1, -s, 0}, {0, c, 0}, {0, 0, 1}})
	}
	if t.Zx != 1 || t.Zy != 1 {
		a = a.Mul(Matrix{{t.Zx, 0, 0}, {0, t.Zy, 0}, {0, 0, 1}})
	}
	or, oc := float64(h)/2-0.5, float64(w)/2-0.5
	m := Matrix{{1, 0, or}, {0, 1, oc}, {0, 0, 1}}.Mul(a).Mul(Matrix{{1, 0, -or}, {0, 1, -oc}, {0, 0, 1}})
	if t.FlipVertical {
		m = m.Mul(Matrix{{-1, 0, float64(h - 1)}, {0, 1, 0}, {0, 0, 1}})
	}
	if t.FlipHorizontal {
		m = m.Mul(Matrix{{1, 0, 0}, {0, -1, float64(w - 1)}, {0, 0, 1}})
	}
	return m
}
