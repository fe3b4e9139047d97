// Package examples holds mdlc's bundled models, one folder each with its
// .mdl source: linreg (the classic 5-point linear regression), mnist_mlp
// (a 784-256-10 perceptron for MNIST), fashion_cnn (the Keras tutorial CNN
// on Fashion-MNIST), catsdogs (the Keras cats-vs-dogs CNN on 150x150
// images), charlstm (a 2-layer LSTM byte-level language model) and tinygpt
// (a byte-level GPT), both on Newton's Opticks. Tests check that every example passes `mdlc check` and that
// every committed generated package is what its //go:generate line builds.
package examples
