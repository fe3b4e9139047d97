package runtime

import "math"

// Optimizer describes the optimizer a model was compiled with, so a driver
// can show what it does: its name, its learning-rate schedule and every
// numeric setting (the .mdl's, with the defaults filled in: lr, momentum,
// step_size, warmup_steps, ...; a boolean is 1 or 0).
type Optimizer struct {
	Name     string
	Schedule string // constant, step, exponential or cosine
	Settings map[string]float64
}

// LearningRate returns the learning rate of the update that follows steps
// completed updates (the optimizer.step state), as the generated update
// computes it from its step counter (in float64 here, float32 there):
//
//	constant     lr
//	step         lr * gamma^floor(steps/step_size)
//	exponential  lr * decay_rate^(steps/decay_steps)
//	cosine       min_lr + (lr-min_lr)/2 * (1 + cos(pi * min(steps, total_steps)/total_steps))
//
// times min(1, (steps+1)/warmup_steps) when warmup_steps > 0. This is the
// value Keras logs as learning_rate at the end of an epoch.
func (o *Optimizer) LearningRate(steps int64) float64 {
	s := o.Settings
	t := float64(steps)
	lr := s["lr"]
	switch o.Schedule {
	case "step":
		lr *= math.Pow(s["gamma"], math.Floor(t/s["step_size"]))
	case "exponential":
		lr *= math.Pow(s["decay_rate"], t/s["decay_steps"])
	case "cosine":
		total, minLR := s["total_steps"], s["min_lr"]
		lr = minLR + 0.5*(lr-minLR)*(1+math.Cos(math.Pi*math.Min(t, total)/total))
	}
	if w := s["warmup_steps"]; w > 0 {
		lr *= math.Min(1, (t+1)/w)
	}
	return lr
}
