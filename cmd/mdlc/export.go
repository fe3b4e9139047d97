package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/export/onnx"
	"github.com/mdlc/mdlc/passes"
)

// cmdExport writes a model's inference graph as an ONNX file (export/onnx).
func cmdExport(stdout, stderr io.Writer, args []string) int {
	fs := newFlags("export", "-format onnx [-checkpoint FILE] [-seed N] [-o FILE] [-model NAME] FILE",
		"Write a model's inference graph (what Forward computes) as an ONNX file, IR version 8,\nopset 17, with the weights of a checkpoint written by Save as initializers, or without\n-checkpoint the initial weights New gives for -seed. The batch axis is the symbolic N;\ninputs and outputs keep their .mdl names; images stay NHWC.", stderr)
	format := fs.String("format", "onnx", "the format: onnx")
	ckpt := fs.String("checkpoint", "", "safetensors checkpoint to take the weights from (default: the initial weights)")
	seed := fs.Uint64("seed", 1, "without -checkpoint, the seed of the initial weights (the generated WithSeed)")
	out := fs.String("o", "", "output file (default MODEL.onnx, from the .mdl file's name)")
	model := fs.String("model", "", "the model to export when the file has several")
	eval := fs.Bool("eval", false, "also export the loss and the metrics, with the targets as inputs")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	if *format != "onnx" {
		fmt.Fprintf(stderr, "mdlc: -format %q: the only format is onnx\n", *format)
		return exitUsage
	}
	path := fs.Arg(0)
	if *out == "" {
		base := filepath.Base(path)
		*out = base[:len(base)-len(filepath.Ext(base))] + ".onnx"
	}
	gs, ok := load(stderr, path)
	if !ok {
		return exitError
	}
	g := pick(stderr, gs, *model, path)
	if g == nil {
		return exitUsage
	}
	var weights map[string][]float32
	var err error
	if *ckpt != "" {
		weights, err = onnx.CheckpointWeights(g, *ckpt)
	} else {
		weights, err = onnx.InitialWeights(g, *seed)
	}
	if err != nil {
		printExportError(stderr, path, err)
		return exitError
	}
	m, err := onnx.Export(g, weights, onnx.Options{Eval: *eval, Producer: Version})
	if err != nil {
		printExportError(stderr, path, err)
		return exitError
	}
	data, err := onnx.Marshal(m)
	if err == nil {
		err = writeAtomic(*out, data)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mdlc: %v\n", err)
		return exitError
	}
	return exitOK
}

// printExportError prints an error about the source with its line and a
// caret, any other as "mdlc: error".
func printExportError(stderr io.Writer, path string, err error) {
	var pe *passes.PosError
	if errors.As(err, &pe) && pe.Pos.IsValid() {
		printDiags(stderr, path, dsl.Diagnostics{{Pos: dsl.Pos{File: pe.Pos.File, Line: pe.Pos.Line, Col: pe.Pos.Col}, Msg: pe.Msg, Severity: dsl.Error}})
		return
	}
	fmt.Fprintf(stderr, "mdlc: %v\n", err)
}
