package lower

import (
	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
)

// Layers whose semantics depend on the mode (ir/modes.go): each returns its
// inference value and records its training twin in l.twins; model() then
// resolves the two paths with ir.SplitModes.

// twin records train as the training-mode value of inference value infer.
func (l *lowerer) twin(infer, train val) val {
	if infer.k == kTensor && train.k == kTensor {
		if l.twins == nil {
			l.twins = map[*ir.Value]*ir.Value{}
		}
		l.twins[infer.v] = train.v
	}
	return infer
}

// newState creates a non-trainable state value of a layer (saved in
// checkpoints, never trained; its updates are the layer's).
func (l *lowerer) newState(name string, shape ir.Shape, init string, pos dsl.Pos) (*ir.Value, bool) {
	if prev, dup := l.params[name]; dup {
		l.errorf(pos, "parameter name %s is already used by the parameter created at %s; bind this layer to another name", name, short(prev))
		return nil, false
	}
	l.b.Pos = irPos(pos)
	v, err := l.b.TryOp("state", ir.Attrs{"dtype": ir.F32, "shape": shape, "init": init})
	if err != nil {
		l.errorf(pos, "%v", err)
		return nil, false
	}
	v.Name = name
	l.params[name] = pos
	return v, true
}

// layerBatchNorm is Keras's BatchNormalization over the last axis (axis=-1,
// center and scale): params gamma (ones) and beta (zeros), state
// moving_mean (zeros) and moving_variance (ones).
//
//	training:  mean, var = the mean and the biased variance of x over every
//	           axis but the last; y = (x - mean) / sqrt(var + eps) * gamma + beta;
//	           moving_mean' = moving_mean * momentum + mean * (1 - momentum),
//	           moving_variance' = moving_variance * momentum + var * (1 - momentum)
//	           (Keras 3 BatchNormalization.call: ops.moments, then assign)
//	inference: y = (x - moving_mean) / sqrt(moving_variance + eps) * gamma + beta
func layerBatchNorm(l *lowerer, c *callArgs) val {
	x, ok := l.layerInput(c, "x")
	mom, ok2 := l.argNum(c, "momentum")
	eps, ok3 := l.argNum(c, "eps")
	if !ok || !ok2 || !ok3 {
		return errVal
	}
	if mom < 0 || mom > 1 {
		l.errorf(c.posOf("momentum"), "batch_norm: momentum must be in [0, 1], got %s", numText(mom))
		return errVal
	}
	if eps <= 0 {
		l.errorf(c.posOf("eps"), "batch_norm: eps must be positive, got %s", numText(eps))
		return errVal
	}
	s := x.v.Type.Shape
	if s.Rank() < 2 || s[s.Rank()-1].IsBatch() {
		l.errorf(c.posOf("x"), "batch_norm needs a batch axis and a fixed last axis (features), got %s", x.where())
		return errVal
	}
	d := s[s.Rank()-1]
	gamma, ok := l.newParam(l.paramName("batch_norm", "gamma"), ir.Shape{d}, "ones", nil, c.pos)
	if !ok {
		return errVal
	}
	beta, ok := l.newParam(l.paramName("batch_norm", "beta"), ir.Shape{d}, "zeros", nil, c.pos)
	if !ok {
		return errVal
	}
	mm, ok := l.newState(l.paramName("batch_norm", "moving_mean"), ir.Shape{d}, "zeros", c.pos)
	if !ok {
		return errVal
	}
	mv, ok := l.newState(l.paramName("batch_norm", "moving_variance"), ir.Shape{d}, "ones", c.pos)
	if !ok {
		return errVal
	}
	num := func(x float64) val { return numVal(x, false, c.pos) }
	tv := func(v *ir.Value) val { return tensorVal(v, v.Name, c.pos) }
	norm := func(centered, variance val) val {
		y := l.op(c.pos, "div", nil, centered, l.op(c.pos, "sqrt", nil, l.op(c.pos, "add", nil, variance, num(eps))))
		return l.op(c.pos, "add", nil, l.op(c.pos, "mul", nil, y, tv(gamma)), tv(beta))
	}

	// Training: batch statistics, and the moving statistics' updates.
	axes := make([]int, s.Rank()-1)
	for i := range axes {
		axes[i] = i
	}
	mean := l.op(c.pos, "reduce_mean", ir.Attrs{"axes": axes}, x)
	xc := l.op(c.pos, "sub", nil, x, mean)
	variance := l.op(c.pos, "reduce_mean", ir.Attrs{"axes": append([]int(nil), axes...)}, l.op(c.pos, "mul", nil, xc, xc))
	train := norm(xc, variance)
	moving := func(st *ir.Value, batch val) val {
		return l.op(c.pos, "add", nil, l.op(c.pos, "mul", nil, tv(st), num(mom)), l.op(c.pos, "mul", nil, batch, num(1-mom)))
	}
	nm, nv := moving(mm, mean), moving(mv, variance)
	if train.k != kTensor || nm.k != kTensor || nv.k != kTensor {
		return errVal
	}
	l.g.Updates = append(l.g.Updates, ir.Update{Target: mm, Value: nm.v}, ir.Update{Target: mv, Value: nv.v})

	// Inference: the moving statistics.
	return l.twin(norm(l.op(c.pos, "sub", nil, x, tv(mm)), tv(mv)), train)
}

// The training step's randomness: the step counter the optimizer pass
// increments (optimizer.step, which it reuses) and the model's random key
// (optimizer.random_key, four 16-bit words drawn from the model's seed by
// Reset), both state saved in checkpoints, so a resumed run draws what an
// uninterrupted one would.
const (
	stepName = "optimizer.step"
	keyName  = "optimizer.random_key"
)

// randomState returns the step and key states, created at the first use.
func (l *lowerer) randomState(pos dsl.Pos) (step, key *ir.Value, ok bool) {
	if l.step == nil {
		if l.step, ok = l.newState(stepName, ir.Shape{}, "zeros", pos); !ok {
			return nil, nil, false
		}
		if l.key, ok = l.newState(keyName, ir.Shape{4}, "random_key", pos); !ok {
			return nil, nil, false
		}
	}
	return l.step, l.key, true
}

// layerDropout is inverted dropout (Keras Dropout): in training, element i
// is kept when its uniform draw u_i >= rate and scaled by 1/(1-rate), else
// zeroed; u_i is random_uniform of the model's key at the current step with
// a stream per dropout call. In inference it is the identity.
func layerDropout(l *lowerer, c *callArgs) val {
	x, ok := l.layerInput(c, "x")
	rate, ok2 := l.argNum(c, "rate")
	if !ok || !ok2 {
		return errVal
	}
	if rate < 0 || rate >= 1 {
		l.errorf(c.posOf("rate"), "dropout: rate must be in [0, 1), got %s", numText(rate))
		return errVal
	}
	if rate == 0 {
		return x
	}
	step, key, ok := l.randomState(c.pos)
	if !ok {
		return errVal
	}
	l.b.Pos = irPos(c.pos)
	u, err := l.b.TryOp("random_uniform", ir.Attrs{"shape": x.v.Type.Shape.Clone(), "stream": l.streams}, key, step)
	if err != nil {
		l.errorf(c.pos, "%v", err)
		return errVal
	}
	l.streams++
	num := func(x float64) val { return numVal(x, false, c.pos) }
	keep := l.op(c.pos, "ge", nil, tensorVal(u, "random_uniform", c.pos), num(rate))
	train := l.op(c.pos, "where", nil, keep, l.op(c.pos, "mul", nil, x, num(1/(1-rate))), num(0))
	// Inference: the identity, as a value of its own (the twin's key).
	infer := l.op(c.pos, "broadcast", ir.Attrs{"shape": x.v.Type.Shape.Clone()}, x)
	return l.twin(infer, train)
}
