package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// DType is the element type of a value.
type DType uint8

const (
	InvalidDType DType = iota
	F32
	I32
	Bool
)

var dtypeNames = [...]string{InvalidDType: "invalid", F32: "f32", I32: "i32", Bool: "bool"}

func (d DType) String() string {
	if int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return fmt.Sprintf("dtype(%d)", int(d))
}

// ParseDType maps "f32", "i32", "bool" to a DType.
func ParseDType(s string) (DType, bool) {
	for i, n := range dtypeNames {
		if n == s && i != int(InvalidDType) {
			return DType(i), true
		}
	}
	return InvalidDType, false
}

// Dim is one extent: n > 0 is concrete, -k is k*N (N is the batch size).
type Dim int

// N is the symbolic batch dimension.
const N Dim = -1

// IsBatch reports whether d depends on N.
func (d Dim) IsBatch() bool { return d < 0 }

// Resolve returns the extent for batch size n.
func (d Dim) Resolve(n int) int {
	if d < 0 {
		return int(-d) * n
	}
	return int(d)
}

func (d Dim) String() string {
	switch {
	case d == N:
		return "N"
	case d < 0:
		return strconv.Itoa(int(-d)) + "*N"
	default:
		return strconv.Itoa(int(d))
	}
}

// MulDims multiplies two dims; ok is false if the product would be N*N or overflow.
func MulDims(a, b Dim) (Dim, bool) {
	if a < 0 && b < 0 {
		return 0, false
	}
	sign := Dim(1)
	if a < 0 {
		a, sign = -a, -1
	}
	if b < 0 {
		b, sign = -b, -1
	}
	p := a * b
	if a != 0 && (p/a != b || p > 1<<40) {
		return 0, false
	}
	return sign * p, true
}

// Shape is a list of dims; the empty shape is a scalar.
type Shape []Dim

func (s Shape) Rank() int { return len(s) }

func (s Shape) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.String())
	}
	b.WriteByte(']')
	return b.String()
}

// Equal reports whether two shapes are identical.
func (s Shape) Equal(t Shape) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

// Size is the element count as a Dim (k or k*N); ok is false on N*N.
func (s Shape) Size() (Dim, bool) {
	p := Dim(1)
	for _, d := range s {
		var ok bool
		if p, ok = MulDims(p, d); !ok {
			return 0, false
		}
	}
	return p, true
}

// Resolve returns concrete extents for batch size n.
func (s Shape) Resolve(n int) []int {
	out := make([]int, len(s))
	for i, d := range s {
		out[i] = d.Resolve(n)
	}
	return out
}

// Elements is the element count at batch size n, as a float64 so that it
// cannot overflow (a declared f32[1000000, 1000000] is fine to count).
func (s Shape) Elements(n int) float64 {
	c := 1.0
	for _, d := range s {
		if d.IsBatch() {
			c *= float64(-d) * float64(n)
		} else {
			c *= float64(d)
		}
	}
	return c
}

// Clone returns a copy.
func (s Shape) Clone() Shape { return append(Shape(nil), s...) }

// Broadcast returns the numpy-style broadcast of two shapes (right-aligned;
// each pair of dims equal or one of them 1).
func Broadcast(a, b Shape) (Shape, bool) {
	n := max(len(a), len(b))
	out := make(Shape, n)
	for i := 0; i < n; i++ {
		da, db := Dim(1), Dim(1)
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		default:
			return nil, false
		}
	}
	return out, true
}

// Type is a dtype and a shape.
type Type struct {
	DType DType
	Shape Shape
}

func (t Type) String() string {
	if len(t.Shape) == 0 {
		return t.DType.String()
	}
	return t.DType.String() + t.Shape.String()
}

// Equal reports whether two types are identical.
func (t Type) Equal(u Type) bool { return t.DType == u.DType && t.Shape.Equal(u.Shape) }

// Scalar returns the rank-0 type of dtype d.
func Scalar(d DType) Type { return Type{DType: d} }
