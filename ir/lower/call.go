package lower

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
)

// builtinKind groups built-in functions.
type builtinKind uint8

const (
	kindOp     builtinKind = iota // a primitive or composite computation
	kindLayer                     // creates parameters
	kindLoss                      // a loss function
	kindMetric                    // an evaluation metric
)

// required marks a parameter without a default.
var required = &struct{}{}

// param is one parameter of a built-in function.
type param struct {
	name string
	def  any  // default; required if no default
	raw  bool // passed unevaluated (initializers, dtypes)
	kw   bool // keyword-only: never bound from a positional argument
}

// builtin is one entry of the function table. Adding a layer, loss or
// function is adding an entry here; the parser does not change.
type builtin struct {
	kind     builtinKind
	doc      string
	params   []param
	variadic bool // extra positional args go to callArgs.rest
	fn       func(l *lowerer, c *callArgs) val
}

// callArgs are a call's arguments bound to the builtin's parameters.
type callArgs struct {
	sc   *scope
	name string
	pos  dsl.Pos
	vals map[string]val
	raw  map[string]dsl.Expr
	rest []val
	at   map[string]dsl.Pos
}

func (l *lowerer) call(sc *scope, e *dsl.Call) val {
	name := e.Func.Name
	if d := l.defs[name]; d != nil {
		return l.callDef(sc, e, d)
	}
	bi := builtins[name]
	if bi == nil {
		l.unknown(e.Func.Pos, "function", name, l.functionNames())
		// Still lower the arguments, so that their own errors are reported
		// too (max_pool2d(relu(conv2d(...))) names conv2d as well), but not
		// those that read as the unevaluated argument of a layer or cast
		// (init: normal(0.02), f32): they are no error in a known function.
		for _, x := range e.Args {
			if !l.rawLike(sc, x) {
				l.expr(sc, x)
			}
		}
		for _, na := range e.Named {
			if !l.rawLike(sc, na.Value) {
				l.expr(sc, na.Value)
			}
		}
		return errVal
	}
	c := &callArgs{sc: sc, name: name, pos: e.Pos, vals: map[string]val{}, raw: map[string]dsl.Expr{}, at: map[string]dsl.Pos{}}
	var positional []param
	for _, p := range bi.params {
		if !p.kw {
			positional = append(positional, p)
		}
	}
	if len(e.Args) > len(positional) && !bi.variadic {
		l.errorf(e.Args[len(positional)].Position(), "%s takes at most %d positional argument%s (%s), got %d",
			name, len(positional), plural(len(positional)), paramList(bi.params), len(e.Args))
		return errVal
	}
	bad := false
	set := func(p param, x dsl.Expr) {
		c.at[p.name] = x.Position()
		if p.raw {
			c.raw[p.name] = x
			return
		}
		v := l.expr(sc, x)
		if v.k == kErr {
			bad = true
		}
		c.vals[p.name] = v
	}
	for i, x := range e.Args {
		if i < len(positional) {
			set(positional[i], x)
			continue
		}
		v := l.expr(sc, x)
		if v.k == kErr {
			bad = true
		}
		c.rest = append(c.rest, v)
	}
	for _, na := range e.Named {
		var p *param
		for i := range bi.params {
			if bi.params[i].name == na.Name.Name {
				p = &bi.params[i]
			}
		}
		if p == nil {
			var names []string
			for _, q := range bi.params {
				names = append(names, q.name)
			}
			l.unknown(na.Name.Pos, "argument of "+name+":", na.Name.Name, names)
			return errVal
		}
		if _, dup := c.at[p.name]; dup {
			l.errorf(na.Name.Pos, "%s: argument %s given twice", name, p.name)
			return errVal
		}
		set(*p, na.Value)
	}
	for _, p := range bi.params {
		if _, ok := c.at[p.name]; !ok {
			if p.def == required {
				l.errorf(e.Pos, "%s needs argument %s (%s(%s))", name, p.name, name, paramList(bi.params))
				return errVal
			}
			if p.raw {
				if str, ok := p.def.(string); ok {
					c.raw[p.name] = &dsl.String{Span: dsl.Span{Pos: e.Pos, End: e.Pos}, Value: str}
				}
			} else {
				c.vals[p.name] = defaultVal(p.def, e.Pos)
			}
		}
	}
	if bad {
		return errVal
	}
	v := bi.fn(l, c)
	if bi.kind == kindLayer {
		l.layers[name]++
	}
	if v.k == kTensor && v.desc == "" {
		v.desc = name + "(...)"
		v.pos = e.Pos
	}
	return v
}

// rawLike reports whether x is an initializer or an element type written
// as a name or a call (glorot, normal(0.02), f32) that is not bound in sc.
func (l *lowerer) rawLike(sc *scope, x dsl.Expr) bool {
	var name string
	switch x := x.(type) {
	case *dsl.Ident:
		name = x.Name
	case *dsl.Call:
		name = x.Func.Name
	default:
		return false
	}
	if sc.lookup(name) != nil || builtins[name] != nil || l.defs[name] != nil {
		return false
	}
	_, isInit := initAliases[name]
	_, isType := ir.ParseDType(name)
	return isInit || isType
}

func defaultVal(d any, pos dsl.Pos) val {
	switch x := d.(type) {
	case int:
		return numVal(float64(x), true, pos)
	case float64:
		return numVal(x, false, pos)
	case bool:
		return val{k: kBool, b: x, pos: pos}
	case string:
		return val{k: kStr, s: x, pos: pos}
	}
	return val{k: kErr}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func paramList(ps []param) string {
	var s []string
	for _, p := range ps {
		if p.def == required {
			s = append(s, p.name)
		} else {
			s = append(s, p.name+": "+fmt.Sprint(p.def))
		}
	}
	return strings.Join(s, ", ")
}

func (l *lowerer) functionNames() []string {
	var out []string
	for n := range builtins {
		out = append(out, n)
	}
	for n := range l.defs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Accessors with type checks; each reports its own error.

func (c *callArgs) posOf(name string) dsl.Pos {
	if p, ok := c.at[name]; ok {
		return p
	}
	return c.pos
}

func (l *lowerer) argTensor(c *callArgs, name string) (val, bool) {
	v := c.vals[name]
	switch v.k {
	case kTensor:
		return v, true
	case kNum, kBool:
		return l.tensor(c.posOf(name), v, ir.InvalidDType)
	case kErr:
		return v, false
	}
	l.errorf(c.posOf(name), "%s: argument %s must be a tensor, got %s", c.name, name, v.kindName())
	return errVal, false
}

func (l *lowerer) argInt(c *callArgs, name string, min int) (int, bool) {
	v := c.vals[name]
	if v.k == kErr {
		return 0, false
	}
	if v.k != kNum || !v.isInt {
		l.errorf(c.posOf(name), "%s: argument %s must be a whole number, got %s", c.name, name, v.kindName())
		return 0, false
	}
	if v.num < float64(min) || v.num >= maxDim {
		l.errorf(c.posOf(name), "%s: argument %s must be at least %d, got %v", c.name, name, min, v.num)
		return 0, false
	}
	return int(v.num), true
}

func (l *lowerer) argAxis(c *callArgs, name string) (int, bool) {
	v := c.vals[name]
	if v.k == kErr {
		return 0, false
	}
	if v.k != kNum || !v.isInt || v.num < -64 || v.num > 64 {
		l.errorf(c.posOf(name), "%s: %s must be a whole number (an axis), got %s", c.name, name, v.kindName())
		return 0, false
	}
	return int(v.num), true
}

func (l *lowerer) argNum(c *callArgs, name string) (float64, bool) {
	v := c.vals[name]
	if v.k == kErr {
		return 0, false
	}
	if v.k != kNum {
		l.errorf(c.posOf(name), "%s: argument %s must be a number, got %s", c.name, name, v.kindName())
		return 0, false
	}
	return v.num, true
}

func (l *lowerer) argBool(c *callArgs, name string) (bool, bool) {
	v := c.vals[name]
	if v.k != kBool {
		if v.k != kErr {
			l.errorf(c.posOf(name), "%s: argument %s must be true or false, got %s", c.name, name, v.kindName())
		}
		return false, false
	}
	return v.b, true
}

func (l *lowerer) argStr(c *callArgs, name string, allowed ...string) (string, bool) {
	v := c.vals[name]
	if v.k != kStr {
		if v.k != kErr {
			l.errorf(c.posOf(name), "%s: argument %s must be a string, got %s", c.name, name, v.kindName())
		}
		return "", false
	}
	for _, a := range allowed {
		if a == v.s {
			return v.s, true
		}
	}
	l.errorf(c.posOf(name), "%s: %s must be one of %s, got %q", c.name, name, strings.Join(allowed, ", "), v.s)
	return "", false
}

// callDef expands a user function inline.
func (l *lowerer) callDef(sc *scope, e *dsl.Call, d *dsl.Def) val {
	for i, n := range l.callStack {
		if n == d.Name.Name {
			chain := strings.Join(append(append([]string(nil), l.callStack[i:]...), n), " -> ")
			l.errorf(e.Func.Pos, "recursive call of def %s (%s); defs cannot call themselves", n, chain)
			return errVal
		}
	}
	if len(l.callStack) >= maxDefDepth {
		l.errorf(e.Pos, "defs nested more than %d deep", maxDefDepth)
		return errVal
	}
	if len(e.Args) > len(d.Params) {
		l.errorf(e.Pos, "%s takes %d argument%s, got %d", d.Name.Name, len(d.Params), plural(len(d.Params)), len(e.Args)+len(e.Named))
		return errVal
	}
	// Evaluate arguments in the caller's scope.
	args := make([]*val, len(d.Params))
	argPos := make([]dsl.Pos, len(d.Params))
	for i, x := range e.Args {
		v := l.expr(sc, x)
		args[i], argPos[i] = &v, x.Position()
	}
	for _, na := range e.Named {
		idx := -1
		var names []string
		for i, p := range d.Params {
			names = append(names, p.Name.Name)
			if p.Name.Name == na.Name.Name {
				idx = i
			}
		}
		if idx < 0 {
			l.unknown(na.Name.Pos, "argument of "+d.Name.Name+":", na.Name.Name, names)
			return errVal
		}
		if args[idx] != nil {
			l.errorf(na.Name.Pos, "%s: argument %s given twice", d.Name.Name, na.Name.Name)
			return errVal
		}
		v := l.expr(sc, na.Value)
		args[idx], argPos[idx] = &v, na.Value.Position()
	}
	// Bind parameters in a fresh scope that sees only globals.
	root := sc
	for root.parent != nil {
		root = root.parent
	}
	inner := newScope(root)
	for i, p := range d.Params {
		if args[i] == nil {
			l.errorf(e.Pos, "%s needs argument %s", d.Name.Name, p.Name.Name)
			return errVal
		}
		a := *args[i]
		if a.k == kErr {
			return errVal
		}
		if !l.bindDefParam(inner, p, a, argPos[i]) {
			return errVal
		}
	}
	seg := d.Name.Name
	if k := l.defCalls[seg]; k > 0 {
		seg = fmt.Sprintf("%s_%d", seg, k)
	}
	l.defCalls[d.Name.Name]++
	savePath := l.path
	l.path = append(append([]string(nil), l.path...), seg)
	l.callStack = append(l.callStack, d.Name.Name)
	before := len(l.diags)
	ret := l.block(inner, d.Body, true)
	l.callStack = l.callStack[:len(l.callStack)-1]
	l.path = savePath
	if ret == nil && !l.full {
		l.errorf(d.Pos, "def %s ends without return", d.Name.Name)
	}
	// Errors inside the body point into the def; a note names this call
	// (one per level of nested calls, the innermost first).
	for i := before; i < len(l.diags); i++ {
		l.diags[i].Related = append(l.diags[i].Related, dsl.Related{Pos: e.Func.Pos, Msg: "in call to " + d.Name.Name})
	}
	if ret == nil {
		return errVal
	}
	r := *ret
	if r.k == kTensor {
		r.desc, r.pos = d.Name.Name+"(...)", e.Pos
	}
	return r
}

// bindDefParam checks an argument against a def parameter's declared type.
// Unknown names in a tensor type's dims are bound to the argument's extents
// (so def f(x: f32[N, D]) binds D).
func (l *lowerer) bindDefParam(sc *scope, p *dsl.DefParam, a val, at dsl.Pos) bool {
	t := p.Type
	switch t.Kind {
	case dsl.KindInt:
		if a.k != kNum || !a.isInt {
			l.errorf(at, "argument %s must be an int, got %s", p.Name.Name, a.kindName())
			return false
		}
	case dsl.KindFloat:
		if a.k != kNum {
			l.errorf(at, "argument %s must be a number, got %s", p.Name.Name, a.kindName())
			return false
		}
		a.isInt = false
	case dsl.KindBool:
		if a.k != kBool {
			l.errorf(at, "argument %s must be true or false, got %s", p.Name.Name, a.kindName())
			return false
		}
	default:
		tt := t.Tensor
		if a.k != kTensor {
			l.errorf(at, "argument %s must be a tensor %s, got %s", p.Name.Name, tensorTypeText(tt), a.kindName())
			return false
		}
		dt, ok := ir.ParseDType(tt.DType.Name)
		if !ok {
			l.errorf(tt.DType.Pos, "unknown element type %s (mdlc supports f32 and i32)", tt.DType.Name)
			return false
		}
		got := a.v.Type
		if got.DType != dt || got.Shape.Rank() != len(tt.Dims) {
			l.errorf(at, "argument %s must be %s, got %s", p.Name.Name, tensorTypeText(tt), a.where())
			return false
		}
		for i, de := range tt.Dims {
			if id, isID := de.(*dsl.Ident); isID && id.Name != "N" && sc.lookup(id.Name) == nil {
				d := got.Shape[i]
				if d.IsBatch() {
					sc.names[id.Name] = &binding{val: val{k: kDim, dim: d, pos: id.Pos}, pos: id.Pos, what: "const"}
				} else {
					sc.names[id.Name] = &binding{val: numVal(float64(d), true, id.Pos), pos: id.Pos, what: "const"}
				}
				continue
			}
			want, ok := l.dim(sc, de)
			if !ok {
				return false
			}
			if want != got.Shape[i] {
				l.errorf(at, "argument %s must be %s, got %s (axis %d: %v, not %v)", p.Name.Name, tensorTypeText(tt), a.where(), i, got.Shape[i], want)
				return false
			}
		}
	}
	sc.names[p.Name.Name] = &binding{val: a, pos: p.Name.Pos, what: "argument"}
	return true
}

func tensorTypeText(t *dsl.TensorType) string {
	if t.Scalar || len(t.Dims) == 0 {
		return t.DType.Name
	}
	var parts []string
	for _, d := range t.Dims {
		parts = append(parts, exprText(d))
	}
	return t.DType.Name + "[" + strings.Join(parts, ", ") + "]"
}

func exprText(e dsl.Expr) string {
	switch e := e.(type) {
	case *dsl.Number:
		return e.Text
	case *dsl.Ident:
		return e.Name
	case *dsl.Binary:
		return exprText(e.L) + e.Op + exprText(e.R)
	}
	return "?"
}
