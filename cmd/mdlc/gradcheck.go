package main

import (
	"fmt"
	"io"

	"github.com/mdlc/mdlc/ir/eval"
	"github.com/mdlc/mdlc/passes"
)

func cmdGradcheck(stdout, stderr io.Writer, args []string) int {
	fs := newFlags("gradcheck", "[-n=BATCH] [-tol=TOL] [-seed=S] [-model=NAME] FILE",
		"For every parameter, compare the autodiff gradient of the loss with central finite\ndifferences in float64 through the reference interpreter, on random inputs and\nparameters. Prints a table; exit status 1 if any error is above the tolerance.", stderr)
	n := fs.Int("n", 3, "batch size")
	tol := fs.Float64("tol", 1e-6, "largest accepted relative error")
	seed := fs.Uint64("seed", 1, "random seed for inputs and parameters")
	maxElems := fs.Int("max-elems", 64, "check at most this many elements of each parameter (a fixed sample)")
	model := fs.String("model", "", "the model to check when the file has several")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 || *n < 1 || *maxElems < 1 {
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
	c, err := passes.Run(g, passes.Options{Upto: "autodiff", VerifyEach: true})
	printWarnings(stderr, path, c.Warnings)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
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
