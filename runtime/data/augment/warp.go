package augment

import (
	"fmt"
	"math"
)

// Image is a decoded image as loaders cache it: 8-bit samples, HWC order
// (row-major pixels, channels interleaved).
type Image struct {
	Width, Height, Channels int
	Pix                     []uint8 // (Height, Width, Channels)
}

func (im Image) check() error {
	if im.Width <= 0 || im.Height <= 0 || im.Channels <= 0 {
		return fmt.Errorf("augment: image size %dx%dx%d", im.Height, im.Width, im.Channels)
	}
	if len(im.Pix) != im.Width*im.Height*im.Channels {
		return fmt.Errorf("augment: image %dx%dx%d has %d samples, want %d", im.Height, im.Width, im.Channels, len(im.Pix), im.Width*im.Height*im.Channels)
	}
	return nil
}

// Apply samples the transform of (seed, epoch, index), warps src by it and
// writes the result into dst (Height, Width, Channels) as float32, rescaled.
func (p Params) Apply(dst []float32, src Image, seed uint64, epoch uint32, index uint64) (Transform, error) {
	t := p.Sample(src.Height, src.Width, seed, epoch, index)
	return t, p.Warp(dst, src, t.Matrix(src.Height, src.Width))
}

// Warp writes into dst (src.Height, src.Width, src.Channels) the image src
// warped by m: output pixel (r, c) reads src at m (r, c, 1), interpolated
// and filled as p says, times p.Rescale.
func (p Params) Warp(dst []float32, src Image, m Matrix) error {
	if err := src.check(); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	h, w, ch := src.Height, src.Width, src.Channels
	if len(dst) != h*w*ch {
		return fmt.Errorf("augment: output buffer has %d values, want %d (%dx%dx%d)", len(dst), h*w*ch, h, w, ch)
	}
	scale := float32(1)
	if p.Rescale != 0 {
		scale = float32(p.Rescale)
	}
	wp := warper{src: src.Pix, h: h, w: w, ch: ch, mode: p.FillMode, cval: float32(p.Cval) * scale, scale: scale}
	for r := range h {
		row := dst[r*w*ch : (r+1)*w*ch]
		if p.Interpolation == Nearest {
			wp.nearestRow(row, m, r)
		} else {
			wp.bilinearRow(row, m, r)
		}
	}
	return nil
}

type warper struct {
	src         []uint8
	h, w, ch    int
	mode        FillMode
	cval, scale float32
}

// bilinearRow fills output row r. The source point moves by (m01, m11) per
// column; a point whose four neighbours are inside reads them directly, the
// others map each neighbour's index through the fill mode.
func (wp *warper) bilinearRow(row []float32, m Matrix, r int) {
	src, h, w, ch := wp.src, wp.h, wp.w, wp.ch
	for c := range w {
		y, x := m.Apply(float64(r), float64(c))
		out := row[c*ch : (c+1)*ch]
		// Compare as floats first: a far-off point must not overflow int.
		if y >= 0 && x >= 0 && y < float64(h-1) && x < float64(w-1) {
			yi, xi := int(y), int(x) // floor, as both are >= 0
			fy, fx := float32(y-float64(yi)), float32(x-float64(xi))
			i00 := (yi*w + xi) * ch
			i10 := i00 + w*ch
			if ch == 3 { // RGB unrolled: the common case
				a, b := src[i00:i00+6:i00+6], src[i10:i10+6:i10+6]
				o := out[:3:3]
				for k := range 3 {
					p00, p01 := float32(a[k]), float32(a[k+3])
					p10, p11 := float32(b[k]), float32(b[k+3])
					top := p00 + fx*(p01-p00)
					bot := p10 + fx*(p11-p10)
					o[k] = (top + fy*(bot-top)) * wp.scale
				}
				continue
			}
			for k := range out {
				p00, p01 := float32(src[i00+k]), float32(src[i00+ch+k])
				p10, p11 := float32(src[i10+k]), float32(src[i10+ch+k])
				top := p00 + fx*(p01-p00)
				bot := p10 + fx*(p11-p10)
				out[k] = (top + fy*(bot-top)) * wp.scale
			}
			continue
		}
		if wp.mode == FillConstant && (y < 0 || x < 0 || y > float64(h-1) || x > float64(w-1) || math.IsNaN(y+x)) {
			for k := range out {
				out[k] = wp.cval
			}
			continue
		}
		yf, xf := math.Floor(y), math.Floor(x)
		fy, fx := float32(y-yf), float32(x-xf)
		y0, y1 := wp.index(yf, h), wp.index(yf+1, h)
		x0, x1 := wp.index(xf, w), wp.index(xf+1, w)
		for k := range out {
			p00, p01 := float32(src[(y0*w+x0)*ch+k]), float32(src[(y0*w+x1)*ch+k])
			p10, p11 := float32(src[(y1*w+x0)*ch+k]), float32(src[(y1*w+x1)*ch+k])
			top := p00 + fx*(p01-p00)
			bot := p10 + fx*(p11-p10)
			out[k] = (top + fy*(bot-top)) * wp.scale
		}
	}
}

// nearestRow fills output row r from the grid point closest to each source
// point (halves round away from zero).
func (wp *warper) nearestRow(row []float32, m Matrix, r int) {
	src, h, w, ch := wp.src, wp.h, wp.w, wp.ch
	for c := range w {
		y, x := m.Apply(float64(r), float64(c))
		out := row[c*ch : (c+1)*ch]
		yr, xr := math.Round(y), math.Round(x)
		// As scipy: constant decides on the point, not its grid point.
		if wp.mode == FillConstant && !(y >= 0 && x >= 0 && y <= float64(h-1) && x <= float64(w-1)) {
			for k := range out {
				out[k] = wp.cval
			}
			continue
		}
		i := (wp.index(yr, h)*w + wp.index(xr, w)) * ch
		for k := range out {
			out[k] = float32(src[i+k]) * wp.scale
		}
	}
}

// index maps grid index i (a whole number, possibly outside [0, n)) into
// [0, n) by the fill mode; FillConstant clamps (its outside points are
// decided before).
func (wp *warper) index(i float64, n int) int {
	if math.IsNaN(i) {
		return 0
	}
	switch wp.mode {
	case FillReflect:
		// Period 2n: dcba|abcd|dcba.
		i = math.Mod(i, float64(2*n))
		if i < 0 {
			i += float64(2 * n)
		}
		if k := int(i); k < n {
			return k
		} else {
			return 2*n - 1 - k
		}
	case FillWrap:
		i = math.Mod(i, float64(n))
		if i < 0 {
			i += float64(n)
		}
		return int(i)
	default:
		if i < 0 {
			return 0
		}
		if i > float64(n-1) {
			return n - 1
		}
		return int(i)
	}
}
