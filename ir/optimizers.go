package ir

import (
	"fmt"
	"sort"
)

// OptimizerDef describes one optimizer the language accepts: its settings
// with their kinds and defaults. The optimizer pass (passes/optimizer.go)
// builds the update IR; lowering uses this table to check declarations.
type OptimizerDef struct {
	Name     string
	Doc      string
	Settings []Setting
}

// Setting is one optimizer setting. Default is float64, bool or string.
type Setting struct {
	Name    string
	Default any
	Doc     string
}

// Settings every optimizer accepts: L2 weight decay (decoupled for adamw),
// global-norm gradient clipping and the learning-rate schedule.
var commonSettings = []Setting{
	{Name: "weight_decay", Default: 0.0, Doc: "L2 penalty added to the gradient (adamw: decoupled decay)"},
	{Name: "clip_norm", Default: 0.0, Doc: "clip gradients to this global L2 norm (0: off)"},
	{Name: "schedule", Default: "constant", Doc: "learning-rate schedule: constant, step, exponential, cosine"},
	{Name: "step_size", Default: 1000.0, Doc: "step: multiply lr by gamma every step_size steps"},
	{Name: "gamma", Default: 0.1, Doc: "step: the factor"},
	{Name: "decay_steps", Default: 1000.0, Doc: "exponential: lr * decay_rate^(t/decay_steps)"},
	{Name: "decay_rate", Default: 0.96, Doc: "exponential: the rate"},
	{Name: "total_steps", Default: 10000.0, Doc: "cosine: steps from lr to min_lr"},
	{Name: "min_lr", Default: 0.0, Doc: "cosine: the final learning rate"},
	{Name: "warmup_steps", Default: 0.0, Doc: "linear warmup from 0 over this many steps (0: none)"},
}

// Optimizers is the optimizer table.
var Optimizers = []*OptimizerDef{
	{Name: "sgd", Doc: "stochastic gradient descent, optionally with (Nesterov) momentum", Settings: []Setting{
		{Name: "lr", Default: 0.01}, {Name: "momentum", Default: 0.0}, {Name: "nesterov", Default: false}}},
	{Name: "adam", Doc: "Adam (Kingma & Ba 2015) with bias correction", Settings: []Setting{
		{Name: "lr", Default: 0.001}, {Name: "beta1", Default: 0.9}, {Name: "beta2", Default: 0.999}, {Name: "eps", Default: 1e-8}}},
	{Name: "adamw", Doc: "AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay", Settings: []Setting{
		{Name: "lr", Default: 0.001}, {Name: "beta1", Default: 0.9}, {Name: "beta2", Default: 0.999}, {Name: "eps", Default: 1e-8}}},
	{Name: "rmsprop", Doc: "RMSProp (Hinton 2012) as in Keras, with optional momentum", Settings: []Setting{
		{Name: "lr", Default: 0.001}, {Name: "rho", Default: 0.9}, {Name: "eps", Default: 1e-7}, {Name: "momentum", Default: 0.0}}},
}

// Schedules are the accepted values of the schedule setting.
var Schedules = []string{"constant", "step", "exponential", "cosine"}

// LookupOptimizer returns the optimizer named name, or nil.
func LookupOptimizer(name string) *OptimizerDef {
	for _, o := range Optimizers {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// AllSettings returns the optimizer's own settings followed by the common ones.
func (o *OptimizerDef) AllSettings() []Setting {
	return append(append([]Setting(nil), o.Settings...), commonSettings...)
}

// Setting returns the setting named name, or nil.
func (o *OptimizerDef) Setting(name string) *Setting {
	for _, s := range o.AllSettings() {
		if s.Name == name {
			return &s
		}
	}
	return nil
}

// SettingNames lists the accepted setting names, sorted.
func (o *OptimizerDef) SettingNames() []string {
	var out []string
	for _, s := range o.AllSettings() {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

// Resolve returns every setting's value: the declared one or the default.
// It checks kinds and ranges.
func (o *OptimizerDef) Resolve(a Attrs) (Attrs, error) {
	out := Attrs{}
	for _, s := range o.AllSettings() {
		v, ok := a[s.Name]
		if !ok {
			out[s.Name] = s.Default
			continue
		}
		switch s.Default.(type) {
		case float64:
			f, isF := v.(float64)
			if !isF {
				return nil, fmt.Errorf("%s: setting %s must be a number", o.Name, s.Name)
			}
			if f < 0 || f != f {
				return nil, fmt.Errorf("%s: setting %s must be >= 0, got %v", o.Name, s.Name, f)
			}
		case bool:
			if _, isB := v.(bool); !isB {
				return nil, fmt.Errorf("%s: setting %s must be true or false", o.Name, s.Name)
			}
		case string:
			str, isS := v.(string)
			if !isS {
				return nil, fmt.Errorf("%s: setting %s must be a string", o.Name, s.Name)
			}
			if s.Name == "schedule" && !contains2(Schedules, str) {
				return nil, fmt.Errorf("%s: unknown schedule %q (one of %v)", o.Name, str, Schedules)
			}
		}
		out[s.Name] = v
	}
	for k := range a {
		if o.Setting(k) == nil {
			return nil, fmt.Errorf("%s: unknown setting %q", o.Name, k)
		}
	}
	for _, k := range []string{"beta1", "beta2", "rho"} {
		if f, ok := out[k].(float64); ok && f >= 1 {
			return nil, fmt.Errorf("%s: setting %s must be < 1, got %v", o.Name, k, f)
		}
	}
	return out, nil
}

func contains2(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}
