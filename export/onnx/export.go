// Package onnx exports a model's inference graph as an ONNX file (IR
// version 8, opset 17): what the generated Forward computes, with the
// params and the layers' state (batch_norm's moving statistics) as
// initializers, the batch axis N symbolic, and the inputs and outputs named
// as in the .mdl source.
//
// It works on the lowered graph (ir/lower), before any pass: the values
// that the outputs depend on are the inference path (ir/modes.go), so
// dropout is already the identity and batch_norm reads its moving
// statistics. Each op becomes a few ONNX nodes by its entry in opMap, the
// one table of mappings; an op without an entry is an error at its source
// position. batch_norm and layer_norm, which are primitives in the graph,
// are found by their shape and become BatchNormalization and
// LayerNormalization (norms.go); a recurrent layer (its input projection,
// lstm_scan or gru_scan and the slice of its hidden states) becomes one
// LSTM or GRU (rnn.go). Images stay NHWC as in mdlc: conv2d and
// the pools are wrapped in Transposes to ONNX's NCHW, and a conv filter
// param is stored OIHW.
package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/mdlc/mdlc/export/onnx/onnxpb"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
)

// The ONNX versions written: the ones ONNX 1.12 (Debian's python3-onnx
// checker) knows.
const (
	IRVersion = 8
	Opset     = 17
)

// Options control what Export writes.
type Options struct {
	// Eval also exports the loss and the metrics, with the targets as
	// inputs: the graph Eval computes rather than Forward's.
	Eval bool
	// Producer is the producer_version written in the file.
	Producer string
}

// Export builds the ONNX model of g's inference graph. g is a lowered
// graph (ir/lower); weights holds the data of every param and state value
// the outputs read, by name, in mdlc's layout (row-major, g's shapes).
func Export(g *ir.Graph, weights map[string][]float32, opt Options) (*onnxpb.ModelProto, error) {
	e := &exporter{g: g, weights: weights, graph: &onnxpb.GraphProto{Name: proto.String(g.Name)},
		names: map[*ir.Value]string{}, users: map[*ir.Value][]*ir.Value{}, oihw: map[*ir.Value]bool{},
		results: map[*ir.Value]bool{}, done: map[*ir.Value]bool{}, nchw: map[string]string{}, taken: map[string]bool{},
		relayout: map[*ir.Value]func([]float32, []int) ([]float32, []int){}}
	if err := e.build(opt); err != nil {
		return nil, err
	}
	return &onnxpb.ModelProto{
		IrVersion:       proto.Int64(IRVersion),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(Opset)}},
		ProducerName:    proto.String("mdlc"),
		ProducerVersion: proto.String(opt.Producer),
		Graph:           e.graph,
		DocString:       proto.String(fmt.Sprintf("model %s exported by mdlc: the inference graph (Forward), NHWC images", g.Name)),
	}, nil
}

// Marshal encodes m as an .onnx file's bytes.
func Marshal(m *onnxpb.ModelProto) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// exporter holds the graph being written.
type exporter struct {
	g       *ir.Graph
	weights map[string][]float32
	graph   *onnxpb.GraphProto
	names   map[*ir.Value]string // each exported value's tensor name
	users   map[*ir.Value][]*ir.Value
	oihw    map[*ir.Value]bool  // conv filter params stored OIHW
	results map[*ir.Value]bool  // values graph results name
	done    map[*ir.Value]bool  // values a mapping of an earlier value wrote (Gemm's bias add)
	nchw    map[string]string   // NHWC image -> its NCHW Transpose
	norms   map[*ir.Value]*norm // normalization layers by their last value (norms.go)
	rnns    map[*ir.Value]*rnn  // recurrent layers by their scan op (rnn.go)
	taken   map[string]bool     // tensor names in use (fresh)
	batch   string              // the int64[1] tensor holding N, once computed

	// relayout holds the params stored in another layout than mdlc's
	// (recurrent weights, rnn.go): their data and dims to the initializer's.
	relayout map[*ir.Value]func(data []float32, dims []int) ([]float32, []int)
}

// build writes the nodes, initializers, inputs and outputs of the graph.
func (e *exporter) build(opt Options) error {
	var results []ir.Result
	for _, r := range e.g.Results {
		if r.Kind == ir.ResultOutput || opt.Eval && (r.Kind == ir.ResultLoss || r.Kind == ir.ResultMetric) {
			results = append(results, r)
		}
	}
	if len(results) == 0 {
		if opt.Eval {
			return fmt.Errorf("model %s has no outputs, loss or metrics to export", e.g.Name)
		}
		return fmt.Errorf("model %s has no outputs to export (declare one with output NAME = ...)", e.g.Name)
	}
	// The values the results depend on, and their users.
	live := map[*ir.Value]bool{}
	var mark func(v *ir.Value)
	mark = func(v *ir.Value) {
		if live[v] {
			return
		}
		live[v] = true
		for _, a := range v.Args {
			mark(a)
		}
	}
	for _, r := range results {
		mark(r.Value)
	}
	for _, v := range e.g.Values {
		if live[v] {
			for _, a := range v.Args {
				e.users[a] = append(e.users[a], v)
			}
		}
	}
	for _, v := range e.g.Values {
		if live[v] && v.Op.Name == "param" && len(e.users[v]) > 0 && v.Type.Shape.Rank() == 4 {
			conv := true
			for _, u := range e.users[v] {
				conv = conv && u.Op.Name == "conv2d" && u.Args[1] == v && u.Args[0] != v
			}
			e.oihw[v] = conv
		}
	}
	// The names the file's interface and initializers keep from the source.
	for _, v := range e.g.Values {
		if live[v] && v.Op.Bound {
			e.taken[v.Name] = true
		}
	}
	for _, r := range results {
		e.taken[r.Name] = true
	}
	// A computed value a result names is written under the result's name.
	for _, r := range results {
		e.results[r.Value] = true
		v := r.Value
		if _, named := e.names[v]; !named && !v.Op.Bound && !v.Op.Inline {
			e.names[v] = r.Name
		}
	}
	e.norms = e.findNorms(live)
	e.rnns = e.findRNNs(live)
	for _, v := range e.g.Values {
		if !live[v] {
			continue
		}
		if err := e.value(v); err != nil {
			return err
		}
	}
	for _, r := range results {
		name := e.names[r.Value]
		if name != r.Name {
			e.node("Identity", []string{name}, []string{r.Name})
		}
		e.graph.Output = append(e.graph.Output, valueInfo(r.Name, r.Value.Type))
	}
	return nil
}

// value writes v: a graph input, an initializer or the nodes computing it.
func (e *exporter) value(v *ir.Value) error {
	switch v.Op.Name {
	case "input":
		e.names[v] = v.Name
		e.graph.Input = append(e.graph.Input, valueInfo(v.Name, v.Type))
		return nil
	case "param", "state":
		return e.initializer(v)
	}
	if e.done[v] {
		return nil
	}
	if _, ok := e.names[v]; !ok {
		e.names[v] = e.tmpName(v)
	}
	if n := e.norms[v]; n != nil {
		e.emitNorm(n, e.names[v])
		return nil
	}
	m := opMap[v.Op.Name]
	if m == nil {
		return errorAt(v, "%s has no ONNX mapping", v.Op.Name)
	}
	in := make([]string, len(v.Args))
	for i, a := range v.Args {
		in[i] = e.names[a]
	}
	if err := m(e, v, in, e.names[v]); err != nil {
		return errorAt(v, "%s: %v", v.Op.Name, err)
	}
	return nil
}

// errorAt is an error at v's source position (file:line:col: ...), a
// *passes.PosError as the passes' errors about the source are.
func errorAt(v *ir.Value, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if v.Pos.IsValid() {
		return &passes.PosError{Pos: v.Pos, Msg: msg}
	}
	return fmt.Errorf("%%%d: %s", v.ID, msg)
}

// initializer writes the data of param or state v from e.weights.
func (e *exporter) initializer(v *ir.Value) error {
	data, ok := e.weights[v.Name]
	if !ok {
		return errorAt(v, "%s %s: no weights given", v.Op.Name, v.Name)
	}
	shape := v.Type.Shape
	for _, d := range shape {
		if d.IsBatch() {
			return errorAt(v, "%s %s has the batch axis N in its shape %s", v.Op.Name, v.Name, shape)
		}
	}
	dims := shape.Resolve(1)
	if n := numel(dims); len(data) != n {
		return errorAt(v, "%s %s: %d weights for shape %s (%d elements)", v.Op.Name, v.Name, len(data), shape, n)
	}
	if e.oihw[v] {
		data, dims = hwioToOIHW(data, dims)
	}
	if f := e.relayout[v]; f != nil {
		data, dims = f(data, dims)
	}
	e.names[v] = v.Name
	raw := make([]byte, 4*len(data))
	for i, x := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	t := tensor(v.Name, onnxpb.TensorProto_FLOAT, dims...)
	t.RawData = raw
	e.graph.Initializer = append(e.graph.Initializer, t)
	return nil
}

// hwioToOIHW permutes a conv filter [KH, KW, C, F] to ONNX's [F, C, KH, KW].
func hwioToOIHW(w []float32, dims []int) ([]float32, []int) {
	kh, kw, c, f := dims[0], dims[1], dims[2], dims[3]
	out := make([]float32, len(w))
	for i := range kh {
		for j := range kw {
			for k := range c {
				for o := range f {
					out[((o*c+k)*kh+i)*kw+j] = w[((i*kw+j)*c+k)*f+o]
				}
			}
		}
	}
	return out, []int{f, c, kh, kw}
}

// tmpName names a computed value's tensor: by its source name, else by
// its IR number.
func (e *exporter) tmpName(v *ir.Value) string {
	if v.Name != "" {
		return e.fresh(v.Name)
	}
	return e.fresh(fmt.Sprintf("v%d", v.ID))
}

// tmp returns a fresh tensor name for an intermediate of a mapping.
func (e *exporter) tmp(what string) string { return e.fresh(what) }

// fresh returns base, or base_2, base_3, ... when taken, and takes it.
// The names of the inputs, initializers and results are taken first.
func (e *exporter) fresh(base string) string {
	name := base
	for i := 2; e.taken[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	e.taken[name] = true
	return name
}

// node appends a node.
func (e *exporter) node(op string, in, out []string, attrs ...*onnxpb.AttributeProto) {
	e.graph.Node = append(e.graph.Node, &onnxpb.NodeProto{
		Name: proto.String(fmt.Sprintf("%s_%d", op, len(e.graph.Node))), OpType: proto.String(op), Input: in, Output: out, Attribute: attrs,
	})
}

// op appends a node of one output, a fresh tensor, and returns its name.
func (e *exporter) op(op string, in []string, attrs ...*onnxpb.AttributeProto) string {
	out := e.tmp(op)
	e.node(op, in, []string{out}, attrs...)
	return out
}

// ints writes a constant int64 tensor (1-D) and returns its name.
func (e *exporter) ints(xs ...int) string {
	name := e.tmp("ints")
	t := tensor(name, onnxpb.TensorProto_INT64, len(xs))
	t.Int64Data = int64s(xs)
	e.graph.Initializer = append(e.graph.Initializer, t)
	return name
}

// scalar writes a constant scalar of dtype dt and returns its name.
func (e *exporter) scalar(dt ir.DType, x float64) string {
	name := e.tmp("const")
	e.constant(name, dt, x)
	return name
}

// constant writes the scalar initializer name of dtype dt (i32 and bool
// in int32_data, as ONNX stores them).
func (e *exporter) constant(name string, dt ir.DType, x float64) {
	t := tensor(name, elemType(dt))
	if dt == ir.F32 {
		t.FloatData = []float32{float32(x)}
	} else {
		t.Int32Data = []int32{int32(x)}
	}
	e.graph.Initializer = append(e.graph.Initializer, t)
}

// batchDim returns the int64[1] tensor holding the batch size N, read from
// the shape of the first input with the batch axis.
func (e *exporter) batchDim() (string, error) {
	if e.batch != "" {
		return e.batch, nil
	}
	for _, v := range e.g.Values {
		if v.Op.Name != "input" || e.names[v] == "" {
			continue
		}
		for i, d := range v.Type.Shape {
			if d.IsBatch() {
				b := e.op("Shape", []string{v.Name}, attrInt("start", i), attrInt("end", i+1))
				if d != ir.N {
					b = e.op("Div", []string{b, e.ints(int(-d))})
				}
				e.batch = b
				return b, nil
			}
		}
	}
	return "", fmt.Errorf("no input has the batch axis N")
}

// shape returns an int64 tensor holding s with N resolved at run time.
func (e *exporter) shape(s ir.Shape) (string, error) {
	var parts []string
	var fixed []int
	for _, d := range s {
		if !d.IsBatch() {
			fixed = append(fixed, int(d))
			continue
		}
		if len(fixed) > 0 {
			parts = append(parts, e.ints(fixed...))
			fixed = nil
		}
		b, err := e.batchDim()
		if err != nil {
			return "", err
		}
		if d != ir.N {
			b = e.op("Mul", []string{b, e.ints(int(-d))})
		}
		parts = append(parts, b)
	}
	if len(parts) == 0 {
		return e.ints(fixed...), nil
	}
	if len(fixed) > 0 {
		parts = append(parts, e.ints(fixed...))
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	return e.op("Concat", parts, attrInt("axis", 0)), nil
}

// valueInfo declares a graph input or output of type t (N symbolic).
func valueInfo(name string, t ir.Type) *onnxpb.ValueInfoProto {
	var dims []*onnxpb.TensorShapeProto_Dimension
	for _, d := range t.Shape {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		if d.IsBatch() {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d.String()}
		} else {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}
		}
		dims = append(dims, dim)
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(elemType(t.DType))), Shape: &onnxpb.TensorShapeProto{Dim: dims}},
	}}}
}

// tensor is a tensor proto (an initializer) without its data.
func tensor(name string, dt onnxpb.TensorProto_DataType, dims ...int) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(dt)), Dims: int64s(dims)}
}

// elemType is the ONNX element type of dt.
func elemType(dt ir.DType) onnxpb.TensorProto_DataType {
	switch dt {
	case ir.I32:
		return onnxpb.TensorProto_INT32
	case ir.Bool:
		return onnxpb.TensorProto_BOOL
	}
	return onnxpb.TensorProto_FLOAT
}

func attrInt(name string, x int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(int64(x))}
}

func attrInts(name string, xs ...int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: int64s(xs)}
}

func int64s(xs []int) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = int64(x)
	}
	return out
}

func numel(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// normAxis makes axis a of a rank-r value non-negative.
func normAxis(a, r int) int {
	if a < 0 {
		return a + r
	}
	return a
}
