package onnx

import (
	"fmt"
	"math"
	"slices"

	"github.com/mdlc/mdlc/export/onnx/onnxpb"
	"github.com/mdlc/mdlc/ir"
)

// mapping writes the ONNX nodes computing v from its args' tensors in into
// the tensor out.
type mapping func(e *exporter, v *ir.Value, in []string, out string) error

// opMap is the table of mappings, keyed by op name: every op of the op
// table (ir/ops.go) that an inference graph can hold. Sources are handled
// by Export (inputs, initializers); the backward ops (gelu_grad,
// conv2d_grad_*, *_pool2d_grad, scatter_add, *_scan_grad,
// masked_softmax_grad) and
// random_uniform exist only in training and have no entry. TestOpMapCoversOpTable keeps the two
// tables in step.
var opMap map[string]mapping

func init() {
	opMap = map[string]mapping{
		"const": func(e *exporter, v *ir.Value, _ []string, out string) error {
			e.constant(out, v.Type.DType, v.Attrs.Float("value"))
			return nil
		},
		"numel": mapNumel,

		"neg":     simple("Neg"),
		"abs":     simple("Abs"),
		"sign":    simple("Sign"),
		"exp":     simple("Exp"),
		"log":     simple("Log"),
		"sqrt":    simple("Sqrt"),
		"relu":    simple("Relu"),
		"sigmoid": simple("Sigmoid"),
		"tanh":    simple("Tanh"),
		"gelu":    mapGelu,
		"floor":   simple("Floor"),
		"sin":     simple("Sin"),
		"cos":     simple("Cos"),

		"add":     simple("Add"),
		"sub":     simple("Sub"),
		"mul":     simple("Mul"),
		"div":     simple("Div"),
		"pow":     simple("Pow"),
		"maximum": simple("Max"),
		"minimum": simple("Min"),

		"eq":    compare("Equal", false),
		"ne":    compare("Equal", true),
		"lt":    compare("Less", false),
		"le":    compare("LessOrEqual", false),
		"gt":    compare("Greater", false),
		"ge":    compare("GreaterOrEqual", false),
		"where": simple("Where"),
		"cast": func(e *exporter, v *ir.Value, in []string, out string) error {
			e.node("Cast", in, []string{out}, attrInt("to", int(elemType(v.Type.DType))))
			return nil
		},

		"matmul": mapMatmul,

		"reduce_sum": func(e *exporter, v *ir.Value, in []string, out string) error {
			// ReduceSum takes its axes as an input since opset 13.
			e.node("ReduceSum", []string{in[0], e.ints(v.Attrs.Ints("axes")...)}, []string{out}, keepdims(v))
			return nil
		},
		"reduce_mean": reduce("ReduceMean"),
		"reduce_max":  reduce("ReduceMax"),
		"argmax": func(e *exporter, v *ir.Value, in []string, out string) error {
			// ArgMax gives int64 and the first maximum (select_last_index 0).
			i := e.op("ArgMax", in, attrInt("axis", v.Attrs.Int("axis")), attrInt("keepdims", 0))
			e.node("Cast", []string{i}, []string{out}, attrInt("to", int(onnxpb.TensorProto_INT32)))
			return nil
		},
		"masked_softmax": mapMaskedSoftmax,
		"softmax": func(e *exporter, v *ir.Value, in []string, out string) error {
			e.node("Softmax", in, []string{out}, attrInt("axis", v.Attrs.Int("axis")))
			return nil
		},
		"log_softmax": func(e *exporter, v *ir.Value, in []string, out string) error {
			e.node("LogSoftmax", in, []string{out}, attrInt("axis", v.Attrs.Int("axis")))
			return nil
		},
		"logsumexp": mapLogsumexp,

		"reshape": func(e *exporter, v *ir.Value, in []string, out string) error {
			s, err := e.reshapeTarget(v.Attrs.Shape("shape"))
			if err != nil {
				return err
			}
			e.node("Reshape", []string{in[0], s}, []string{out})
			return nil
		},
		"transpose": func(e *exporter, v *ir.Value, in []string, out string) error {
			e.node("Transpose", in, []string{out}, attrInts("perm", v.Attrs.Ints("perm")...))
			return nil
		},
		"broadcast": func(e *exporter, v *ir.Value, in []string, out string) error {
			if v.Args[0].Type.Shape.Equal(v.Type.Shape) { // dropout in inference, a copy
				e.node("Identity", in, []string{out})
				return nil
			}
			s, err := e.shape(v.Type.Shape)
			if err != nil {
				return err
			}
			e.node("Expand", []string{in[0], s}, []string{out})
			return nil
		},
		"slice": func(e *exporter, v *ir.Value, in []string, out string) error {
			a := v.Attrs
			e.node("Slice", []string{in[0], e.ints(a.Int("start")), e.ints(a.Int("end")), e.ints(a.Int("axis"))}, []string{out})
			return nil
		},
		"pad": func(e *exporter, v *ir.Value, in []string, out string) error {
			r := v.Type.Shape.Rank()
			pads := make([]int, 2*r)
			ax := normAxis(v.Attrs.Int("axis"), r)
			pads[ax], pads[r+ax] = v.Attrs.Int("before"), v.Attrs.Int("after")
			e.node("Pad", []string{in[0], e.ints(pads...)}, []string{out})
			return nil
		},
		"concat": func(e *exporter, v *ir.Value, in []string, out string) error {
			e.node("Concat", in, []string{out}, attrInt("axis", v.Attrs.Int("axis")))
			return nil
		},

		"conv2d":     mapConv,
		"max_pool2d": pool("MaxPool"),
		"avg_pool2d": pool("AveragePool", attrInt("count_include_pad", 0)),

		"gather": func(e *exporter, v *ir.Value, in []string, out string) error {
			e.node("Gather", in, []string{out}, attrInt("axis", 0))
			return nil
		},
		"one_hot": mapOneHot,

		"lstm_scan": mapScan, // rnn.go
		"gru_scan":  mapScan,
	}
}

// simple maps an op to the ONNX op of the same semantics and arguments
// (elementwise ops broadcast alike in both).
func simple(op string) mapping {
	return func(e *exporter, _ *ir.Value, in []string, out string) error {
		e.node(op, in, []string{out})
		return nil
	}
}

// compare maps a comparison; not negates it (ne). ONNX orders only
// numbers: bool operands are compared as int32.
func compare(op string, not bool) mapping {
	return func(e *exporter, v *ir.Value, in []string, out string) error {
		if op != "Equal" {
			for i, a := range v.Args {
				if a.Type.DType == ir.Bool {
					in[i] = e.op("Cast", []string{in[i]}, attrInt("to", int(onnxpb.TensorProto_INT32)))
				}
			}
		}
		if not {
			e.node("Not", []string{e.op(op, in)}, []string{out})
			return nil
		}
		e.node(op, in, []string{out})
		return nil
	}
}

func keepdims(v *ir.Value) *onnxpb.AttributeProto {
	k := 0
	if v.Attrs.Bool("keepdims") {
		k = 1
	}
	return attrInt("keepdims", k)
}

// reduce maps a reduction whose axes are an attribute in opset 17.
func reduce(op string) mapping {
	return func(e *exporter, v *ir.Value, in []string, out string) error {
		e.node(op, in, []string{out}, attrInts("axes", v.Attrs.Ints("axes")...), keepdims(v))
		return nil
	}
}

// mapNumel writes the element count of a shape as an f32 scalar: the
// product of its fixed dims times N for each batch dim.
func mapNumel(e *exporter, v *ir.Value, _ []string, out string) error {
	s := v.Attrs.Shape("shape")
	fixed, batch := 1.0, 0
	for _, d := range s {
		if d.IsBatch() {
			fixed *= float64(-d)
			batch++
		} else {
			fixed *= float64(d)
		}
	}
	if batch == 0 {
		e.constant(out, ir.F32, fixed)
		return nil
	}
	b, err := e.batchDim()
	if err != nil {
		return err
	}
	n := e.op("Cast", []string{b}, attrInt("to", int(onnxpb.TensorProto_FLOAT)))
	x := e.scalar(ir.F32, fixed)
	for range batch {
		x = e.op("Mul", []string{x, n})
	}
	e.node("Reshape", []string{x, e.ints()}, []string{out})
	return nil
}

// mapGelu expands gelu (opset 17 has none) exactly as mdlc computes it:
// 0.5 x (1 + tanh(c (x + a x^3))), the tanh form (ir/kernels.go).
func mapGelu(e *exporter, _ *ir.Value, in []string, out string) error {
	x := in[0]
	x3 := e.op("Mul", []string{e.op("Mul", []string{x, x}), x})
	inner := e.op("Add", []string{x, e.op("Mul", []string{e.scalar(ir.F32, ir.GeluA), x3})})
	t := e.op("Tanh", []string{e.op("Mul", []string{e.scalar(ir.F32, ir.GeluC), inner})})
	half := e.op("Mul", []string{e.scalar(ir.F32, 0.5), x})
	e.node("Mul", []string{half, e.op("Add", []string{e.scalar(ir.F32, 1), t})}, []string{out})
	return nil
}

// mapMatmul writes a matmul of two matrices followed by the add of a bias
// param (dense) as one Gemm, computing the add too; other matmuls of two
// matrices with a transpose flag as Gemm, and the rest as MatMul after
// Transposes of the last two axes.
func mapMatmul(e *exporter, v *ir.Value, in []string, out string) error {
	ta, tb := v.Attrs.Bool("ta"), v.Attrs.Bool("tb")
	if v.Args[0].Type.Shape.Rank() == 2 && v.Args[1].Type.Shape.Rank() == 2 {
		flags := []*onnxpb.AttributeProto{attrInt("transA", b2i(ta)), attrInt("transB", b2i(tb))}
		if add, bias := e.biasAdd(v); add != nil {
			if _, ok := e.names[add]; !ok {
				e.names[add] = e.tmpName(add)
			}
			e.node("Gemm", []string{in[0], in[1], bias.Name}, []string{e.names[add]}, flags...)
			e.done[add] = true
			return nil
		}
		if ta || tb {
			e.node("Gemm", in, []string{out}, flags...)
			return nil
		}
	}
	for i, t := range []bool{ta, tb} {
		if t {
			r := v.Args[i].Type.Shape.Rank()
			perm := make([]int, r)
			for j := range perm {
				perm[j] = j
			}
			perm[r-2], perm[r-1] = r-1, r-2
			in[i] = e.op("Transpose", []string{in[i]}, attrInts("perm", perm...))
		}
	}
	e.node("MatMul", in, []string{out})
	return nil
}

// biasAdd returns the add of a bias param to the matrix product v and the
// bias when v's only use is that add, which Gemm's C then computes: the
// bias is 1-D, of v's columns (dense's).
func (e *exporter) biasAdd(v *ir.Value) (add, bias *ir.Value) {
	if e.results[v] || len(e.users[v]) != 1 {
		return nil, nil
	}
	u := e.users[v][0]
	if u.Op.Name != "add" {
		return nil, nil
	}
	b := u.Args[1]
	if u.Args[1] == v {
		b = u.Args[0]
	}
	if b == v || b.Op.Name != "param" || b.Type.Shape.Rank() != 1 || b.Type.Shape[0] != v.Type.Shape[1] || !u.Type.Shape.Equal(v.Type.Shape) {
		return nil, nil
	}
	return u, b
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mapLogsumexp expands logsumexp as mdlc computes it, max + log(sum(exp(x
// - max))), so that large values do not overflow.
func mapLogsumexp(e *exporter, v *ir.Value, in []string, out string) error {
	axes := v.Attrs.Ints("axes")
	m := e.op("ReduceMax", in, attrInts("axes", axes...), attrInt("keepdims", 1))
	s := e.op("ReduceSum", []string{e.op("Exp", []string{e.op("Sub", []string{in[0], m})}), e.ints(axes...)}, keepdims(v))
	if !v.Attrs.Bool("keepdims") {
		m = e.op("Squeeze", []string{m, e.ints(axes...)})
	}
	e.node("Add", []string{m, e.op("Log", []string{s})}, []string{out})
	return nil
}

// reshapeTarget is Reshape's shape for s: a constant, with -1 for a single
// batch dim N, else computed from N at run time.
func (e *exporter) reshapeTarget(s ir.Shape) (string, error) {
	batch := 0
	dims := make([]int, len(s))
	for i, d := range s {
		dims[i] = int(d)
		if d.IsBatch() {
			batch++
			dims[i] = -1
		}
	}
	if batch == 0 || batch == 1 && slices.Contains(s, ir.N) {
		return e.ints(dims...), nil
	}
	return e.shape(s)
}

// nchw and nhwc are the Transposes between mdlc's NHWC images and ONNX's
// NCHW.
var (
	toNCHW = attrInts("perm", 0, 3, 1, 2)
	toNHWC = attrInts("perm", 0, 2, 3, 1)
)

// toNCHW returns the NCHW Transpose of the NHWC image x, written once for
// all the convolutions and pools that read x.
func (e *exporter) toNCHW(x string) string {
	if t, ok := e.nchw[x]; ok {
		return t
	}
	t := e.op("Transpose", []string{x}, toNCHW)
	e.nchw[x] = t
	return t
}

// mapConv writes Conv between Transposes; the filter is an OIHW
// initializer (see exporter.oihw) or transposed from HWIO by a node.
func mapConv(e *exporter, v *ir.Value, in []string, out string) error {
	a := v.Attrs
	p := a.Ints("pads") // top, bottom, left, right
	w := in[1]
	if !e.oihw[v.Args[1]] {
		w = e.op("Transpose", []string{w}, attrInts("perm", 3, 2, 0, 1))
	}
	ws := v.Args[1].Type.Shape
	x := e.toNCHW(in[0])
	y := e.op("Conv", []string{x, w},
		attrInts("kernel_shape", int(ws[0]), int(ws[1])),
		attrInts("strides", a.Ints("stride")...),
		attrInts("dilations", a.Ints("dilation")...),
		attrInts("pads", p[0], p[2], p[1], p[3]),
		attrInt("group", a.Int("groups")))
	e.node("Transpose", []string{y}, []string{out}, toNHWC)
	return nil
}

// pool maps a 2-D pool between Transposes. Padding never wins in mdlc's
// max pool (MaxPool pads with -inf) and mdlc's average divides by the
// non-padded count (count_include_pad 0).
func pool(op string, extra ...*onnxpb.AttributeProto) mapping {
	return func(e *exporter, v *ir.Value, in []string, out string) error {
		a := v.Attrs
		p := a.Ints("pads")
		x := e.toNCHW(in[0])
		attrs := append([]*onnxpb.AttributeProto{
			attrInts("kernel_shape", a.Ints("size")...),
			attrInts("strides", a.Ints("stride")...),
			attrInts("pads", p[0], p[2], p[1], p[3]),
		}, extra...)
		y := e.op(op, []string{x}, attrs...)
		e.node("Transpose", []string{y}, []string{out}, toNHWC)
		return nil
	}
}

// mapOneHot compares the indices with 0..depth-1: an index out of range
// (negative included) gives a zero row as in mdlc, where ONNX's OneHot
// would wrap negative indices.
func mapOneHot(e *exporter, v *ir.Value, in []string, out string) error {
	depth := v.Attrs.Int("depth")
	name := e.tmp("classes")
	classes := make([]int32, depth)
	for i := range classes {
		classes[i] = int32(i)
	}
	t := tensor(name, onnxpb.TensorProto_INT32, depth)
	t.Int32Data = classes
	e.graph.Initializer = append(e.graph.Initializer, t)
	idx := e.op("Unsqueeze", []string{in[0], e.ints(-1)})
	eq := e.op("Equal", []string{idx, name})
	e.node("Cast", []string{eq}, []string{out}, attrInt("to", int(onnxpb.TensorProto_FLOAT)))
	return nil
}

// mapMaskedSoftmax writes attention's fused scale + causal mask + softmax
// (ir/attention.go) as Mul by the scale, then, when causal, Where with a
// constant [Tq, Tk] lower-triangular mask (key j kept for query i when
// j <= i) putting -inf on the masked keys, then Softmax over the keys:
// masked keys get exactly 0, as in mdlc.
func mapMaskedSoftmax(e *exporter, v *ir.Value, in []string, out string) error {
	s := v.Args[0].Type.Shape
	r := s.Rank()
	scaled := e.op("Mul", []string{in[0], e.scalar(ir.F32, v.Attrs.Float("scale"))})
	if v.Attrs.Bool("causal") {
		tq, tk := s[r-2], s[r-1]
		if tq.IsBatch() || tk.IsBatch() {
			return fmt.Errorf("a causal mask over %s needs fixed query and key lengths", s)
		}
		mask := e.tmp("causal_mask")
		t := tensor(mask, onnxpb.TensorProto_BOOL, int(tq), int(tk))
		t.Int32Data = make([]int32, int(tq)*int(tk))
		for i := 0; i < int(tq); i++ {
			for j := 0; j <= i && j < int(tk); j++ {
				t.Int32Data[i*int(tk)+j] = 1
			}
		}
		e.graph.Initializer = append(e.graph.Initializer, t)
		scaled = e.op("Where", []string{mask, scaled, e.scalar(ir.F32, math.Inf(-1))})
	}
	e.node("Softmax", []string{scaled}, []string{out}, attrInt("axis", -1))
	return nil
}
