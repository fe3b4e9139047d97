package impl

import (
	"math"
	"math/rand/v2"
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
