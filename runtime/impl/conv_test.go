package impl

import (
	"math"
	"math/rand/v2"
	"testing"
)

// unfoldRef is im2col written plainly from the definition.
func unfoldRef(g ConvGeom, x []float32, cnt, gi int) []float32 {
	kk := g.patch()
	col := make([]float32, cnt*g.OH*g.OW*kk)
	for b := range cnt {
		for oy := range g.OH {
			for ox := range g.OW {
				for ky := range g.KH {
					for kx := range g.KW {
						for c := range g.CG {
							iy, ix := oy*g.SH-g.PT+ky*g.DH, ox*g.SW-g.PL+kx*g.DW
							v := float32(0)
							if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
								v = x[((b*g.H+iy)*g.W+ix)*g.C+gi*g.CG+c]
							}
							col[((b*g.OH+oy)*g.OW+ox)*kk+(ky*g.KW+kx)*g.CG+c] = v
						}
					}
				}
			}
		}
	}
	return col
}

func randomGeom(r *rand.Rand) (ConvGeom, int) {
	g := ConvGeom{H: 1 + r.IntN(9), W: 1 + r.IntN(9), KH: 1 + r.IntN(3), KW: 1 + r.IntN(3), SH: 1 + r.IntN(2), SW: 1 + r.IntN(3),
		DH: 1 + r.IntN(2), DW: 1 + r.IntN(2), PT: r.IntN(2), PL: r.IntN(3), CG: 1 + r.IntN(4)}
	groups := 1 + r.IntN(2)
	g.C = g.CG * groups
	pb, pr := r.IntN(2), r.IntN(2)
	g.OH = (g.H+g.PT+pb-((g.KH-1)*g.DH+1))/g.SH + 1
	g.OW = (g.W+g.PL+pr-((g.KW-1)*g.DW+1))/g.SW + 1
	return g, groups
}

// Unfold is im2col, serial or split across the workers, bit for bit; Fold
// is its adjoint: <Unfold(x), c> = <x, Fold(c)> for every geometry,
// strides, dilations, pads and groups included; both give the same bits
// with and without their AVX2 row kernels.
func TestUnfoldFold(t *testing.T) {
	defer func(v bool) { vecAVX2 = v }(vecAVX2)
	for _, asm := range []bool{false, true} {
		vecAVX2 = asm && hasVecAVX2
		testUnfoldFold(t)
	}
}

func testUnfoldFold(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tried := 0
	for tried < 300 {
		g, groups := randomGeom(r)
		if g.OH < 1 || g.OW < 1 {
			continue
		}
		tried++
		cnt := 1 + r.IntN(3)
		if tried%50 == 0 { // large enough to run in parallel
			g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL = 40, 40, 40, 40, 3, 3, 1, 1, 1, 1, 1, 1
			cnt = 4
		}
		x := make([]float32, cnt*g.H*g.W*g.C)
		for i := range x {
			x[i] = r.Float32()*2 - 1
		}
		for gi := range groups {
			want := unfoldRef(g, x, cnt, gi)
			col := make([]float32, len(want))
			for i := range col {
				col[i] = float32(math.NaN()) // every element must be written
			}
			Unfold(g, col, x, cnt, gi)
			for i := range want {
				if math.Float32bits(col[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%+v group %d: Unfold[%d] = %v, want %v", g, gi, i, col[i], want[i])
				}
			}
			c := make([]float32, len(col))
			for i := range c {
				c[i] = r.Float32()*2 - 1
			}
			dx := make([]float32, len(x))
			Fold(g, dx, c, cnt, gi)
			var lhs, rhs float64
			for i := range c {
				lhs += float64(want[i]) * float64(c[i])
			}
			for i := range x {
				rhs += float64(x[i]) * float64(dx[i])
			}
			if math.Abs(lhs-rhs) > 1e-4*math.Max(1, math.Abs(lhs)) {
				t.Fatalf("%+v group %d: <Unfold(x), c> = %v, <x, Fold(c)> = %v", g, gi, lhs, rhs)
			}
			serial := make([]float32, len(x))
			foldRows(&g, serial, c, gi, 0, cnt*g.H)
			for i := range serial {
				if math.Float32bits(serial[i]) != math.Float32bits(dx[i]) {
					t.Fatalf("%+v group %d: Fold differs from its serial form at %d", g, gi, i)
				}
			}
			if vecAVX2 {
				clear(serial)
				vecAVX2 = false
				foldRows(&g, serial, c, gi, 0, cnt*g.H)
				vecAVX2 = true
				for i := range serial {
					if math.Float32bits(serial[i]) != math.Float32bits(dx[i]) {
						t.Fatalf("%+v group %d: Fold's AVX2 and Go loops differ at %d", g, gi, i)
					}
				}
			}
		}
	}
}

func TestUnfoldFoldAllocs(t *testing.T) {
	g := ConvGeom{H: 40, W: 40, C: 8, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, OH: 40, OW: 40, CG: 8}
	x, col, dx := make([]float32, 2*40*40*8), make([]float32, 2*40*40*72), make([]float32, 2*40*40*8)
	Unfold(g, col, x, 2, 0) // the first parallel call may set up the pool
	if a := testing.AllocsPerRun(10, func() { Unfold(g, col, x, 2, 0); Fold(g, dx, col, 2, 0) }); a != 0 {
		t.Errorf("Unfold and Fold allocate %v times per call", a)
	}
}

// The pooling kernels give the same bits split across the workers as on
// one core (windows overlapping, padded, NaNs included).
func TestPoolParallel(t *testing.T) {
	g := ConvGeom{H: 33, W: 31, C: 24, KH: 3, KW: 2, SH: 2, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, OH: 17, OW: 31, CG: 24}
	const n = 5
	r := rand.New(rand.NewPCG(3, 4))
	x, dy := make([]float32, n*g.H*g.W*g.C), make([]float32, n*g.OH*g.OW*g.C)
	for i := range x {
		x[i] = float32(r.IntN(7)) // ties
	}
	x[100], x[5000] = float32(math.NaN()), float32(math.NaN())
	for i := range dy {
		dy[i] = r.Float32()
	}
	for _, c := range []struct {
		name     string
		k        int
		dst, src []float32
		src2     []float32
		rows     int
		call     func(dst []float32)
	}{
		{"MaxPool", kMaxPool, make([]float32, len(dy)), x, nil, n * g.OH, func(d []float32) { MaxPool(g, d, x, n) }},
		{"AvgPool", kAvgPool, make([]float32, len(dy)), x, nil, n * g.OH, func(d []float32) { AvgPool(g, d, x, n) }},
		{"MaxPoolGrad", kMaxPoolGrad, make([]float32, len(x)), x, dy, n, func(d []float32) { MaxPoolGrad(g, d, x, dy, n) }},
		{"AvgPoolGrad", kAvgPoolGrad, make([]float32, len(x)), dy, nil, n, func(d []float32) { AvgPoolGrad(g, d, dy, n) }},
	} {
		convKernel(c.k, &g, c.dst, c.src, c.src2, 0, 0, c.rows) // one core
		got := make([]float32, len(c.dst))
		c.call(got)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(c.dst[i]) {
				t.Fatalf("%s: element %d is %v in parallel, %v serially", c.name, i, got[i], c.dst[i])
			}
		}
	}
}

// maxPoolGradRows reads each window a row of channels at a time; it must
// route every gradient to the element the channel-by-channel reading
// (maxPoolGradRowsWide, the definition) picks: the first maximum, or the
// first NaN.
func TestMaxPoolGradOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ran := 0
	for trial := 0; ran < 50; trial++ {
		g, _ := randomGeom(r)
		g.DH, g.DW, g.CG = 1, 1, g.C
		g.PT, g.PL = min(g.PT, g.KH-1), min(g.PL, g.KW-1)
		g.OH = (g.H+2*g.PT-g.KH)/g.SH + 1
		g.OW = (g.W+2*g.PL-g.KW)/g.SW + 1
		if g.OH < 1 || g.OW < 1 {
			continue
		}
		ran++
		n := 1 + r.IntN(3)
		x, dy := make([]float32, n*g.H*g.W*g.C), make([]float32, n*g.OH*g.OW*g.C)
		for i := range x {
			x[i] = float32(r.IntN(3))
			if r.IntN(40) == 0 {
				x[i] = float32(math.NaN())
			}
		}
		for i := range dy {
			dy[i] = r.Float32()
		}
		want, got := make([]float32, len(x)), make([]float32, len(x))
		maxPoolGradRowsWide(&g, want, x, dy, 0, n)
		maxPoolGradRows(&g, got, x, dy, 0, n)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%+v: dx[%d] = %v, the definition gives %v", g, i, got[i], want[i])
			}
		}
	}
}

// The 2x2 stride-2 max pool's own loops give what the general ones give,
// forward and backward (odd sizes leave rows and columns no window covers),
// with and without the AVX2 kernel of the gradient (channels a multiple
// of 8), on values with ties, signed zeros and NaNs.
func TestMaxPool2x2(t *testing.T) {
	defer func(v bool) { vecAVX2 = v }(vecAVX2)
	for _, asm := range []bool{false, true} {
		vecAVX2 = asm && hasVecAVX2
		for _, c := range []int{5, 8, 24} {
			testMaxPool2x2(t, c)
		}
	}
}

func testMaxPool2x2(t *testing.T, c int) {
	r := rand.New(rand.NewPCG(7, uint64(c)))
	values := []float32{-1, float32(math.Copysign(0, -1)), 0, 1, 2}
	for _, hw := range [][3]int{{2, 2, 0}, {5, 4, 0}, {8, 9, 0}, {17, 17, 0}, {9, 9, 1}, {5, 4, 1}} {
		g := ConvGeom{H: hw[0], W: hw[1], C: c, KH: 2, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1, OH: hw[0] / 2, OW: hw[1] / 2, CG: c}
		if hw[2] == 1 { // "same": the last window of an odd side hangs over the padding
			g.OH, g.OW = (hw[0]+1)/2, (hw[1]+1)/2
		}
		const n = 3
		x := make([]float32, n*g.H*g.W*g.C)
		for i := range x {
			x[i] = values[r.IntN(len(values))]
			if r.IntN(30) == 0 {
				x[i] = float32(math.NaN())
			}
		}
		want, got := make([]float32, n*g.OH*g.OW*g.C), make([]float32, n*g.OH*g.OW*g.C)
		maxPoolGeneral(&g, want, x, 0, n*g.OH)
		maxPoolRows(&g, got, x, 0, n*g.OH)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%dx%d: y[%d] = %v, the general loop gives %v", g.H, g.W, i, got[i], want[i])
			}
		}
		dy := make([]float32, len(want))
		for i := range dy {
			dy[i] = r.Float32()
		}
		wantDx, gotDx := make([]float32, len(x)), make([]float32, len(x))
		for i := range gotDx {
			gotDx[i] = float32(math.NaN()) // every element must be written
		}
		maxPoolGradRowsWide(&g, wantDx, x, dy, 0, n)
		maxPoolGradRows(&g, gotDx, x, dy, 0, n)
		for i := range gotDx {
			if math.Float32bits(gotDx[i]) != math.Float32bits(wantDx[i]) {
				t.Fatalf("%dx%dx%d (AVX2 %v): dx[%d] = %v, the definition gives %v", g.H, g.W, c, vecAVX2, i, gotDx[i], wantDx[i])
			}
		}
	}
}

// BenchmarkMaxPool2x2 is the seed CNN's first pooling and its gradient
// (one example of 148x148x32), with and without the AVX2 kernels.
func BenchmarkMaxPool2x2(b *testing.B) {
	g := ConvGeom{H: 148, W: 148, C: 32, KH: 2, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1, OH: 74, OW: 74, CG: 32}
	r := rand.New(rand.NewPCG(1, 2))
	x, dy := make([]float32, g.H*g.W*g.C), make([]float32, g.OH*g.OW*g.C)
	for i := range x {
		x[i] = max(0, r.Float32()-0.5) // a ReLU's output
	}
	for i := range dy {
		dy[i] = r.Float32()
	}
	dx, y := make([]float32, len(x)), make([]float32, len(dy))
	defer func(v bool) { vecAVX2 = v }(vecAVX2)
	for _, asm := range []bool{false, true} {
		name := map[bool]string{false: "go", true: "avx2"}[asm]
		b.Run("forward/"+name, func(b *testing.B) {
			vecAVX2 = asm && hasVecAVX2
			for b.Loop() {
				maxPoolRows(&g, y, x, 0, g.OH)
			}
		})
		b.Run("grad/"+name, func(b *testing.B) {
			vecAVX2 = asm && hasVecAVX2
			for b.Loop() {
				maxPoolGradRows(&g, dx, x, dy, 0, 1)
			}
		})
	}
}

// BenchmarkUnfoldFold unfolds and folds one example of the first layers
// of the seed CNN (150x150x3) and the Fashion-MNIST CNN (28x28x1), and
// folds the seed CNN's second layer's input gradient (74x74x32), 3x3
// windows.
func BenchmarkUnfoldFold(b *testing.B) {
	for _, s := range []struct {
		name    string
		h, w, c int
	}{{"150x150x3", 150, 150, 3}, {"28x28x1", 28, 28, 1}, {"74x74x32", 74, 74, 32}} {
		g := ConvGeom{H: s.h, W: s.w, C: s.c, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, OH: s.h - 2, OW: s.w - 2, CG: s.c}
		x := make([]float32, s.h*s.w*s.c)
		col := make([]float32, g.OH*g.OW*g.patch())
		b.Run("unfold/"+s.name, func(b *testing.B) {
			for b.Loop() {
				unfoldRows(&g, col, x, 0, 0, g.OH)
			}
		})
		b.Run("fold/"+s.name, func(b *testing.B) {
			for b.Loop() {
				foldRows(&g, x, col, 0, 0, g.H)
			}
		})
	}
}

// TestMaxPoolGradReLU: the fused pooling and ReLU gradient gives
// where(x > 0, MaxPoolGrad, 0) bit for bit and its column sums (within
// rounding), with and without the AVX2 kernel, the sums bit-identical on
// any number of workers, between the two paths and when another call holds
// the job.
func TestMaxPoolGradReLU(t *testing.T) {
	defer func(v bool) { vecAVX2 = v }(vecAVX2)
	r := rand.New(rand.NewPCG(9, 10))
	values := []float32{0, 0, 0.5, 1, 2, float32(math.Copysign(0, -1))} // a ReLU's output: many zeros, ties
	for _, c := range []int{5, 8, 24} {
		for _, hw := range [][2]int{{2, 2}, {5, 4}, {8, 9}, {17, 17}} {
			g := ConvGeom{H: hw[0], W: hw[1], C: c, KH: 2, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1, OH: hw[0] / 2, OW: hw[1] / 2, CG: c}
			const n = 3
			x, dy := make([]float32, n*g.H*g.W*c), make([]float32, n*g.OH*g.OW*c)
			for i := range x {
				x[i] = values[r.IntN(len(values))]
				if r.IntN(50) == 0 {
					x[i] = float32(math.NaN())
				}
			}
			for i := range dy {
				dy[i] = r.Float32()*2 - 1
			}
			want := make([]float32, len(x))
			maxPoolGradRowsWide(&g, want, x, dy, 0, n)
			sums := make([]float64, c)
			for i := range want {
				if !(x[i] > 0) {
					want[i] = 0
				}
				sums[i%c] += float64(want[i])
			}
			var first []float32
			for _, asm := range []bool{false, true} {
				vecAVX2 = asm && hasVecAVX2
				for _, threads := range []int{1, 2, 3, 0} {
					dx, db := make([]float32, len(x)), make([]float32, c)
					for i := range dx {
						dx[i] = float32(math.NaN()) // every element must be written
					}
					if threads == 0 { // another call holds the job: a rows function of its own
						poolReLUJob.mu.Lock()
						MaxPoolGradReLU(g, dx, x, dy, n, db)
						poolReLUJob.mu.Unlock()
					} else {
						withThreads(threads, func() { MaxPoolGradReLU(g, dx, x, dy, n, db) })
					}
					for i := range dx {
						if math.Float32bits(dx[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%dx%dx%d AVX2 %v: dx[%d] = %v, want %v", g.H, g.W, c, vecAVX2, i, dx[i], want[i])
						}
					}
					for ch := range db {
						if math.Abs(float64(db[ch])-sums[ch]) > 1e-5*float64(len(x)) {
							t.Fatalf("%dx%dx%d: db[%d] = %v, want %v", g.H, g.W, c, ch, db[ch], sums[ch])
						}
					}
					if first == nil {
						first = db
					}
					for ch := range db {
						if math.Float32bits(db[ch]) != math.Float32bits(first[ch]) {
							t.Fatalf("%dx%dx%d AVX2 %v, %d workers: db[%d] = %v, first run %v", g.H, g.W, c, vecAVX2, threads, ch, db[ch], first[ch])
						}
					}
				}
			}
		}
	}
}
