package gogen_test

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/internal/randmodel"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
)

var (
	randomModel     = randmodel.Model
	randomInference = randmodel.Inference
)

var randomModels = flag.Int("random-models", 24, "random models in TestRandomModels (more for a longer search)")

// TestRandomModels is the property test: random well-typed models through
// all passes, compiled to Go, run, and compared with the interpreter.
// -random-models=N runs more.
func TestRandomModels(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 11))
	var cases []harnessCase
	for i := 0; i < *randomModels; i++ {
		g := randomModel(r, i)
		if err := ir.Verify(g); err != nil {
			t.Fatalf("random model %d is invalid: %v\n%s", i, err, ir.Format(g))
		}
		n, max := 1+r.IntN(4), 5
		// The same model at -O0 (no rewrites, fusion or planning), -O2,
		// and -O2 with every loop that can be vectorized vectorized.
		for _, level := range []passes.Level{passes.O0, passes.O2} {
			gl := g.Clone()
			if _, err := passes.Run(gl, passes.Options{VerifyEach: true, Level: level, MaxBatch: max}); err != nil {
				t.Fatalf("random model %d: %v\n%s", i, err, ir.Format(gl))
			}
			cases = append(cases, harnessCase{name: fmt.Sprintf("%s-O%d", g.Name, level-passes.O0), g: gl, n: n, max: max, seed: uint64(i), steps: 3})
		}
		o2 := cases[len(cases)-1].g
		cases = append(cases, harnessCase{name: g.Name + "-O2-vec", g: o2, n: n, max: max, seed: uint64(i), steps: 3, vec: 1, split: 1},
			harnessCase{name: g.Name + "-O2-vecgo", g: o2, n: n, max: max, seed: uint64(i), steps: 3, vec: 1, noAsm: true, split: 1})
	}
	// Models without params, loss or optimizer: the generated Forward.
	var more []harnessCase
	for i := 0; i < max(2, *randomModels/6); i++ {
		g := randomInference(r, i)
		if _, err := passes.Run(g, passes.Options{VerifyEach: true, MaxBatch: 5}); err != nil {
			t.Fatalf("random inference model %d: %v\n%s", i, err, ir.Format(g))
		}
		more = append(more, harnessCase{name: g.Name, g: g, n: 1 + r.IntN(4), max: 5, seed: uint64(i)})
	}
	all := append(cases, more...)
	report := runHarness(t, all, 1e-4)
	cases = all[:len(cases)] // with their responses
	for _, c := range all {
		for _, msg := range report[c.name] {
			t.Errorf("%s: %s\n%s", c.name, msg, ir.Format(c.g))
		}
	}
	// -O2 against -O0 directly, and the vectorized -O2 (with the AVX2
	// loops of model_amd64.s, and with the runtime's primitives only)
	// against -O2 bit for bit: both compute exactly what the scalar code does.
	for i := 0; i+3 < len(cases); i += 4 {
		o0, o2 := cases[i].resp, cases[i+1].resp
		for _, vc := range cases[i+2 : i+4] {
			vec := vc.resp
			if o2 == nil || vec == nil {
				continue
			}
			for name, p := range o2.Params {
				for j, x := range p {
					if y := vec.Params[name][j]; math.Float32bits(x) != math.Float32bits(y) && !(x != x && y != y) {
						t.Errorf("%s: param %s[%d] after 3 steps: %v, scalar -O2 gives %v", vc.name, name, j, y, x)
						break
					}
				}
			}
		}
		if o0 == nil || o2 == nil {
			continue
		}
		for name, p := range o0.Params {
			if e := relErr32(o2.Params[name], p); !(e <= 1e-4) {
				t.Errorf("%s: param %s after 3 steps: -O2 and -O0 differ by %.3g", cases[i+1].name, name, e)
			}
		}
		if e := relErr32([]float32{o2.Loss}, []float32{o0.Loss}); !(e <= 1e-5) {
			t.Errorf("%s: loss differs from -O0 by %.3g", cases[i+1].name, e)
		}
	}
}
