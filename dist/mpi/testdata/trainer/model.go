package main

import (
	"github.com/mdlc/mdlc/examples/mnist_mlp/mnistmlp"
	mdlc "github.com/mdlc/mdlc/runtime"
)

// newModel is the model the trainer trains, with the all-reduce r (nil:
// alone).
func newModel(r mdlc.AllReducer) mdlc.Model {
	if r == nil {
		return mnistmlp.New()
	}
	return mnistmlp.New(mnistmlp.WithAllReduce(r))
}
