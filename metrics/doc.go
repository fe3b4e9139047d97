// Package metrics computes evaluation metrics over a whole evaluation set,
// batch by batch: every accumulator keeps counts or float64 sums, never
// per-batch averages, so the result is the metric of the set however it was
// split into batches.
//
//   - Classification: a confusion matrix and a histogram of the rank of the
//     true class, from which Report derives accuracy, top-k accuracy and
//     per-class, macro, micro and weighted precision, recall and F1.
//   - Regression: MSE, MAE and R^2, per output and averaged over outputs.
//   - Mean and Means: a value the model computes per batch as a mean over the
//     batch's examples (the loss, a metric the .mdl declares, as filled by
//     runtime.Model.Evaluate), weighted by the batch's example count.
//
// Add methods take the first n rows of their slices (which may be longer: a
// batch buffer sized for Spec.MaxBatch), check every size, label and value
// first, and return an error without counting anything when one is wrong;
// they never panic and do not allocate. Reports allocate.
//
// # Classification
//
// NewClassification(k) takes k scores per example (probabilities or logits:
// only their order matters); the predicted class is the first maximum
// (numpy's argmax). NewBinary(t) takes one probability of class 1 per example;
// the prediction is 1 when p > t (Keras's BinaryAccuracy; t is usually
// DefaultThreshold, 0.5, or 0 for a logit), and the report has two classes.
// Labels are int32 class ids (Add) or float targets of the scores' width
// (AddTargets): one-hot rows, or 0/1 for NewBinary.
//
// With C the confusion matrix (C[i][j]: examples of true class i predicted
// as j), N the example count, and for class c: tp = C[c][c], fp = column c
// minus tp, fn = row c minus tp, support = row c:
//
//	accuracy        = sum_c tp_c / N
//	precision_c     = tp / (tp + fp)
//	recall_c        = tp / (tp + fn)
//	f1_c            = 2 tp / (2 tp + fp + fn)
//	macro           = mean over all k classes of the per-class value
//	weighted        = sum_c support_c * value_c / N
//	micro precision = micro recall = micro F1 = sum_c tp_c / N = accuracy
//	top-k accuracy  = examples whose true class ranks below k / N
//
// The rank of the true class y is the number of classes with a higher score,
// plus those with an equal score and a smaller index: ties break as argmax
// does, so top-1 accuracy equals accuracy. (scikit-learn's
// top_k_accuracy_score breaks ties the other way; TensorFlow's in_top_k counts
// every tied class as in the top k.)
//
// These are scikit-learn's accuracy_score, precision_recall_fscore_support with
// labels=range(k) (average=None, "macro", "micro", "weighted"; for two classes
// PerClass[1], see Report.Binary, is average="binary" with pos_label=1),
// f1_score in the 2tp/(2tp+fp+fn) form recent scikit-learn computes (equal
// to 2PR/(P+R) whenever precision and recall are both defined),
// confusion_matrix and, but for ties, top_k_accuracy_score. A zero denominator
// gives 0 and a Warning, as zero_division="warn" does: precision of a class
// never predicted, recall of a class with no examples, F1 of a class neither
// true nor predicted, anything over an empty set. Macro averages include such
// classes with their 0, as scikit-learn does when labels are given. Each
// Warning names the metric, the class and the value reported instead.
//
// # Regression
//
// NewRegression(d) takes d predictions and d targets per example. Per output,
// over the N examples, with y the targets, p the predictions and ybar the
// mean target:
//
//	MSE = sum (y - p)^2 / N
//	MAE = sum |y - p| / N
//	R^2 = 1 - sum (y - p)^2 / sum (y - ybar)^2
//
// and the report's MSE, MAE and R^2 are the means over outputs
// (scikit-learn's multioutput="uniform_average"; mean_squared_error,
// mean_absolute_error, r2_score). sum (y - ybar)^2 is merged batch by batch
// with Chan et al.'s update, in float64. When the targets of an output are
// constant, R^2 is 1 if every prediction is exact and 0 otherwise: this is
// scikit-learn's documented r2_score with force_finite=True (the default since
// 1.1), which replaces the NaN or -Inf; we also record a Warning, which
// scikit-learn does not. With fewer than two examples scikit-learn returns NaN
// with an UndefinedMetricWarning; we return 0 with a Warning. An empty set
// gives 0 everywhere and a Warning (scikit-learn raises an error).
package metrics
