// Package passes holds mdlc's graph transformations, one file per pass, run
// in the order of the Pipeline list. Each pass is a plain function over an
// ir.Graph; the IR is verified after every pass when Options.VerifyEach is
// set (tests always set it).
package passes

import (
	"fmt"
	"io"

	"github.com/mdlc/mdlc/ir"
)

// Warning is a non-fatal finding of a pass, with the source position it concerns.
type Warning struct {
	Pos ir.Pos
	Msg string
}

// Context carries options into passes and warnings out of them.
type Context struct {
	Warnings []Warning
	MaxBatch int        // the batch size memory is planned for
	Level    Level      // the optimization level of the run (O0, O1 or O2)
	Stats    *PlanStats // set by memplan
}

// Warnf records a warning.
func (c *Context) Warnf(pos ir.Pos, format string, args ...any) {
	c.Warnings = append(c.Warnings, Warning{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// Pass is one named step of the pipeline.
type Pass struct {
	Name  string
	Fn    func(g *ir.Graph, c *Context) error
	Level Level // the lowest optimization level that runs it (Default: always)
}

// Pipeline is the ordered pass list.
var Pipeline = []Pass{
	{Name: "autodiff", Fn: Autodiff},
	{Name: "optimizer", Fn: Optimizer},
	{Name: "simplify", Fn: Simplify, Level: O1},
	{Name: "cse", Fn: CSE, Level: O1},
	{Name: "dce", Fn: DCE, Level: O1},
	{Name: "fuse", Fn: Fuse, Level: O2},
	{Name: "schedule", Fn: Schedule, Level: O2},
	{Name: "memplan", Fn: Memplan}, // at every level: the plan every backend reads
}

// Options control a pipeline run.
type Options struct {
	Upto       string    // stop after this pass ("" runs all)
	VerifyEach bool      // run ir.Verify after each pass
	DumpAfter  string    // print the IR after this pass to Dump
	Dump       io.Writer // where DumpAfter goes
	Print      func(w io.Writer, g *ir.Graph) error
	Level      Level // optimization level (Default is O2)
	MaxBatch   int   // batch size for memory planning (default 128)
}

// Level is an optimization level.
type Level int

const (
	Default Level = iota // O2
	O0                   // autodiff and optimizer only: no rewrites or fusion, no memory shared
	O1                   // plus simplify, CSE and DCE
	O2                   // plus fusion, scheduling and memory reuse
)

// Lookup returns the pass named name, or nil.
func Lookup(name string) *Pass {
	for i := range Pipeline {
		if Pipeline[i].Name == name {
			return &Pipeline[i]
		}
	}
	return nil
}

// Names lists the pass names in order.
func Names() []string {
	var out []string
	for _, p := range Pipeline {
		out = append(out, p.Name)
	}
	return out
}

// Run runs the pipeline on g in place.
func Run(g *ir.Graph, opt Options) (*Context, error) {
	c := &Context{MaxBatch: opt.MaxBatch}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 128
	}
	level := opt.Level
	if level == Default {
		level = O2
	}
	c.Level = level
	if opt.Upto != "" && Lookup(opt.Upto) == nil {
		return c, fmt.Errorf("unknown pass %q (passes: %v)", opt.Upto, Names())
	}
	if opt.DumpAfter != "" && Lookup(opt.DumpAfter) == nil {
		return c, fmt.Errorf("unknown pass %q (passes: %v)", opt.DumpAfter, Names())
	}
	for _, p := range Pipeline {
		if p.Level > level {
			if opt.Upto == p.Name {
				break
			}
			continue
		}
		// A model without a loss is for inference only, and one without an
		// optimizer is evaluated but not trained: their passes do nothing.
		if p.Name == "autodiff" && g.Loss() == nil {
			continue
		}
		if p.Name == "optimizer" && (g.Optimizer == nil || len(g.ResultsOf(ir.ResultGrad)) == 0) {
			if g.Loss() != nil && g.Optimizer == nil {
				c.Warnf(ir.Pos{}, "model %s declares a loss but no optimizer: the generated code can evaluate it but not train it", g.Name)
			}
			continue
		}
		if err := p.Fn(g, c); err != nil {
			return c, fmt.Errorf("pass %s: %w", p.Name, err)
		}
		g.Renumber()
		if opt.VerifyEach {
			if err := ir.Verify(g); err != nil {
				return c, fmt.Errorf("after pass %s: invalid IR:\n%w", p.Name, err)
			}
		}
		if opt.DumpAfter == p.Name && opt.Dump != nil && opt.Print != nil {
			if err := opt.Print(opt.Dump, g); err != nil {
				return c, err
			}
		}
		if opt.Upto == p.Name {
			break
		}
	}
	return c, nil
}
