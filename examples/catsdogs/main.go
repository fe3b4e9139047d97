// Command catsdogs trains examples/catsdogs/catsdogs.mdl, the seed's Keras
// cats-vs-dogs CNN compiled to the Go package ./catsdogs with batch 32, with
// train.Fit:
//
//   - on an image folder, -data DIR with the sub-folders cats/ and dogs/
//     (label 0 and 1, in sorted order), with the Keras tutorial's
//     ImageDataGenerator augmentation (rotation_range 40, width and height
//     shift 0.2, shear_range 0.2, zoom 0.2, horizontal flip, rescale 1/255)
//     on the training images; validation on -val DIR (same layout, only
//     rescaled) or else on a stratified -val-split of -data;
//   - or, with -random, on random images and labels: a benchmark of the
//     training step (Fit prints examples/s per epoch).
//
// shear_range is in degrees, as in Keras (apply_affine_transform converts
// it with deg2rad), so the tutorial's 0.2 is a shear of at most 0.2 degrees.
package main

//go:generate go run github.com/mdlc/mdlc/cmd/mdlc build -batch 32 -o catsdogs catsdogs.mdl

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"

	"github.com/mdlc/mdlc/examples/catsdogs/catsdogs"
	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/data"
	training "github.com/mdlc/mdlc/train"
)

// augmentation is the Keras tutorial's ImageDataGenerator in
// train.ParseAugment's names; the rescale is the image folder's (1/255).
const augmentation = "rotation=40,width_shift=0.2,height_shift=0.2,shear=0.2,zoom=0.2,hflip"

func main() {
	dir := flag.String("data", "", "training image folder with the sub-folders cats/ and dogs/")
	valDir := flag.String("val", "", "validation image folder (same layout); default: hold out -val-split of -data")
	valSplit := flag.Float64("val-split", 0.2, "fraction of -data held out for validation when -val is not given")
	random := flag.Bool("random", false, "train on random images and labels instead of -data (a benchmark)")
	examples := flag.Int("examples", 320, "examples per epoch with -random")
	epochs := flag.Int("epochs", 100, "passes over the training set")
	batch := flag.Int("batch", catsdogs.MaxBatch, fmt.Sprintf("examples per step (at most %d)", catsdogs.MaxBatch))
	workers := flag.Int("workers", 2, "goroutines that decode and augment the training batches ahead of the steps")
	seed := flag.Uint64("seed", 1, "seed of the initializers, dropout, the shuffling and the augmentation")
	save := flag.String("save", "", "write the model to this safetensors file after every epoch (and the best to FILE.best)")
	logdir := flag.String("logdir", "", "write the history, curves and TensorBoard files here")
	flag.Parse()

	spec := catsdogs.New().Spec()
	var trainSrc, valSrc data.Source
	var classes []string
	switch {
	case *random:
		trainSrc = randomImages(spec, *examples, *seed)
		fmt.Printf("random data: %d examples of %v; BLAS %s\n", *examples, spec.Inputs[0].Shape[1:], runtime.BLAS())
	case *dir != "":
		var err error
		trainSrc, valSrc, classes, err = imageFolders(spec, *dir, *valDir, *valSplit, *seed)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d training and %d validation images, classes %v; BLAS %s\n", *dir, trainSrc.Len(), valSrc.Len(), classes, runtime.BLAS())
	default:
		log.Fatal("catsdogs: give -data DIR (an image folder of cats/ and dogs/) or -random")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts := training.Options{Epochs: *epochs, Checkpoint: *save, LogDir: *logdir, Classes: classes, Workers: *workers}
	if _, err := fit(ctx, trainSrc, valSrc, opts, *batch, *seed, os.Stdout); err != nil {
		log.Fatal(err)
	}
	if *save != "" {
		fmt.Println("saved", *save)
	}
}

// imageFolders loads the training folder, augmented, and the validation
// folder (or a held-out part of the training folder), not augmented.
func imageFolders(spec runtime.Spec, dir, valDir string, valSplit float64, seed uint64) (trainSrc, valSrc data.Source, classes []string, err error) {
	opts, err := data.ImageOptionsFor(spec.Inputs[0])
	if err != nil {
		return nil, nil, nil, err
	}
	load := func(dir string) (*data.ImageFolder, error) {
		f, err := data.LoadImageFolder(dir, opts)
		if err != nil {
			return nil, err
		}
		for _, w := range f.Warnings {
			fmt.Fprintf(os.Stderr, "warning: %s\n", w)
		}
		if len(f.Classes) != 2 {
			return nil, fmt.Errorf("%s has the classes %v; want two (cats and dogs: label 0 and 1)", dir, f.Classes)
		}
		return f, nil
	}
	f, err := load(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	var tr data.ImageSource = f
	if valDir != "" {
		v, err := load(valDir)
		if err != nil {
			return nil, nil, nil, err
		}
		if !slices.Equal(v.Classes, f.Classes) {
			return nil, nil, nil, fmt.Errorf("%s has the classes %v, %s has %v", valDir, v.Classes, dir, f.Classes)
		}
		valSrc = v
	} else {
		t, v, err := data.SplitLabeled(f, valSplit, seed)
		if err != nil {
			return nil, nil, nil, err
		}
		tr, valSrc = t, v
	}
	p, err := training.ParseAugment(augmentation)
	if err != nil {
		return nil, nil, nil, err
	}
	aug, err := training.NewAugmented(tr, p, seed)
	if err != nil {
		return nil, nil, nil, err
	}
	return aug, valSrc, f.Classes, nil
}

// randomImages is n images of the input's shape, uniform in [0, 1), with
// labels 0 or 1.
func randomImages(spec runtime.Spec, n int, seed uint64) *data.Dataset {
	shape := spec.Inputs[0].Shape[1:]
	dim := 1
	for _, d := range shape {
		dim *= d
	}
	r := rand.New(rand.NewPCG(seed, 0))
	d := &data.Dataset{N: n, Dim: dim, Shape: slices.Clone(shape), X: make([]float32, n*dim), Y: make([]int32, n)}
	for i := range d.X {
		d.X[i] = r.Float32()
	}
	for i := range d.Y {
		d.Y[i] = int32(r.IntN(2))
	}
	return d
}

// fit trains a fresh model with train.Fit; valSrc may be nil.
func fit(ctx context.Context, trainSrc, valSrc data.Source, opts training.Options, batch int, seed uint64, w io.Writer) (*training.History, error) {
	m := catsdogs.New(catsdogs.WithSeed(seed))
	spec := m.Spec()
	tl, err := data.NewLoader(trainSrc, spec.Inputs, data.LoaderOptions{BatchSize: batch, Shuffle: true, Seed: seed})
	if err != nil {
		return nil, err
	}
	var vl *data.Loader
	if valSrc != nil && valSrc.Len() > 0 {
		if vl, err = data.NewLoader(valSrc, spec.Inputs, data.LoaderOptions{BatchSize: catsdogs.MaxBatch}); err != nil {
			return nil, err
		}
	}
	opts.Progress = w
	return training.Fit(ctx, m, tl, vl, opts)
}
