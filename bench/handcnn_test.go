package bench

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/examples/catsdogs/catsdogs"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/eval"
	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
)

// handCNNTestConfig is a small geometry with every stage of the seed CNN:
// 64 -> 62 -> 31 -> 29 -> 14 (an odd size, pooled with floor) -> 12 -> 6 ->
// 4 -> 2, so the flatten is 2x2x6 and its order matters.
var handCNNTestConfig = HandCNNConfig{Height: 64, Width: 64, Channels: 3, Filters: [4]int{4, 5, 6, 6}, Hidden: 7, Seed: 3}

// handCNNSource is catsdogs.mdl for cfg, without the dropout (the
// interpreter's Philox mask and HandCNN's are different streams).
func handCNNSource(cfg HandCNNConfig) []byte {
	f := cfg.Filters
	return fmt.Appendf(nil, `model Small {
    input  image: f32[N, %d, %d, %d]
    target label: f32[N, 1]
    c1 = max_pool2d(relu(conv2d(image, %d, 3)), 2)
    c2 = max_pool2d(relu(conv2d(c1, %d, 3)), 2)
    c3 = max_pool2d(relu(conv2d(c2, %d, 3)), 2)
    c4 = max_pool2d(relu(conv2d(c3, %d, 3)), 2)
    hidden = relu(dense(flatten(c4), %d))
    output prob = sigmoid(dense(hidden, 1))
    loss binary_cross_entropy(prob, label)
    optimizer rmsprop(lr: 1e-4)
}
`, cfg.Height, cfg.Width, cfg.Channels, f[0], f[1], f[2], f[3], cfg.Hidden)
}

func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func f32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// TestHandCNNMatchesInterpreter runs two training steps of HandCNN (no
// dropout, random biases) and of mdlc's float64 interpreter on the same
// model, parameters and batches, and compares the loss, every parameter's
// gradient and every parameter after each RMSprop step (max |a-b| / max |b|
// per tensor, within 1e-4).
func TestHandCNNMatchesInterpreter(t *testing.T) {
	cfg := handCNNTestConfig
	src := handCNNSource(cfg)
	gs, diags := lower.Source("small.mdl", src)
	if len(diags) > 0 {
		t.Fatalf("%s", diags.Format(dsl.Sources{"small.mdl": src}))
	}
	g := gs[0]
	if _, err := passes.Run(g, passes.Options{VerifyEach: true}); err != nil {
		t.Fatal(err)
	}

	h := NewHandCNN(cfg, NativeGemm)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range h.Params() {
		if len(p.Shape) == 1 { // biases: nonzero, so they matter
			for i := range p.Data {
				p.Data[i] = 0.1 * (rng.Float32() - 0.5)
			}
		}
	}
	bind := map[string]*ir.Tensor{}
	for _, p := range h.Params() {
		bind[p.Name] = &ir.Tensor{Shape: slices.Clone(p.Shape), Data: f64(p.Data)}
	}
	for _, v := range g.State() {
		bind[v.Name] = ir.NewTensor(v.Type.Shape.Resolve(1))
	}
	if len(bind) != len(g.Params())+len(g.State()) {
		t.Fatalf("HandCNN has %d params, the model %d", len(h.Params()), len(g.Params()))
	}

	const n = 3
	for step := 1; step <= 2; step++ {
		x, y := make([]float32, n*cfg.Height*cfg.Width*cfg.Channels), make([]float32, n)
		for i := range x {
			x[i] = rng.Float32()
		}
		for i := range y {
			y[i] = float32(i % 2)
		}
		bind["image"] = &ir.Tensor{Shape: []int{n, cfg.Height, cfg.Width, cfg.Channels}, Data: f64(x)}
		bind["label"] = &ir.Tensor{Shape: []int{n, 1}, Data: f64(y)}
		env, next, err := eval.Step(g, n, bind)
		if err != nil {
			t.Fatal(err)
		}
		bind = next
		loss := h.Step(x, y, n)

		want := env[g.Loss()].Data[0]
		if d := relDiff([]float32{float32(want)}, []float32{loss}); d > 1e-4 {
			t.Errorf("step %d: loss %v, interpreter %v", step, loss, want)
		}
		grads := map[string][]float32{}
		for _, r := range g.ResultsOf(ir.ResultGrad) {
			grads[r.Name] = f32(env[r.Value].Data)
		}
		worst := 0.0
		for i, p := range h.Params() {
			gp := h.Grads()[i]
			wantG, ok := grads[p.Name]
			if !ok {
				t.Fatalf("the model has no gradient of %s", p.Name)
			}
			d := relDiff(wantG, gp.Data)
			if d > 1e-4 {
				t.Errorf("step %d: gradient of %s: rel diff %.2g", step, p.Name, d)
			}
			worst = max(worst, d)
			if d := relDiff(f32(bind[p.Name].Data), p.Data); d > 1e-4 {
				t.Errorf("step %d: %s after the update: rel diff %.2g", step, p.Name, d)
			}
		}
		t.Logf("step %d: loss %.6f (interpreter %.6f), gradients within %.2g", step, loss, want, worst)
	}
}

// TestHandCNNDropout checks the inverted dropout: the mask is 0 or 2 at
// rate 0.5, about half zeros, and dropped features reach neither the hidden
// layer nor, backward, the last stage.
func TestHandCNNDropout(t *testing.T) {
	cfg := handCNNTestConfig
	cfg.Filters = [4]int{4, 4, 4, 64} // 256 features
	cfg.Dropout = 0.5
	h := NewHandCNN(cfg, NativeGemm)
	const n = 4
	rng := rand.New(rand.NewPCG(7, 8))
	x, y := make([]float32, n*cfg.Height*cfg.Width*cfg.Channels), []float32{0, 1, 1, 0}
	for i := range x {
		x[i] = rng.Float32()
	}
	h.Step(x, y, n)
	zeros := 0
	mask := h.mask[:n*h.flat]
	for i, m := range mask {
		switch m {
		case 0:
			zeros++
			if h.drop[i] != 0 || h.ddrop[i] != 0 {
				t.Fatalf("feature %d dropped but passes %v forward, %v backward", i, h.drop[i], h.ddrop[i])
			}
		case 2:
			if h.drop[i] != 2*h.conv[3].pool[i] {
				t.Fatalf("feature %d kept as %v, want 2 * %v", i, h.drop[i], h.conv[3].pool[i])
			}
		default:
			t.Fatalf("mask %v, want 0 or 2", m)
		}
	}
	if f := float64(zeros) / float64(len(mask)); f < 0.4 || f > 0.6 {
		t.Errorf("%.2f of the features dropped at rate 0.5", f)
	}
}

// TestHandCNNCatsDogsShapes checks that CatsDogsConfig is the generated
// catsdogs model: the same parameter names, order and shapes.
func TestHandCNNCatsDogsShapes(t *testing.T) {
	want := catsdogs.New().Params()
	got := NewHandCNN(CatsDogsConfig, NativeGemm).Params()
	if len(got) != len(want) {
		t.Fatalf("%d params, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Name != want[i].Name || !slices.Equal(got[i].Shape, want[i].Shape) {
			t.Errorf("param %d: %s%v, want %s%v", i, got[i].Name, got[i].Shape, want[i].Name, want[i].Shape)
		}
	}
}

// TestHandCNNNoAlloc checks that a step allocates nothing.
func TestHandCNNNoAlloc(t *testing.T) {
	cfg := handCNNTestConfig
	cfg.Dropout = 0.5
	h := NewHandCNN(cfg, NativeGemm)
	const n = 2
	x, y := make([]float32, n*cfg.Height*cfg.Width*cfg.Channels), []float32{0, 1}
	h.Step(x, y, n)
	if a := testing.AllocsPerRun(3, func() { h.Step(x, y, n) }); a != 0 {
		t.Errorf("Step allocates %v times per call, want 0", a)
	}
}

// BenchmarkCatsDogsHandStep is BenchmarkCatsDogsStep (augment_test.go, the
// same data) on HandCNN: run both with -bench 'CatsDogs(Hand)?Step'.
func BenchmarkCatsDogsHandStep(b *testing.B) {
	const n = HandCNNMaxBatch
	rng := rand.New(rand.NewPCG(5, 6))
	xs, ys := make([][]float32, 4), make([][]float32, 4)
	for i := range xs {
		xs[i], ys[i] = make([]float32, n*150*150*3), make([]float32, n)
		for j := range xs[i] {
			xs[i][j] = rng.Float32()
		}
		for j := range ys[i] {
			ys[i][j] = float32(rng.IntN(2))
		}
	}
	h := NewHandCNN(CatsDogsConfig, NativeGemm)
	h.Step(xs[0], ys[0], n) // first-call costs are not per step
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.Step(xs[i%len(xs)], ys[i%len(ys)], n)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "images/s")
}
