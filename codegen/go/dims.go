package gogen

import "github.com/mdlc/mdlc/codegen/internal/dims"

// Shape text shared with the other code generator (codegen/internal/dims).
var (
	extent       = dims.Extent
	sizeExpr     = dims.Size
	shapeComment = dims.Comment
	stridesOf    = dims.Strides
	bcastStrides = dims.BcastStrides
	perExample   = dims.PerExample
)
