package gogen

// helperSrc is the Go source of the scalar helpers generated kernels call;
// each is emitted only when used. They compute in float64 where float32
// math is not in the standard library, matching the reference kernels.
var helperSrc = map[string]string{
	"exp32":   "func exp32(x float32) float32 { return float32(math.Exp(float64(x))) }",
	"log32":   "func log32(x float32) float32 { return float32(math.Log(float64(x))) }",
	"sqrt32":  "func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }",
	"sin32":   "func sin32(x float32) float32 { return float32(math.Sin(float64(x))) }",
	"cos32":   "func cos32(x float32) float32 { return float32(math.Cos(float64(x))) }",
	"floor32": "func floor32(x float32) float32 { return float32(math.Floor(float64(x))) }",
	"tanh32":  "func tanh32(x float32) float32 { return float32(math.Tanh(float64(x))) }",
	"pow32":   "func pow32(x, y float32) float32 { return float32(math.Pow(float64(x), float64(y))) }",
	"relu32": `func relu32(x float32) float32 {
	if x > 0 {
		return x
	}
	return 0
}`,
	"sigmoid32": `// sigmoid32 is 1/(1+e^-x), computed without overflow for large |x|.
func sigmoid32(x float32) float32 {
	if x >= 0 {
		return float32(1 / (1 + math.Exp(-float64(x))))
	}
	e := math.Exp(float64(x))
	return float32(e / (1 + e))
}`,
	"gelu32": `// gelu32 is the tanh form of GELU (as GPT-2 uses it).
func gelu32(x float32) float32 {
	u := float64(x)
	return float32(0.5 * u * (1 + math.Tanh(0.7978845608028654*(u+0.044715*u*u*u))))
}`,
	"geluGrad32": `// geluGrad32 is g * d gelu(x) / dx.
func geluGrad32(x, g float32) float32 {
	u := float64(x)
	t := math.Tanh(0.7978845608028654 * (u + 0.044715*u*u*u))
	du := 0.7978845608028654 * (1 + 3*0.044715*u*u)
	return float32(float64(g) * (0.5*(1+t) + 0.5*u*(1-t*t)*du))
}`,
	"abs32": `func abs32(x float32) float32 { return float32(math.Abs(float64(x))) }`,
	"absI32": `func absI32(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}`,
	"sign32": `func sign32(x float32) float32 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}`,
	"signI32": `func signI32(x int32) int32 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}`,
	"max32": `// max32 is max(a, b), returning a when a is NaN (as the reference does).
func max32(a, b float32) float32 {
	if a >= b || a != a {
		return a
	}
	return b
}`,
	"min32": `// min32 is min(a, b), returning a when a is NaN (as the reference does).
func min32(a, b float32) float32 {
	if a <= b || a != a {
		return a
	}
	return b
}`,
	"maxI32": "func maxI32(a, b int32) int32 { return max(a, b) }",
	"minI32": "func minI32(a, b int32) int32 { return min(a, b) }",
	"b2f": `// b2f stores a bool as 0 or 1.
func b2f(b bool) float32 {
	if b {
		return 1
	}
	return 0
}`,
	"sel32": `// sel32 is c ? a : b for a bool stored as 0/1.
func sel32(c, a, b float32) float32 {
	if c != 0 {
		return a
	}
	return b
}`,
	"selI32": `func selI32(c float32, a, b int32) int32 {
	if c != 0 {
		return a
	}
	return b
}`,
	"castI32": `// castI32 converts to int32 truncating toward zero, saturating, NaN to 0.
func castI32(x float32) int32 {
	switch {
	case x != x:
		return 0
	case x >= math.MaxInt32:
		return math.MaxInt32
	case x <= math.MinInt32:
		return math.MinInt32
	}
	return int32(x)
}`,
}

// helperNames lists the helpers' names (reserved: a local must not shadow one).
func helperNames() []string {
	var out []string
	for name := range helperSrc {
		out = append(out, name)
	}
	return out
}
