// Command allreduce measures data-parallel training over MPI (dist/mpi):
// for examples/mnist_mlp, examples/fashion_cnn and the seed CNN
// (examples/catsdogs) it times the
// training step of each rank and, inside it, the all-reduce (the
// reducer's ReduceStep: one MPI_Allreduce of two float64 counts, the
// scaling by n/N and one in-place MPI_Allreduce of the whole gradient
// block), in the same run, and prints both per step with the gradient
// bytes; then the all-reduce of a block of that size alone, after a
// barrier (the step's includes waiting for the slower rank), and the bus
// bandwidth it achieved (2(K-1)/K x bytes / time, the ring's traffic). Run it with
// bench/allreduce.sh (mpirun -np 2); alone it measures one rank (the
// reducer then returns at once).
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/mdlc/mdlc/dist/mpi"
	"github.com/mdlc/mdlc/examples/catsdogs/catsdogs"
	"github.com/mdlc/mdlc/examples/fashion_cnn/fashioncnn"
	"github.com/mdlc/mdlc/examples/mnist_mlp/mnistmlp"
	mdlc "github.com/mdlc/mdlc/runtime"
)

// timed is an AllReducer that times the one it wraps.
type timed struct {
	r     mdlc.AllReducer
	spent time.Duration
}

func (t *timed) ReduceStep(grads, loss []float32, n int) error {
	start := time.Now()
	err := t.r.ReduceStep(grads, loss, n)
	t.spent += time.Since(start)
	return err
}

func (t *timed) ReduceState(state []float32) error {
	start := time.Now()
	err := t.r.ReduceState(state)
	t.spent += time.Since(start)
	return err
}

type model interface {
	mdlc.Model
	Grads() []mdlc.Tensor
}

func main() {
	mlpSteps := flag.Int("mlp-steps", 300, "timed steps of mnist_mlp (after 2 untimed ones)")
	fashionSteps := flag.Int("fashion-steps", 30, "timed steps of fashion_cnn (after 2 untimed ones)")
	cnnSteps := flag.Int("cnn-steps", 8, "timed steps of catsdogs (after 2 untimed ones)")
	flag.Parse()
	var comm *mpi.Comm
	rank, size := 0, 1
	var red mdlc.AllReducer = nopReducer{}
	if mpi.Launched() {
		c, err := mpi.Init()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		comm, rank, size, red = c, c.Rank(), c.Size(), c.Reducer()
		defer c.Finalize()
	}
	cases := []struct {
		name  string
		batch int // per rank
		steps int
		new   func(r mdlc.AllReducer) model
	}{
		{"mnist_mlp", 64, *mlpSteps, func(r mdlc.AllReducer) model { return mnistmlp.New(mnistmlp.WithAllReduce(r)) }},
		{"fashion", 32, *fashionSteps, func(r mdlc.AllReducer) model { return fashioncnn.New(fashioncnn.WithAllReduce(r)) }},
		{"catsdogs", 16, *cnnSteps, func(r mdlc.AllReducer) model { return catsdogs.New(catsdogs.WithAllReduce(r)) }},
	}
	if rank == 0 {
		fmt.Printf("%d rank(s); times per step on rank 0\n", size)
		fmt.Printf("%-10s %6s %6s %12s %10s %12s %9s %10s %10s\n", "model", "steps", "batch", "grad bytes", "step ms", "allreduce ms", "share", "alone ms", "GB/s")
	}
	for _, c := range cases {
		t := &timed{r: red}
		m := c.new(t)
		var params int
		for _, p := range m.Params() {
			params += len(p.Data)
		}
		b := batch(m.Spec(), c.batch, rank)
		for range 2 {
			if _, err := m.Train(b, c.batch); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		if comm != nil {
			comm.Barrier()
		}
		t.spent = 0
		start := time.Now()
		for range c.steps {
			if _, err := m.Train(b, c.batch); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		step := time.Since(start) / time.Duration(c.steps)
		ar := t.spent / time.Duration(c.steps)
		// The all-reduce inside a step includes waiting for the slowest
		// rank; alone (after a barrier) it is the transfer itself.
		var alone time.Duration
		if comm != nil {
			buf := make([]float32, params)
			const reps = 10
			comm.Barrier()
			start := time.Now()
			for range reps {
				if err := comm.AllreduceF32(buf); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
			}
			alone = time.Since(start) / reps
		}
		if rank == 0 {
			bytes := 4 * params
			// A ring all-reduce moves 2(K-1)/K of the block per rank.
			moved := 2 * float64(size-1) / float64(size) * float64(bytes)
			bw := 0.0
			if alone > 0 {
				bw = moved / alone.Seconds() / 1e9
			}
			fmt.Printf("%-10s %6d %6d %12d %10.3f %12.3f %8.1f%% %10.3f %10.2f\n", c.name, c.steps, c.batch*size, bytes,
				step.Seconds()*1000, ar.Seconds()*1000, 100*ar.Seconds()/step.Seconds(), alone.Seconds()*1000, bw)
		}
	}
}

type nopReducer struct{}

func (nopReducer) ReduceStep(grads, loss []float32, n int) error { return nil }
func (nopReducer) ReduceState(state []float32) error             { return nil }

// batch is a random batch of n examples for spec (labels in range), other
// on every rank.
func batch(spec mdlc.Spec, n, rank int) mdlc.Batch {
	rng := rand.New(rand.NewPCG(uint64(rank), 1))
	b := make(mdlc.Batch, len(spec.Inputs))
	for i, in := range spec.Inputs {
		per, _ := in.PerExample()
		if in.DType == mdlc.I32 {
			b[i].I32 = make([]int32, n*per)
			for j := range b[i].I32 {
				b[i].I32[j] = int32(rng.IntN(10))
			}
			continue
		}
		b[i].F32 = make([]float32, n*per)
		for j := range b[i].F32 {
			b[i].F32[j] = rng.Float32()
		}
		if in.Role == "target" { // catsdogs: a 0/1 label
			for j := range b[i].F32 {
				b[i].F32[j] = float32(rng.IntN(2))
			}
		}
	}
	return b
}
