package metrics_test

import (
	"fmt"
	"os"

	"github.com/mdlc/mdlc/metrics"
)

// An evaluation loop: each batch's class probabilities (as Model.Predict
// fills them, in a buffer sized for the largest batch) and labels are added;
// the loss and the metrics the .mdl declares (as Model.Evaluate returns them,
// means over the batch) are weighted by the batch's example count.
func ExampleClassification() {
	type batch struct {
		probs  []float32 // (n, 3)
		labels []int32   // (n)
		n      int
		loss   float32
		acc    []float32 // Spec().Metrics: accuracy
	}
	batches := []batch{
		{[]float32{.7, .2, .1, .1, .8, .1, .3, .3, .4}, []int32{0, 1, 1}, 3, .6, []float32{2. / 3}},
		{[]float32{.2, .5, .3, 0, 0, 0, 0, 0, 0}, []int32{2}, 1, 1.2, []float32{0}},
	}
	c := metrics.NewClassification(3)
	var loss metrics.Mean
	declared := metrics.NewMeans([]string{"accuracy"})
	for _, b := range batches {
		if err := c.Add(b.probs, b.labels, b.n); err != nil {
			fmt.Println(err)
			return
		}
		_ = loss.Add(b.loss, b.n)
		_ = declared.Add(b.acc, b.n)
	}
	r := c.Report()
	r.Names = []string{"cat", "dog", "bird"}
	fmt.Printf("loss %.2f, declared accuracy %.2f\n", loss.Value(), declared.Value(0))
	_ = r.Table(os.Stdout)
	// Output:
	// loss 0.75, declared accuracy 0.50
	//                 precision     recall   f1-score    support
	//
	//            cat     1.0000     1.0000     1.0000          1
	//            dog     0.5000     0.5000     0.5000          2
	//           bird     0.0000     0.0000     0.0000          1
	//
	//       accuracy                           0.5000          4
	//      macro avg     0.5000     0.5000     0.5000          4
	//   weighted avg     0.5000     0.5000     0.5000          4
	//
	// top-2 accuracy                           0.7500          4
	//
	// confusion matrix (rows: true class, columns: predicted class)
	//                 cat  dog bird
	//            cat    1    0    0
	//            dog    0    1    1
	//           bird    0    1    0
}

func ExampleRegression() {
	r := metrics.NewRegression(1)
	_ = r.Add([]float32{2.5, 0}, []float32{3, -.5}, 2)
	_ = r.Add([]float32{2, 8}, []float32{2, 7}, 2)
	rep := r.Report()
	fmt.Printf("MSE %.4f MAE %.4f R^2 %.4f\n", rep.MSE, rep.MAE, rep.R2)
	// Output: MSE 0.3750 MAE 0.5000 R^2 0.9486
}
