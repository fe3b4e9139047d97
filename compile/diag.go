package compile

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
)

// Errors of the passes come back from Plan and Build as dsl.Diagnostics,
// positioned like every other diagnostic (file:line:col: message), when they
// concern the source: a pass names its position inside its message ("pass
// optimizer: m.mdl:5:15: sgd: nesterov needs momentum > 0"), and memplan's
// size error names a value but no position. An error that is not about the
// source (invalid IR after a pass: a compiler bug) keeps its text.

// MaxElements is the most elements one tensor may have: the storage plan
// (passes/storage.go) refuses a value or workspace with more.
const MaxElements = 1 << 31

// passDiagnostics turns an error of passes.Run on g into positioned
// diagnostics, or returns err unchanged.
func passDiagnostics(g *ir.Graph, maxBatch int, err error) error {
	var ds dsl.Diagnostics
	if errors.As(err, &ds) {
		return err
	}
	var pe *passes.PosError
	if errors.As(err, &pe) && pe.Pos.IsValid() {
		return dsl.Diagnostics{{Pos: dsl.Pos{File: pe.Pos.File, Line: pe.Pos.Line, Col: pe.Pos.Col}, Msg: pe.Msg}}
	}
	if strings.HasPrefix(err.Error(), "pass memplan: ") {
		if d, ok := sizeDiagnostic(g, maxBatch); ok {
			return dsl.Diagnostics{d}
		}
	}
	return err
}

// sizeDiagnostic reports the first value of g, or the workspace of one,
// with more than MaxElements elements at batch maxBatch, at the value's
// position.
func sizeDiagnostic(g *ir.Graph, maxBatch int) (dsl.Diagnostic, bool) {
	for _, v := range g.Values {
		what, s := "", v.Type.Shape
		if s.Elements(maxBatch) <= MaxElements && v.Op.Scratch != nil {
			what, s = "the workspace of ", v.Op.Scratch(v)
		}
		n := s.Elements(maxBatch)
		if n <= MaxElements {
			continue
		}
		name := v.Op.Name
		if v.Name != "" {
			name += " " + v.Name
		}
		t := ir.Type{DType: v.Type.DType, Shape: s}
		msg := fmt.Sprintf("%s%s %s is too large at batch %d: %s elements (%s as f32); a tensor may have at most 2^31",
			what, name, t, maxBatch, countText(n), FormatBytes(4*n))
		hint := ""
		if per := s.Elements(1); per <= MaxElements && per < n {
			hint = fmt.Sprintf("this tensor fits at batch %d or below", int64(MaxElements/per))
		}
		pos := dsl.Pos{File: v.Pos.File, Line: v.Pos.Line, Col: v.Pos.Col}
		return dsl.Diagnostic{Pos: pos, Msg: msg, Hint: hint}, true
	}
	return dsl.Diagnostic{}, false
}

// countText writes an element count exactly below 1e15, else as 1.2e+18.
func countText(n float64) string {
	if n < 1e15 {
		return strconv.FormatFloat(n, 'f', 0, 64)
	}
	return strconv.FormatFloat(n, 'g', 3, 64)
}

// FormatBytes writes a byte count for people: 512 B, 1.5 KiB, 3.64 TiB.
func FormatBytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	switch {
	case i == 0:
		return fmt.Sprintf("%.0f B", n)
	case n >= 100 || math.IsInf(n, 0):
		return fmt.Sprintf("%.0f %s", n, units[i])
	case n >= 10:
		return fmt.Sprintf("%.1f %s", n, units[i])
	}
	return fmt.Sprintf("%.2f %s", n, units[i])
}
