// Package sample generates token sequences from a trained sequence model:
// any runtime.Model with an i32 input of tokens [N, T] and an output of
// logits (or probabilities) over a vocabulary V, either for every position
// [N, T, V] (a GPT) or for the next token only [N, V] (a recurrent model
// returning its last step). Each step runs Predict on the last T tokens and
// draws the next one with a temperature and a top-k cut, as nanoGPT's
// sample.py and llm.c do; the draws are deterministic for a seed.
package sample

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/mdlc/mdlc/runtime"
)

// Options configure sampling. The zero value samples from the model's
// distribution (temperature 1, every token) with seed 0.
type Options struct {
	// Temperature divides the logits: below 1 sharpens the distribution,
	// above 1 flattens it; a negative value means greedy decoding (always
	// the most likely token). Zero means 1.
	Temperature float64
	// TopK keeps the K most likely tokens (ties at the K-th broken by the
	// lower token) and renormalizes; 0 keeps all.
	TopK int
	// Seed seeds the draws (PCG): equal seeds give equal samples.
	Seed uint64
	// Probs says the output holds probabilities (a softmax output), not
	// logits.
	Probs bool
	// Output names the model output to read; empty means the first.
	Output string
	// Pad is the token before the first one of the prompt, written where
	// the window holds no token yet ([N, V] models read the window's end,
	// so a short prompt is padded on the left; [N, T, V] models read the
	// prompt's last position and are padded on the right).
	Pad int32
}

// Sampler draws tokens from one model. It is not safe for concurrent use.
type Sampler struct {
	m       runtime.Model
	opts    Options
	rng     *rand.Rand
	in      int // the tokens input
	out     int // the output read
	t, v    int // window and vocabulary
	perStep bool
	batch   runtime.Batch
	outs    [][]float32
	order   []int
	p       []float64
}

// New checks that m is a sequence model as the package doc says.
func New(m runtime.Model, opts Options) (*Sampler, error) {
	spec := m.Spec()
	s := &Sampler{m: m, opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, 0x5eed)), in: -1, out: -1}
	for i, in := range spec.Inputs {
		if in.Role != "target" && in.DType == runtime.I32 && len(in.Shape) == 2 && in.Shape[0] == -1 && in.Shape[1] > 0 {
			s.in, s.t = i, in.Shape[1]
			break
		}
	}
	if s.in < 0 {
		return nil, fmt.Errorf("sample: model %s has no i32 input of tokens [N, T]", spec.Name)
	}
	for i, o := range spec.Outputs {
		if opts.Output != "" && o.Name != opts.Output {
			continue
		}
		switch {
		case len(o.Shape) == 3 && o.Shape[0] == -1 && o.Shape[1] == s.t:
			s.out, s.v, s.perStep = i, o.Shape[2], true
		case len(o.Shape) == 2 && o.Shape[0] == -1:
			s.out, s.v = i, o.Shape[1]
		default:
			if opts.Output != "" {
				return nil, fmt.Errorf("sample: output %s %v is neither [N, %d, V] nor [N, V]", o.Name, o.Shape, s.t)
			}
			continue
		}
		break
	}
	if s.out < 0 {
		return nil, fmt.Errorf("sample: model %s has no output of logits [N, %d, V] or [N, V]", spec.Name, s.t)
	}
	if opts.Pad < 0 || int(opts.Pad) >= s.v {
		return nil, fmt.Errorf("sample: pad token %d outside the vocabulary of %d", opts.Pad, s.v)
	}
	s.batch = make(runtime.Batch, len(spec.Inputs))
	for i, in := range spec.Inputs {
		n, _ := in.PerExample()
		if in.DType == runtime.I32 {
			s.batch[i].I32 = make([]int32, n)
		} else {
			s.batch[i].F32 = make([]float32, n)
		}
	}
	s.outs = make([][]float32, len(spec.Outputs))
	for i, o := range spec.Outputs {
		n, _ := o.PerExample()
		s.outs[i] = make([]float32, n)
	}
	s.order, s.p = make([]int, s.v), make([]float64, s.v)
	return s, nil
}

// Window is T, the number of tokens the model reads.
func (s *Sampler) Window() int { return s.t }

// Vocab is V, the number of tokens.
func (s *Sampler) Vocab() int { return s.v }

// Generate returns prompt followed by n tokens drawn one at a time, each
// from the model's prediction given the last T tokens before it.
func (s *Sampler) Generate(prompt []int32, n int) ([]int32, error) {
	if len(prompt) == 0 {
		prompt = []int32{s.opts.Pad}
	}
	seq := append([]int32(nil), prompt...)
	for _, tok := range seq {
		if tok < 0 || int(tok) >= s.v {
			return nil, fmt.Errorf("sample: prompt token %d outside the vocabulary of %d", tok, s.v)
		}
	}
	for range n {
		row, err := s.predict(seq)
		if err != nil {
			return nil, err
		}
		seq = append(seq, int32(s.Draw(row)))
	}
	return seq, nil
}

// predict runs the model on the window ending at seq's last token and
// returns the output row that predicts the token after it.
func (s *Sampler) predict(seq []int32) ([]float32, error) {
	win := seq[max(0, len(seq)-s.t):]
	x := s.batch[s.in].I32
	for i := range x {
		x[i] = s.opts.Pad
	}
	at := len(win) - 1 // the position whose prediction is the next token
	if s.perStep {
		copy(x, win)
	} else {
		copy(x[s.t-len(win):], win)
	}
	if err := s.m.Predict(s.batch, 1, s.outs); err != nil {
		return nil, err
	}
	if s.perStep {
		return s.outs[s.out][at*s.v : (at+1)*s.v], nil
	}
	return s.outs[s.out][:s.v], nil
}

// Draw picks a token from one row of V logits (or probabilities) with the
// sampler's temperature, top-k and random source.
func (s *Sampler) Draw(row []float32) int {
	if len(row) != s.v {
		panic(errors.New("sample: Draw needs a row of V values"))
	}
	return draw(row, s.opts, s.rng, s.order, s.p)
}

// draw is Draw with its scratch: order and p hold len(row) elements.
func draw(row []float32, o Options, rng *rand.Rand, order []int, p []float64) int {
	for i := range order {
		order[i] = i
	}
	logit := func(i int) float64 {
		if o.Probs {
			return math.Log(float64(row[i]))
		}
		return float64(row[i])
	}
	// Most likely first; ties by the lower token.
	sort.SliceStable(order, func(a, b int) bool { return row[order[a]] > row[order[b]] })
	if o.Temperature < 0 {
		return order[0]
	}
	k := len(order)
	if o.TopK > 0 && o.TopK < k {
		k = o.TopK
	}
	temp := o.Temperature
	if temp == 0 {
		temp = 1
	}
	top := logit(order[0])
	var sum float64
	for j := 0; j < k; j++ {
		p[j] = math.Exp((logit(order[j]) - top) / temp)
		sum += p[j]
	}
	u := rng.Float64() * sum
	for j := 0; j < k; j++ {
		if u -= p[j]; u < 0 {
			return order[j]
		}
	}
	return order[k-1]
}
