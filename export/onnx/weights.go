package onnx

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/ir"
	mdlc "github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/impl"
)

// InitialWeights returns the values a model built from g (a lowered graph)
// starts with for seed (the generated package's WithSeed, 1 by default):
// its Reset draws every param and then every state value, in the order of
// the planned step graph, from one generator. It plans a copy of g as
// mdlc build does to learn that order, and draws with the same functions.
func InitialWeights(g *ir.Graph, seed uint64) (map[string][]float32, error) {
	p := g.Clone()
	if _, err := compile.Plan(p, compile.Options{}); err != nil {
		return nil, err
	}
	rng := impl.NewRNG(seed)
	out := map[string][]float32{}
	for _, v := range append(p.Params(), p.State()...) {
		dims := v.Type.Shape.Resolve(1)
		data := make([]float32, numel(dims))
		args, _ := v.Attrs["init_args"].([]float64)
		if err := impl.InitParam(data, dims, v.Attrs.String("init"), args, rng); err != nil {
			return nil, errorAt(v, "%s %s: %v", v.Op.Name, v.Name, err)
		}
		out[v.Name] = data
	}
	return out, nil
}

// CheckpointWeights reads the params and state of g from a checkpoint
// written by the generated package's Save (safetensors). Every param and
// state value of g must be there with its shape, except the optimizer's
// (optimizer.*: moments, step, random key), which inference never reads.
func CheckpointWeights(g *ir.Graph, path string) (map[string][]float32, error) {
	ts, meta, err := mdlc.ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	if m := meta[mdlc.MetaModel]; m != "" && m != g.Name {
		return nil, fmt.Errorf("%s: saved by model %s, not %s", path, m, g.Name)
	}
	byName := map[string]mdlc.Tensor{}
	for _, t := range ts {
		byName[t.Name] = t
	}
	out := map[string][]float32{}
	for _, v := range append(g.Params(), g.State()...) {
		if strings.HasPrefix(v.Name, "optimizer.") {
			continue // the optimizer's step and random key: training only
		}
		t, ok := byName[v.Name]
		if !ok {
			return nil, fmt.Errorf("%s: no tensor %s (%s %s)", path, v.Name, v.Op.Name, v.Type.Shape)
		}
		want := v.Type.Shape.Resolve(1)
		if !slices.Equal(t.Shape, want) {
			return nil, fmt.Errorf("%s: tensor %s has shape %v, model %s wants %v", path, v.Name, t.Shape, g.Name, want)
		}
		out[v.Name] = t.Data
	}
	return out, nil
}
