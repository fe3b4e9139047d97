package train

// Command: the `train`, `eval` and `predict` command line over Fit and
// Evaluate, for a program that links one model. `mdlc train MODEL.mdl ...`
// builds such a program (its main calls Command) and runs it; Usage gives
// mdlc the flags without building anything.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/data"
)

// Exit codes of Command, as mdlc's.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// config is every flag of the three commands.
type config struct {
	data, checkpoint, augment, logdir, monitor, mode, target, features string
	valSplit                                                           float64
	epochs, batch, patience, workers                                   int
	seed                                                               uint64
	resume, strict, jsonOut, noStd                                     bool
}

// Commands are the commands Command runs.
var Commands = []string{"train", "eval", "predict"}

// flagSet returns the flags of cmd ("train", "eval" or "predict") bound to
// c.
func flagSet(cmd string, c *config, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.checkpoint, "checkpoint", "", "checkpoint file (safetensors); train writes it every epoch (default MODEL.safetensors), with FILE.best, .history.json and .data.json beside it")
	if cmd != "predict" {
		fs.StringVar(&c.data, "data", "", "the data: a folder of class sub-folders of images; images.idx,labels.idx; a folder with the MNIST IDX files; or a .csv file")
		fs.StringVar(&c.target, "target", "label", "the target column of a CSV file")
		fs.StringVar(&c.features, "features", "", "the feature columns of a CSV file, comma-separated (default: all but the target)")
		fs.BoolVar(&c.strict, "strict", false, "an unreadable image is an error (default: skipped with a warning)")
	}
	if cmd != "eval" {
		fs.IntVar(&c.batch, "batch", 0, "examples per step (default 32, or the model's largest batch when smaller)")
	} else {
		fs.IntVar(&c.batch, "batch", 0, "examples per evaluation batch (default: the model's largest)")
	}
	switch cmd {
	case "train":
		fs.Float64Var(&c.valSplit, "val-split", 0.2, "fraction of the data held out for validation, stratified by class (MNIST folders use the t10k files)")
		fs.IntVar(&c.epochs, "epochs", 10, "epochs to train (a resumed run counts those done)")
		fs.Uint64Var(&c.seed, "seed", 1, "seed of the initializers, the split, the shuffling and augmentation")
		fs.StringVar(&c.augment, "augment", "", "image augmentation, Keras ImageDataGenerator names: rotation=20,width_shift=0.2,height_shift=0.2,shear=20,zoom=0.2,hflip,vflip,fill=nearest")
		fs.BoolVar(&c.resume, "resume", false, "continue the run saved in -checkpoint (same data, seed and batch)")
		fs.IntVar(&c.patience, "early-stop", 0, "stop after this many epochs without improvement of -monitor (0: never)")
		fs.StringVar(&c.monitor, "monitor", "", "the value that picks the best checkpoint and stops early (default val_loss)")
		fs.StringVar(&c.mode, "mode", "", "min or max for -monitor (default: max for accuracy, precision, recall, f1)")
		fs.StringVar(&c.logdir, "logdir", "", "write history.csv/json, curves (PNG), confusion.png and TensorBoard event files here")
		fs.IntVar(&c.workers, "workers", 1, "goroutines filling (and augmenting) batches ahead of the training steps")
		fs.BoolVar(&c.noStd, "no-standardize", false, "do not standardize CSV features (default: fit on the training split)")
	case "predict":
		fs.BoolVar(&c.jsonOut, "json", false, "print JSON instead of CSV")
	}
	return fs
}

// Usage writes the flags of cmd.
func Usage(w io.Writer, cmd string) {
	fs := flagSet(cmd, &config{}, w)
	fs.PrintDefaults()
}

// ParseArgs checks args of cmd as Command would parse them and returns
// the positional arguments (for mdlc to fail early, before building).
func ParseArgs(cmd string, args []string) ([]string, error) {
	fs := flagSet(cmd, &config{}, io.Discard)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return fs.Args(), nil
}

// Command runs cmd (args[0]: train, eval or predict) with its flags
// (args[1:]) on the model newModel makes (initialized from seed), writing
// results to stdout and messages to stderr. It returns the exit code: 0
// success, 1 an error, 2 bad usage.
func Command(ctx context.Context, newModel func(seed uint64) runtime.Model, args []string, stdout, stderr io.Writer) int {
	return CommandParallel(ctx, newModel, Parallel{}, args, stdout, stderr)
}

// Parallel places a process in data-parallel training: rank Rank of World
// processes (World 0 or 1: alone).
type Parallel struct{ Rank, World int }

// CommandParallel is Command run by one rank of a data-parallel job
// (`mpirun -np K mdlc train ...`: the trainer's main initializes dist/mpi
// and gives newModel's models the all-reduce hook). train reads the rank's
// share of every epoch (each step's batch is -batch examples per rank, K
// times that in all); only rank 0 writes the checkpoint, its metadata, the
// logs and the progress; eval and predict run alike on every rank.
func CommandParallel(ctx context.Context, newModel func(seed uint64) runtime.Model, par Parallel, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || !slices.Contains(Commands, args[0]) {
		fmt.Fprintf(stderr, "usage: %s {train|eval|predict} [flags]\n", filepath.Base(os.Args[0]))
		return exitUsage
	}
	cmd := args[0]
	var c config
	fs := flagSet(cmd, &c, stderr)
	if err := fs.Parse(args[1:]); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	m := newModel(c.seed)
	if c.checkpoint == "" {
		if cmd != "train" {
			fmt.Fprintf(stderr, "%s: -checkpoint is required\n", cmd)
			return exitUsage
		}
		c.checkpoint = strings.ToLower(m.Spec().Name) + ".safetensors"
	}
	var err error
	switch cmd {
	case "train":
		if fs.NArg() > 0 || c.data == "" {
			fmt.Fprintln(stderr, "train: want -data PATH and no arguments")
			return exitUsage
		}
		err = runTrain(ctx, m, &c, par, stdout, stderr)
	case "eval":
		if fs.NArg() > 0 || c.data == "" {
			fmt.Fprintln(stderr, "eval: want -data PATH and no arguments")
			return exitUsage
		}
		err = runEval(m, &c, stdout, stderr)
	case "predict":
		if fs.NArg() == 0 {
			fmt.Fprintln(stderr, "predict: want INPUT files (images)")
			return exitUsage
		}
		err = runPredict(m, &c, fs.Args(), stdout, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(stderr, "%s: interrupted; %s holds the last completed epoch (-resume continues)\n", cmd, c.checkpoint)
		}
		return exitError
	}
	return exitOK
}

// meta is what a checkpoint's .data.json keeps of its training data: the
// class names and the standardization of CSV features.
type meta struct {
	Classes     []string           `json:"classes,omitempty"`
	Standardize *data.Standardizer `json:"standardize,omitempty"`
	Augment     string             `json:"augment,omitempty"`
}

// MetaPath is the path of a checkpoint's data description:
// model.safetensors gives model.data.json.
func MetaPath(checkpoint string) string {
	ext := filepath.Ext(checkpoint)
	return strings.TrimSuffix(checkpoint, ext) + ".data.json"
}

func readMeta(checkpoint string) (*meta, error) {
	b, err := os.ReadFile(MetaPath(checkpoint))
	if errors.Is(err, os.ErrNotExist) {
		return &meta{}, nil
	}
	if err != nil {
		return nil, err
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", MetaPath(checkpoint), err)
	}
	return &m, nil
}

func writeMeta(checkpoint string, m *meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	path := MetaPath(checkpoint)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// dataset is a data set read from -data: the training (or evaluated) part,
// the validation part (nil when none), and its classes.
type dataset struct {
	train, val data.Source
	classes    []string
	std        *data.Standardizer
}

// load reads -data for spec. With split, a validation part is held out
// (val-split); else (eval) the whole set is returned, or MNIST's t10k.
func load(spec runtime.Spec, c *config, split bool, m *meta, stderr io.Writer) (*dataset, error) {
	path := c.data
	if len(spec.Inputs) == 0 {
		return nil, errors.New("the model has no inputs")
	}
	in := spec.Inputs[0]
	ds := &dataset{}
	holdOut := func(src interface {
		data.Source
		Label(int) int32
	}) error {
		if !split || c.valSplit == 0 {
			ds.train = src
			return nil
		}
		tr, val, err := data.SplitLabeled(src, c.valSplit, c.seed)
		if err != nil {
			return err
		}
		ds.train, ds.val = tr, val
		return nil
	}
	if a, b, ok := strings.Cut(path, ","); ok {
		d, err := data.LoadIDX(a, b)
		if err != nil {
			return nil, err
		}
		return ds, holdOut(d)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("-data: %w", err)
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "train-images-idx3-ubyte")); err == nil || fileExists(filepath.Join(path, "train-images-idx3-ubyte.gz")) {
			tr, test, err := data.LoadMNIST(path)
			if err != nil {
				return nil, err
			}
			ds.classes = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
			if split {
				ds.train, ds.val = tr, test
			} else {
				ds.train = test
			}
			return ds, nil
		}
		opts, err := data.ImageOptionsFor(in)
		if err != nil {
			return nil, fmt.Errorf("-data %s is an image folder, but %w", path, err)
		}
		opts.Strict = c.strict
		f, err := data.LoadImageFolder(path, opts)
		if err != nil {
			return nil, err
		}
		for _, w := range f.Warnings {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
		if len(m.Classes) > 0 && !slices.Equal(m.Classes, f.Classes) {
			return nil, fmt.Errorf("%s has classes %v; the checkpoint was trained on %v", path, f.Classes, m.Classes)
		}
		ds.classes = f.Classes
		return ds, holdOut(f)
	}
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		opts := data.CSVOptions{Targets: []string{c.target}, TargetDType: runtime.F32}
		if c.features != "" {
			opts.Features = strings.Split(c.features, ",")
		}
		for _, t := range spec.Inputs {
			if t.Role == "target" {
				opts.TargetDType = t.DType
				break
			}
		}
		t, err := data.LoadCSV(path, opts)
		if err != nil {
			return nil, err
		}
		if !split {
			if m.Standardize != nil {
				if err := m.Standardize.Apply(t); err != nil {
					return nil, err
				}
			}
			ds.train = t
			return ds, nil
		}
		tr, val := t, (*data.Table)(nil)
		if c.valSplit > 0 {
			if tr, val, err = t.Split(c.valSplit, c.seed); err != nil {
				return nil, err
			}
		}
		if !c.noStd {
			var s data.Standardizer
			if val != nil {
				s, err = data.Standardize(tr, val)
			} else {
				s, err = data.Standardize(tr)
			}
			if err != nil {
				return nil, err
			}
			ds.std = &s
		}
		ds.train = tr
		if val != nil {
			ds.val = val
		}
		return ds, nil
	}
	return nil, fmt.Errorf("-data %s: want a folder of class folders, a folder with MNIST IDX files, images.idx,labels.idx or a .csv file", path)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func runTrain(ctx context.Context, m runtime.Model, c *config, par Parallel, stdout, stderr io.Writer) error {
	spec := m.Spec()
	if par.Rank != 0 {
		stdout = io.Discard // rank 0 reports
	}
	if c.batch == 0 {
		c.batch = min(32, spec.MaxBatch)
	}
	if c.batch < 1 || c.batch > spec.MaxBatch {
		return fmt.Errorf("-batch %d: want 1..%d (the model's largest batch)", c.batch, spec.MaxBatch)
	}
	if !(c.valSplit >= 0 && c.valSplit < 1) {
		return fmt.Errorf("-val-split %v: want [0, 1)", c.valSplit)
	}
	ds, err := load(spec, c, true, &meta{}, stderr)
	if err != nil {
		return err
	}
	trainSrc := ds.train
	if c.augment != "" {
		p, err := ParseAugment(c.augment)
		if err != nil {
			return err
		}
		is, ok := trainSrc.(data.ImageSource)
		if !ok {
			return fmt.Errorf("-augment needs an image folder as -data")
		}
		if trainSrc, err = NewAugmented(is, p, c.seed); err != nil {
			return err
		}
	}
	tl, err := data.NewLoader(trainSrc, spec.Inputs, data.LoaderOptions{BatchSize: c.batch, Shuffle: true, Seed: c.seed, Rank: par.Rank, World: par.World})
	if err != nil {
		return err
	}
	var vl *data.Loader
	if ds.val != nil && ds.val.Len() > 0 {
		if vl, err = data.NewLoader(ds.val, spec.Inputs, data.LoaderOptions{BatchSize: spec.MaxBatch}); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%s: %d training and %d validation examples", spec.Name, trainSrc.Len(), srcLen(ds.val))
	if len(ds.classes) > 0 {
		fmt.Fprintf(stdout, ", %d classes", len(ds.classes))
	}
	fmt.Fprintf(stdout, "; BLAS %s\n", runtime.BLAS())
	if par.World > 1 {
		fmt.Fprintf(stdout, "data parallel: %d processes, %d examples per step (%d each)\n", par.World, par.World*c.batch, c.batch)
	}
	if c.resume && !fileExists(c.checkpoint) {
		fmt.Fprintf(stdout, "no checkpoint %s: starting from the beginning\n", c.checkpoint)
	}
	if dir := filepath.Dir(c.checkpoint); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if par.Rank == 0 {
		if err := writeMeta(c.checkpoint, &meta{Classes: ds.classes, Standardize: ds.std, Augment: c.augment}); err != nil {
			return err
		}
	}
	h, err := Fit(ctx, m, tl, vl, Options{
		Epochs: c.epochs, Checkpoint: c.checkpoint, Resume: c.resume, Monitor: c.monitor, Mode: c.mode,
		Patience: c.patience, LogDir: c.logdir, Progress: stdout, Classes: ds.classes, Workers: c.workers,
		Rank: par.Rank, World: par.World,
	})
	if err != nil {
		return err
	}
	if h.Stopped {
		fmt.Fprintf(stdout, "stopped early: %s did not improve for %d epochs\n", h.Monitor, c.patience)
	}
	if h.BestEpoch > 0 {
		fmt.Fprintf(stdout, "best %s %.4f at epoch %d: %s\n", h.Monitor, h.Best, h.BestEpoch, BestPath(c.checkpoint))
	}
	fmt.Fprintf(stdout, "checkpoint: %s\n", c.checkpoint)
	if h.Report != nil {
		fmt.Fprintf(stdout, "\nvalidation (last epoch):\n")
		if err := h.Report.Table(stdout); err != nil {
			return err
		}
	}
	if h.Regression != nil {
		fmt.Fprintf(stdout, "\nvalidation (last epoch):\n")
		if err := h.Regression.Table(stdout); err != nil {
			return err
		}
	}
	if c.logdir != "" {
		fmt.Fprintf(stdout, "logs: %s (history.csv, curves, confusion.png, TensorBoard: tensorboard --logdir %s)\n", c.logdir, c.logdir)
	}
	return nil
}

func srcLen(s data.Source) int {
	if s == nil {
		return 0
	}
	return s.Len()
}

func runEval(m runtime.Model, c *config, stdout, stderr io.Writer) error {
	spec := m.Spec()
	if err := m.Load(c.checkpoint); err != nil {
		return err
	}
	mt, err := readMeta(c.checkpoint)
	if err != nil {
		return err
	}
	ds, err := load(spec, c, false, mt, stderr)
	if err != nil {
		return err
	}
	bs := c.batch
	if bs == 0 {
		bs = spec.MaxBatch
	}
	if bs < 1 || bs > spec.MaxBatch {
		return fmt.Errorf("-batch %d: want 1..%d (the model's largest batch)", bs, spec.MaxBatch)
	}
	l, err := data.NewLoader(ds.train, spec.Inputs, data.LoaderOptions{BatchSize: bs})
	if err != nil {
		return err
	}
	res, err := Evaluate(m, l)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s on %s: %d examples\n%*s %10.4f\n", spec.Name, c.data, res.Count, 12, "loss", res.Loss)
	for i, n := range res.Metrics {
		fmt.Fprintf(stdout, "%*s %10.4f\n", 12, n, res.Values[i])
	}
	if rep := res.Report(); rep != nil {
		rep.Names = ds.classes
		if len(rep.Names) == 0 {
			rep.Names = mt.Classes
		}
		fmt.Fprintln(stdout)
		return rep.Table(stdout)
	}
	if rep := res.Regression(); rep != nil {
		fmt.Fprintln(stdout)
		return rep.Table(stdout)
	}
	return nil
}

func runPredict(m runtime.Model, c *config, inputs []string, stdout, stderr io.Writer) error {
	spec := m.Spec()
	if err := m.Load(c.checkpoint); err != nil {
		return err
	}
	mt, err := readMeta(c.checkpoint)
	if err != nil {
		return err
	}
	if len(spec.Outputs) == 0 {
		return errors.New("the model has no outputs")
	}
	src, paths, err := predictSource(spec, inputs)
	if err != nil {
		return err
	}
	bs := spec.MaxBatch
	if c.batch > 0 {
		bs = min(c.batch, spec.MaxBatch)
	}
	l, err := data.NewLoader(src, spec.Inputs, data.LoaderOptions{BatchSize: bs})
	if err != nil {
		return err
	}
	out := spec.Outputs[0]
	per := 1
	for _, d := range out.Shape[1:] {
		per *= d
	}
	names := make([]string, per)
	for i := range names {
		if len(mt.Classes) == per {
			names[i] = mt.Classes[i]
		} else if per == 1 {
			names[i] = out.Name
		} else {
			names[i] = out.Name + "_" + strconv.Itoa(i)
		}
	}
	ev := newEvaluator(spec, l)
	var rows [][]float32
	for step := range l.Steps() {
		n, err := l.Load(ev.b, 0, step)
		if err != nil {
			return err
		}
		ev.view = trim(ev.view, ev.b, spec.Inputs, n)
		if err := m.Predict(ev.view, n, ev.outs); err != nil {
			return err
		}
		for i := range n {
			rows = append(rows, slices.Clone(ev.outs[0][i*per:(i+1)*per]))
		}
	}
	if c.jsonOut {
		type pred struct {
			Input  string             `json:"input"`
			Class  string             `json:"class,omitempty"`
			Scores map[string]float32 `json:"scores"`
		}
		var ps []pred
		for i, r := range rows {
			p := pred{Input: inputsName(paths, i), Scores: map[string]float32{}}
			for j, v := range r {
				p.Scores[names[j]] = v
			}
			if per > 1 {
				p.Class = names[argmax(r)]
			}
			ps = append(ps, p)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ps)
	}
	fmt.Fprintf(stdout, "input")
	if per > 1 {
		fmt.Fprintf(stdout, ",class")
	}
	for _, n := range names {
		fmt.Fprintf(stdout, ",%s", csvQuote(n))
	}
	fmt.Fprintln(stdout)
	for i, r := range rows {
		fmt.Fprintf(stdout, "%s", csvQuote(inputsName(paths, i)))
		if per > 1 {
			fmt.Fprintf(stdout, ",%s", csvQuote(names[argmax(r)]))
		}
		for _, v := range r {
			fmt.Fprintf(stdout, ",%s", strconv.FormatFloat(float64(v), 'g', 6, 32))
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

func inputsName(paths []string, i int) string {
	if i < len(paths) {
		return paths[i]
	}
	return strconv.Itoa(i)
}

func argmax(r []float32) int {
	best := 0
	for i, v := range r {
		if v > r[best] {
			best = i
		}
	}
	return best
}

func csvQuote(s string) string {
	if strings.ContainsAny(s, ",\"\r\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// predictSource reads the input files of predict: images (files, or the
// image files of a folder) decoded, resized and rescaled as training's
// (data.LoadImages, strict), or the rows of one CSV file.
func predictSource(spec runtime.Spec, inputs []string) (data.Source, []string, error) {
	if len(inputs) == 1 && strings.EqualFold(filepath.Ext(inputs[0]), ".csv") {
		t, err := data.LoadCSV(inputs[0], data.CSVOptions{})
		if err != nil {
			return nil, nil, err
		}
		var rows []string
		for i := range t.N {
			rows = append(rows, fmt.Sprintf("%s:%d", inputs[0], t.Lines[i]))
		}
		return t, rows, nil
	}
	opts, err := data.ImageOptionsFor(spec.Inputs[0])
	if err != nil {
		return nil, nil, fmt.Errorf("predict reads images (or one .csv file), but %w", err)
	}
	opts.Strict = true
	var files []string
	for _, in := range inputs {
		st, err := os.Stat(in)
		if err != nil {
			return nil, nil, err
		}
		if !st.IsDir() {
			if !slices.Contains(data.ImageExtensions, strings.ToLower(filepath.Ext(in))) {
				return nil, nil, fmt.Errorf("%s: not an image file name (extensions %s)", in, strings.Join(data.ImageExtensions, " "))
			}
			files = append(files, in)
			continue
		}
		ents, err := os.ReadDir(in)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range ents {
			if !e.IsDir() && slices.Contains(data.ImageExtensions, strings.ToLower(filepath.Ext(e.Name()))) {
				files = append(files, filepath.Join(in, e.Name()))
			}
		}
	}
	f, err := data.LoadImages(files, opts)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Paths, nil
}
