package bench

// The MNIST MLP compiled at -O0 (no rewrites, fusion or memory planning),
// for the -O2 against -O0 benchmark. TestGeneratedO0Current checks it is
// current.
//go:generate go run github.com/mdlc/mdlc/cmd/mdlc build -O 0 -o mnisto0 ../examples/mnist_mlp/mnist_mlp.mdl

// The wide GPT of issue 13's benchmark (bench/gpt.sh); TestGeneratedWideGPTCurrent
// checks it is current.
//go:generate go run github.com/mdlc/mdlc/cmd/mdlc build -batch 4 -o widegpt widegpt/widegpt.mdl
