package passes_test

// Optimizer pass tests: every rule is checked step by step against the
// update loop written out by hand in float64 below (refRun), on a tiny model
// whose gradient is also derived by hand; every schedule's learning rate is
// checked against its closed form.

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/eval"
	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
)

var optPos = ir.Pos{File: "m.mdl", Line: 9, Col: 5}

func optSource(b *ir.Builder, op, name string, s ...ir.Dim) *ir.Value {
	attrs := ir.Attrs{"dtype": ir.F32, "shape": ir.Shape(s), "init": "zeros"}
	if op == "input" {
		attrs = ir.Attrs{"role": "input", "dtype": ir.F32, "shape": ir.Shape(s)}
	}
	v := b.Op(op, attrs, nil...)
	v.Name = name
	return v
}

// linModel: params w f32[3], b f32; inputs x, y f32[N, 3];
// loss = mean((x*w + b - y)^2); optimizer name(attrs).
func linModel(t *testing.T, name string, attrs ir.Attrs) *ir.Graph {
	t.Helper()
	g := &ir.Graph{Name: "lin"}
	b := ir.NewBuilder(g)
	x := optSource(b, "input", "x", ir.N, 3)
	y := optSource(b, "input", "y", ir.N, 3)
	w := optSource(b, "param", "w", 3)
	bias := optSource(b, "param", "b")
	r := b.Sub(b.Add(b.Mul(x, w), bias), y)
	loss := b.Op("reduce_mean", ir.Attrs{"axes": []int{0, 1}}, b.Mul(r, r))
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	g.Results = append(g.Results, ir.Result{Kind: ir.ResultLoss, Name: "loss", Value: loss})
	g.Optimizer = &ir.Optimizer{Name: name, Attrs: attrs, Pos: optPos}
	g.Renumber()
	return g
}

// The data and initial params of linModel (N = 2).
var (
	linX  = []float64{0.5, -1, 2, 1.5, 0.3, -0.7}
	linY  = []float64{1, 0, -1, 0.2, 0.4, 0.9}
	linW0 = []float64{0.3, -0.2, 0.1}
	linB0 = 0.05
)

// linGrad is d loss / d (w, b) of linModel, derived by hand:
// r = x*w + b - y, dw_j = 2/6 sum_i r_ij x_ij, db = 2/6 sum_ij r_ij.
func linGrad(w []float64, b float64) ([]float64, float64) {
	gw, gb := make([]float64, 3), 0.0
	for i := range 2 {
		for j := range 3 {
			r := linX[3*i+j]*w[j] + b - linY[3*i+j]
			gw[j] += 2.0 / 6 * r * linX[3*i+j]
			gb += 2.0 / 6 * r
		}
	}
	return gw, gb
}

// refCfg holds the hyperparameters for refRun, every default written out.
type refCfg struct {
	opt                    string
	lr                     func(t int) float64 // nil: constant lr0
	lr0                    float64
	mu                     float64
	nesterov               bool
	b1, b2, eps, rho       float64
	wd, clip               float64
	clipped, clipUntouched int // how often clipping scaled / left the gradient
}

// refRun is the update loop in plain float64: steps updates of linModel
// from (linW0, linB0), returning after each step every param and state by
// name. Params are kept as the list [w, b], with b as a 1-vector.
func refRun(c *refCfg, steps int) []map[string][]float64 {
	p := [][]float64{slices.Clone(linW0), {linB0}}
	names := []string{"w", "b"}
	zero := func() [][]float64 { return [][]float64{make([]float64, 3), make([]float64, 1)} }
	m, v, buf, ms := zero(), zero(), zero(), zero()
	var out []map[string][]float64
	for t := 1; t <= steps; t++ {
		gw, gb := linGrad(p[0], p[1][0])
		g := [][]float64{gw, {gb}}
		if c.clip > 0 {
			sq := 0.0
			for i := range g {
				for _, x := range g[i] {
					sq += x * x
				}
			}
			if norm := math.Sqrt(sq); norm > c.clip {
				c.clipped++
				for i := range g {
					for j := range g[i] {
						g[i][j] *= c.clip / norm
					}
				}
			} else {
				c.clipUntouched++
			}
		}
		lr := c.lr0
		if c.lr != nil {
			lr = c.lr(t)
		}
		for i := range p {
			for j := range p[i] {
				gij, pij := g[i][j], p[i][j]
				if c.wd > 0 && c.opt != "adamw" {
					gij += c.wd * pij
				}
				switch c.opt {
				case "sgd":
					if c.mu == 0 {
						p[i][j] = pij - lr*gij
						break
					}
					buf[i][j] = c.mu*buf[i][j] + gij
					d := buf[i][j]
					if c.nesterov {
						d = gij + c.mu*buf[i][j]
					}
					p[i][j] = pij - lr*d
				case "adam", "adamw":
					m[i][j] = c.b1*m[i][j] + (1-c.b1)*gij
					v[i][j] = c.b2*v[i][j] + (1-c.b2)*gij*gij
					mhat := m[i][j] / (1 - math.Pow(c.b1, float64(t)))
					vhat := v[i][j] / (1 - math.Pow(c.b2, float64(t)))
					u := mhat / (math.Sqrt(vhat) + c.eps)
					if c.opt == "adamw" {
						u += c.wd * pij
					}
					p[i][j] = pij - lr*u
				case "rmsprop":
					ms[i][j] = c.rho*ms[i][j] + (1-c.rho)*gij*gij
					inc := lr * gij / math.Sqrt(ms[i][j]+c.eps)
					if c.mu > 0 {
						buf[i][j] = c.mu*buf[i][j] + inc
						inc = buf[i][j]
					}
					p[i][j] = pij - inc
				}
			}
		}
		snap := map[string][]float64{"optimizer.step": {float64(t)}}
		for i, n := range names {
			snap[n] = slices.Clone(p[i])
			switch {
			case c.opt == "adam" || c.opt == "adamw":
				snap["optimizer."+n+".m"], snap["optimizer."+n+".v"] = slices.Clone(m[i]), slices.Clone(v[i])
			case c.opt == "rmsprop":
				snap["optimizer."+n+".ms"] = slices.Clone(ms[i])
				if c.mu > 0 {
					snap["optimizer."+n+".momentum"] = slices.Clone(buf[i])
				}
			case c.mu > 0:
				snap["optimizer."+n+".momentum"] = slices.Clone(buf[i])
			}
		}
		out = append(out, snap)
	}
	return out
}

// relClose reports agreement to 1e-12 relative (exact zeros must match).
func relClose(got, want float64) bool {
	return math.Abs(got-want) <= 1e-12*math.Abs(want) || got == want
}

// optimize runs Autodiff and Optimizer on g and verifies the result.
func optimize(t *testing.T, g *ir.Graph) {
	t.Helper()
	c := &passes.Context{}
	if err := passes.Autodiff(g, c); err != nil {
		t.Fatalf("autodiff: %v", err)
	}
	if err := passes.Optimizer(g, c); err != nil {
		t.Fatalf("optimizer: %v", err)
	}
	if err := ir.Verify(g); err != nil {
		t.Fatalf("invalid IR after optimizer: %v\n%s", err, ir.Format(g))
	}
}

// linBindings binds linModel's inputs, initial params and zero state.
func linBindings(g *ir.Graph) map[string]*ir.Tensor {
	bind := map[string]*ir.Tensor{
		"x": {Shape: []int{2, 3}, Data: slices.Clone(linX)},
		"y": {Shape: []int{2, 3}, Data: slices.Clone(linY)},
		"w": {Shape: []int{3}, Data: slices.Clone(linW0)},
		"b": ir.ScalarTensor(linB0),
	}
	for _, s := range g.State() {
		bind[s.Name] = ir.NewTensor(s.Type.Shape.Resolve(2))
	}
	return bind
}

// trainLin runs steps eval.Steps of linModel, returning the bindings after each.
func trainLin(t *testing.T, g *ir.Graph, steps int) []map[string]*ir.Tensor {
	t.Helper()
	bind := linBindings(g)
	var out []map[string]*ir.Tensor
	for range steps {
		_, next, err := eval.Step(g, 2, bind)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, next)
		bind = next
	}
	return out
}

type optCase struct {
	name  string
	opt   string
	attrs ir.Attrs
	ref   refCfg
	check func(t *testing.T, c *refCfg) // extra checks on the reference run
}

func clipActive(t *testing.T, c *refCfg) {
	if c.clipped == 0 {
		t.Errorf("clipping never active (%d steps untouched)", c.clipUntouched)
	}
}

func clipInactive(t *testing.T, c *refCfg) {
	if c.clipped != 0 {
		t.Errorf("clipping active in %d steps", c.clipped)
	}
}

var optCases = []optCase{
	{name: "sgd", opt: "sgd", attrs: ir.Attrs{"lr": 0.1},
		ref: refCfg{opt: "sgd", lr0: 0.1}},
	{name: "sgd default lr", opt: "sgd", attrs: ir.Attrs{},
		ref: refCfg{opt: "sgd", lr0: 0.01}},
	{name: "sgd momentum", opt: "sgd", attrs: ir.Attrs{"lr": 0.05, "momentum": 0.9},
		ref: refCfg{opt: "sgd", lr0: 0.05, mu: 0.9}},
	{name: "sgd nesterov", opt: "sgd", attrs: ir.Attrs{"lr": 0.05, "momentum": 0.9, "nesterov": true},
		ref: refCfg{opt: "sgd", lr0: 0.05, mu: 0.9, nesterov: true}},
	{name: "sgd L2", opt: "sgd", attrs: ir.Attrs{"lr": 0.1, "weight_decay": 0.2},
		ref: refCfg{opt: "sgd", lr0: 0.1, wd: 0.2}},
	{name: "sgd clip active", opt: "sgd", attrs: ir.Attrs{"lr": 0.1, "clip_norm": 0.5},
		ref: refCfg{opt: "sgd", lr0: 0.1, clip: 0.5}, check: clipActive},
	{name: "sgd clip inactive", opt: "sgd", attrs: ir.Attrs{"lr": 0.1, "clip_norm": 100.0},
		ref: refCfg{opt: "sgd", lr0: 0.1, clip: 100}, check: clipInactive},
	{name: "sgd momentum clip L2", opt: "sgd", attrs: ir.Attrs{"lr": 0.05, "momentum": 0.5, "clip_norm": 0.3, "weight_decay": 0.1},
		ref: refCfg{opt: "sgd", lr0: 0.05, mu: 0.5, clip: 0.3, wd: 0.1}, check: clipActive},
	{name: "adam", opt: "adam", attrs: ir.Attrs{"lr": 0.01},
		ref: refCfg{opt: "adam", lr0: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8}},
	{name: "adam betas eps", opt: "adam", attrs: ir.Attrs{"lr": 0.02, "beta1": 0.5, "beta2": 0.75, "eps": 1e-3},
		ref: refCfg{opt: "adam", lr0: 0.02, b1: 0.5, b2: 0.75, eps: 1e-3}},
	{name: "adam L2", opt: "adam", attrs: ir.Attrs{"lr": 0.01, "weight_decay": 0.5},
		ref: refCfg{opt: "adam", lr0: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.5}},
	{name: "adamw", opt: "adamw", attrs: ir.Attrs{"lr": 0.01, "weight_decay": 0.5},
		ref: refCfg{opt: "adamw", lr0: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.5}},
	{name: "adamw clip cosine warmup", opt: "adamw",
		attrs: ir.Attrs{"lr": 0.01, "weight_decay": 0.1, "clip_norm": 0.4, "schedule": "cosine", "total_steps": 4.0, "min_lr": 0.001, "warmup_steps": 2.0},
		ref: refCfg{opt: "adamw", b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1, clip: 0.4, lr: func(t int) float64 {
			s := math.Min(float64(t-1), 4)
			return (0.001 + 0.5*(0.01-0.001)*(1+math.Cos(math.Pi*s/4))) * math.Min(1, float64(t)/2)
		}}, check: clipActive},
	{name: "rmsprop", opt: "rmsprop", attrs: ir.Attrs{"lr": 0.01},
		ref: refCfg{opt: "rmsprop", lr0: 0.01, rho: 0.9, eps: 1e-7}},
	{name: "rmsprop momentum", opt: "rmsprop", attrs: ir.Attrs{"lr": 0.01, "momentum": 0.9, "rho": 0.8},
		ref: refCfg{opt: "rmsprop", lr0: 0.01, mu: 0.9, rho: 0.8, eps: 1e-7}},
	{name: "rmsprop momentum L2 step schedule", opt: "rmsprop",
		attrs: ir.Attrs{"lr": 0.01, "momentum": 0.5, "weight_decay": 0.3, "schedule": "step", "step_size": 2.0, "gamma": 0.5},
		ref: refCfg{opt: "rmsprop", mu: 0.5, rho: 0.9, eps: 1e-7, wd: 0.3, lr: func(t int) float64 {
			return 0.01 * math.Pow(0.5, math.Floor(float64(t-1)/2))
		}}},
	{name: "sgd exponential schedule", opt: "sgd",
		attrs: ir.Attrs{"lr": 0.1, "schedule": "exponential", "decay_steps": 3.0, "decay_rate": 0.5},
		ref:   refCfg{opt: "sgd", lr: func(t int) float64 { return 0.1 * math.Pow(0.5, float64(t-1)/3) }}},
}

// TestOptimizerAgainstReference compares 7 steps of every case with refRun:
// every param and every state, by name, to 1e-12 relative.
func TestOptimizerAgainstReference(t *testing.T) {
	const steps = 7
	for _, c := range optCases {
		t.Run(c.name, func(t *testing.T) {
			g := linModel(t, c.opt, c.attrs)
			optimize(t, g)
			got := trainLin(t, g, steps)
			ref := c.ref
			want := refRun(&ref, steps)
			if c.check != nil {
				c.check(t, &ref)
			}
			for s := range steps {
				var names []string
				for k := range got[s] {
					if k != "x" && k != "y" {
						names = append(names, k)
					}
				}
				slices.Sort(names)
				var wantNames []string
				for k := range want[s] {
					wantNames = append(wantNames, k)
				}
				slices.Sort(wantNames)
				if !slices.Equal(names, wantNames) {
					t.Fatalf("params and state %v, want %v", names, wantNames)
				}
				for _, k := range names {
					for i, x := range want[s][k] {
						if y := got[s][k].Data[i]; !relClose(y, x) {
							t.Fatalf("step %d: %s[%d] = %.17g, reference %.17g (rel err %.1e)", s+1, k, i, y, x, math.Abs(y-x)/math.Abs(x))
						}
					}
				}
			}
		})
	}
}

// TestAdamBiasCorrection checks the first adam step in closed form: with
// bias correction mhat = g and vhat = g^2, so p1 = p0 - lr g / (|g| + eps).
func TestAdamBiasCorrection(t *testing.T) {
	g := linModel(t, "adam", ir.Attrs{"lr": 0.01})
	optimize(t, g)
	got := trainLin(t, g, 1)[0]
	gw, gb := linGrad(linW0, linB0)
	for j, gj := range gw {
		want := linW0[j] - 0.01*gj/(math.Abs(gj)+1e-8)
		if y := got["w"].Data[j]; !relClose(y, want) {
			t.Errorf("w[%d] after step 1 = %.17g, want %.17g", j, y, want)
		}
		// Without bias correction the step would be ~ 0.1/sqrt(0.001) = 3.16x larger.
		if uncorrected := linW0[j] - 0.01*0.1*gj/(math.Sqrt(0.001)*math.Abs(gj)+1e-8); relClose(got["w"].Data[j], uncorrected) {
			t.Errorf("w[%d]: bias correction not visible", j)
		}
	}
	if y, want := got["b"].Data[0], linB0-0.01*gb/(math.Abs(gb)+1e-8); !relClose(y, want) {
		t.Errorf("b after step 1 = %.17g, want %.17g", y, want)
	}
}

// TestAdamWDecoupled checks that adamw's decoupled decay differs from
// adam with the same weight_decay as L2, and equals adam without decay when
// weight_decay is 0.
func TestAdamWDecoupled(t *testing.T) {
	run := func(name string, wd float64) map[string]*ir.Tensor {
		g := linModel(t, name, ir.Attrs{"lr": 0.01, "weight_decay": wd})
		optimize(t, g)
		return trainLin(t, g, 5)[4]
	}
	adam, adamw := run("adam", 0.5), run("adamw", 0.5)
	if d := math.Abs(adam["w"].Data[0] - adamw["w"].Data[0]); d < 1e-6 {
		t.Errorf("adamw and adam+L2 agree to %.1e after 5 steps; decay is not decoupled", d)
	}
	adam0, adamw0 := run("adam", 0), run("adamw", 0)
	for _, k := range []string{"w", "b", "optimizer.w.m", "optimizer.w.v"} {
		if !slices.Equal(adam0[k].Data, adamw0[k].Data) {
			t.Errorf("%s: adamw(weight_decay 0) %v differs from adam %v", k, adamw0[k].Data, adam0[k].Data)
		}
	}
}

// lrModel is one param p with loss = p, so grad p = 1 and sgd gives
// p' = p - lr_t: with p bound to 0, the update is -lr_t.
func lrModel(t *testing.T, attrs ir.Attrs) *ir.Graph {
	t.Helper()
	g := &ir.Graph{Name: "lr"}
	b := ir.NewBuilder(g)
	p := optSource(b, "param", "p")
	g.Results = append(g.Results, ir.Result{Kind: ir.ResultLoss, Name: "loss", Value: p})
	g.Optimizer = &ir.Optimizer{Name: "sgd", Attrs: attrs, Pos: optPos}
	g.Renumber()
	optimize(t, g)
	return g
}

// lrAt returns lr_t of g for t = step + 1.
func lrAt(t *testing.T, g *ir.Graph, step float64) float64 {
	t.Helper()
	_, next, err := eval.Step(g, 1, map[string]*ir.Tensor{"p": ir.ScalarTensor(0), "optimizer.step": ir.ScalarTensor(step)})
	if err != nil {
		t.Fatal(err)
	}
	if s := next["optimizer.step"].Data[0]; s != step+1 {
		t.Errorf("step %v -> %v, want %v", step, s, step+1)
	}
	return -next["p"].Data[0]
}

// TestSchedules checks lr_t at chosen t against each schedule's closed form.
func TestSchedules(t *testing.T) {
	cos := func(lr, minLR, total, t float64) float64 {
		return minLR + 0.5*(lr-minLR)*(1+math.Cos(math.Pi*math.Min(t-1, total)/total))
	}
	cases := []struct {
		name  string
		attrs ir.Attrs
		want  map[float64]float64 // t -> lr_t
	}{
		{"constant", ir.Attrs{"lr": 0.1}, map[float64]float64{1: 0.1, 2: 0.1, 1000: 0.1, 1e6: 0.1}},
		{"step", ir.Attrs{"lr": 0.1, "schedule": "step", "step_size": 3.0, "gamma": 0.5}, map[float64]float64{
			1: 0.1, 2: 0.1, 3: 0.1, 4: 0.05, 6: 0.05, 7: 0.025, 100: 0.1 * math.Pow(0.5, 33)}},
		{"step defaults", ir.Attrs{"lr": 0.1, "schedule": "step"}, map[float64]float64{
			1: 0.1, 1000: 0.1, 1001: 0.1 * 0.1, 2001: 0.1 * 0.1 * 0.1}},
		{"exponential", ir.Attrs{"lr": 0.1, "schedule": "exponential", "decay_steps": 4.0, "decay_rate": 0.5}, map[float64]float64{
			1: 0.1, 2: 0.1 * math.Pow(0.5, 0.25), 4: 0.1 * math.Pow(0.5, 0.75), 5: 0.05, 9: 0.025, 1000: 0.1 * math.Pow(0.5, 999.0/4)}},
		{"exponential defaults", ir.Attrs{"lr": 0.1, "schedule": "exponential"}, map[float64]float64{
			1: 0.1, 1001: 0.1 * 0.96, 501: 0.1 * math.Sqrt(0.96)}},
		{"cosine", ir.Attrs{"lr": 0.1, "schedule": "cosine", "total_steps": 10.0, "min_lr": 0.01}, map[float64]float64{
			1: 0.1, 2: cos(0.1, 0.01, 10, 2), 6: 0.055, 10: cos(0.1, 0.01, 10, 10), 11: 0.01, 12: 0.01, 1000: 0.01}},
		{"cosine defaults", ir.Attrs{"lr": 0.1, "schedule": "cosine"}, map[float64]float64{
			1: 0.1, 5001: 0.05, 10001: 0, 20000: 0}},
		{"warmup", ir.Attrs{"lr": 0.1, "warmup_steps": 4.0}, map[float64]float64{
			1: 0.025, 2: 0.05, 3: 0.075, 4: 0.1, 5: 0.1, 100: 0.1}},
		{"warmup cosine", ir.Attrs{"lr": 0.1, "schedule": "cosine", "total_steps": 10.0, "warmup_steps": 3.0}, map[float64]float64{
			1: 0.1 / 3, 2: cos(0.1, 0, 10, 2) * 2 / 3, 3: cos(0.1, 0, 10, 3), 4: cos(0.1, 0, 10, 4), 11: 0}},
		{"warmup step", ir.Attrs{"lr": 0.1, "schedule": "step", "step_size": 2.0, "gamma": 0.1, "warmup_steps": 5.0}, map[float64]float64{
			1: 0.1 / 5, 2: 0.1 * 2 / 5, 3: 0.01 * 3 / 5, 5: 0.001, 6: 0.001}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := lrModel(t, c.attrs)
			ts := make([]float64, 0, len(c.want))
			for k := range c.want {
				ts = append(ts, k)
			}
			slices.Sort(ts)
			for _, tt := range ts {
				got, want := lrAt(t, g, tt-1), c.want[tt]
				if !relClose(got, want) && math.Abs(got-want) > 1e-18 {
					t.Errorf("lr at t=%v: %.17g, want %.17g", tt, got, want)
				}
			}
		})
	}
}

// TestStepCounter runs steps feeding the bindings back: step counts the
// updates done, and the schedule follows it.
func TestStepCounter(t *testing.T) {
	g := lrModel(t, ir.Attrs{"lr": 1.0, "schedule": "step", "step_size": 1.0, "gamma": 0.5})
	bind := map[string]*ir.Tensor{"p": ir.ScalarTensor(0), "optimizer.step": ir.ScalarTensor(0)}
	for k := 1; k <= 6; k++ {
		_, next, err := eval.Step(g, 1, bind)
		if err != nil {
			t.Fatal(err)
		}
		if s := next["optimizer.step"].Data[0]; s != float64(k) {
			t.Fatalf("after %d steps, step = %v", k, s)
		}
		if d, want := bind["p"].Data[0]-next["p"].Data[0], math.Pow(0.5, float64(k-1)); !relClose(d, want) {
			t.Fatalf("update %d: lr %v, want %v", k, d, want)
		}
		bind = next
	}
}

// TestOptimizerState checks state names, order, types, placement,
// positions, and that every param and state has exactly one update.
func TestOptimizerState(t *testing.T) {
	cases := []struct {
		opt   string
		attrs ir.Attrs
		want  []string
	}{
		{"sgd", ir.Attrs{}, []string{"optimizer.step"}},
		{"sgd", ir.Attrs{"momentum": 0.9}, []string{"optimizer.step", "optimizer.w.momentum", "optimizer.b.momentum"}},
		{"sgd", ir.Attrs{"momentum": 0.9, "nesterov": true}, []string{"optimizer.step", "optimizer.w.momentum", "optimizer.b.momentum"}},
		{"adam", ir.Attrs{}, []string{"optimizer.step", "optimizer.w.m", "optimizer.b.m", "optimizer.w.v", "optimizer.b.v"}},
		{"adamw", ir.Attrs{"weight_decay": 0.1}, []string{"optimizer.step", "optimizer.w.m", "optimizer.b.m", "optimizer.w.v", "optimizer.b.v"}},
		{"rmsprop", ir.Attrs{}, []string{"optimizer.step", "optimizer.w.ms", "optimizer.b.ms"}},
		{"rmsprop", ir.Attrs{"momentum": 0.5}, []string{"optimizer.step", "optimizer.w.ms", "optimizer.b.ms", "optimizer.w.momentum", "optimizer.b.momentum"}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s%v", c.opt, c.attrs), func(t *testing.T) {
			g := linModel(t, c.opt, c.attrs)
			nSources := len(g.Inputs()) + len(g.Params())
			optimize(t, g)
			var names []string
			for _, s := range g.State() {
				names = append(names, s.Name)
				wantT := ir.Scalar(ir.F32)
				if p := g.Lookup(strings.Split(strings.TrimPrefix(s.Name, "optimizer."), ".")[0]); s.Name != "optimizer.step" {
					wantT = p.Type
				}
				if !s.Type.Equal(wantT) || s.Attrs.String("init") != "zeros" || s.Pos != optPos {
					t.Errorf("state %s: type %s init %q pos %v, want %s zeros %v", s.Name, s.Type, s.Attrs.String("init"), s.Pos, wantT, optPos)
				}
			}
			if !slices.Equal(names, c.want) {
				t.Errorf("state %v, want %v", names, c.want)
			}
			// State is declared right after the sources, before any computation.
			for i, v := range g.Values[:nSources+len(names)] {
				if want := i >= nSources; (v.Op.Name == "state") != want {
					t.Errorf("%%%d is %s; want the %d state values right after the %d sources", i, v.Op, len(names), nSources)
				}
			}
			updated := map[string]int{}
			for _, u := range g.Updates {
				updated[u.Target.Name]++
				if u.Value.Pos != optPos {
					t.Errorf("update of %s has position %v, want %v", u.Target.Name, u.Value.Pos, optPos)
				}
			}
			for _, v := range append(g.Params(), g.State()...) {
				if updated[v.Name] != 1 {
					t.Errorf("%s updated %d times", v.Name, updated[v.Name])
				}
			}
			if len(g.Updates) != len(g.Params())+len(names) {
				t.Errorf("%d updates, want %d", len(g.Updates), len(g.Params())+len(names))
			}
			// Forward and backward are untouched: the grad results are still there.
			if n := len(g.ResultsOf(ir.ResultGrad)); n != 2 {
				t.Errorf("%d grad results after the pass, want 2", n)
			}
		})
	}
}

// TestOptimizerErrors checks each error and that a failing pass leaves the graph as it was.
// A model's names and the optimizer's state never meet: the state is named
// apart ("optimizer.step"), so a model may call an input step or a param's
// state by name.
func TestStateNamesApart(t *testing.T) {
	g := linModel(t, "adam", nil)
	if err := passes.Autodiff(g, &passes.Context{}); err != nil {
		t.Fatal(err)
	}
	g.Lookup("y").Name = "step"
	if err := passes.Optimizer(g, &passes.Context{}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range g.State() {
		names = append(names, s.Name)
	}
	if want := []string{"optimizer.step", "optimizer.w.m", "optimizer.b.m", "optimizer.w.v", "optimizer.b.v"}; !slices.Equal(names, want) {
		t.Errorf("state %v, want %v", names, want)
	}
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
}

func TestOptimizerErrors(t *testing.T) {
	withGrads := func(name string, attrs ir.Attrs) *ir.Graph {
		g := linModel(t, name, attrs)
		if err := passes.Autodiff(g, &passes.Context{}); err != nil {
			t.Fatal(err)
		}
		return g
	}
	cases := []struct {
		name string
		g    func() *ir.Graph
		want string
	}{
		{"no optimizer", func() *ir.Graph { g := withGrads("sgd", nil); g.Optimizer = nil; return g }, "no optimizer declared"},
		{"no grads", func() *ir.Graph { return linModel(t, "adam", nil) }, "autodiff must run before the optimizer"},
		{"missing grad", func() *ir.Graph {
			g := withGrads("sgd", nil)
			g.Results = slices.DeleteFunc(g.Results, func(r ir.Result) bool { return r.Kind == ir.ResultGrad && r.Name == "b" })
			return g
		}, "parameter b has no gradient result"},
		{"second run", func() *ir.Graph {
			g := withGrads("adam", nil)
			if err := passes.Optimizer(g, &passes.Context{}); err != nil {
				t.Fatal(err)
			}
			return g
		}, "runs once"},
		{"unknown optimizer", func() *ir.Graph { return withGrads("adagrad", nil) }, `m.mdl:9:5: unknown optimizer "adagrad"`},
		{"bad setting", func() *ir.Graph { return withGrads("sgd", ir.Attrs{"beta1": 0.9}) }, `unknown setting "beta1"`},
		{"nesterov without momentum", func() *ir.Graph { return withGrads("sgd", ir.Attrs{"nesterov": true}) }, "nesterov needs momentum > 0"},
		{"step size 0", func() *ir.Graph { return withGrads("sgd", ir.Attrs{"schedule": "step", "step_size": 0.0}) }, "schedule step needs step_size > 0"},
		{"cosine total 0", func() *ir.Graph { return withGrads("adam", ir.Attrs{"schedule": "cosine", "total_steps": 0.0}) }, "schedule cosine needs total_steps > 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := c.g()
			before := ir.Format(g)
			err := passes.Optimizer(g, &passes.Context{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if after := ir.Format(g); after != before {
				t.Errorf("failed pass changed the graph:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if err := ir.Verify(g); err != nil {
				t.Errorf("graph invalid after a failed pass: %v", err)
			}
		})
	}
}

// TestOptimizerPipeline lowers a .mdl model, runs the pipeline through the
// optimizer with verification, and trains 5 steps of Nesterov SGD against
// the loop written out for linear regression.
func TestOptimizerPipeline(t *testing.T) {
	if i := slices.Index(passes.Names(), "optimizer"); i < 1 || passes.Names()[i-1] != "autodiff" {
		t.Fatalf("passes %v: optimizer must come right after autodiff", passes.Names())
	}
	src := `model LinReg {
    input  x: f32[N]
    target y: f32[N]
    param  theta0: f32 = 0
    param  theta1: f32 = 0
    output pred = theta0 + theta1 * x
    loss mse(pred, y)
    optimizer sgd(lr: 0.05, momentum: 0.9, nesterov: true)
}
`
	gs, diags := lower.Source("linreg.mdl", []byte(src))
	if diags.HasErrors() || len(gs) != 1 {
		t.Fatalf("lower: %v", diags)
	}
	g := gs[0]
	if _, err := passes.Run(g, passes.Options{Upto: "optimizer", VerifyEach: true}); err != nil {
		t.Fatal(err)
	}
	xs, ys := []float64{1, 2, 3, 4, 5}, []float64{2, 4, 5, 4, 5}
	bind := map[string]*ir.Tensor{
		"x": {Shape: []int{5}, Data: xs}, "y": {Shape: []int{5}, Data: ys},
		"theta0": ir.ScalarTensor(0), "theta1": ir.ScalarTensor(0),
		"optimizer.step": ir.ScalarTensor(0), "optimizer.theta0.momentum": ir.ScalarTensor(0), "optimizer.theta1.momentum": ir.ScalarTensor(0),
	}
	var th, buf [2]float64
	for k := 1; k <= 5; k++ {
		var gr [2]float64
		for i := range xs {
			r := th[0] + th[1]*xs[i] - ys[i]
			gr[0] += 2 * r / 5
			gr[1] += 2 * r * xs[i] / 5
		}
		for j := range th {
			buf[j] = 0.9*buf[j] + gr[j]
			th[j] -= 0.05 * (gr[j] + 0.9*buf[j])
		}
		_, next, err := eval.Step(g, 5, bind)
		if err != nil {
			t.Fatal(err)
		}
		for j, name := range []string{"theta0", "theta1"} {
			if got := next[name].Data[0]; !relClose(got, th[j]) {
				t.Fatalf("step %d: %s = %.17g, reference %.17g", k, name, got, th[j])
			}
			if got := next["optimizer."+name+".momentum"].Data[0]; !relClose(got, buf[j]) {
				t.Fatalf("step %d: %s.momentum = %.17g, reference %.17g", k, name, got, buf[j])
			}
		}
		bind = next
	}
}
