// Command mdlc is the mdlc model compiler's command line: it checks .mdl
// files, prints their IR after any pass, checks gradients, and builds Go
// packages from them.
//
// Exit codes: 0 success; 1 the input has errors (diagnostics were printed)
// or a check failed; 2 bad usage (unknown command or flag, missing file).
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/mdlc/mdlc/compile"
)

// Version is the compiler version written into generated files.
const Version = compile.Version

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // diagnostics, failed checks
	exitUsage = 2 // bad command line
)

type command struct {
	name, args, summary string
	run                 func(stdout, stderr io.Writer, args []string) int
}

var commands []command

func init() {
	commands = []command{
		{"check", "FILE...", "parse, lower and shape-check .mdl files; print diagnostics", cmdCheck},
		{"dump", "[-after=PASS] [-model=NAME] FILE", "print the IR of a model (after a pass, if given)", cmdDump},
		{"build", "[-o DIR] [-pkg NAME] [-batch N] FILE", "compile a model to a Go package", cmdBuild},
		{"gradcheck", "[-n=BATCH] [-tol=TOL] FILE", "compare autodiff gradients with finite differences", cmdGradcheck},
		{"fmt", "[-l] [-w] [-d] [FILE...]", "print .mdl files in the canonical layout (or list, rewrite or diff them)", cmdFmt},
		{"train", modelCommandArgs["train"], "train a model on a data set (builds it into a cached program)", cmdTrain},
		{"eval", modelCommandArgs["eval"], "evaluate a checkpoint on a data set", cmdEval},
		{"predict", modelCommandArgs["predict"], "print a checkpoint's class probabilities for inputs", cmdPredict},
		{"export", "-format onnx [-checkpoint FILE] [-o FILE] FILE", "write a model's inference graph as an ONNX file", cmdExport},
		{"import", importArgs, "convert PyTorch or Keras / TF.js weights into a checkpoint", cmdImport},
		{"version", "", "print the version", cmdVersion},
	}
}

func main() {
	os.Exit(run(os.Stdout, os.Stderr, os.Args[1:]))
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "mdlc %s: an ahead-of-time compiler for neural network models\n\nusage: mdlc COMMAND [flags] [args]\n\ncommands:\n", Version)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'mdlc COMMAND -h' for a command's flags.\nExit codes: 0 success, 1 errors in the input or a failed check, 2 bad usage.\n")
}

func run(stdout, stderr io.Writer, args []string) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(stdout, stderr, args[1:])
		}
	}
	fmt.Fprintf(stderr, "mdlc: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}
