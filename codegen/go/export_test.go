package gogen

import (
	"github.com/mdlc/mdlc/codegen/internal/api"
	"github.com/mdlc/mdlc/ir"
)

// Reserved exposes the identifiers the generator keeps for itself to the
// name hygiene test.
var Reserved = reserved

// GenerateNamed is Generate, also reporting whether an identifier is one
// the generator's namer reserved or handed out for a value.
func GenerateNamed(g *ir.Graph, opt Options) (map[string][]byte, func(id string) bool, error) {
	files, gen, err := generate(g, opt)
	if err != nil {
		return nil, nil, err
	}
	return files, func(id string) bool {
		return gen.p.names.Used(id) || api.AvoidGo(id)
	}, nil
}

// IsHelper reports whether name is a scalar helper (helperSrc): its own
// parameters and locals cannot meet a model's names (its body refers to
// nothing else of the package).
func IsHelper(name string) bool { return helperSrc[name] != "" }
