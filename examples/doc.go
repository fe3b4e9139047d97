// Package examples holds mdlc's bundled models, one folder each with its
// .mdl source: linreg (the classic 5-point linear regression) and mnist_mlp
// (a 784-256-10 perceptron for MNIST). Tests check that every example
// passes `mdlc check`.
package examples
