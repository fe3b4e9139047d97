package augment

import (
	"math"
	"math/rand/v2"
	"testing"
)

// dot is an h x w one-channel black image with one white pixel at (r, c).
func dot(h, w, r, c int) Image {
	im := Image{Width: w, Height: h, Channels: 1, Pix: make([]uint8, h*w)}
	im.Pix[r*w+c] = 255
	return im
}

func warp(t *testing.T, p Params, src Image, tr Transform) []float32 {
	t.Helper()
	dst := make([]float32, src.Height*src.Width*src.Channels)
	if err := p.Warp(dst, src, tr.Matrix(src.Height, src.Width)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// expect checks a one-channel output: the listed pixels have their values,
// every other pixel is 0.
func expect(t *testing.T, name string, got []float32, h, w int, want map[[2]int]float64) {
	t.Helper()
	for r := range h {
		for c := range w {
			v := want[[2]int{r, c}]
			if g := float64(got[r*w+c]); math.Abs(g-v) > 1e-3 {
				t.Errorf("%s: pixel (%d, %d) = %v, want %v", name, r, c, g, v)
			}
		}
	}
}

// Hand-computed positions. Output pixel o reads input M o; the center of an
// n x n image is ((n-1)/2, (n-1)/2).
func TestTransformsMovePixels(t *testing.T) {
	var p Params
	with := func(f func(*Transform)) Transform { tr := Identity; f(&tr); return tr }

	// theta = 90 on 5x5 (center 2): output (r, c) reads (4-c, r), so the
	// pixel at (0, 2) (top middle) lands at (2, 4) (right middle).
	expect(t, "rotate 90", warp(t, p, dot(5, 5, 0, 2), with(func(t *Transform) { t.Theta = 90 })), 5, 5, map[[2]int]float64{{2, 4}: 255})
	// theta = -90: output (r, c) reads (c, 4-r): (0, 2) lands at (2, 0).
	expect(t, "rotate -90", warp(t, p, dot(5, 5, 0, 2), with(func(t *Transform) { t.Theta = -90 })), 5, 5, map[[2]int]float64{{2, 0}: 255})
	// theta = 180: (1, 0) lands at (3, 4).
	expect(t, "rotate 180", warp(t, p, dot(5, 5, 1, 0), with(func(t *Transform) { t.Theta = 180 })), 5, 5, map[[2]int]float64{{3, 4}: 255})

	// tx = 1, ty = 2: output (r, c) reads (r+1, c+2): (3, 3) lands at (2, 1).
	expect(t, "shift", warp(t, p, dot(5, 5, 3, 3), with(func(t *Transform) { t.Tx, t.Ty = 1, 2 })), 5, 5, map[[2]int]float64{{2, 1}: 255})
	// A fractional shift splits the pixel: ty = 0.25 reads (r, c+0.25).
	expect(t, "shift 1/4", warp(t, p, dot(5, 5, 2, 2), with(func(t *Transform) { t.Ty = 0.25 })), 5, 5, map[[2]int]float64{{2, 2}: 255 * 0.75, {2, 1}: 255 * 0.25})

	// Flips on 4 rows x 5 columns: (1, 0) lands at (1, 4), (2, 0), (2, 4).
	expect(t, "flip h", warp(t, p, dot(4, 5, 1, 0), with(func(t *Transform) { t.FlipHorizontal = true })), 4, 5, map[[2]int]float64{{1, 4}: 255})
	expect(t, "flip v", warp(t, p, dot(4, 5, 1, 0), with(func(t *Transform) { t.FlipVertical = true })), 4, 5, map[[2]int]float64{{2, 0}: 255})
	expect(t, "flip both", warp(t, p, dot(4, 5, 1, 0), with(func(t *Transform) { t.FlipHorizontal, t.FlipVertical = true, true })), 4, 5, map[[2]int]float64{{2, 4}: 255})

	// zx = zy = 2 on 7x7 (center 3): output o reads 2o-3, the content
	// shrinks about the center: (1, 1) lands at (2, 2); zoom only rows
	// (zx): (1, 5) lands at (2, 5).
	expect(t, "zoom 2", warp(t, p, dot(7, 7, 1, 1), with(func(t *Transform) { t.Zx, t.Zy = 2, 2 })), 7, 7, map[[2]int]float64{{2, 2}: 255})
	expect(t, "zoom rows 2", warp(t, p, dot(7, 7, 1, 5), with(func(t *Transform) { t.Zx = 2 })), 7, 7, map[[2]int]float64{{2, 5}: 255})
	// zx = zy = 1/2: output o reads 3 + (o-3)/2, the content grows: (2, 2)
	// covers (1, 1) fully, and (0, 0), (0, 2), (2, 0), (2, 2) read a point
	// midway between it and its neighbours in both axes (1/4), (0, 1), (1, 0),
	// (1, 2), (2, 1) midway in one axis (1/2).
	expect(t, "zoom 1/2", warp(t, p, dot(7, 7, 2, 2), with(func(t *Transform) { t.Zx, t.Zy = 0.5, 0.5 })), 7, 7, map[[2]int]float64{
		{1, 1}: 255, {0, 0}: 255. / 4, {0, 2}: 255. / 4, {2, 0}: 255. / 4, {2, 2}: 255. / 4,
		{0, 1}: 255. / 2, {1, 0}: 255. / 2, {1, 2}: 255. / 2, {2, 1}: 255. / 2,
	})

	// shear = 60 on 7x7: output (r, c) reads row r - sin60 (c-3), column
	// 3 + (c-3)/2. The pixel at (3, 4) is read by column 5 (exactly column 4)
	// from rows 4 and 5 (rows 2.268 and 3.268), by column 4 (column 3.5, half
	// weight) from rows 3 and 4 (rows 2.134, 3.134), and by column 6 (column
	// 4.5) from rows 5 and 6 (rows 2.402, 3.402).
	s := math.Sin(math.Pi / 3)
	fr := func(y float64) float64 { return y - math.Floor(y) }
	sheared := warp(t, p, dot(7, 7, 3, 4), with(func(t *Transform) { t.Shear = 60 }))
	want := map[[2]int]float64{
		{4, 5}: 255 * fr(4-2*s), {5, 5}: 255 * (1 - fr(5-2*s)),
		{3, 4}: 255 * 0.5 * fr(3-s), {4, 4}: 255 * 0.5 * (1 - fr(4-s)),
		{5, 6}: 255 * 0.5 * fr(5-3*s), {6, 6}: 255 * 0.5 * (1 - fr(6-3*s)),
	}
	expect(t, "shear 60", sheared, 7, 7, want)
}

// The composed matrix is Keras's: center, then rotation @ shift @ shear @
// zoom, checked on one point worked by hand.
func TestMatrixComposition(t *testing.T) {
	tr := Transform{Theta: 90, Tx: 1, Ty: 0, Shear: 0, Zx: 2, Zy: 3}
	m := tr.Matrix(5, 5)
	// Relative to the center (2, 2), output (3, 4) is (1, 2); zoom: (2, 6);
	// shift: (3, 6); rotate 90: (-6, 3); absolute: (-4, 5).
	y, x := m.Apply(3, 4)
	if math.Abs(y+4) > 1e-12 || math.Abs(x-5) > 1e-12 {
		t.Errorf("M (3, 4) = (%v, %v), want (-4, 5)", y, x)
	}
	if m := Identity.Matrix(150, 150); m != Eye {
		t.Errorf("identity matrix = %v", m)
	}
}

func randomImage(rng *rand.Rand, h, w, c int) Image {
	im := Image{Width: w, Height: h, Channels: c, Pix: make([]uint8, h*w*c)}
	for i := range im.Pix {
		im.Pix[i] = uint8(rng.IntN(256))
	}
	return im
}

func TestIdentityIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := randomImage(rng, 9, 13, 3)
	for _, p := range []Params{{}, {Interpolation: Nearest}, {FillMode: FillReflect}, {Rescale: 1.0 / 255}} {
		// Enabled ranges that happen to draw nothing: a zoom of exactly [1, 1].
		p.ZoomRange = [2]float64{1, 1}
		dst := make([]float32, len(src.Pix))
		tr, err := p.Apply(dst, src, 7, 0, 3)
		if err != nil {
			t.Fatal(err)
		}
		if tr != Identity {
			t.Errorf("%+v: sampled %+v, want identity", p, tr)
		}
		scale := float32(1)
		if p.Rescale != 0 {
			scale = float32(p.Rescale)
		}
		for i, v := range src.Pix {
			if dst[i] != float32(v)*scale {
				t.Fatalf("%+v: value %d = %v, want %v", p, i, dst[i], float32(v)*scale)
			}
		}
	}
}

// A one-row image shifted by ty reads columns c+ty; outside [0, 4] each fill
// mode decides. Every row was also checked with scipy.ndimage.affine_transform
// (wrap against its grid-wrap).
func TestFillModesAtBorders(t *testing.T) {
	src := Image{Width: 5, Height: 1, Channels: 1, Pix: []uint8{10, 20, 30, 40, 50}}
	for _, c := range []struct {
		mode   FillMode
		interp Interpolation
		ty     float64
		want   []float32
	}{
		{FillNearest, Bilinear, 2, []float32{30, 40, 50, 50, 50}},
		{FillNearest, Bilinear, -2, []float32{10, 10, 10, 20, 30}},
		{FillNearest, Bilinear, 2.5, []float32{35, 45, 50, 50, 50}},
		{FillNearest, Nearest, -3, []float32{10, 10, 10, 10, 20}},
		{FillConstant, Bilinear, 2, []float32{30, 40, 50, 7, 7}},
		{FillConstant, Bilinear, -1.5, []float32{7, 7, 15, 25, 35}},
		{FillConstant, Nearest, -1, []float32{7, 10, 20, 30, 40}},
		{FillConstant, Nearest, -0.4, []float32{7, 20, 30, 40, 50}}, // -0.4 rounds to 0 but lies outside: cval, as scipy
		{FillReflect, Bilinear, 3, []float32{40, 50, 50, 40, 30}},
		{FillReflect, Bilinear, -2, []float32{20, 10, 10, 20, 30}},
		{FillWrap, Bilinear, 3, []float32{40, 50, 10, 20, 30}},
		{FillWrap, Bilinear, -1, []float32{50, 10, 20, 30, 40}},
	} {
		p := Params{FillMode: c.mode, Cval: 7, Interpolation: c.interp}
		got := warp(t, p, src, Transform{Ty: c.ty, Zx: 1, Zy: 1})
		for i := range got {
			if math.Abs(float64(got[i]-c.want[i])) > 1e-4 {
				t.Errorf("%v interp %d ty %v: got %v, want %v", c.mode, c.interp, c.ty, got, c.want)
				break
			}
		}
	}
}

// Every fill mode in two dimensions against a float64 reference written
// pixel by pixel, for random transforms with all parameters on (the fast
// interior path and the border path must agree).
func TestWarpMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := randomImage(rng, 11, 8, 3)
	all := Params{RotationRange: 40, WidthShiftRange: 0.3, HeightShiftRange: 0.3, ShearRange: 30, ZoomRange: Zoom(0.4), HorizontalFlip: true, VerticalFlip: true, Cval: 99, Rescale: 0.5}
	for mode := FillNearest; mode <= FillWrap; mode++ {
		for _, interp := range []Interpolation{Bilinear, Nearest} {
			p := all
			p.FillMode, p.Interpolation = mode, interp
			for idx := range uint64(20) {
				tr := p.Sample(src.Height, src.Width, 5, 1, idx)
				m := tr.Matrix(src.Height, src.Width)
				got := warp(t, p, src, tr)
				want := referenceWarp(p, src, m)
				for i := range got {
					if math.Abs(float64(got[i])-want[i]) > 1e-3 {
						t.Fatalf("%v interp %d index %d: value %d = %v, want %v", mode, interp, idx, i, got[i], want[i])
					}
				}
			}
		}
	}
}

func referenceWarp(p Params, src Image, m Matrix) []float64 {
	h, w, ch := src.Height, src.Width, src.Channels
	at := func(i, n int) int { // the fill mode's index map, by cases
		switch p.FillMode {
		case FillReflect:
			for i < 0 || i >= n {
				if i < 0 {
					i = -i - 1
				} else {
					i = 2*n - 1 - i
				}
			}
			return i
		case FillWrap:
			return ((i % n) + n) % n
		default:
			return min(max(i, 0), n-1)
		}
	}
	out := make([]float64, h*w*ch)
	for r := range h {
		for c := range w {
			y, x := m.Apply(float64(r), float64(c))
			for k := range ch {
				var v float64
				switch {
				case p.Interpolation == Nearest:
					yi, xi := int(math.Round(y)), int(math.Round(x))
					if p.FillMode == FillConstant && (y < 0 || x < 0 || y > float64(h-1) || x > float64(w-1)) {
						v = p.Cval
					} else {
						v = float64(src.Pix[(at(yi, h)*w+at(xi, w))*ch+k])
					}
				case p.FillMode == FillConstant && (y < 0 || x < 0 || y > float64(h-1) || x > float64(w-1)):
					v = p.Cval
				default:
					y0, x0 := int(math.Floor(y)), int(math.Floor(x))
					fy, fx := y-float64(y0), x-float64(x0)
					px := func(i, j int) float64 { return float64(src.Pix[(at(i, h)*w+at(j, w))*ch+k]) }
					v = (1-fy)*((1-fx)*px(y0, x0)+fx*px(y0, x0+1)) + fy*((1-fx)*px(y0+1, x0)+fx*px(y0+1, x0+1))
				}
				out[(r*w+c)*ch+k] = v * p.Rescale
			}
		}
	}
	return out
}

func TestSameSeedSameImage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	src := randomImage(rng, 20, 24, 3)
	p := Params{RotationRange: 40, WidthShiftRange: 0.2, HeightShiftRange: 0.2, ShearRange: 20, ZoomRange: Zoom(0.2), HorizontalFlip: true, Rescale: 1.0 / 255}
	apply := func(seed uint64, epoch uint32, index uint64) (Transform, []float32) {
		dst := make([]float32, len(src.Pix))
		tr, err := p.Apply(dst, src, seed, epoch, index)
		if err != nil {
			t.Fatal(err)
		}
		return tr, dst
	}
	t0, a := apply(42, 3, 17)
	t1, b := apply(42, 3, 17)
	if t0 != t1 {
		t.Fatalf("same key, transforms %+v and %+v", t0, t1)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same key, value %d differs: %v, %v", i, a[i], b[i])
		}
	}
	for _, k := range []struct {
		seed  uint64
		epoch uint32
		index uint64
	}{{42, 3, 18}, {42, 4, 17}, {43, 3, 17}, {42, 3, 17 + 1<<32}} {
		if tr, _ := apply(k.seed, k.epoch, k.index); tr == t0 {
			t.Errorf("key %+v draws the same transform as (42, 3, 17)", k)
		}
	}
}

// Draws fall in Keras's ranges, spread over them, and enabling one parameter
// leaves the others' draws unchanged.
func TestSampleRanges(t *testing.T) {
	p := Params{RotationRange: 30, WidthShiftRange: 0.1, HeightShiftRange: 4, ShearRange: 10, ZoomRange: Zoom(0.25), HorizontalFlip: true, VerticalFlip: true}
	const n = 4000
	var flipsH, flipsV int
	var sumTheta float64
	minZ, maxZ := math.Inf(1), math.Inf(-1)
	for i := range uint64(n) {
		tr := p.Sample(100, 50, 9, 2, i)
		if math.Abs(tr.Theta) > 30 || math.Abs(tr.Ty) > 0.1*50 || math.Abs(tr.Tx) > 4 || math.Abs(tr.Shear) > 10 {
			t.Fatalf("index %d: %+v out of range", i, tr)
		}
		for _, z := range []float64{tr.Zx, tr.Zy} {
			if z < 0.75 || z > 1.25 {
				t.Fatalf("index %d: zoom %v outside [0.75, 1.25]", i, z)
			}
			minZ, maxZ = min(minZ, z), max(maxZ, z)
		}
		if tr.FlipHorizontal {
			flipsH++
		}
		if tr.FlipVertical {
			flipsV++
		}
		sumTheta += tr.Theta
		only := Params{ShearRange: 10}.Sample(100, 50, 9, 2, i)
		if only.Shear != tr.Shear || only.Theta != 0 || only.Zx != 1 || only.FlipHorizontal {
			t.Fatalf("index %d: shear alone drew %+v, with the rest %+v", i, only, tr)
		}
	}
	if flipsH < n*45/100 || flipsH > n*55/100 || flipsV < n*45/100 || flipsV > n*55/100 {
		t.Errorf("flips %d, %d of %d, want about half", flipsH, flipsV, n)
	}
	if math.Abs(sumTheta/n) > 1.5 {
		t.Errorf("mean theta %v, want about 0", sumTheta/n)
	}
	if minZ > 0.76 || maxZ < 1.24 {
		t.Errorf("zoom spans [%v, %v], want most of [0.75, 1.25]", minZ, maxZ)
	}
}

func TestErrors(t *testing.T) {
	src := dot(4, 4, 0, 0)
	for _, c := range []struct {
		name string
		p    Params
		src  Image
		n    int
	}{
		{"short buffer", Params{}, src, 15},
		{"short image", Params{}, Image{Width: 4, Height: 4, Channels: 1, Pix: make([]uint8, 3)}, 16},
		{"empty image", Params{}, Image{}, 0},
		{"negative range", Params{RotationRange: -1}, src, 16},
		{"zoom lo 0", Params{ZoomRange: [2]float64{0, 2}}, src, 16},
		{"zoom reversed", Params{ZoomRange: [2]float64{2, 1}}, src, 16},
		{"NaN", Params{ShearRange: math.NaN()}, src, 16},
		{"fill mode", Params{FillMode: 9}, src, 16},
	} {
		if err := c.p.Warp(make([]float32, c.n), c.src, Eye); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	if m, err := ParseFillMode("reflect"); err != nil || m != FillReflect {
		t.Errorf("ParseFillMode(reflect) = %v, %v", m, err)
	}
	if _, err := ParseFillMode("mirror"); err == nil {
		t.Error("ParseFillMode(mirror): no error")
	}
}
