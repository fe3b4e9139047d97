// Package data loads training data for generated models: IDX files (MNIST,
// Fashion-MNIST) into a Dataset of float32 examples and int32 labels, and a
// Batcher that walks a Dataset in deterministically shuffled batches without
// allocating per batch.
package data
