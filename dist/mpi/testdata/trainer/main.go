// trainer trains a generated model (newModel, model.go: examples/mnist_mlp's;
// a test writes another model.go) on synthetic data, alone or as one rank
// of an mpirun job, for dist/mpi's tests: each global batch of -batch
// examples is split among the ranks (rank r takes its contiguous share;
// -uneven gives rank 0 one example fewer than rank 1 so that the
// example-count weighting is exercised), and after -steps steps every rank
// saves its parameters and state (a checkpoint) to OUT.rankR.
package main

import (
	"flag"
	"fmt"
	"os"
	"syscall"

	"github.com/mdlc/mdlc/dist/mpi"
	mdlc "github.com/mdlc/mdlc/runtime"
)

func main() {
	batch := flag.Int("batch", 16, "global batch size")
	steps := flag.Int("steps", 20, "last step (exclusive)")
	start := flag.Int("start", 0, "first step (with -resume: the step the checkpoint was saved at)")
	uneven := flag.Bool("uneven", false, "split each batch unevenly between 2 ranks")
	out := flag.String("out", "", "write parameters and state to OUT.rankR")
	save := flag.String("save", "", "rank 0 saves a checkpoint here after the last step")
	resume := flag.String("resume", "", "rank 0 loads this checkpoint, then broadcasts it")
	dieAt := flag.Int("die-at", -1, "rank -die-rank dies before this step")
	dieRank := flag.Int("die-rank", 1, "the rank that dies")
	dieHow := flag.String("die-how", "kill", "kill (SIGKILL itself) or exit (os.Exit(3))")
	flag.Parse()

	rank, size := 0, 1
	var comm *mpi.Comm
	var red mdlc.AllReducer
	if mpi.Launched() {
		c, err := mpi.Init()
		check(err)
		comm, rank, size, red = c, c.Rank(), c.Size(), c.Reducer()
	}
	m := newModel(red)
	if *resume != "" && rank == 0 {
		check(m.Load(*resume))
	}
	if comm != nil {
		check(comm.SyncModel(m))
	}

	// The data set: every rank draws the same examples; a class label in
	// 0..9 per example, and features that show it.
	const batches = 20 // then the data repeat
	total := batches * *batch
	rng := mdlc.NewRNG(7)
	labels := make([]int32, total)
	for i := range labels {
		labels[i] = int32(rng.IntN(10))
	}
	spec := m.Spec()
	data := make([]mdlc.Value, len(spec.Inputs))
	per := make([]int, len(spec.Inputs))
	for k, in := range spec.Inputs {
		per[k], _ = in.PerExample()
		if in.DType == mdlc.I32 {
			data[k].I32 = labels
			continue
		}
		x := make([]float32, total*per[k])
		for i := range x {
			x[i] = float32(rng.Float64())
			if i%10 == int(labels[i/per[k]]) {
				x[i] += 0.5
			}
		}
		data[k].F32 = x
	}
	lo, hi := share(*batch, rank, size, *uneven)
	b := make(mdlc.Batch, len(data))
	for step := *start; step < *steps; step++ {
		if step == *dieAt && rank == *dieRank {
			if *dieHow == "exit" {
				os.Exit(3)
			}
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		first := step%batches**batch + lo
		n := hi - lo
		for k, d := range data {
			if d.I32 != nil {
				b[k].I32 = d.I32[first*per[k] : (first+n)*per[k]]
			} else {
				b[k].F32 = d.F32[first*per[k] : (first+n)*per[k]]
			}
		}
		_, err := m.Train(b, n)
		if err != nil {
			fmt.Fprintf(os.Stderr, "rank %d step %d: %v\n", rank, step, err)
			if comm != nil {
				comm.Abort(1)
			}
			os.Exit(1)
		}
	}
	if *save != "" && rank == 0 {
		check(m.Save(*save))
	}
	if *out != "" {
		check(m.Save(fmt.Sprintf("%s.rank%d", *out, rank)))
	}
	if comm != nil {
		check(comm.Finalize())
	}
}

// share is rank's range [lo, hi) of a batch of b examples.
func share(b, rank, size int, uneven bool) (lo, hi int) {
	if uneven && size == 2 {
		cut := b/2 - 1
		if rank == 0 {
			return 0, cut
		}
		return cut, b
	}
	return rank * b / size, (rank + 1) * b / size
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "trainer:", err)
		os.Exit(1)
	}
}
