// Package augment is Keras ImageDataGenerator's geometric augmentation for
// training images: the same parameters and sampling, composed into one affine
// warp per image, deterministic per (seed, epoch, index), run by a Pipeline of
// worker goroutines that fills float32 batch buffers ahead of training.
//
// Stages, each usable alone:
//
//	Params.Sample   (seed, epoch, index) -> Transform   Keras's get_random_transform
//	Transform.Matrix Transform -> Matrix (3x3)          Keras's apply_affine_transform + flips
//	Params.Warp     uint8 HWC image + Matrix -> float32  one inverse-mapped pass, rescaled
//	Pipeline.Start  example order -> batches in order   workers + prefetch, context cancel
//
// # Keras's semantics, kept
//
// Coordinates are (row, col) as in Keras's scipy.ndimage path: tx and zx act
// on rows, ty and zy on columns. The matrix is rotation @ shift @ shear @ zoom
// with rotation [[cos, -sin], [sin, cos]] and shear [[1, -sin s], [0, cos s]],
// conjugated by a move of the origin to the center ((h-1)/2, (w-1)/2), and maps
// output to input: a positive tx reads rows further down, so content moves up.
// Shift ranges below 1 are fractions of the size, others pixels; zoom above 1
// shrinks the content; flips reverse the warped output. Values keep the
// 0..255 scale until Rescale multiplies them, as Keras's standardize does
// after apply_transform; Cval is in that pixel scale.
//
// Interpolation is bilinear (Keras's default interpolation_order=1) or
// nearest (order 0). Fill modes are scipy.ndimage's on the pixel grid:
// nearest (the default), constant (Cval for a source point outside
// [0, h-1] x [0, w-1], with either interpolation; no interpolation with
// Cval), reflect (dcba|abcd|dcba).
//
// TestMatchesKerasScipy checks whole warped images against values computed
// by Keras's own path (testdata/keras_ref.py: its matrix composition,
// scipy.ndimage.affine_transform, its flips) for every transform, each fill
// mode but wrap, and both interpolations: they agree within 1e-4 of a pixel
// level.
//
// # Differences from Keras
//
//   - Randomness: Keras draws the parameters one after another from NumPy's
//     global stream (only those enabled). Here each (seed, epoch, index) keys
//     its own Philox4x32-10 counter stream and each parameter has a fixed slot
//     in it (theta, tx, ty, shear, zx, zy, horizontal flip, vertical flip),
//     so results do not depend on worker count, order, or which other
//     parameters are enabled. The distributions are Keras's; the numbers are
//     not NumPy's.
//   - Shift ranges: only Keras's float form (uniform in [-r, r]); its int and
//     list forms (a random choice of whole pixels) are not offered.
//   - Flips are folded into the one matrix (an exact output reindexing, so
//     the result is the same as flipping after the warp).
//   - wrap is periodic (scipy's "grid-wrap"); scipy's legacy "wrap", which
//     Keras passes on, has a different period at the edges.
//   - The 8-bit input is read as float32 and interpolated in float32; Keras
//     interpolates in float64 (differences below 1e-4 of a pixel level in
//     the tests).
//   - Channel shift, brightness, featurewise/samplewise normalization and ZCA
//     are not here.
//
// # Throughput
//
// One 150x150x3 image with every transform on (bilinear, fill nearest,
// rescaled) costs about 0.26 ms of CPU on one core of the 2-core AMD EPYC
// development machine, about 3,500 images/s per core when the machine is
// idle (1,300 to 3,700 measured while other jobs shared it):
//
//	go test ./runtime/data/augment -run '^$' -bench Augment -benchtime 2s
//
// BenchmarkAugment is Params.Apply on one goroutine; the Pipeline's
// throughput with two workers, against the seed CNN's training rate in the
// same run, is bench's BenchmarkAugment150 (bench/README.md).
package augment
