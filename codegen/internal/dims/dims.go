// Package dims holds what both code generators need to write shapes as
// source text: extents in terms of the run-time batch size n, row-major
// strides, shape comments.
package dims

import (
	"fmt"
	"strings"

	"github.com/mdlc/mdlc/ir"
)

// Extent is a dim as an expression in the batch size n: 784, n or 64*n.
func Extent(d ir.Dim) string {
	switch {
	case d == ir.N:
		return "n"
	case d < 0:
		return fmt.Sprintf("%d*n", -d)
	}
	return fmt.Sprint(int(d))
}

// Size is the element count of a shape as an expression in n.
func Size(s ir.Shape) string {
	c, batch := 1, false
	for _, d := range s {
		if d < 0 {
			c *= int(-d)
			batch = true
		} else {
			c *= int(d)
		}
	}
	switch {
	case !batch:
		return fmt.Sprint(c)
	case c == 1:
		return "n"
	}
	return fmt.Sprintf("%d*n", c)
}

// Comment writes a shape for comments: (N, 784), or scalar.
func Comment(s ir.Shape) string {
	if len(s) == 0 {
		return "scalar"
	}
	var parts []string
	for _, d := range s {
		parts = append(parts, d.String())
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Strides returns the row-major strides of s as expressions.
func Strides(s ir.Shape) []string {
	out := make([]string, len(s))
	for i := range s {
		out[i] = Size(s[i+1:])
	}
	return out
}

// BcastStrides gives arg's strides when it is read as shape out with numpy
// broadcasting: "" on the axes it is broadcast along.
func BcastStrides(arg, out ir.Shape) []string {
	st := Strides(arg)
	r := make([]string, len(out))
	off := len(out) - len(arg)
	for i := range out {
		if j := i - off; j >= 0 && arg[j] != 1 {
			r[i] = st[j]
		}
	}
	return r
}

// PerExample is the element count of one example of an input: its shape
// with N = 1.
func PerExample(v *ir.Value) int {
	n := 1
	for _, d := range v.Type.Shape {
		if d < 0 {
			n *= int(-d)
		} else {
			n *= int(d)
		}
	}
	return n
}

// PermutedStrides gives the strides of s read in the order of perm: the
// strides of a transpose's argument along the transpose's output axes.
func PermutedStrides(s ir.Shape, perm []int) []string {
	xs := Strides(s)
	out := make([]string, len(perm))
	for i, p := range perm {
		out[i] = xs[p]
	}
	return out
}
