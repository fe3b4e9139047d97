package runtime

// DTypes of model inputs and outputs.
const (
	F32 = "f32"
	I32 = "i32"
)

// IO describes one input, target, output, metric, parameter or state tensor
// of a model.
type IO struct {
	Name  string
	DType string // F32 or I32
	// Shape uses -1 for the batch axis N; a multiple k*N is written -k.
	Shape []int
	Role  string // "input", "target", "output", "metric", "param" or "state"
}

// PerExample is the element count of one example of the value (the shape
// with N = 1), and whether it has the batch axis: a value without it (a
// mask, a lookup table) is the same for every example and passed whole.
func (io IO) PerExample() (n int, batched bool) {
	n = 1
	for _, d := range io.Shape {
		if d < 0 {
			n *= -d
			batched = true
		} else {
			n *= d
		}
	}
	return n, batched
}

// Spec describes a compiled model.
type Spec struct {
	Name     string
	MaxBatch int
	Inputs   []IO // inputs then targets, in declaration order
	Outputs  []IO
	Metrics  []string
	Params   []IO
	State    []IO
	// Optimizer is the optimizer the model was compiled with; nil when it
	// has none (it cannot be trained).
	Optimizer *Optimizer
}

// Batch carries one Value per Spec.Inputs entry, in order.
type Batch []Value

// Value holds F32 data for an f32 input and I32 data for an i32 one.
type Value struct {
	F32 []float32
	I32 []int32
}

// Model is what every generated model package's model satisfies.
type Model interface {
	Spec() Spec
	// Train runs one optimizer step on the first n examples of b.
	Train(b Batch, n int) (loss float32, err error)
	// Evaluate computes the loss and fills metrics (len(Spec().Metrics))
	// without updating anything.
	Evaluate(b Batch, n int, metrics []float32) (loss float32, err error)
	// Predict fills outputs, one per Spec().Outputs; targets in b may be nil.
	Predict(b Batch, n int, outputs [][]float32) error
	// Params returns views of the live parameters.
	Params() []Tensor
	Save(path string) error
	Load(path string) error
}
