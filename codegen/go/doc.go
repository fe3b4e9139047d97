// Package gogen owns Go code generation: it turns a planned training-step
// graph into a gofmt'd Go package (shape constants, a Model with params,
// grads, optimizer state and one arena, Forward/TrainStep/Save/Load) that
// links against mdlc's runtime. Not implemented yet.
package gogen
