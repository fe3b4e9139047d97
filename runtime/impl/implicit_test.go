package impl

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// implicitGeom is a random geometry the implicit kernel of kr takes: no
// padding, rows of at least mr pixels, strides, dilations and groups.
func implicitGeom(r *rand.Rand, kr *microKernel) (ConvGeom, int) {
	g := ConvGeom{KH: 1 + r.IntN(3), KW: 1 + r.IntN(3), SH: 1 + r.IntN(2), SW: 1 + r.IntN(3),
		DH: 1 + r.IntN(2), DW: 1 + r.IntN(2), CG: 1 + r.IntN(5)}
	groups := 1 + r.IntN(2)
	g.C = g.CG * groups
	g.OH = 1 + r.IntN(5)
	g.OW = kr.mr + r.IntN(2*kr.mr)
	g.H = (g.OH-1)*g.SH + (g.KH-1)*g.DH + 1 + r.IntN(g.SH)
	g.W = (g.OW-1)*g.SW + (g.KW-1)*g.DW + 1 + r.IntN(g.SW)
	return g, groups
}

// explicitForward is ConvForward's other path: Unfold, then the GEMM.
func explicitForward(g ConvGeom, x []float32, cnt, gi int, w []float32, ldw, fg int, y []float32, ldy int, ep Epilogue) {
	kk := g.patch()
	col := make([]float32, cnt*g.OH*g.OW*kk)
	Unfold(g, col, x, cnt, gi)
	SgemmEpilogue(false, false, cnt*g.OH*g.OW, fg, kk, 1, col, kk, w, ldw, 0, y, ldy, ep)
}

func randomFloats(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

func nans(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(math.NaN())
	}
	return s
}

// ConvForward's implicit kernel gives Unfold + SgemmEpilogue's bits, on
// every kernel, on 1 and 2 cores, writing nothing outside its output
// columns; geometries it does not take (padding, short rows, odd widths)
// go the other way with the same result.
func TestConvForwardImplicit(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	forEachKernel(t, func(kr *microKernel) {
		taken := 0
		for trial := range 120 {
			g, groups := implicitGeom(r, kr)
			fits := true
			switch {
			case trial%10 == 7: // padded: the other path
				g.PT, g.PL = 1, 1
				g.OH++
				g.OW++
				fits = false
			case trial%10 == 9: // rows shorter than a tile
				g.OW = max(1, kr.mr-1-r.IntN(3))
				g.W = (g.OW-1)*g.SW + (g.KW-1)*g.DW + 1
				fits = false
			}
			cnt := 1 + r.IntN(3)
			if trial%40 == 0 { // large enough to split across the workers
				g = ConvGeom{H: 60, W: 60, C: 3, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, OH: 58, OW: 58, CG: 3}
				groups, cnt = 1, 3
			}
			nr := max(kr.nr, 1)
			fg := nr * (1 + r.IntN(2))
			if trial%10 == 8 && kr.nr > 1 { // a width that is not a multiple of nr
				fg = nr + 1 + r.IntN(nr-1)
				fits = false
			}
			fits = fits && hasConvGemm(kr)
			if got := implicitFits(kr, &g, fg); got != fits {
				t.Fatalf("%s %+v fg=%d: implicitFits = %v, want %v", kr.name, g, fg, got, fits)
			}
			if fits {
				taken++
			}
			f := fg * groups
			ldw, ldy := f+r.IntN(3), f+r.IntN(3)
			x := randomFloats(r, cnt*g.H*g.W*g.C)
			w := randomFloats(r, g.patch()*ldw)
			var ep Epilogue
			if r.IntN(3) > 0 {
				ep.Bias = randomFloats(r, f)
			}
			ep.Act = Activation(r.IntN(2))
			for gi := range groups {
				rows := cnt * g.OH * g.OW
				want := nans(rows * ldy)
				var bias []float32
				if ep.Bias != nil {
					bias = ep.Bias[gi*fg:]
				}
				e := Epilogue{Bias: bias, Act: ep.Act}
				explicitForward(g, x, cnt, gi, w[gi*fg:], ldw, fg, want[gi*fg:], ldy, e)
				for _, threads := range []int{1, 2} {
					got := nans(rows * ldy)
					withThreads(threads, func() {
						ConvForward(g, make([]float32, rows*g.patch()), x, cnt, gi, w[gi*fg:], ldw, fg, got[gi*fg:], ldy, e)
					})
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s %+v group %d fg=%d threads %d: y[%d] = %v, want %v", kr.name, g, gi, fg, threads, i, got[i], want[i])
						}
					}
				}
			}
		}
		if hasConvGemm(kr) && taken < 60 {
			t.Errorf("%s: the implicit kernel took %d geometries", kr.name, taken)
		}
	})
}

// A forward convolution allocates nothing, serial or split.
func TestConvForwardAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, g := range []ConvGeom{
		{H: 20, W: 20, C: 3, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, OH: 18, OW: 18, CG: 3},
		{H: 150, W: 150, C: 3, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, OH: 148, OW: 148, CG: 3},
	} {
		x, w := randomFloats(r, g.H*g.W*g.C), randomFloats(r, g.patch()*32)
		y, col := make([]float32, g.OH*g.OW*32), make([]float32, g.OH*g.OW*g.patch())
		f := func() { ConvForward(g, col, x, 1, 0, w, 32, 32, y, 32, Epilogue{Bias: w[:32], Act: ActReLU}) }
		f()
		if a := testing.AllocsPerRun(10, f); a != 0 {
			t.Errorf("%+v: %v allocations per call", g, a)
		}
	}
}

// gradGeom is a random geometry whose windows come in triples: three
// channels per pixel, or three pixels of one channel.
func gradGeom(r *rand.Rand) (ConvGeom, int) {
	g := ConvGeom{KH: 1 + r.IntN(3), KW: 1 + r.IntN(3), SH: 1 + r.IntN(2), SW: 1 + r.IntN(3),
		DH: 1 + r.IntN(2), DW: 1 + r.IntN(2), CG: 3 * (1 + r.IntN(2))}
	if r.IntN(3) == 0 {
		g.CG, g.KW, g.DW = 1, 3, 1
	}
	groups := 1 + r.IntN(2)
	if g.CG == 1 { // three pixels are neighbours only with one channel
		groups = 1
	}
	g.C = g.CG * groups
	g.OH, g.OW = 1+r.IntN(6), 1+r.IntN(20)
	g.H = (g.OH-1)*g.SH + (g.KH-1)*g.DH + 1 + r.IntN(g.SH)
	g.W = (g.OW-1)*g.SW + (g.KW-1)*g.DW + 1 + r.IntN(g.SW)
	return g, groups
}

// ConvFilterGrad adds the filter gradient to dw within float32 rounding
// of the float64 sums, on every kernel and both of its paths, with the
// same bits on 1 and 2 cores, writing nothing outside its columns.
func TestConvFilterGradImplicit(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	forEachKernel(t, func(kr *microKernel) {
		taken, byTiles := 0, 0
		for trial := range 150 {
			g, groups := gradGeom(r)
			fits := hasConvGemm(kr)
			if trial%10 == 7 { // padded: the unfolded path
				g.PT = 1
				g.OH++
				fits = false
			}
			if trial%10 == 5 { // long windows: split by tiles of dw
				g.CG, g.KH, g.KW = 48+3*r.IntN(8), 3, 3
				g.C, groups = g.CG, 1
				g.H = (g.OH-1)*g.SH + (g.KH-1)*g.DH + 1
				g.W = (g.OW-1)*g.SW + (g.KW-1)*g.DW + 1
			}
			n := 1 + r.IntN(3)
			if trial%30 == 0 { // large enough to split across the workers
				g = ConvGeom{H: 60, W: 60, C: 3, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, OH: 58, OW: 58, CG: 3}
				groups, n = 1, 4
				fits = hasConvGemm(kr)
			}
			fg := max(kr.nr, 1) * (1 + r.IntN(2))
			if trial%10 == 8 && kr.nr > 1 {
				fg = kr.nr + 1
				fits = false
			}
			var offs [implicitGradMaxK / 3]int
			if got := implicitGradFits(kr, &g, fg, offs[:]); got != fits {
				t.Fatalf("%s %+v fg=%d: implicitGradFits = %v, want %v", kr.name, g, fg, got, fits)
			}
			if fits {
				taken++
				if gradTileCount(kr, g.patch(), fg) >= implicitGradTiles {
					byTiles++
				}
			}
			f, kk, p := fg*groups, g.patch(), g.OH*g.OW
			ldw, lddy := f+r.IntN(3), f+r.IntN(3)
			x := randomFloats(r, n*g.H*g.W*g.C)
			dy := randomFloats(r, n*p*lddy)
			dw0 := randomFloats(r, kk*ldw)
			for gi := range groups {
				col := unfoldRef(g, x, n, gi)
				var runs [2][]float32
				tile := 1 + r.IntN(2)
				for i, threads := range []int{1, 2} {
					dw := append([]float32(nil), dw0...)
					withThreads(threads, func() {
						ConvFilterGrad(g, tile, make([]float32, 2*p*kk), x, n, gi, dy[gi*fg:], lddy, fg, dw[gi*fg:], ldw)
					})
					runs[i] = dw
				}
				for i := range runs[0] {
					if math.Float32bits(runs[0][i]) != math.Float32bits(runs[1][i]) {
						t.Fatalf("%s %+v group %d: dw[%d] = %v on 1 core, %v on 2", kr.name, g, gi, i, runs[0][i], runs[1][i])
					}
				}
				for q := range kk {
					for j := range ldw {
						got, want, scale := runs[0][q*ldw+j], float64(dw0[q*ldw+j]), math.Abs(float64(dw0[q*ldw+j]))
						if j >= gi*fg && j < (gi+1)*fg {
							for row := range n * p {
								v := float64(col[row*kk+q]) * float64(dy[row*lddy+j])
								want += v
								scale += math.Abs(v)
							}
						}
						if math.Abs(float64(got)-want) > 1e-6*scale+1e-7 {
							t.Fatalf("%s %+v group %d fg=%d: dw[%d,%d] = %v, want %v", kr.name, g, gi, fg, q, j, got, want)
						}
					}
				}
			}
		}
		if hasConvGemm(kr) && (taken < 80 || byTiles < 10) {
			t.Errorf("%s: the implicit kernel took %d geometries, %d of them split by tiles", kr.name, taken, byTiles)
		}
	})
}

// A filter gradient allocates nothing once its partials exist, split by
// pixels (a short window) or by tiles of dw (a long one).
func TestConvFilterGradAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, g := range []ConvGeom{
		{H: 150, W: 150, C: 3, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, OH: 148, OW: 148, CG: 3},
		{H: 36, W: 36, C: 64, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, OH: 34, OW: 34, CG: 64},
	} {
		x, dy := randomFloats(r, 2*g.H*g.W*g.C), randomFloats(r, 2*g.OH*g.OW*64)
		dw, col := make([]float32, g.patch()*64), make([]float32, g.OH*g.OW*g.patch())
		f := func() { ConvFilterGrad(g, 1, col, x, 2, 0, dy, 64, 64, dw, 64) }
		f()
		if a := testing.AllocsPerRun(10, f); a != 0 {
			t.Errorf("%+v: %v allocations per call", g, a)
		}
	}
}

// BenchmarkConvPaths times the seed CNN's first and third layers (batch
// 32) and the Fashion-MNIST CNN's first (batch 128) both ways on every
// kernel: ConvForward and ConvFilterGrad (the implicit kernels where they
// take the layer) against Unfold and the GEMM, a tile of examples at a
// time as the generated code did, and the kernel's 1024^3 GEMM as the
// yardstick.
//
//	go test ./runtime/impl -run '^$' -bench ConvPaths
func BenchmarkConvPaths(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 12))
	layers := []struct {
		name string
		n, f int
		g    ConvGeom
	}{
		{"catsdogs-c1", 32, 32, ConvGeom{H: 150, W: 150, C: 3, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, OH: 148, OW: 148, CG: 3}},
		{"fashion-c1", 128, 32, ConvGeom{H: 28, W: 28, C: 1, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, OH: 26, OW: 26, CG: 1}},
		{"catsdogs-c3", 32, 128, ConvGeom{H: 36, W: 36, C: 64, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, OH: 34, OW: 34, CG: 64}},
	}
	forEachKernel(b, func(kr *microKernel) {
		if !hasConvGemm(kr) {
			return
		}
		gflops := func(b *testing.B, flops float64) {
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		for _, l := range layers {
			g, kk, p, f := l.g, l.g.patch(), l.g.OH*l.g.OW, l.f
			x, w := randomFloats(r, l.n*g.H*g.W*g.C), randomFloats(r, kk*f)
			y, dy, dw := make([]float32, l.n*p*f), randomFloats(r, l.n*p*f), make([]float32, kk*f)
			// The generated code's tile of examples (ir.Geom2D.Tile).
			tile := max(1, min((4096+p-1)/p, 32, (8<<20)/(4*p*kk)))
			col, hwc := make([]float32, tile*p*kk), g.H*g.W*g.C
			flops := 2 * float64(l.n*p*f*kk)
			ep := Epilogue{Bias: w[:f], Act: ActReLU}
			b.Run(kr.name+"/"+l.name+"/forward/ConvForward", func(b *testing.B) {
				for range b.N {
					for ex := 0; ex < l.n; ex += tile {
						cnt := min(tile, l.n-ex)
						ConvForward(g, col, x[ex*hwc:(ex+cnt)*hwc], cnt, 0, w, f, f, y[ex*p*f:], f, ep)
					}
				}
				gflops(b, flops)
			})
			b.Run(kr.name+"/"+l.name+"/forward/unfold", func(b *testing.B) {
				for range b.N {
					for ex := 0; ex < l.n; ex += tile {
						cnt := min(tile, l.n-ex)
						Unfold(g, col, x[ex*hwc:(ex+cnt)*hwc], cnt, 0)
						SgemmEpilogue(false, false, cnt*p, f, kk, 1, col, kk, w, f, 0, y[ex*p*f:], f, ep)
					}
				}
				gflops(b, flops)
			})
			b.Run(kr.name+"/"+l.name+"/filter-grad/ConvFilterGrad", func(b *testing.B) {
				for range b.N {
					ConvFilterGrad(g, tile, col, x, l.n, 0, dy, f, f, dw, f)
				}
				gflops(b, flops)
			})
			b.Run(kr.name+"/"+l.name+"/filter-grad/unfold", func(b *testing.B) {
				for range b.N {
					for ex := 0; ex < l.n; ex += tile {
						cnt := min(tile, l.n-ex)
						Unfold(g, col, x[ex*hwc:(ex+cnt)*hwc], cnt, 0)
						Sgemm(true, false, kk, f, cnt*p, 1, col, kk, dy[ex*p*f:], f, 1, dw, f)
					}
				}
				gflops(b, flops)
			})
		}
		const n = 1024
		a, bb, c := randomFloats(r, n*n), randomFloats(r, n*n), make([]float32, n*n)
		b.Run(kr.name+"/gemm1024", func(b *testing.B) {
			for range b.N {
				Sgemm(false, false, n, n, n, 1, a, n, bb, n, 0, c, n)
			}
			gflops(b, 2*n*n*n)
		})
	})
}

// Operands too short for the geometry are a panic that names them, on
// both paths, not an index error inside a worker (or a read out of bounds
// in assembly).
func TestConvOperandChecks(t *testing.T) {
	g := ConvGeom{H: 20, W: 20, C: 3, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, OH: 18, OW: 18, CG: 3}
	padded := ConvGeom{H: 20, W: 20, C: 3, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, OH: 20, OW: 20, CG: 3}
	x, w, y := make([]float32, 2*20*20*3), make([]float32, 27*32), make([]float32, 2*20*20*32)
	col := make([]float32, 2*20*20*27)
	cases := []struct {
		name, want string
		f          func()
	}{
		{"forward short image", "image has", func() { ConvForward(g, col, x[:100], 2, 0, w, 32, 32, y, 32, Epilogue{}) }},
		{"forward padded short image", "image has", func() { ConvForward(padded, col, x[:100], 2, 0, w, 32, 32, y, 32, Epilogue{}) }},
		{"forward short col", "col has", func() { ConvForward(padded, col[:100], x, 2, 0, w, 32, 32, y, 32, Epilogue{}) }},
		{"forward short output", "C has", func() { ConvForward(g, col, x, 2, 0, w, 32, 32, y[:100], 32, Epilogue{}) }},
		{"forward short bias", "bias has", func() { ConvForward(g, col, x, 2, 0, w, 32, 32, y, 32, Epilogue{Bias: w[:5]}) }},
		{"forward bad group", "group 1", func() { ConvForward(g, col, x, 2, 1, w, 32, 32, y, 32, Epilogue{}) }},
		{"filter grad short dy", "B has", func() { ConvFilterGrad(g, 1, col, x, 2, 0, y[:100], 32, 32, w, 32) }},
		{"filter grad short image", "image has", func() { ConvFilterGrad(g, 1, col, x[:100], 2, 0, y, 32, 32, w, 32) }},
		{"fold short col", "col has", func() { Fold(g, x, col[:100], 2, 0) }},
	}
	for _, c := range cases {
		func() {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if !strings.Contains(msg, "mdlc runtime:") || !strings.Contains(msg, c.want) {
					t.Errorf("%s: panic %v, want a message with %q", c.name, r, c.want)
				}
			}()
			c.f()
		}()
	}
}

// FuzzConvImplicit: ConvForward against Unfold and the GEMM, bit for bit,
// and ConvFilterGrad against float64 sums, for any geometry the fuzzer
// finds, on any kernel (the implicit kernels where they take it).
//
//	go test ./runtime/impl -run '^$' -fuzz FuzzConvImplicit -fuzztime 60s
func FuzzConvImplicit(f *testing.F) {
	f.Add(uint8(3), uint8(3), uint8(1), uint8(1), uint8(1), uint8(1), uint8(3), uint8(1), uint8(2), uint8(14), uint8(1), uint8(0), uint64(1))
	f.Add(uint8(2), uint8(3), uint8(2), uint8(3), uint8(2), uint8(1), uint8(1), uint8(2), uint8(5), uint8(30), uint8(2), uint8(1), uint64(2))
	f.Add(uint8(3), uint8(1), uint8(1), uint8(2), uint8(1), uint8(2), uint8(6), uint8(1), uint8(1), uint8(13), uint8(1), uint8(6), uint64(3))
	f.Fuzz(func(t *testing.T, kh, kw, sh, sw, dh, dw, cg, groups, oh, ow, panels, flags uint8, seed uint64) {
		kr := kernels[int(flags>>2)%len(kernels)]
		defer SetBLAS(BLAS())
		SetBLAS(BLASNative)
		restore, err := useKernel(kr.name)
		if err != nil {
			t.Fatal(err)
		}
		defer restore()
		g := ConvGeom{KH: 1 + int(kh%4), KW: 1 + int(kw%4), SH: 1 + int(sh%3), SW: 1 + int(sw%3),
			DH: 1 + int(dh%3), DW: 1 + int(dw%3), CG: 1 + int(cg%8), OH: 1 + int(oh%6), OW: 1 + int(ow%40)}
		gs := 1 + int(groups%3)
		g.C = g.CG * gs
		g.H = (g.OH-1)*g.SH + (g.KH-1)*g.DH + 1
		g.W = (g.OW-1)*g.SW + (g.KW-1)*g.DW + 1
		fg := max(kr.nr, 1) * (1 + int(panels%2))
		f, kk, p := fg*gs, g.patch(), g.OH*g.OW
		r := rand.New(rand.NewPCG(seed, 1))
		n := 1 + r.IntN(2)
		x, w := randomFloats(r, n*g.H*g.W*g.C), randomFloats(r, kk*f)
		dy, dw0 := randomFloats(r, n*p*f), randomFloats(r, kk*f)
		ep := Epilogue{Act: Activation(flags & 1)}
		if flags&2 != 0 {
			ep.Bias = randomFloats(r, f)
		}
		for gi := range gs {
			e := ep
			if e.Bias != nil {
				e.Bias = ep.Bias[gi*fg:]
			}
			want, got := nans(n*p*f), nans(n*p*f)
			explicitForward(g, x, n, gi, w[gi*fg:], f, fg, want[gi*fg:], f, e)
			ConvForward(g, make([]float32, n*p*kk), x, n, gi, w[gi*fg:], f, fg, got[gi*fg:], f, e)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s %+v group %d: forward y[%d] = %v, want %v", kr.name, g, gi, i, got[i], want[i])
				}
			}
			dw := append([]float32(nil), dw0...)
			ConvFilterGrad(g, 1, make([]float32, p*kk), x, n, gi, dy[gi*fg:], f, fg, dw[gi*fg:], f)
			col := unfoldRef(g, x, n, gi)
			for q := range kk {
				for j := gi * fg; j < (gi+1)*fg; j++ {
					want, scale := float64(dw0[q*f+j]), math.Abs(float64(dw0[q*f+j]))
					for row := range n * p {
						v := float64(col[row*kk+q]) * float64(dy[row*f+j])
						want += v
						scale += math.Abs(v)
					}
					if d := math.Abs(float64(dw[q*f+j]) - want); d > 1e-6*scale+1e-7 {
						t.Fatalf("%s %+v group %d: dw[%d,%d] = %v, want %v", kr.name, g, gi, q, j, dw[q*f+j], want)
					}
				}
			}
		}
	})
}
