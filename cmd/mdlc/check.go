package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
)

// newFlags returns a flag set that prints the command's usage on -h.
func newFlags(name, args, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mdlc %s %s\n\n%s\n", name, args, summary)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintf(fs.Output(), "\nflags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args; it returns an exit code and false when the caller should stop.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK, false
		}
		return exitUsage, false
	}
	return 0, true
}

// load reads, parses and lowers one file, printing diagnostics to stderr.
// It returns the graphs and false if there were errors.
func load(stderr io.Writer, path string) ([]*ir.Graph, bool) {
	src, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "mdlc: %v\n", err)
		return nil, false
	}
	gs, diags := lower.Source(path, src)
	if len(diags) > 0 {
		fmt.Fprint(stderr, diags.Format(dsl.Sources{path: src}))
	}
	return gs, !diags.HasErrors()
}

// pick returns the model named name, or the only model when name is empty.
func pick(stderr io.Writer, gs []*ir.Graph, name, path string) *ir.Graph {
	if name == "" {
		if len(gs) == 1 {
			return gs[0]
		}
		fmt.Fprintf(stderr, "mdlc: %s has %d models; choose one with -model\n", path, len(gs))
		return nil
	}
	for _, g := range gs {
		if g.Name == name {
			return g
		}
	}
	var names []string
	for _, g := range gs {
		names = append(names, g.Name)
	}
	fmt.Fprintf(stderr, "mdlc: %s has no model %s (models: %v)\n", path, name, names)
	return nil
}

// warningDiags turns the warnings of the passes into diagnostics.
func warningDiags(path string, ws []passes.Warning) dsl.Diagnostics {
	var ds dsl.Diagnostics
	for _, w := range ws {
		pos := dsl.Pos{File: w.Pos.File, Line: w.Pos.Line, Col: w.Pos.Col}
		if !w.Pos.IsValid() {
			pos = dsl.Pos{File: path} // a warning about the whole model
		}
		ds = append(ds, dsl.Diagnostic{Pos: pos, Msg: w.Msg, Severity: dsl.Warning})
	}
	return ds
}

// printDiags prints diagnostics about path with their source lines.
func printDiags(stderr io.Writer, path string, ds dsl.Diagnostics) {
	if len(ds) == 0 {
		return
	}
	src, _ := os.ReadFile(path)
	fmt.Fprint(stderr, ds.Format(dsl.Sources{path: src}))
}

func printWarnings(stderr io.Writer, path string, ws []passes.Warning) {
	printDiags(stderr, path, warningDiags(path, ws))
}

// printError prints an error of compile.Plan: diagnostics with their source
// lines (file:line:col: message first), any other error as "path: error".
func printError(stderr io.Writer, path string, err error) {
	var ds dsl.Diagnostics
	if errors.As(err, &ds) {
		printDiags(stderr, path, ds)
		return
	}
	fmt.Fprintf(stderr, "%s: %v\n", path, err)
}

// checkPasses are the passes check runs after lowering: they find what
// the lowering cannot (a parameter that does not affect the loss, settings
// an optimizer rejects) and are quick; the rest belongs to build.
const checkPasses = "optimizer"

func cmdCheck(stdout, stderr io.Writer, args []string) int {
	fs := newFlags("check", "FILE...", "Parse, lower and shape-check each file, then run autodiff and the optimizer pass\non each model, printing every diagnostic and warning. Exit status 1 if any file\nhas errors (warnings do not change it).", stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	code := exitOK
	for _, path := range fs.Args() {
		gs, ok := load(stderr, path)
		if !ok {
			code = exitError
			continue
		}
		for _, g := range gs {
			params, elems := 0, 0
			for _, p := range g.Params() {
				params++
				n, _ := p.Type.Shape.Size()
				elems += int(n)
			}
			fmt.Fprintf(stdout, "%s: model %s: %d values, %d params (%d weights)\n", path, g.Name, len(g.Values), params, elems)
			c, err := compile.Plan(g, compile.Options{Upto: checkPasses})
			printWarnings(stderr, path, c.Warnings)
			if err != nil {
				printError(stderr, path, err)
				code = exitError
			}
		}
	}
	return code
}

func cmdDump(stdout, stderr io.Writer, args []string) int {
	fs := newFlags("dump", "[-after=PASS] [-model=NAME] FILE", "Print a model's IR as text: as lowered, or after the named pass.", stderr)
	after := fs.String("after", "", fmt.Sprintf("print the IR after this pass (one of %v)", passes.Names()))
	model := fs.String("model", "", "the model to print when the file has several")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	path := fs.Arg(0)
	if *after != "" && passes.Lookup(*after) == nil {
		fmt.Fprintf(stderr, "mdlc: unknown pass %q (passes: %v)\n", *after, passes.Names())
		return exitUsage
	}
	gs, ok := load(stderr, path)
	if !ok {
		return exitError
	}
	g := pick(stderr, gs, *model, path)
	if g == nil {
		return exitUsage
	}
	if *after != "" {
		c, err := compile.Plan(g, compile.Options{Upto: *after, VerifyEach: true})
		printWarnings(stderr, path, c.Warnings)
		if err != nil {
			printError(stderr, path, err)
			return exitError
		}
	}
	if err := ir.Print(stdout, g); err != nil {
		fmt.Fprintf(stderr, "mdlc: %v\n", err)
		return exitError
	}
	return exitOK
}

func cmdVersion(stdout, stderr io.Writer, args []string) int {
	fs := newFlags("version", "", "Print the mdlc version.", stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fmt.Fprintf(stdout, "mdlc %s\n", Version)
	return exitOK
}
