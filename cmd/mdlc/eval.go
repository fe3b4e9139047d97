package main

import "io"

// cmdEval evaluates a checkpoint on a data set (see modelCommand).
func cmdEval(stdout, stderr io.Writer, args []string) int {
	return modelCommand("eval", stdout, stderr, args)
}
