// Package ir is mdlc's intermediate representation: one node type (Value),
// a Graph that holds values in topological order, one op table (ops.go)
// that drives shape inference, gradients, the reference interpreter and the
// code generators, a verifier (Verify), and a text form with a printer and a
// parser that round-trip exactly.
//
// Shapes are static except for the batch dimension N. A Dim is a positive
// integer for a concrete extent, or -k for k*N (so -1 is N, -64 is 64*N as
// produced by flattening [N,64,D] to [64*N,D]). Reference kernels compute in
// float64 on Tensors whose N has been bound to a concrete batch size.
package ir
