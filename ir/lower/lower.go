// Package lower turns a parsed .mdl file (dsl.File) into ir.Graphs, one per
// model: it resolves names and constants, expands defs and repeat blocks,
// creates the parameters of layer functions with shapes inferred from their
// inputs and names derived from their binding ("hidden.w"), lowers composite
// layers, losses and metrics to primitive ops from the op table, and checks
// every type and shape. Errors are dsl.Diagnostics with positions; lowering
// goes on after an error (the failing expression becomes a poison value
// that raises no further errors) so one run reports all of a file's errors.
package lower

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir"
)

// Limits that keep hostile input from exhausting memory or time.
const (
	maxRepeat   = 10000   // iterations of one repeat block
	maxValues   = 1 << 20 // values in one graph
	maxDefDepth = 64      // nested def calls
	maxDim      = 1 << 31 // largest extent
)

// File lowers every model of f. The graphs of models with errors are still
// returned (nil entries are never returned) but must not be compiled when
// the diagnostics have errors.
func File(f *dsl.File) ([]*ir.Graph, dsl.Diagnostics) {
	var diags dsl.Diagnostics
	if f == nil {
		return nil, diags
	}
	globals := newScope(nil)
	l := &lowerer{file: f, defs: map[string]*dsl.Def{}}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *dsl.ConstDecl:
			l.constDecl(globals, d)
		case *dsl.Def:
			if prev, ok := l.defs[d.Name.Name]; ok {
				l.errorf(d.Name.Pos, "def %s is already defined at %s", d.Name.Name, short(prev.Pos))
				continue
			}
			if builtins[d.Name.Name] != nil {
				l.errorf(d.Name.Pos, "def %s shadows the built-in function of that name; choose another name", d.Name.Name)
				continue
			}
			l.defs[d.Name.Name] = d
		}
	}
	var graphs []*ir.Graph
	seen := map[string]*dsl.Model{}
	for _, m := range f.Models {
		if prev, ok := seen[m.Name.Name]; ok {
			l.errorf(m.Name.Pos, "model %s is already defined at %s", m.Name.Name, short(prev.Pos))
			continue
		}
		seen[m.Name.Name] = m
		graphs = append(graphs, l.model(globals, m))
	}
	if len(f.Models) == 0 && !l.diags.HasErrors() {
		l.diags.Errorf(dsl.Pos{File: f.Name, Line: 1, Col: 1}, "no model declared (a file needs at least one `model Name { ... }` block)")
	}
	diags = append(diags, l.diags...)
	diags.Sort()
	return graphs, diags
}

// Source parses and lowers one file.
func Source(filename string, src []byte) ([]*ir.Graph, dsl.Diagnostics) {
	f, diags := dsl.Parse(filename, src)
	if diags.HasErrors() {
		return nil, diags
	}
	gs, more := File(f)
	return gs, append(diags, more...)
}

type lowerer struct {
	file *dsl.File
	defs map[string]*dsl.Def

	diags dsl.Diagnostics
	g     *ir.Graph
	b     *ir.Builder
	full  bool // value budget exhausted: stop building

	// Naming of parameters: path is the binding path of the statement being
	// lowered ("h_1", "block", "x"); layers counts layer calls per kind in
	// the current statement; nLayers is how many layer calls it has.
	path      []string
	layers    map[string]int
	nLayers   int
	defCalls  map[string]int
	assigned  map[string]int // times each path has been assigned
	params    map[string]dsl.Pos
	callStack []string

	loss, opt *dsl.Pos
	twins     map[*ir.Value]*ir.Value // inference value -> training value (modes.go)
	step, key *ir.Value               // the random state, once a layer draws (modes.go)
	streams   int                     // random ops so far: each draws its own stream
}

func (l *lowerer) errorf(pos dsl.Pos, format string, args ...any) {
	l.diags.Errorf(pos, format, args...)
}

func (l *lowerer) hintf(pos dsl.Pos, hint, format string, args ...any) {
	l.diags = append(l.diags, dsl.Diagnostic{Pos: pos, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

func short(p dsl.Pos) string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

func irPos(p dsl.Pos) ir.Pos { return ir.Pos{File: p.File, Line: p.Line, Col: p.Col} }

// binding is what a name in scope stands for.
type binding struct {
	val  val
	pos  dsl.Pos
	what string // "const", "input", "target", "param", "value", "argument"
}

type scope struct {
	parent *scope
	names  map[string]*binding
}

func newScope(parent *scope) *scope { return &scope{parent: parent, names: map[string]*binding{}} }

func (s *scope) lookup(name string) *binding {
	for ; s != nil; s = s.parent {
		if b, ok := s.names[name]; ok {
			return b
		}
	}
	return nil
}

func (s *scope) all() []string {
	var out []string
	for ; s != nil; s = s.parent {
		for k := range s.names {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// define binds name in s, reporting a duplicate of a name that cannot be
// rebound (consts, inputs, params); plain values may be reassigned.
func (l *lowerer) define(s *scope, id *dsl.Ident, v val, what string) {
	if prev := s.lookup(id.Name); prev != nil {
		if what == "value" && (prev.what == "value" || prev.what == "argument") {
			s.names[id.Name] = &binding{val: v, pos: id.Pos, what: what}
			if prev.what == "argument" {
				s.names[id.Name].what = "argument"
			}
			return
		}
		if _, local := s.names[id.Name]; local || prev.what != "const" {
			l.errorf(id.Pos, "duplicate name %s: already declared as %s at %s", id.Name, prev.what, short(prev.pos))
			return
		}
	}
	if id.Name == "N" {
		l.errorf(id.Pos, "N is the batch dimension and cannot be redefined")
		return
	}
	s.names[id.Name] = &binding{val: v, pos: id.Pos, what: what}
}

func (l *lowerer) model(globals *scope, m *dsl.Model) *ir.Graph {
	l.g = &ir.Graph{Name: m.Name.Name}
	l.b = ir.NewBuilder(l.g)
	l.full = false
	l.assigned = map[string]int{}
	l.params = map[string]dsl.Pos{}
	l.loss, l.opt = nil, nil
	l.path = nil
	l.twins, l.step, l.key, l.streams = nil, nil, nil, 0
	sc := newScope(globals)
	l.block(sc, m.Body, false)
	ir.SplitModes(l.g, l.twins) // training and inference paths (ir/modes.go)
	l.g.Renumber()
	return l.g
}

// block lowers statements; inDef says whether model-only statements are allowed.
// It returns the value of a return statement (in defs).
func (l *lowerer) block(sc *scope, body []dsl.Stmt, inDef bool) *val {
	var ret *val
	for _, st := range body {
		if l.full {
			return ret
		}
		if ret != nil {
			l.errorf(st.Position(), "statement after return is never run")
			return ret
		}
		switch st := st.(type) {
		case *dsl.ConstDecl:
			l.constDecl(sc, st)
		case *dsl.InputDecl:
			if inDef {
				l.errorf(st.Pos, "input and target declarations belong in a model, not in a def")
				continue
			}
			l.inputDecl(sc, st)
		case *dsl.ParamDecl:
			l.stmt(st.Name.Name, st, func() {
				v, ok := l.paramDecl(sc, st)
				if !ok {
					v = errVal // later uses stay quiet
				}
				l.define(sc, st.Name, v, "param")
			})
		case *dsl.Assign:
			l.stmt(st.Name.Name, st.Value, func() {
				v := l.expr(sc, st.Value)
				if v.k == kTensor && v.v.Name == "" && !v.v.Op.Bound && v.v.Op.Name != "const" {
					v.v.Name = st.Name.Name
				}
				v.desc, v.pos = st.Name.Name, st.Name.Pos
				l.define(sc, st.Name, v, "value")
			})
		case *dsl.OutputDecl:
			if inDef {
				l.errorf(st.Pos, "output declarations belong in a model, not in a def")
				continue
			}
			l.outputDecl(sc, st)
		case *dsl.LossDecl:
			if inDef {
				l.errorf(st.Pos, "loss declarations belong in a model, not in a def")
				continue
			}
			l.lossDecl(sc, st)
		case *dsl.MetricDecl:
			if inDef {
				l.errorf(st.Pos, "metric declarations belong in a model, not in a def")
				continue
			}
			l.metricDecl(sc, st)
		case *dsl.OptimizerDecl:
			if inDef {
				l.errorf(st.Pos, "optimizer declarations belong in a model, not in a def")
				continue
			}
			l.optimizerDecl(sc, st)
		case *dsl.Repeat:
			l.repeat(sc, st, inDef)
		case *dsl.Return:
			if !inDef {
				l.errorf(st.Pos, "return is only allowed in a def")
				continue
			}
			var v val
			l.returnStmt(st.Value, func() { v = l.expr(sc, st.Value) })
			ret = &v
		default:
			l.errorf(st.Position(), "unexpected statement")
		}
	}
	return ret
}

// stmt runs f with the naming state of one binding statement named name.
func (l *lowerer) stmt(name string, root dsl.Node, f func()) {
	savePath, saveLayers, saveN, saveDefs := l.path, l.layers, l.nLayers, l.defCalls
	key := strings.Join(append(append([]string(nil), l.path...), name), ".")
	seg := name
	if k := l.assigned[key]; k > 0 {
		seg = fmt.Sprintf("%s_%d", name, k)
	}
	l.assigned[key]++
	l.path = append(append([]string(nil), l.path...), seg)
	l.layers = map[string]int{}
	l.defCalls = map[string]int{}
	l.nLayers = countLayers(root)
	f()
	l.path, l.layers, l.nLayers, l.defCalls = savePath, saveLayers, saveN, saveDefs
}

// returnStmt runs f with the naming state of a def's return statement: its
// layers are numbered like those of any statement (h.block.dense0.w), under
// the def call's path without a segment of its own.
func (l *lowerer) returnStmt(root dsl.Node, f func()) {
	saveLayers, saveN, saveDefs := l.layers, l.nLayers, l.defCalls
	l.layers = map[string]int{}
	l.defCalls = map[string]int{}
	l.nLayers = countLayers(root)
	f()
	l.layers, l.nLayers, l.defCalls = saveLayers, saveN, saveDefs
}

// countLayers counts the layer calls written in n (not those inside defs it calls).
func countLayers(n dsl.Node) int {
	c := 0
	dsl.Inspect(n, func(x dsl.Node) bool {
		if call, ok := x.(*dsl.Call); ok {
			if bi := builtins[call.Func.Name]; bi != nil && bi.kind == kindLayer {
				c++
			}
		}
		return true
	})
	return c
}

// paramName returns the full name of parameter local ("w") of a layer of kind ("dense").
func (l *lowerer) paramName(kind, local string) string {
	prefix := strings.Join(l.path, ".")
	if l.nLayers > 1 {
		k := l.layers[kind]
		prefix += fmt.Sprintf(".%s%d", kind, k)
	}
	if prefix == "" {
		return local
	}
	return prefix + "." + local
}

func (l *lowerer) constDecl(sc *scope, d *dsl.ConstDecl) {
	for _, it := range d.Items {
		v := l.expr(sc, it.Value)
		switch v.k {
		case kErr:
			continue
		case kNum, kBool, kStr:
		default:
			l.errorf(it.Value.Position(), "const %s must be a number known at compile time, got %s", it.Name.Name, v.kindName())
			continue
		}
		l.define(sc, it.Name, v, "const")
	}
}

func (l *lowerer) inputDecl(sc *scope, d *dsl.InputDecl) {
	t, ok := l.tensorType(sc, d.Type, false)
	if !ok {
		l.define(sc, d.Name, errVal, "input") // later uses stay quiet
		return
	}
	role := "input"
	if d.Target {
		role = "target"
	}
	if t.DType == ir.Bool {
		l.errorf(d.Type.Pos, "%s %s: bool inputs are not supported; use i32 or f32", role, d.Name.Name)
		return
	}
	l.b.Pos = irPos(d.Name.Pos)
	v, err := l.b.TryOp("input", ir.Attrs{"role": role, "dtype": t.DType, "shape": t.Shape})
	if err != nil {
		l.errorf(d.Pos, "%v", err)
		return
	}
	v.Name = d.Name.Name
	l.define(sc, d.Name, tensorVal(v, d.Name.Name, d.Name.Pos), role)
}

// tensorType evaluates a declared type; forParam rejects N.
func (l *lowerer) tensorType(sc *scope, t *dsl.TensorType, forParam bool) (ir.Type, bool) {
	dt, ok := ir.ParseDType(t.DType.Name)
	if !ok || dt == ir.Bool {
		hint := ""
		if s := dsl.Suggest(t.DType.Name, []string{"f32", "i32"}); s != "" {
			hint = "; did you mean " + s + "?"
		}
		l.errorf(t.DType.Pos, "unknown element type %s%s (mdlc supports f32 and i32)", t.DType.Name, hint)
		return ir.Type{}, false
	}
	var shape ir.Shape
	for _, de := range t.Dims {
		d, ok := l.dim(sc, de)
		if !ok {
			return ir.Type{}, false
		}
		if forParam && d.IsBatch() {
			l.errorf(de.Position(), "a parameter's shape cannot depend on the batch size N")
			return ir.Type{}, false
		}
		shape = append(shape, d)
	}
	return ir.Type{DType: dt, Shape: shape}, true
}

// dim evaluates a dimension expression: a positive integer, N, or k*N.
func (l *lowerer) dim(sc *scope, e dsl.Expr) (ir.Dim, bool) {
	v := l.expr(sc, e)
	return l.toDim(v, e.Position())
}

func (l *lowerer) toDim(v val, pos dsl.Pos) (ir.Dim, bool) {
	switch v.k {
	case kErr:
		return 0, false
	case kDim:
		return v.dim, true
	case kNum:
		if v.num < 1 || v.num >= maxDim {
			l.errorf(pos, "dimension %s out of range (1 to %d)", numText(v.num), int64(maxDim-1))
			return 0, false
		}
		if !v.isInt || v.num != float64(int64(v.num)) {
			l.errorf(pos, "dimension must be a whole number, got %s", numText(v.num))
			return 0, false
		}
		return ir.Dim(v.num), true
	}
	l.errorf(pos, "dimension must be a whole number or N, got %s", v.kindName())
	return 0, false
}

// paramDecl creates a declared param (a statement or inline in an expression).
func (l *lowerer) paramDecl(sc *scope, d *dsl.ParamDecl) (val, bool) {
	t, ok := l.tensorType(sc, d.Type, true)
	if !ok {
		return val{}, false
	}
	if t.DType != ir.F32 {
		l.errorf(d.Type.Pos, "parameter %s must be f32, got %s", d.Name.Name, t.DType)
		return val{}, false
	}
	init, args := "zeros", []float64(nil)
	if d.Init != nil {
		if init, args, ok = l.initSpec(sc, d.Init, t.Shape); !ok {
			return val{}, false
		}
	}
	name := d.Name.Name
	if len(l.callStack) > 0 {
		// inside a def: qualify by the call path so each expansion has its own
		name = strings.Join(append(append([]string(nil), l.path[:len(l.path)-1]...), d.Name.Name), ".")
	}
	v, ok := l.newParam(name, t.Shape, init, args, d.Name.Pos)
	return tensorVal(v, d.Name.Name, d.Name.Pos), ok
}

func (l *lowerer) newParam(name string, shape ir.Shape, init string, args []float64, pos dsl.Pos) (*ir.Value, bool) {
	if prev, dup := l.params[name]; dup {
		l.errorf(pos, "parameter name %s is already used by the parameter created at %s; bind this layer to another name", name, short(prev))
		return nil, false
	}
	l.b.Pos = irPos(pos)
	attrs := ir.Attrs{"dtype": ir.F32, "shape": shape, "init": init}
	if len(args) > 0 {
		attrs["init_args"] = args
	}
	v, err := l.b.TryOp("param", attrs)
	if err != nil {
		l.errorf(pos, "%v", err)
		return nil, false
	}
	v.Name = name
	l.params[name] = pos
	return v, true
}

func (l *lowerer) outputDecl(sc *scope, d *dsl.OutputDecl) {
	var v val
	if d.Value == nil {
		b := sc.lookup(d.Name.Name)
		if b == nil {
			l.unknownName(sc, d.Name)
			return
		}
		v = b.val
	} else {
		l.stmt(d.Name.Name, d.Value, func() { v = l.expr(sc, d.Value) })
		l.define(sc, d.Name, v, "value")
	}
	if v.k == kErr {
		return
	}
	if v.k != kTensor {
		l.errorf(d.Pos, "output %s must be a tensor, got %s", d.Name.Name, v.kindName())
		return
	}
	for _, r := range l.g.Results {
		if r.Kind == ir.ResultOutput && r.Name == d.Name.Name {
			l.errorf(d.Name.Pos, "duplicate output %s", d.Name.Name)
			return
		}
	}
	l.g.Results = append(l.g.Results, ir.Result{Kind: ir.ResultOutput, Name: d.Name.Name, Value: v.v})
}

func (l *lowerer) lossDecl(sc *scope, d *dsl.LossDecl) {
	if l.loss != nil {
		l.errorf(d.Pos, "a model has one loss; the first is at %s (add terms with + to combine losses)", short(*l.loss))
		return
	}
	p := d.Pos
	l.loss = &p
	var v val
	l.stmt("loss", d.Value, func() { v = l.expr(sc, d.Value) })
	if v.k == kErr {
		return
	}
	if v.k != kTensor || v.v.Type.DType != ir.F32 || v.v.Type.Shape.Rank() != 0 {
		l.hintf(d.Value.Position(), "reduce it, e.g. loss mean(...)", "loss must be a f32 scalar, got %s", v.typeName())
		return
	}
	l.g.Results = append(l.g.Results, ir.Result{Kind: ir.ResultLoss, Name: "loss", Value: v.v})
}

func (l *lowerer) metricDecl(sc *scope, d *dsl.MetricDecl) {
	name := ""
	if d.Name != nil {
		name = d.Name.Name
	} else if c, ok := d.Value.(*dsl.Call); ok {
		name = c.Func.Name
	} else {
		l.errorf(d.Pos, "name this metric: metric NAME = expression")
		return
	}
	var v val
	l.stmt(name, d.Value, func() { v = l.expr(sc, d.Value) })
	if v.k == kErr {
		return
	}
	if v.k != kTensor || v.v.Type.DType != ir.F32 || v.v.Type.Shape.Rank() != 0 {
		l.errorf(d.Value.Position(), "metric %s must be a f32 scalar, got %s", name, v.typeName())
		return
	}
	for _, r := range l.g.Results {
		if r.Kind == ir.ResultMetric && r.Name == name {
			l.errorf(d.Pos, "duplicate metric %s; name it: metric other_name = ...", name)
			return
		}
	}
	l.g.Results = append(l.g.Results, ir.Result{Kind: ir.ResultMetric, Name: name, Value: v.v})
}

func (l *lowerer) optimizerDecl(sc *scope, d *dsl.OptimizerDecl) {
	if l.opt != nil {
		l.errorf(d.Pos, "a model has one optimizer; the first is at %s", short(*l.opt))
		return
	}
	p := d.Pos
	l.opt = &p
	c := d.Call
	def := ir.LookupOptimizer(c.Func.Name)
	if def == nil {
		var names []string
		for _, o := range ir.Optimizers {
			names = append(names, o.Name)
		}
		l.unknown(c.Func.Pos, "optimizer", c.Func.Name, names)
		return
	}
	if len(c.Args) > 0 {
		l.errorf(c.Args[0].Position(), "optimizer settings are named, e.g. %s(lr: 0.01)", def.Name)
		return
	}
	attrs := ir.Attrs{}
	for _, na := range c.Named {
		s := def.Setting(na.Name.Name)
		if s == nil {
			msg := fmt.Sprintf("unknown %s setting %s", def.Name, na.Name.Name)
			if sug := dsl.Suggest(na.Name.Name, def.SettingNames()); sug != "" {
				msg += "; did you mean " + sug + "?"
			}
			l.hintf(na.Name.Pos, def.Name+" settings: "+strings.Join(def.SettingNames(), ", "), "%s", msg)
			return
		}
		v := l.expr(sc, na.Value)
		switch v.k {
		case kNum:
			attrs[na.Name.Name] = v.num
		case kBool:
			attrs[na.Name.Name] = v.b
		case kStr:
			attrs[na.Name.Name] = v.s
		case kErr:
			return
		default:
			l.errorf(na.Value.Position(), "setting %s must be a constant, got %s", na.Name.Name, v.kindName())
			return
		}
	}
	if _, err := def.Resolve(attrs); err != nil {
		l.errorf(c.Pos, "%v", err)
		return
	}
	l.g.Optimizer = &ir.Optimizer{Name: def.Name, Attrs: attrs, Pos: irPos(c.Pos)}
}

func (l *lowerer) repeat(sc *scope, r *dsl.Repeat, inDef bool) {
	v := l.expr(sc, r.Count)
	if v.k == kErr {
		return
	}
	if v.k != kNum || !v.isInt || v.num != float64(int64(v.num)) {
		l.errorf(r.Count.Position(), "repeat count must be a whole number known at compile time, got %s", v.kindName())
		return
	}
	if v.num < 1 {
		l.errorf(r.Count.Position(), "repeat count must be at least 1, got %s", numText(v.num))
		return
	}
	if v.num > maxRepeat {
		l.errorf(r.Count.Position(), "repeat count %s is too large (limit %d)", numText(v.num), maxRepeat)
		return
	}
	for i := 0; i < int(v.num) && !l.full; i++ {
		before := len(l.diags)
		if ret := l.block(sc, r.Body, inDef); ret != nil {
			l.errorf(r.Pos, "return inside repeat is not allowed")
			return
		}
		if len(l.diags) > before {
			return // report a body's errors once, not once per iteration
		}
	}
}

func (l *lowerer) unknownName(sc *scope, id *dsl.Ident) {
	l.unknown(id.Pos, "name", id.Name, sc.all())
}

// unknown reports an unknown name of some kind with a did-you-mean hint.
func (l *lowerer) unknown(pos dsl.Pos, what, name string, cands []string) {
	msg := fmt.Sprintf("unknown %s %s", what, name)
	if s := dsl.Suggest(name, cands); s != "" {
		msg += "; did you mean " + s + "?"
		l.errorf(pos, "%s", msg)
		return
	}
	hint := ""
	if len(cands) > 0 && len(cands) <= 20 && what != "name" {
		sorted := append([]string(nil), cands...)
		sort.Strings(sorted)
		hint = "one of: " + strings.Join(sorted, ", ")
	}
	l.hintf(pos, hint, "%s", msg)
}

// numText prints whole numbers without an exponent.
func numText(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e21 {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}
