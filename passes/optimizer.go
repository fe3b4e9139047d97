// Optimizer: the parameter update of one training step, appended as IR.
//
// The pass reads the graph's optimizer declaration (g.Optimizer, settings
// resolved with ir.LookupOptimizer(name).Resolve) and the grad results left
// by autodiff, and appends the new value of every param and of every piece of
// optimizer state as g.Updates. It runs in four stages:
//
//  1. State: declares the optimizer state up front, as "state" values
//     (f32, init zeros) inserted right after the last input/param source,
//     each named with the prefix "optimizer." (StatePrefix: the names a
//     checkpoint stores, which no name of the model can take, as the
//     language reserves the word optimizer): "optimizer.step", the f32
//     scalar count of updates done so far (reused when the lowering made
//     it: the counter of dropout's draws, beside "optimizer.random_key"),
//     then per kind of state one run over the params in param order:
//     "optimizer.<param>.m", then
//     "optimizer.<param>.v" (adam, adamw), "optimizer.<param>.momentum" (sgd
//     and rmsprop with momentum > 0), "optimizer.<param>.ms" (rmsprop,
//     before its momentum). Each has the param's type; each run has the
//     params block's layout.
//  2. Learning rate: with t = step + 1 (the 1-based index of this update),
//     lr_t is computed in the graph as an f32 scalar:
//     constant:    lr
//     step:        lr * gamma^floor((t-1) / step_size)           (PyTorch StepLR)
//     exponential: lr * decay_rate^((t-1) / decay_steps)          (TF ExponentialDecay, staircase=False)
//     cosine:      min_lr + 0.5 (lr - min_lr) (1 + cos(pi min(t-1, total_steps) / total_steps))
//     (Loshchilov & Hutter 2017, SGDR, one cycle held at min_lr after
//     total_steps, as PyTorch CosineAnnealingLR); with warmup_steps > 0 the
//     result is multiplied by min(1, t / warmup_steps) (linear warmup, Goyal
//     et al. 2017). t-1 is the step state itself.
//  3. Gradients, in this order:
//     clipping, when clip_norm > 0, by the global norm over all params
//     (Pascanu et al. 2013; exactly tf.clip_by_global_norm):
//     norm = sqrt(sum over params p of sum(g_p^2)),
//     g_p <- g_p * clip_norm / max(norm, clip_norm),
//     which is g_p * min(1, clip_norm / norm) and leaves a zero gradient zero;
//     then coupled L2 weight decay, when weight_decay > 0, for sgd, adam and
//     rmsprop: g_p <- g_p + weight_decay * p (adamw decays in its rule).
//  4. Rules (scalars broadcast; all read this step's values):
//     sgd (PyTorch torch.optim.SGD, dampening 0; Nesterov as Sutskever et
//     al. 2013 in PyTorch's form):
//     momentum 0:  p' = p - lr_t g
//     momentum mu: buf' = mu buf + g;  p' = p - lr_t buf'
//     nesterov:    buf' = mu buf + g;  p' = p - lr_t (g + mu buf')
//     adam (Kingma & Ba 2015, Algorithm 1; PyTorch torch.optim.Adam):
//     m' = b1 m + (1-b1) g;  v' = b2 v + (1-b2) g^2
//     mhat = m' / (1 - b1^t);  vhat = v' / (1 - b2^t)
//     p' = p - lr_t mhat / (sqrt(vhat) + eps)
//     adamw (Loshchilov & Hutter 2019; PyTorch torch.optim.AdamW): the adam
//     moments of the raw (clipped) gradient, and decoupled decay
//     p' = p - lr_t (mhat / (sqrt(vhat) + eps) + weight_decay p)
//     rmsprop (Hinton 2012, lecture 6e; Keras keras.optimizers.RMSprop,
//     centered=False):
//     ms' = rho ms + (1-rho) g^2;  inc = lr_t g / sqrt(ms' + eps)
//     momentum mu > 0: mom' = mu mom + inc;  p' = p - mom'
//     otherwise:       p' = p - inc
//     and step' = t.
//
// The values the generated code keeps (lr_t, Adam's bias corrections, the
// gradient norm and clipping scale) are named for it.
//
// It leaves everything else alone: no forward or backward value is changed
// or removed (only state values are inserted), the grad results stay, and the
// update graph is not simplified (constants are not folded, scalar chains not
// fused): later passes do that. State initialization is the runtime's (init
// "zeros"). The step counter is f32 and so counts exactly up to 2^24 updates
// in generated f32 code. Every new value carries the optimizer declaration's
// position. Autodiff must have run (every param needs its grad result), and
// the pass runs once: a graph with optimizer state or param updates already
// is an error. The layers' state and its updates (batch_norm's moving
// statistics, from the lowering) are left alone. On error the graph is left
// as it was.

package passes

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/mdlc/mdlc/ir"
)

// Optimizer appends the update of every param and its state (see above).
func Optimizer(g *ir.Graph, c *Context) error {
	vals, nu := slices.Clone(g.Values), len(g.Updates)
	err := optimizer(g)
	if err != nil {
		g.Values, g.Updates = vals, g.Updates[:nu]
		g.Renumber()
	}
	return err
}

// opt builds the update IR: b appends at the end of the graph; k caches one
// f32 scalar const per number.
type opt struct {
	g      *ir.Graph
	b      *ir.Builder
	s      ir.Attrs // resolved settings
	consts map[float64]*ir.Value
}

func (o *opt) f(name string) float64 { return o.s.Float(name) }

func (o *opt) k(x float64) *ir.Value {
	if v := o.consts[x]; v != nil {
		return v
	}
	v := o.b.Const(x, ir.F32)
	o.consts[x] = v
	return v
}

func (o *opt) update(target, v *ir.Value) {
	o.g.Updates = append(o.g.Updates, ir.Update{Target: target, Value: v})
}

// StatePrefix starts the name of every piece of optimizer state: the name
// a checkpoint stores it under, apart from every name a model gives.
const StatePrefix = "optimizer."

// stateKind reports whether a is a piece of param's optimizer state, and
// which ("m", "v", "momentum", "ms").
func stateKind(a, param *ir.Value) (string, bool) {
	if a == nil || a.Op.Name != "state" {
		return "", false
	}
	return strings.CutPrefix(a.Name, StatePrefix+param.Name+".")
}

func optimizer(g *ir.Graph) error {
	decl := g.Optimizer
	if decl == nil {
		return fmt.Errorf("no optimizer declared")
	}
	def := ir.LookupOptimizer(decl.Name)
	if def == nil {
		return posErr(decl.Pos, "unknown optimizer %q", decl.Name)
	}
	s, err := def.Resolve(decl.Attrs)
	if err != nil {
		return posErr(decl.Pos, "%v", err)
	}
	for _, u := range g.Updates {
		if u.Target.Op.Name == "param" || strings.HasPrefix(u.Target.Name, StatePrefix) {
			return fmt.Errorf("graph already has optimizer updates (the optimizer pass runs once)")
		}
	}
	for _, v := range g.State() {
		if strings.HasPrefix(v.Name, StatePrefix) && v.Name != StatePrefix+"step" && v.Name != StatePrefix+"random_key" {
			return fmt.Errorf("graph already has optimizer state (the optimizer pass runs once)")
		}
	}
	params := g.Params()
	if len(params) == 0 {
		return posErr(decl.Pos, "no parameters to train")
	}
	gradOf := map[string]*ir.Value{}
	for _, r := range g.ResultsOf(ir.ResultGrad) {
		gradOf[r.Name] = r.Value
	}
	if len(gradOf) == 0 {
		return fmt.Errorf("no gradients: autodiff must run before the optimizer")
	}
	grads := make([]*ir.Value, len(params))
	for i, p := range params {
		if grads[i] = gradOf[p.Name]; grads[i] == nil {
			return posErr(p.Pos, "parameter %s has no gradient result", p.Name)
		}
	}
	if err := checkSettings(def.Name, s); err != nil {
		return posErr(decl.Pos, "%s: %v", def.Name, err)
	}

	// 1. State.
	byName := map[string]*ir.Value{} // the first value of each name (g.Lookup)
	for _, v := range g.Values {
		if _, ok := byName[v.Name]; !ok && v.Name != "" {
			byName[v.Name] = v
		}
	}
	var states []*ir.Value
	declare := func(name string, shape ir.Shape) (*ir.Value, error) {
		if w := byName[name]; w != nil && w.Op.Name == "state" && name == StatePrefix+"step" && w.Type.Shape.Rank() == 0 {
			return w, nil // declared by the lowering for the draws of dropout (ir/lower/modes.go)
		}
		if w := byName[name]; w != nil && w.Op.Bound {
			return nil, posErr(w.Pos, "optimizer state %q clashes with the %s of that name", name, w.Op.Name)
		}
		v, err := ir.NewValue(ir.LookupOp("state"), ir.Attrs{"dtype": ir.F32, "shape": shape.Clone(), "init": "zeros"})
		if err != nil {
			return nil, err
		}
		v.Name, v.Pos = name, decl.Pos
		states = append(states, v)
		return v, nil
	}
	step, err := declare(StatePrefix+"step", ir.Shape{})
	if err != nil {
		return err
	}
	// Each kind of state is one run in param order, so that it has the
	// params block's layout and one flat loop can update every param.
	slots := make([]map[string]*ir.Value, len(params))
	for i := range params {
		slots[i] = map[string]*ir.Value{}
	}
	for _, sfx := range stateSuffixes(def.Name, s) {
		for i, p := range params {
			if slots[i][sfx], err = declare(StatePrefix+p.Name+"."+sfx, p.Type.Shape); err != nil {
				return err
			}
		}
	}
	at := 0
	for i, v := range g.Values {
		if n := v.Op.Name; n == "input" || n == "param" {
			at = i + 1
		}
	}
	g.Values = slices.Insert(g.Values, at, states...)
	g.Renumber()

	o := &opt{g: g, b: ir.NewBuilder(g), s: s, consts: map[float64]*ir.Value{}}
	o.b.Pos = decl.Pos
	b := o.b
	t := b.Add(step, o.k(1))
	o.update(step, t)

	// 2. Learning rate.
	lr := o.learningRate(step, t)
	if lr.Op.Name != "const" {
		lr.Name = "lr"
	}

	// 3. Gradients.
	if clip := o.f("clip_norm"); clip > 0 {
		var sq *ir.Value
		for _, gp := range grads {
			x := b.Mul(gp, gp)
			if r := x.Type.Shape.Rank(); r > 0 {
				x = b.Sum(x, axesUpTo(r), false)
			}
			if sq == nil {
				sq = x
			} else {
				sq = b.Add(sq, x)
			}
		}
		norm := b.Unary("sqrt", sq)
		scale := b.Div(o.k(clip), b.Binary("maximum", norm, o.k(clip)))
		norm.Name, scale.Name = "grad_norm", "clip_scale"
		for i := range grads {
			grads[i] = b.Mul(grads[i], scale)
		}
	}
	if wd := o.f("weight_decay"); wd > 0 && def.Name != "adamw" {
		for i, p := range params {
			grads[i] = b.Add(grads[i], b.Mul(o.k(wd), p))
		}
	}

	// 4. Rules.
	var bc1, bc2 *ir.Value // adam bias corrections 1 - beta^t
	if def.Name == "adam" || def.Name == "adamw" {
		bc1 = b.Sub(o.k(1), b.Binary("pow", o.k(o.f("beta1")), t))
		bc2 = b.Sub(o.k(1), b.Binary("pow", o.k(o.f("beta2")), t))
		bc1.Name, bc2.Name = "bias_correction1", "bias_correction2"
	}
	for i, p := range params {
		gp, st := grads[i], slots[i]
		var np *ir.Value
		switch def.Name {
		case "sgd":
			d := gp
			if mu := o.f("momentum"); mu > 0 {
				buf := b.Add(b.Mul(o.k(mu), st["momentum"]), gp)
				o.update(st["momentum"], buf)
				d = buf
				if s.Bool("nesterov") {
					d = b.Add(gp, b.Mul(o.k(mu), buf))
				}
			}
			np = b.Sub(p, b.Mul(lr, d))
		case "adam", "adamw":
			b1, b2 := o.f("beta1"), o.f("beta2")
			m := b.Add(b.Mul(o.k(b1), st["m"]), b.Mul(o.k(1-b1), gp))
			v := b.Add(b.Mul(o.k(b2), st["v"]), b.Mul(o.k(1-b2), b.Mul(gp, gp)))
			o.update(st["m"], m)
			o.update(st["v"], v)
			mhat, vhat := b.Div(m, bc1), b.Div(v, bc2)
			u := b.Div(mhat, b.Add(b.Unary("sqrt", vhat), o.k(o.f("eps"))))
			if wd := o.f("weight_decay"); wd > 0 && def.Name == "adamw" {
				u = b.Add(u, b.Mul(o.k(wd), p))
			}
			np = b.Sub(p, b.Mul(lr, u))
		case "rmsprop":
			rho := o.f("rho")
			ms := b.Add(b.Mul(o.k(rho), st["ms"]), b.Mul(o.k(1-rho), b.Mul(gp, gp)))
			o.update(st["ms"], ms)
			inc := b.Div(b.Mul(lr, gp), b.Unary("sqrt", b.Add(ms, o.k(o.f("eps")))))
			if mu := o.f("momentum"); mu > 0 {
				inc = b.Add(b.Mul(o.k(mu), st["momentum"]), inc)
				o.update(st["momentum"], inc)
			}
			np = b.Sub(p, inc)
		default:
			return posErr(decl.Pos, "optimizer %s has no update rule", def.Name)
		}
		o.update(p, np)
	}
	if err := b.Err(); err != nil {
		return posErr(decl.Pos, "optimizer: %v", err)
	}
	g.Renumber()
	return nil
}

// stateSuffixes names the per-param state of optimizer name, in declaration order.
func stateSuffixes(name string, s ir.Attrs) []string {
	switch name {
	case "sgd":
		if s.Float("momentum") > 0 {
			return []string{"momentum"}
		}
	case "adam", "adamw":
		return []string{"m", "v"}
	case "rmsprop":
		if s.Float("momentum") > 0 {
			return []string{"ms", "momentum"}
		}
		return []string{"ms"}
	}
	return nil
}

// checkSettings rejects resolved settings the rules cannot use.
func checkSettings(name string, s ir.Attrs) error {
	if name == "sgd" && s.Bool("nesterov") && s.Float("momentum") <= 0 {
		return fmt.Errorf("nesterov needs momentum > 0")
	}
	positive := map[string]string{"step": "step_size", "exponential": "decay_steps", "cosine": "total_steps"}
	if k, ok := positive[s.String("schedule")]; ok && s.Float(k) <= 0 {
		return fmt.Errorf("schedule %s needs %s > 0", s.String("schedule"), k)
	}
	return nil
}

// learningRate builds lr_t from the step state (t-1) and t.
func (o *opt) learningRate(step, t *ir.Value) *ir.Value {
	b, lr := o.b, o.f("lr")
	var out *ir.Value
	switch o.s.String("schedule") {
	case "step":
		k := b.Unary("floor", b.Div(step, o.k(o.f("step_size"))))
		out = b.Mul(o.k(lr), b.Binary("pow", o.k(o.f("gamma")), k))
	case "exponential":
		out = b.Mul(o.k(lr), b.Binary("pow", o.k(o.f("decay_rate")), b.Div(step, o.k(o.f("decay_steps")))))
	case "cosine":
		total, minLR := o.f("total_steps"), o.f("min_lr")
		frac := b.Div(b.Binary("minimum", step, o.k(total)), o.k(total))
		wave := b.Add(o.k(1), b.Unary("cos", b.Mul(o.k(math.Pi), frac)))
		out = b.Add(o.k(minLR), b.Mul(o.k(0.5*(lr-minLR)), wave))
	default: // constant
		out = o.k(lr)
	}
	if w := o.f("warmup_steps"); w > 0 {
		out = b.Mul(out, b.Binary("minimum", o.k(1), b.Div(t, o.k(w))))
	}
	return out
}

func axesUpTo(r int) []int {
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	return axes
}
