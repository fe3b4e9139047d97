package train

// Augmented images for training: a data.EpochSource over an ImageSource
// whose image field, read for an epoch, is the cached image warped by
// augment.Params with the transform of (seed, epoch, example index), so the
// images of an epoch are a function of (seed, epoch) as the order is, and a
// resumed run sees the same ones. A Loader's Load reads them that way; Fit
// fills batches on its prefetching workers (Options.Workers), so the warps
// run off the training goroutine. (augment.Pipeline, which fills whole
// batches of images on its own workers, is not used.)

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/data"
	"github.com/mdlc/mdlc/runtime/data/augment"
)

// Augmented is src with its first field (the image) augmented when read
// for an epoch (ReadEpoch); Read gives the images as they are.
type Augmented struct {
	Src     data.ImageSource
	Params  augment.Params
	Seed    uint64
	h, w, c int
}

// NewAugmented augments src's images with p; the values are rescaled by
// src's Rescale when it has one (as data.ImageFolder), else 1/255.
func NewAugmented(src data.ImageSource, p augment.Params, seed uint64) (*Augmented, error) {
	if p.Rescale == 0 {
		p.Rescale = 1.0 / 255
		if r, ok := src.(interface{ Rescale() float32 }); ok {
			p.Rescale = float64(r.Rescale())
		} else if s, ok := src.(*data.Subset); ok {
			if r, ok := s.Src.(interface{ Rescale() float32 }); ok {
				p.Rescale = float64(r.Rescale())
			}
		}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	a := &Augmented{Src: src, Params: p, Seed: seed}
	a.h, a.w, a.c = src.ImageShape()
	return a, nil
}

func (a *Augmented) Len() int             { return a.Src.Len() }
func (a *Augmented) Fields() []data.Field { return a.Src.Fields() }

// Read reads example i without augmentation.
func (a *Augmented) Read(f, i int, dst runtime.Value) error { return a.Src.Read(f, i, dst) }

// ReadEpoch reads example i as augmented in epoch.
func (a *Augmented) ReadEpoch(f, i, epoch int, dst runtime.Value) error {
	if f != 0 {
		return a.Src.Read(f, i, dst)
	}
	pix, err := a.Src.Image(i)
	if err != nil {
		return err
	}
	if len(dst.F32) != a.h*a.w*a.c {
		return fmt.Errorf("image destination holds %d float32 values, want %d", len(dst.F32), a.h*a.w*a.c)
	}
	im := augment.Image{Height: a.h, Width: a.w, Channels: a.c, Pix: pix}
	_, err = a.Params.Apply(dst.F32, im, a.Seed, uint32(epoch), uint64(i))
	return err
}

// ParseAugment reads Keras ImageDataGenerator's names:
// rotation=DEG (rotation_range), width_shift=F, height_shift=F, shear=DEG
// (shear_range), zoom=F (zoom_range [1-F, 1+F]) or zoom=LO:HI, hflip,
// vflip, fill=nearest|constant|reflect|wrap, cval=V.
func ParseAugment(s string) (augment.Params, error) {
	var p augment.Params
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, hasV := strings.Cut(item, "=")
		num := func() (float64, error) {
			if !hasV {
				return 0, fmt.Errorf("-augment %s: want %s=VALUE", k, k)
			}
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("-augment %s=%s: not a number", k, v)
			}
			return x, nil
		}
		var err error
		switch k {
		case "rotation", "rotation_range":
			p.RotationRange, err = num()
		case "width_shift", "width_shift_range":
			p.WidthShiftRange, err = num()
		case "height_shift", "height_shift_range":
			p.HeightShiftRange, err = num()
		case "shear", "shear_range":
			p.ShearRange, err = num()
		case "zoom", "zoom_range":
			if lo, hi, ok := strings.Cut(v, ":"); ok {
				a, e1 := strconv.ParseFloat(lo, 64)
				b, e2 := strconv.ParseFloat(hi, 64)
				if e1 != nil || e2 != nil {
					return p, fmt.Errorf("-augment zoom=%s: want F or LO:HI", v)
				}
				p.ZoomRange = [2]float64{a, b}
			} else {
				var z float64
				z, err = num()
				p.ZoomRange = augment.Zoom(z)
			}
		case "hflip", "horizontal_flip":
			p.HorizontalFlip = true
		case "vflip", "vertical_flip":
			p.VerticalFlip = true
		case "fill", "fill_mode":
			p.FillMode, err = augment.ParseFillMode(v)
		case "cval":
			p.Cval, err = num()
		default:
			return p, fmt.Errorf("-augment: unknown %q (rotation, width_shift, height_shift, shear, zoom, hflip, vflip, fill, cval)", k)
		}
		if err != nil {
			return p, err
		}
	}
	return p, p.Validate()
}
