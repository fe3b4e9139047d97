package train_test

import (
	"fmt"
	"testing"

	"github.com/mdlc/mdlc/examples/catsdogs/catsdogs"
	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/data"
	"github.com/mdlc/mdlc/train"
)

// binarySource is n random 150x150x3 images with 0/1 targets f32 [1].
type binarySource struct{ n int }

func (s binarySource) Len() int { return s.n }

func (s binarySource) Fields() []data.Field {
	return []data.Field{{Name: "image", DType: runtime.F32, Shape: []int{150, 150, 3}}, {Name: "label", DType: runtime.F32, Shape: []int{1}}}
}

func (s binarySource) Read(f, i int, dst runtime.Value) error {
	if i < 0 || i >= s.n || len(dst.F32) == 0 {
		return fmt.Errorf("no example %d", i)
	}
	if f == 1 {
		dst.F32[0] = float32(i % 2)
		return nil
	}
	rng := runtime.NewRNG(uint64(i))
	for j := range dst.F32 {
		dst.F32[j] = float32(rng.Float64())
	}
	return nil
}

// A model with one sigmoid output and 0/1 targets (the seed's cats vs
// dogs) is a binary classifier: Evaluate reports its precision, recall and
// F1 with the threshold 0.5, as Keras's binary metrics do.
func TestEvaluateBinary(t *testing.T) {
	m := catsdogs.New()
	l, err := data.NewLoader(binarySource{n: 6}, m.Spec().Inputs, data.LoaderOptions{BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	r, err := train.Evaluate(m, l)
	if err != nil {
		t.Fatal(err)
	}
	rep := r.Report()
	if rep == nil {
		t.Fatal("no classification report for a sigmoid output with 0/1 targets")
	}
	if rep.Classes != 2 || rep.Count != 6 {
		t.Fatalf("report of %d classes over %d examples, want 2 over 6", rep.Classes, rep.Count)
	}
	var support int64
	for _, row := range rep.Confusion {
		for _, c := range row {
			support += c
		}
	}
	if support != 6 || rep.Confusion[0][0]+rep.Confusion[0][1] != 3 {
		t.Errorf("confusion matrix %v: want 6 examples, 3 of class 0", rep.Confusion)
	}
}
