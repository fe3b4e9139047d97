package gogen

// helperSrc is the Go source of the scalar helpers generated kernels call;
// each is emitted only when used. They compute in float64 where float32
// math is not in the standard library, except e^x, tanh, sigmoid and GELU:
// those are the runtime's float32 functions, which give the same bits as
// the vector primitives (rt.VExp, ...) a strip-mined loop calls instead.
var helperSrc = map[string]string{
	"exp32":   "func exp32(x float32) float32 { return rt.Exp32(x) }",
	"log32":   "func log32(x float32) float32 { return float32(math.Log(float64(x))) }",
	"sqrt32":  "func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }",
	"sin32":   "func sin32(x float32) float32 { return float32(math.Sin(float64(x))) }",
	"cos32":   "func cos32(x float32) float32 { return float32(math.Cos(float64(x))) }",
	"floor32": "func floor32(x float32) float32 { return float32(math.Floor(float64(x))) }",
	"tanh32":  "func tanh32(x float32) float32 { return rt.Tanh32(x) }",
	"pow32":   "func pow32(x, y float32) float32 { return float32(math.Pow(float64(x), float64(y))) }",
	"relu32": `func relu32(x float32) float32 {
	if x > 0 {
		return x
	}
	return 0
}`,
	"sigmoid32":  "func sigmoid32(x float32) float32 { return rt.Sigmoid32(x) }",
	"gelu32":     "func gelu32(x float32) float32 { return rt.Gelu32(x) }",
	"geluGrad32": "func geluGrad32(x, g float32) float32 { return rt.GeluGrad32(x, g) }",
	"abs32":      `func abs32(x float32) float32 { return float32(math.Abs(float64(x))) }`,
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
