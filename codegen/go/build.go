package gogen

import (
	"fmt"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
)

// BuildResult is what Build produced or found wrong.
type BuildResult struct {
	Source   []byte           // the generated Go file (nil on errors)
	Graph    *ir.Graph        // the step graph it was generated from
	Diags    dsl.Diagnostics  // parse and lowering diagnostics
	Warnings []passes.Warning // warnings of the passes
}

// Build compiles one model of a .mdl source all the way to Go: parse,
// lower, run the pass pipeline, generate. model selects the model when the
// file has several ("" takes the only one). It is what `mdlc build` runs.
func Build(filename string, src []byte, model string, popt passes.Options, opt Options) (*BuildResult, error) {
	res := &BuildResult{}
	gs, diags := lower.Source(filename, src)
	res.Diags = diags
	if diags.HasErrors() {
		return res, fmt.Errorf("%s has errors", filename)
	}
	var g *ir.Graph
	switch {
	case model == "" && len(gs) == 1:
		g = gs[0]
	case model == "":
		return res, fmt.Errorf("%s has %d models; choose one", filename, len(gs))
	default:
		for _, x := range gs {
			if x.Name == model {
				g = x
			}
		}
		if g == nil {
			return res, fmt.Errorf("%s has no model %s", filename, model)
		}
	}
	if popt.MaxBatch == 0 {
		popt.MaxBatch = opt.MaxBatch // plan memory for the batch the code accepts
	}
	c, err := passes.Run(g, popt)
	res.Graph, res.Warnings = g, c.Warnings
	if err != nil {
		return res, fmt.Errorf("%s: %w", filename, err)
	}
	if opt.Source == "" {
		opt.Source = filename
	}
	out, err := Generate(g, opt)
	if err != nil {
		return res, fmt.Errorf("%s: %w", filename, err)
	}
	res.Source = out
	return res, nil
}
