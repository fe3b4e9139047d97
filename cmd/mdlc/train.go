package main

// mdlc train, eval and predict: compile the model into a cached trainer
// program (cache.go) and run it with the command's flags, which
// train.Command parses.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mdlc/mdlc/train"
)

const trainNote = `The model is compiled to Go and built, with the Go toolchain (the go command on
PATH), into a program cached under $MDLC_CACHE (default: the user cache
directory's mdlc/), keyed by the .mdl source, the build options, the Go
toolchain and mdlc itself. The first run of a model builds it: about 1 s
when Go's build cache already holds mdlc's packages (after any go build of
mdlc), about 45 s with an empty one (measured on 2 cores); later runs reuse
the program. Ctrl-C stops training between two steps; the checkpoint of the
last completed epoch is kept and -resume continues it.`

var modelCommandArgs = map[string]string{
	"train":   "MODEL.mdl -data PATH [-val-split 0.2] [-epochs E] [-batch B] [-seed S] [-augment ...] [-checkpoint FILE] [-resume] [-early-stop PATIENCE] [-logdir DIR]",
	"eval":    "MODEL.mdl -checkpoint FILE -data PATH",
	"predict": "MODEL.mdl -checkpoint FILE [-json] INPUT...",
}

var modelCommandSummary = map[string]string{
	"train": "Train a model on a data set: an epoch loop with validation, checkpoints every epoch\n" +
		"(and the best), progress, metrics, curves and TensorBoard logs.",
	"eval": "Evaluate a checkpoint on a data set: loss, declared metrics and, for a classifier,\n" +
		"accuracy, precision, recall, F1 and the confusion matrix.",
	"predict": "Print the outputs (class probabilities) of a checkpoint for input images (files or\n" +
		"folders of them) or the rows of one CSV file, as CSV (or JSON with -json).",
}

func cmdTrain(stdout, stderr io.Writer, args []string) int {
	return modelCommand("train", stdout, stderr, args)
}

func modelUsage(name string, w io.Writer) {
	fmt.Fprintf(w, "usage: mdlc %s %s\n\n%s\n\n%s\n\nflags:\n", name, modelCommandArgs[name], modelCommandSummary[name], trainNote)
	fmt.Fprintf(w, "  -model NAME\n    \tthe model to use when the file has several\n  -O LEVEL\n    \toptimization level of the compiled model (default 2)\n")
	train.Usage(w, name)
}

// modelCommand runs train, eval or predict: args are the .mdl file, mdlc's
// own -model and -O, and the flags and arguments train.Command takes.
func modelCommand(name string, stdout, stderr io.Writer, args []string) int {
	var path, model string
	level := 2
	var pass []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		flagName, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		isFlag := strings.HasPrefix(a, "-") && a != "-"
		switch {
		case isFlag && (flagName == "h" || flagName == "help"):
			modelUsage(name, stdout)
			return exitOK
		case isFlag && (flagName == "model" || flagName == "O"):
			if !hasValue {
				if i+1 >= len(args) {
					fmt.Fprintf(stderr, "mdlc %s: flag %s needs a value\n", name, a)
					return exitUsage
				}
				i++
				value = args[i]
			}
			if flagName == "model" {
				model = value
			} else {
				l, err := strconv.Atoi(value)
				if err != nil || l < 0 || l > 2 {
					fmt.Fprintf(stderr, "mdlc %s: -O %s: levels are 0, 1 and 2\n", name, value)
					return exitUsage
				}
				level = l
			}
		case path == "" && !isFlag && strings.HasSuffix(a, ".mdl"):
			path = a
		default:
			pass = append(pass, a)
		}
	}
	if path == "" {
		fmt.Fprintf(stderr, "mdlc %s: no MODEL.mdl file\nusage: mdlc %s %s\n", name, name, modelCommandArgs[name])
		return exitUsage
	}
	if _, err := train.ParseArgs(name, pass); err != nil {
		fmt.Fprintf(stderr, "mdlc %s: %v\n", name, err)
		modelUsage(name, stderr)
		return exitUsage
	}
	src, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "mdlc: %v\n", err)
		return exitUsage
	}
	// The compiled model accepts batches up to 128, or -batch when larger,
	// so the commands of one model share a trainer.
	maxBatch := 128
	if b := flagValue(pass, "batch"); b != "" {
		if n, err := strconv.Atoi(b); err == nil && n > maxBatch && n <= 1<<20 {
			maxBatch = n
		}
	}
	start := time.Now()
	bin, built, err := trainer(trainerSpec{Path: path, Src: src, Model: model, MaxBatch: maxBatch, Level: level}, stderr)
	if err != nil {
		if !errors.Is(err, errDiagnostics) {
			fmt.Fprintf(stderr, "mdlc %s: %v\n", name, err)
		}
		return exitError
	}
	if built {
		fmt.Fprintf(stderr, "mdlc: built %s in %.1fs\n", bin, time.Since(start).Seconds())
	}
	return runTrainer(bin, append([]string{name}, pass...), stdout, stderr)
}

// flagValue returns the value of the last -name flag in args, "" if none.
func flagValue(args []string, name string) string {
	v := ""
	for i, a := range args {
		f, val, has := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && f == name {
			if has {
				v = val
			} else if i+1 < len(args) {
				v = args[i+1]
			}
		}
	}
	return v
}

// runTrainer runs the trainer with args, its output going to stdout and
// stderr (the terminal itself when they are mdlc's), and returns its exit
// code. An interrupt is passed on to it, which stops after the current step.
func runTrainer(bin string, args []string, stdout, stderr io.Writer) int {
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "mdlc: %v\n", err)
		return exitError
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if code := ee.ExitCode(); code >= 0 {
			return code
		}
		return exitError
	}
	if err != nil {
		fmt.Fprintf(stderr, "mdlc: %v\n", err)
		return exitError
	}
	return exitOK
}
