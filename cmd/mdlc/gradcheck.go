package main

import (
	"fmt"
	"io"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir/eval"
)

func cmdGradcheck(stdout, stderr io.Writer, args []string) int {
	fs := newFlags("gradcheck", "[-n=BATCH] [-tol=TOL] [-seed=S] [-model=NAME] FILE",
		"For every parameter, compare the autodiff gradient of the loss with central finite\ndifferences in float64 through the reference interpreter, on random inputs and\nparameters. Prints a table; exit status 1 if any error is above the tolerance.", stderr)
	n := fs.Int("n", 3, "batch size")
	tol := fs.Float64("tol", 1e-6, "largest accepted relative error")
	seed := fs.Uint64("seed", 1, "random seed for inputs and parameters")
	maxElems := fs.Int("max-elems", 64, "check at most this many elements of each parameter (a fixed sample)")
	model := fs.String("model", "", "the model to check when the file has several")
	maxMiB := fs.Int("max-mib", 1024, "refuse a model and batch size whose float64 tensors (every value of the\nforward and backward graph at batch -n, and a forward pass more) need more\nthan this many MiB; the default is 1 GiB")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 || *n < 1 || *maxElems < 1 || *maxMiB < 1 {
		fs.Usage()
		return exitUsage
	}
	path := fs.Arg(0)
	gs, ok := load(stderr, path)
	if !ok {
		return exitError
	}
	g := pick(stderr, gs, *model, path)
	if g == nil {
		return exitUsage
	}
	if g.Loss() == nil {
		fmt.Fprintf(stderr, "%s: model %s declares no loss: there is no gradient to check\n", path, g.Name)
		return exitError
	}
	c, err := compile.Plan(g, compile.Options{Upto: "autodiff", VerifyEach: true})
	printWarnings(stderr, path, c.Warnings)
	if err != nil {
		printError(stderr, path, err)
		return exitError
	}
	// Refuse before allocating anything a model and batch that would not fit.
	if need, v := eval.Footprint(g, *n); need > float64(*maxMiB)*(1<<20) {
		pos := dsl.Pos{File: path}
		largest := ""
		if v != nil {
			if v.Pos.IsValid() {
				pos = dsl.Pos{File: v.Pos.File, Line: v.Pos.Line, Col: v.Pos.Col}
			}
			name := v.Op.Name
			if v.Name != "" {
				name += " " + v.Name
			}
			largest = fmt.Sprintf("; the largest is %s %s (%s)", name, v.Type, compile.FormatBytes(8*v.Type.Shape.Elements(*n)))
		}
		printDiags(stderr, path, dsl.Diagnostics{{Pos: pos,
			Msg: fmt.Sprintf("gradcheck of model %s at batch %d needs %s of float64 tensors, more than the limit of %s (-max-mib %d)%s",
				g.Name, *n, compile.FormatBytes(need), compile.FormatBytes(float64(*maxMiB)*(1<<20)), *maxMiB, largest),
			Hint: "check a smaller batch (-n) or model"}})
		return exitError
	}
	bind := eval.Random(g, *n, *seed, eval.Classes(g))
	errs, err := eval.GradCheck(g, *n, bind, eval.GradCheckOptions{MaxElems: *maxElems, Seed: *seed})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return exitError
	}
	fmt.Fprintf(stdout, "model %s, batch %d, tolerance %g\n", g.Name, *n, *tol)
	if !eval.FormatGradCheck(stdout, errs, *tol) {
		fmt.Fprintf(stdout, "FAIL: gradients differ from finite differences\n")
		return exitError
	}
	fmt.Fprintf(stdout, "ok\n")
	return exitOK
}
