// Package compile is mdlc's driver: it takes a .mdl source through the
// pipeline — parse and lower (dsl, ir/lower), the passes (passes), whose
// last one leaves the storage plan every backend reads (ir.Plan) — and
// hands the planned step graph to a backend (codegen/go, codegen/cuda).
// cmd/mdlc only parses flags and prints; tests and tools call this package.
package compile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	cudagen "github.com/mdlc/mdlc/codegen/cuda"
	gogen "github.com/mdlc/mdlc/codegen/go"
	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
)

// Version is the mdlc version written into generated files.
const Version = "0.1.0"

// Load parses and lowers a .mdl source and returns its model named model
// ("" takes the only one). Diagnostics come back even when the error is nil
// (warnings).
func Load(filename string, src []byte, model string) (*ir.Graph, dsl.Diagnostics, error) {
	gs, diags := lower.Source(filename, src)
	if diags.HasErrors() {
		return nil, diags, fmt.Errorf("%s has errors", filename)
	}
	if model == "" {
		if len(gs) != 1 {
			return nil, diags, fmt.Errorf("%s has %d models; choose one", filename, len(gs))
		}
		return gs[0], diags, nil
	}
	var names []string
	for _, g := range gs {
		if g.Name == model {
			return g, diags, nil
		}
		names = append(names, g.Name)
	}
	return nil, diags, fmt.Errorf("%s has no model %s (models: %v)", filename, model, names)
}

// Options control the pass pipeline.
type Options struct {
	MaxBatch   int          // the largest batch size the code accepts (default 128)
	Level      passes.Level // optimization level (default O2)
	Upto       string       // stop after this pass ("" runs all)
	VerifyEach bool         // verify the IR after every pass
	DumpAfter  string       // print the IR after this pass to Dump
	Dump       io.Writer
}

func (o Options) maxBatch() int {
	if o.MaxBatch <= 0 {
		return 128
	}
	return o.MaxBatch
}

// Plan runs the pass pipeline on g in place. Unless opt.Upto stops it
// early, g.Plan is then the storage plan of the step: what a backend takes.
// An error about the source (a setting a pass rejects, a value too large at
// opt.MaxBatch) is a dsl.Diagnostics, positioned: file:line:col: message.
func Plan(g *ir.Graph, opt Options) (*passes.Context, error) {
	c, err := passes.Run(g, passes.Options{Upto: opt.Upto, VerifyEach: opt.VerifyEach, DumpAfter: opt.DumpAfter, Dump: opt.Dump,
		Print: ir.Print, Level: opt.Level, MaxBatch: opt.maxBatch()})
	if err != nil {
		return c, passDiagnostics(g, opt.maxBatch(), err)
	}
	return c, nil
}

// Targets are the backends Build can generate for.
var Targets = []string{"go", "cuda"}

// BuildOptions control Build.
type BuildOptions struct {
	Options
	Target  string // "go" (default): a Go package; "cuda": plus kernels.cu, kernels.ptx and model_cuda.go
	Package string // Go package name
	Version string // mdlc version named in the headers (default Version)
	Arch    string // PTX architecture with the cuda target (default cudagen.DefaultArch)
	// Inference builds the inference graph only (ir.Inference): Forward,
	// no gradients, optimizer or training code; Load reads the parameters
	// and the layers' state of a training build's checkpoint.
	Inference bool
}

// Result is what Build produced, or found wrong.
type Result struct {
	Graph    *ir.Graph         // the planned step graph (nil when the source has errors)
	Diags    dsl.Diagnostics   // parse and lowering diagnostics
	Warnings []passes.Warning  // warnings of the passes
	Stats    *passes.PlanStats // the memory plan's statistics
	Files    Files             // the generated package
}

// Build compiles one model of a .mdl source all the way to a package for
// opt.Target: what `mdlc build` runs.
func Build(filename string, src []byte, model string, opt BuildOptions) (*Result, error) {
	res := &Result{}
	g, diags, err := Load(filename, src, model)
	res.Diags = diags
	if err != nil {
		return res, err
	}
	if opt.Inference {
		if err := ir.Inference(g); err != nil {
			return res, fmt.Errorf("%s: %w", filename, err)
		}
	}
	c, err := Plan(g, opt.Options)
	res.Graph, res.Warnings, res.Stats = g, c.Warnings, c.Stats
	if opt.Inference && res.Stats != nil {
		res.Stats.GradBytes = 0 // gogen.Options.Inference: no grads block
	}
	if ds := (dsl.Diagnostics)(nil); errors.As(err, &ds) {
		res.Diags = append(res.Diags, ds...)
		return res, err
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", filename, err)
	}
	res.Files, err = Generate(g, filename, opt)
	if err != nil {
		return res, fmt.Errorf("%s: %w", filename, err)
	}
	return res, nil
}

// Generate runs the backends of opt.Target on a planned step graph.
func Generate(g *ir.Graph, source string, opt BuildOptions) (Files, error) {
	if opt.Version == "" {
		opt.Version = Version
	}
	if g.Plan == nil {
		return nil, fmt.Errorf("model %s has no storage plan (run the whole pipeline)", g.Name)
	}
	files, err := gogen.Generate(g, gogen.Options{Package: opt.Package, Source: source, Version: opt.Version, Inference: opt.Inference})
	if err != nil {
		return nil, err
	}
	switch opt.Target {
	case "", "go":
	case "cuda":
		cu, err := cudagen.Generate(g, cudagen.Options{Package: opt.Package, Source: source, Version: opt.Version, Arch: opt.Arch, Host: files, Inference: opt.Inference})
		if err != nil {
			return nil, err
		}
		for name, data := range cu {
			files[name] = data
		}
		ptx, err := cudagen.CompilePTX(files[cudagen.CUFile], opt.Arch)
		if err != nil {
			return nil, err
		}
		files[cudagen.PTXFile] = ptx
	default:
		return nil, fmt.Errorf("unknown target %q (targets: %v)", opt.Target, Targets)
	}
	return Files(files), nil
}

// Files is a generated package: file name -> contents.
type Files map[string][]byte

// Generated lists every file a build can write, so that a writer can remove
// those a new version no longer has.
var Generated = []string{gogen.GoFile, gogen.AsmDeclFile, gogen.AsmFile, cudagen.GoFile, cudagen.CUFile, cudagen.PTXFile}

// Header is how every file mdlc generates starts.
const Header = "// Code generated by mdlc "

// Ours reports whether data is a file mdlc generated.
func Ours(data []byte) bool { return bytes.HasPrefix(data, []byte(Header)) }

// Stale compares a generated package with the files in dir and lists what
// differs: a file that is missing or different, and a generated file in dir
// that this build no longer writes.
func (f Files) Stale(dir string) []string {
	var out []string
	for _, name := range Generated {
		data, want := f[name]
		old, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case want && err != nil:
			out = append(out, fmt.Sprintf("%s: missing", name))
		case want && !bytes.Equal(old, data):
			out = append(out, fmt.Sprintf("%s: differs", name))
		case !want && err == nil && Ours(old):
			out = append(out, fmt.Sprintf("%s: no longer generated", name))
		}
	}
	return out
}
