package main

import "io"

// cmdPredict prints a checkpoint's outputs for input files (see
// modelCommand).
func cmdPredict(stdout, stderr io.Writer, args []string) int {
	return modelCommand("predict", stdout, stderr, args)
}
