package bench

// The inference builds (mdlc build -inference) of the MNIST MLP and the
// Fashion-MNIST CNN, for BenchmarkInference (bench/inference.sh runs it
// beside ONNX Runtime). TestInferenceGeneratedCurrent checks they are
// current.
//go:generate go run github.com/mdlc/mdlc/cmd/mdlc build -inference -o mnistinfer ../examples/mnist_mlp/mnist_mlp.mdl
//go:generate go run github.com/mdlc/mdlc/cmd/mdlc build -inference -o fashioninfer ../examples/fashion_cnn/fashion_cnn.mdl
