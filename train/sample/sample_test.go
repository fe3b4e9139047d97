package sample

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mdlc/mdlc/runtime"
)

// counter is a fake sequence model over V tokens with window T: at each
// position it predicts (token + 1) mod V, as logits 10 for that token and 0
// for the others (perStep: [N, T, V]; else [N, V] from the window's last
// position). It records the windows it was given.
type counter struct {
	t, v    int
	perStep bool
	seen    [][]int32
}

func (c *counter) Spec() runtime.Spec {
	out := runtime.IO{Name: "logits", DType: runtime.F32, Shape: []int{-1, c.v}, Role: "output"}
	if c.perStep {
		out.Shape = []int{-1, c.t, c.v}
	}
	return runtime.Spec{Name: "Counter", MaxBatch: 4,
		Inputs: []runtime.IO{
			{Name: "scale", DType: runtime.F32, Shape: []int{-1, 2}, Role: "input"},
			{Name: "tokens", DType: runtime.I32, Shape: []int{-1, c.t}, Role: "input"},
			{Name: "next", DType: runtime.I32, Shape: []int{-1, c.t}, Role: "target"},
		},
		Outputs: []runtime.IO{{Name: "other", DType: runtime.F32, Shape: []int{-1, 3, 3, 3}, Role: "output"}, out}}
}

func (c *counter) Predict(b runtime.Batch, n int, outs [][]float32) error {
	x := b[1].I32[:c.t]
	c.seen = append(c.seen, slices.Clone(x))
	o := outs[1]
	clear(o)
	if c.perStep {
		for i, tok := range x {
			o[i*c.v+(int(tok)+1)%c.v] = 10
		}
	} else {
		o[(int(x[c.t-1])+1)%c.v] = 10
	}
	return nil
}

func (c *counter) Train(runtime.Batch, int) (float32, error) { return 0, errors.New("no") }
func (c *counter) Evaluate(runtime.Batch, int, []float32) (float32, error) {
	return 0, errors.New("no")
}
func (c *counter) Params() []runtime.Tensor { return nil }
func (c *counter) Save(string) error        { return nil }
func (c *counter) Load(string) error        { return nil }

func TestGenerateGreedy(t *testing.T) {
	for _, perStep := range []bool{true, false} {
		m := &counter{t: 4, v: 7, perStep: perStep}
		s, err := New(m, Options{Temperature: -1, Pad: 6})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Generate([]int32{3, 4}, 6)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int32{3, 4, 5, 6, 0, 1, 2, 3}; !slices.Equal(got, want) {
			t.Errorf("perStep %v: %v, want %v", perStep, got, want)
		}
		// The windows: a short prompt padded (right for per-step models,
		// left for next-token ones), then the last T tokens.
		first, last := []int32{3, 4, 6, 6}, []int32{6, 0, 1, 2}
		if !perStep {
			first = []int32{6, 6, 3, 4}
		}
		if !slices.Equal(m.seen[0], first) || !slices.Equal(m.seen[len(m.seen)-1], last) {
			t.Errorf("perStep %v: windows %v", perStep, m.seen)
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(&counter{t: 4, v: 7, perStep: true}, Options{Output: "other"}); err == nil {
		t.Error("an output of shape [N, 3, 3, 3] was accepted")
	}
	if _, err := New(&counter{t: 4, v: 7}, Options{Pad: 7}); err == nil {
		t.Error("a pad token outside the vocabulary was accepted")
	}
	s, _ := New(&counter{t: 4, v: 7}, Options{})
	if _, err := s.Generate([]int32{9}, 1); err == nil {
		t.Error("a prompt token outside the vocabulary was accepted")
	}
}

// freq draws n tokens from row and returns each token's frequency.
func freq(row []float32, o Options, n int) []float64 {
	rng := rand.New(rand.NewPCG(o.Seed, 1))
	order, p := make([]int, len(row)), make([]float64, len(row))
	f := make([]float64, len(row))
	for range n {
		f[draw(row, o, rng, order, p)] += 1 / float64(n)
	}
	return f
}

func TestDrawDistribution(t *testing.T) {
	ln3 := float32(math.Log(3))
	const n = 40000
	near := func(name string, got, want []float64) {
		t.Helper()
		for i := range want {
			if math.Abs(got[i]-want[i]) > 0.01 {
				t.Errorf("%s: frequencies %v, want %v", name, got, want)
				return
			}
		}
	}
	// softmax(0, ln 3, -inf-ish) = (1/4, 3/4, 0).
	near("temperature 1", freq([]float32{0, ln3, -100}, Options{Seed: 3}, n), []float64{0.25, 0.75, 0})
	// temperature 0.5 squares the odds: (1/10, 9/10).
	near("temperature 0.5", freq([]float32{0, ln3, -100}, Options{Temperature: 0.5, Seed: 3}, n), []float64{0.1, 0.9, 0})
	// top-k 2 of (0.5, ln 3, 0, 0): only the two largest remain, e^0.5 : 3.
	near("top-k 2", freq([]float32{0.5, ln3, 0, 0}, Options{TopK: 2, Seed: 4}, n),
		[]float64{1 / (1 + 3/math.Exp(0.5)), 3 / math.Exp(0.5) / (1 + 3/math.Exp(0.5)), 0, 0})
	// probabilities in, same distribution.
	near("probs", freq([]float32{0.25, 0.75, 0}, Options{Probs: true, Seed: 5}, n), []float64{0.25, 0.75, 0})
	near("greedy", freq([]float32{1, 2, 2, 0}, Options{Temperature: -1}, 10), []float64{0, 1, 0, 0})
	near("top-k 1", freq([]float32{1, 2, 2, 0}, Options{TopK: 1, Seed: 9}, 10), []float64{0, 1, 0, 0})
}

func TestDeterministic(t *testing.T) {
	run := func(seed uint64) []int32 {
		m := &counter{t: 3, v: 5, perStep: true}
		m2 := &noisy{m}
		s, err := New(m2, Options{Seed: seed, TopK: 4, Temperature: 2})
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Generate(nil, 40)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b, c := run(1), run(1), run(2)
	if !slices.Equal(a, b) {
		t.Errorf("seed 1 twice: %v and %v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 1 and 2 drew the same %v", a)
	}
}

// noisy flattens counter's logits so that draws vary.
type noisy struct{ *counter }

func (m *noisy) Predict(b runtime.Batch, n int, outs [][]float32) error {
	err := m.counter.Predict(b, n, outs)
	for i := range outs[1] {
		outs[1][i] /= 10
	}
	return err
}
