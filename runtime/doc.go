// Package runtime is what generated model packages link against and nothing
// more: BLAS dispatch, deterministic initializers, checkpoints and the
// interface every generated model satisfies. Not implemented yet.
package runtime
