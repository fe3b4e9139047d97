package ir

import (
	"fmt"
	"slices"
)

// Pos is a source position (1-based line and column). The zero Pos means unknown.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) IsValid() bool { return p.Line > 0 }

func (p Pos) String() string {
	if !p.IsValid() {
		return "-"
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Value is the one node type: the result of applying Op to Args.
type Value struct {
	ID    int    // dense index in Graph.Values (after Renumber)
	Op    *OpDef // never nil
	Type  Type   // dtype and shape
	Args  []*Value
	Attrs Attrs  // validated against Op.Attrs
	Name  string // stable user-facing name ("hidden.w"); may be empty
	Pos   Pos    // where in the .mdl source it came from
}

func (v *Value) String() string { return fmt.Sprintf("%%%d", v.ID) }

// ResultKind says what a graph result is for.
type ResultKind uint8

const (
	ResultOutput    ResultKind = iota // user-visible prediction (output)
	ResultLoss                        // the scalar training loss
	ResultMetric                      // an evaluation metric
	ResultGrad                        // d loss / d param (after autodiff)
	ResultTrainLoss                   // the loss in training mode, when it differs from the loss (modes.go)
)

var resultKindNames = [...]string{"output", "loss", "metric", "grad", "train_loss"}

func (k ResultKind) String() string {
	if int(k) < len(resultKindNames) {
		return resultKindNames[k]
	}
	return fmt.Sprintf("resultkind(%d)", int(k))
}

// Result is a named value the graph exposes.
type Result struct {
	Kind  ResultKind
	Name  string
	Value *Value
}

// Update says that, at the end of a training step, Target (a param or state
// value) takes the value Value. All updates read the values of the current
// step; they are applied together. The optimizer's updates and the layers'
// (batch_norm's moving statistics, added by the lowering) are alike.
type Update struct {
	Target *Value
	Value  *Value
}

// Optimizer is the optimizer declaration carried from the source to the
// optimizer pass: a name ("adam") and its settings (lr: 0.001, ...).
type Optimizer struct {
	Name  string
	Attrs Attrs
	Pos   Pos
}

// Graph is a model: values in topological order plus its interface.
type Graph struct {
	Name      string
	Values    []*Value
	Results   []Result
	Updates   []Update
	Optimizer *Optimizer

	Groups []Group // set by the fuse pass (nil: every value on its own)
	Plan   *Plan   // set by the memory planner (plan.go)
}

// Sources returns the values of op kind name ("input", "param", "state") in graph order.
func (g *Graph) Sources(op string) []*Value {
	var out []*Value
	for _, v := range g.Values {
		if v.Op.Name == op {
			out = append(out, v)
		}
	}
	return out
}

// Inputs returns input and target values in graph order.
func (g *Graph) Inputs() []*Value { return g.Sources("input") }

// Params returns the trainable parameters in graph order.
func (g *Graph) Params() []*Value { return g.Sources("param") }

// State returns the non-trainable state in graph order: the optimizer's
// (named "optimizer.*") and the layers' (batch_norm's moving statistics).
func (g *Graph) State() []*Value { return g.Sources("state") }

// Loss returns the loss value or nil: in inference mode (Eval) when the
// model's modes differ (modes.go).
func (g *Graph) Loss() *Value {
	for _, r := range g.Results {
		if r.Kind == ResultLoss {
			return r.Value
		}
	}
	return nil
}

// TrainLoss returns the loss in training mode (TrainStep, autodiff): the
// train_loss result when the model has one, else the loss, or nil.
func (g *Graph) TrainLoss() *Value {
	for _, r := range g.Results {
		if r.Kind == ResultTrainLoss {
			return r.Value
		}
	}
	return g.Loss()
}

// ResultsOf returns results of one kind.
func (g *Graph) ResultsOf(k ResultKind) []Result {
	var out []Result
	for _, r := range g.Results {
		if r.Kind == k {
			out = append(out, r)
		}
	}
	return out
}

// Lookup returns the value with the given Name, or nil.
func (g *Graph) Lookup(name string) *Value {
	for _, v := range g.Values {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Reaches returns the values roots depend on (roots included).
func Reaches(roots ...*Value) map[*Value]bool {
	seen := map[*Value]bool{}
	var mark func(v *Value)
	mark = func(v *Value) {
		if seen[v] {
			return
		}
		seen[v] = true
		for _, a := range v.Args {
			mark(a)
		}
	}
	for _, r := range roots {
		mark(r)
	}
	return seen
}

// Renumber assigns dense IDs in graph order.
func (g *Graph) Renumber() {
	for i, v := range g.Values {
		v.ID = i
	}
}

// Uses returns, for every value, the number of uses by other values,
// results and updates.
func (g *Graph) Uses() map[*Value]int {
	u := make(map[*Value]int, len(g.Values))
	for _, v := range g.Values {
		for _, a := range v.Args {
			u[a]++
		}
	}
	for _, r := range g.Results {
		u[r.Value]++
	}
	for _, up := range g.Updates {
		u[up.Value]++
	}
	return u
}

// Clone returns a deep copy of the graph (values are new; ops shared).
func (g *Graph) Clone() *Graph {
	m := make(map[*Value]*Value, len(g.Values))
	ng := &Graph{Name: g.Name}
	for _, v := range g.Values {
		nv := &Value{ID: v.ID, Op: v.Op, Type: Type{v.Type.DType, v.Type.Shape.Clone()}, Attrs: v.Attrs.Clone(), Name: v.Name, Pos: v.Pos}
		for _, a := range v.Args {
			nv.Args = append(nv.Args, m[a])
		}
		m[v] = nv
		ng.Values = append(ng.Values, nv)
	}
	for _, r := range g.Results {
		ng.Results = append(ng.Results, Result{r.Kind, r.Name, m[r.Value]})
	}
	for _, u := range g.Updates {
		ng.Updates = append(ng.Updates, Update{m[u.Target], m[u.Value]})
	}
	if g.Optimizer != nil {
		o := *g.Optimizer
		o.Attrs = o.Attrs.Clone()
		ng.Optimizer = &o
	}
	return ng
}

// Attrs holds an op's attributes. Values are int, []int, float64, bool,
// string, DType or Shape, as the op's schema says.
type Attrs map[string]any

// Clone returns a copy (slices copied).
func (a Attrs) Clone() Attrs {
	if a == nil {
		return nil
	}
	b := make(Attrs, len(a))
	for k, v := range a {
		switch x := v.(type) {
		case []int:
			b[k] = slices.Clone(x)
		case []float64:
			b[k] = slices.Clone(x)
		case Shape:
			b[k] = x.Clone()
		default:
			b[k] = v
		}
	}
	return b
}

func (a Attrs) Int(k string) int {
	i, _ := a[k].(int)
	return i
}

func (a Attrs) Ints(k string) []int {
	i, _ := a[k].([]int)
	return i
}

func (a Attrs) Float(k string) float64 {
	f, _ := a[k].(float64)
	return f
}

func (a Attrs) Bool(k string) bool {
	b, _ := a[k].(bool)
	return b
}

func (a Attrs) String(k string) string {
	s, _ := a[k].(string)
	return s
}

func (a Attrs) DType(k string) DType {
	d, _ := a[k].(DType)
	return d
}

func (a Attrs) Shape(k string) Shape {
	s, _ := a[k].(Shape)
	return s
}

// IndexBound returns the exclusive upper bound on the values of an i32
// value implied by its uses as an index (the op table's IndexBound: the
// depth of a one_hot, the rows of a gather table or of a scatter_add), the
// smallest if several, or 0 when no use bounds it.
func (g *Graph) IndexBound(v *Value) int {
	hi := 0
	for _, u := range g.Values {
		if u.Op.IndexBound == nil {
			continue
		}
		for i, a := range u.Args {
			if k := u.Op.IndexBound(u, i); a == v && k > 0 && (hi == 0 || k < hi) {
				hi = k
			}
		}
	}
	return hi
}
