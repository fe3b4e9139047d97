package main

import (
	"fmt"
	"io"
	"os"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/importer"
	"github.com/mdlc/mdlc/runtime"
)

// cmdImport converts weights trained by PyTorch or Keras / TF.js into a
// checkpoint of a model (package importer).
func cmdImport(stdout, stderr io.Writer, args []string) int {
	fs := newFlags("import", importArgs,
		"Convert weights trained by another framework (a safetensors file: a PyTorch state_dict, or\nKeras / TF.js layer weights) into a checkpoint the model's Load accepts, in the training\nbuild and the inference build. Layers are matched in order of appearance by kind unless\n-map names them (lines `theirs = ours`, `theirs = -` to drop one).", stderr)
	from := fs.String("from", "", "the framework that wrote the weights: pytorch or keras (also TF.js)")
	out := fs.String("o", "", "the checkpoint to write (safetensors)")
	mapFile := fs.String("map", "", "a name map: one `theirs = ours` per line")
	model := fs.String("model", "", "the model to import into when the file has several")
	seed := fs.Uint64("seed", 1, "seed of the state the weights do not give (dropout's random key)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 2 || *out == "" {
		fs.Usage()
		return exitUsage
	}
	if *from != importer.PyTorch && *from != importer.Keras {
		fmt.Fprintf(stderr, "mdlc: -from %q: want pytorch or keras\n", *from)
		return exitUsage
	}
	opt := importer.Options{From: *from, Seed: *seed}
	if *mapFile != "" {
		f, err := os.Open(*mapFile)
		if err != nil {
			fmt.Fprintf(stderr, "mdlc: %v\n", err)
			return exitUsage
		}
		opt.Map, err = importer.ParseMap(f, *mapFile)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "mdlc: %v\n", err)
			return exitError
		}
		if opt.Map == nil {
			opt.Map = []importer.MapEntry{}
		}
	}
	path := fs.Arg(0)
	src, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "mdlc: %v\n", err)
		return exitUsage
	}
	g, diags, err := compile.Load(path, src, *model)
	fmt.Fprint(stderr, diags.Format(dsl.Sources{path: src}))
	if err != nil {
		if !diags.HasErrors() {
			fmt.Fprintf(stderr, "mdlc: %v\n", err)
		}
		return exitError
	}
	ws, _, err := importer.ReadWeights(fs.Arg(1))
	if err != nil {
		fmt.Fprintf(stderr, "mdlc: %v\n", err)
		return exitError
	}
	ts, err := importer.Convert(g, ws, opt)
	if err != nil {
		fmt.Fprintf(stderr, "mdlc: importing %s into %s:\n%v\n", fs.Arg(1), path, err)
		return exitError
	}
	meta := importer.Metadata(g, opt)
	if err := runtime.SaveSafetensors(*out, ts, meta); err != nil {
		fmt.Fprintf(stderr, "mdlc: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "%s: %d tensors of model %s from %s weights %s\n", *out, len(ts), meta[runtime.MetaModel], *from, fs.Arg(1))
	return exitOK
}

const importArgs = "-from pytorch|keras -o CKPT [-map FILE] [-model NAME] MODEL.mdl WEIGHTS.safetensors"
