package cuda

import (
	"github.com/mdlc/mdlc/codegen/internal/api"
	"github.com/mdlc/mdlc/ir"
)

// Reserved is every identifier the CUDA target keeps for itself: C and CUDA
// words, the kernels' locals and helpers, the macros of the blocks, and the
// names model_cuda.go declares.
var Reserved = append(append(append([]string(nil), cReserved...), blockMacros...), goReserved...)

// GenerateNamed is Generate, also reporting whether a Go identifier is one
// the Go namer of model_cuda.go reserved or handed out.
func GenerateNamed(g *ir.Graph, opt Options) (map[string][]byte, func(id string) bool, error) {
	files, l, err := generate(g, opt)
	if err != nil {
		return nil, nil, err
	}
	return files, func(id string) bool { return l.goNames.Used(id) || api.AvoidGo(id) }, nil
}
