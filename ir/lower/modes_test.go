package lower_test

import (
	"math"
	"testing"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/eval"
	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
)

// TestGradcheckBatchNorm checks batch_norm's training path (batch
// statistics over every axis but the last) by finite differences, after a
// convolution (N, H, W) and after a dense layer (N).
func TestGradcheckBatchNorm(t *testing.T) {
	src := `model BN {
    input  x: f32[N, 4, 4, 2]
    target t: f32[N, 3]
    a = batch_norm(tanh(conv2d(x, 3, 2, use_bias: false)))
    h = batch_norm(tanh(dense(flatten(a), 5)), momentum: 0.5, eps: 0.1)
    p = dense(h, 3)
    loss mse(p, t)
    optimizer sgd(lr: 0.1)
}
`
	gradcheck(t, "bn.mdl", []byte(src), 3)
}

func lowerOne(t *testing.T, src string) *ir.Graph {
	t.Helper()
	gs, diags := lower.Source("m.mdl", []byte(src))
	if len(diags) > 0 {
		t.Fatalf("%s", diags.Format(dsl.Sources{"m.mdl": []byte(src)}))
	}
	return gs[0]
}

// TestBatchNormKeras runs k training steps of the interpreter and compares
// the moving statistics with Keras's rule computed here by hand (Keras 3
// BatchNormalization.call: mean, variance = ops.moments(x) (the biased
// variance); moving = moving * momentum + batch * (1 - momentum)); then
// checks that inference (the output, the Eval loss) reads the moving
// statistics and training (the train_loss) the batch's.
func TestBatchNormKeras(t *testing.T) {
	const mom, eps, n, k = 0.9, 0.01, 4, 3
	g := lowerOne(t, `model BN {
    input  x: f32[N, 3]
    target y: f32[N, 3]
    h = batch_norm(x, momentum: 0.9, eps: 0.01)
    output out = h
    loss mse(h, y)
    optimizer sgd(lr: 0.5)
}
`)
	if _, err := passes.Run(g, passes.Options{VerifyEach: true, MaxBatch: n}); err != nil {
		t.Fatal(err)
	}
	bind := eval.Random(g, n, 5, nil)
	for _, v := range g.State() {
		clear(bind[v.Name].Data)
	}
	for i := range bind["h.moving_variance"].Data {
		bind["h.moving_variance"].Data[i] = 1 // Keras's initializer
	}
	mm, mv := []float64{0, 0, 0}, []float64{1, 1, 1}
	for step := range k {
		x := bind["x"].Data
		for i := range x {
			x[i] = math.Sin(float64(7*i+step*13)) * float64(1+i%3)
		}
		for c := range 3 {
			var mean, vr float64
			for r := range n {
				mean += x[r*3+c] / n
			}
			for r := range n {
				vr += (x[r*3+c] - mean) * (x[r*3+c] - mean) / n
			}
			mm[c] = mm[c]*mom + mean*(1-mom)
			mv[c] = mv[c]*mom + vr*(1-mom)
		}
		env, next, err := eval.Step(g, n, bind)
		if err != nil {
			t.Fatal(err)
		}
		if env[g.Loss()].Data[0] == env[g.TrainLoss()].Data[0] {
			t.Errorf("step %d: the Eval loss and the training loss agree (%g): modes not split", step, env[g.Loss()].Data[0])
		}
		bind = next
	}
	for c := range 3 {
		if got := bind["h.moving_mean"].Data[c]; math.Abs(got-mm[c]) > 1e-12 {
			t.Errorf("moving_mean[%d] after %d steps = %.15g, Keras's rule gives %.15g", c, k, got, mm[c])
		}
		if got := bind["h.moving_variance"].Data[c]; math.Abs(got-mv[c]) > 1e-12 {
			t.Errorf("moving_variance[%d] after %d steps = %.15g, Keras's rule gives %.15g", c, k, got, mv[c])
		}
	}
	// Inference: (x - moving_mean) / sqrt(moving_variance + eps) * gamma + beta.
	env, err := eval.Run(g, n, bind)
	if err != nil {
		t.Fatal(err)
	}
	out := env[g.ResultsOf(ir.ResultOutput)[0].Value].Data
	x, gamma, beta := bind["x"].Data, bind["h.gamma"].Data, bind["h.beta"].Data
	for i, got := range out {
		c := i % 3
		want := (x[i]-mm[c])/math.Sqrt(mv[c]+eps)*gamma[c] + beta[c]
		if math.Abs(got-want) > 1e-12 {
			t.Fatalf("inference output[%d] = %g, want %g", i, got, want)
		}
	}
}

// TestModesEntries checks the plan of a model with both modes: Forward and
// Eval run only what outputs, the loss and metrics need in inference, and
// TrainStep only what the training loss, the gradients and the updates
// need; each mode has units of its own.
func TestModesEntries(t *testing.T) {
	for _, level := range []passes.Level{passes.O0, passes.O2} {
		g := lowerOne(t, `model M {
    input  x: f32[N, 4, 4, 2]
    target y: i32[N]
    a = batch_norm(relu(conv2d(x, 3, 2)))
    logits = dense(flatten(a), 3)
    output probs = softmax(logits)
    loss cross_entropy(logits, y)
    metric accuracy(logits, y)
    optimizer adam()
}
`)
		if _, err := passes.Run(g, passes.Options{VerifyEach: true, MaxBatch: 8, Level: level}); err != nil {
			t.Fatal(err)
		}
		var infer, train []*ir.Value
		for _, r := range g.Results {
			switch r.Kind {
			case ir.ResultOutput, ir.ResultLoss, ir.ResultMetric:
				infer = append(infer, r.Value)
			default:
				train = append(train, r.Value)
			}
		}
		for _, u := range g.Updates {
			train = append(train, u.Value)
		}
		inf, trn := ir.Reaches(infer...), ir.Reaches(train...)
		var onlyInfer, onlyTrain int
		for _, u := range g.Plan.Units {
			for _, v := range u.Values {
				if (u.Runs(ir.EntryForward) || u.Runs(ir.EntryEval)) && !inf[v] {
					t.Errorf("O%d: Forward or Eval runs %%%d %s, which only training needs", level-1, v.ID, v.Op.Name)
				}
				if u.Runs(ir.EntryStep) && !trn[v] {
					t.Errorf("O%d: TrainStep runs %%%d %s, which only inference needs", level-1, v.ID, v.Op.Name)
				}
			}
			if !u.Runs(ir.EntryStep) && u.Entries != 0 {
				onlyInfer++
			}
			if u.Runs(ir.EntryStep) && !u.Runs(ir.EntryEval) && u.Phase == ir.PhaseForward {
				onlyTrain++
			}
		}
		if onlyInfer == 0 || onlyTrain == 0 {
			t.Errorf("O%d: %d inference-only units, %d training-only forward units; want both", level-1, onlyInfer, onlyTrain)
		}
	}
}

// TestModesText round-trips a graph with both modes (the train_loss result
// and a layer's state updates) through the text form.
func TestModesText(t *testing.T) {
	g := lowerOne(t, `model M {
    input  x: f32[N, 3]
    target y: f32[N, 3]
    h = batch_norm(x)
    loss mse(h, y)
}
`)
	if g.TrainLoss() == g.Loss() || len(g.Updates) != 2 {
		t.Fatalf("train loss %v (loss %v), %d updates; want a train_loss and 2 updates", g.TrainLoss(), g.Loss(), len(g.Updates))
	}
	text := ir.Format(g)
	back, err := ir.ParseText("m.ir", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if got := ir.Format(back); got != text {
		t.Fatalf("round trip differs:\n%s\nwant\n%s", got, text)
	}
	if back.TrainLoss() == back.Loss() {
		t.Error("train_loss lost in the round trip")
	}
}

// TestDropoutInterpreter checks dropout in the interpreter: in training the
// fraction dropped is within 5 standard errors of the rate and every kept
// element is x / (1 - rate); in inference the output is x; the mask
// changes with the step and repeats for the same step and key.
func TestDropoutInterpreter(t *testing.T) {
	const rate, n, d = 0.3, 50, 200
	g := lowerOne(t, `model D {
    input  x: f32[N, 200]
    target y: f32[N, 200]
    h = dropout(x, 0.3)
    output out = h
    loss mse(h, y)
    optimizer sgd(lr: 0.1)
}
`)
	if _, err := passes.Run(g, passes.Options{VerifyEach: true, MaxBatch: n, Level: passes.O0}); err != nil {
		t.Fatal(err)
	}
	var train *ir.Value // the training path's h: the where feeding the train loss
	for _, v := range g.Values {
		if v.Op.Name == "where" && ir.Reaches(g.TrainLoss())[v] {
			train = v
		}
	}
	if train == nil {
		t.Fatal("no training dropout")
	}
	bind := eval.Random(g, n, 1, nil)
	bind["x"].Data[0] = 0 // a zero kept is still zero
	bind["optimizer.step"].Data[0] = 0
	masks := map[float64][]bool{}
	for _, step := range []float64{0, 1, 0} {
		bind["optimizer.step"].Data[0] = step
		env, err := eval.Run(g, n, bind)
		if err != nil {
			t.Fatal(err)
		}
		x, h := bind["x"].Data, env[train].Data
		out := env[g.ResultsOf(ir.ResultOutput)[0].Value].Data
		dropped := 0
		mask := make([]bool, len(x))
		for i := range x {
			if out[i] != x[i] {
				t.Fatalf("inference output[%d] = %g, want x = %g", i, out[i], x[i])
			}
			want := float64(float32(x[i] * float64(float32(1/(1-rate)))))
			switch {
			case h[i] == 0 && x[i] != 0:
				dropped++
			case math.Abs(h[i]-x[i]/(1-rate)) > 1e-6:
				t.Fatalf("kept element %d = %g, want x/(1-rate) = %g (%g)", i, h[i], x[i]/(1-rate), want)
			default:
				mask[i] = true
			}
		}
		if se := math.Sqrt(rate * (1 - rate) / (n * d)); math.Abs(float64(dropped)/(n*d)-rate) > 5*se {
			t.Errorf("step %g: dropped %d of %d (%.4f), want %.2f ± %.4f", step, dropped, n*d, float64(dropped)/(n*d), rate, 5*se)
		}
		if prev, ok := masks[step]; ok {
			for i := range prev {
				if prev[i] != mask[i] {
					t.Fatalf("step %g drew another mask the second time (element %d)", step, i)
				}
			}
		}
		masks[step] = mask
	}
	same := 0
	for i := range masks[0] {
		if masks[0][i] == masks[1][i] {
			same++
		}
	}
	if same == len(masks[0]) {
		t.Error("steps 0 and 1 drew the same mask")
	}
}
