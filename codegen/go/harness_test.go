package gogen_test

// The numerics harness: compile generated packages for many graphs into one
// temporary module with a driver program, run it once, and compare what the
// float32 generated code computes with the float64 reference interpreter.

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gogen "github.com/mdlc/mdlc/codegen/go"
	"github.com/mdlc/mdlc/internal/gotool"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/eval"
	"github.com/mdlc/mdlc/passes"
)

// harnessCase is one graph to compare.
type harnessCase struct {
	name  string
	g     *ir.Graph // the step graph
	n     int       // batch size of the run
	max   int       // compiled maximum batch
	seed  uint64
	steps int
	vec   int  // gogen.Options.VecMinLen
	noAsm bool // gogen.Options.NoAsm
	split int  // gogen.Options.SplitMin
	// glorot scales each param of rank >= 2 drawn uniform in [-1, 1] by
	// 1/sqrt(fan-in) (every axis but the last), as glorot's limit does:
	// attention over a width of 128 with unscaled weights saturates its
	// softmax, leaving q and k gradients of pure rounding that Adam turns
	// into whole steps.
	glorot bool
	// slack allows params after the steps 10x the tolerance, as optimizer
	// state is: Adam divides each gradient element by its own magnitude,
	// so the float32 rounding of a small element of a deep model's
	// gradient (4 attention layers, or 64 steps of a recurrence, of sums
	// of thousands of products) becomes a relative error of the param's
	// step.
	slack bool
	resp  *response // filled in by runHarness
}

// request and response are the driver's wire format.
type request struct {
	ForwardOnly bool // a model without a loss
	Model       string
	N           int
	Steps       int
	Params      map[string][]float32
	State       map[string][]float32
	Inputs      []value
}

type value struct {
	F32 []float32
	I32 []int32
}

type response struct {
	Err      string
	Outputs  [][]float32
	Loss     float32
	Metrics  []float32
	StepLoss float32
	Grads    map[string][]float32
	Params   map[string][]float32
	State    map[string][]float32
}

const driverSrc = `package main

import (
	"encoding/gob"
	"fmt"
	"os"

	rt "github.com/mdlc/mdlc/runtime"
%s)

type model interface {
	rt.Model
	Grads() []rt.Tensor
	State() []rt.Tensor
}

var models = map[string]func() model{
%s}

type request struct {
	ForwardOnly bool // a model without a loss
	Model  string
	N      int
	Steps  int
	Params map[string][]float32
	State  map[string][]float32
	Inputs []rt.Value
}

type response struct {
	Err      string
	Outputs  [][]float32
	Loss     float32
	Metrics  []float32
	StepLoss float32
	Grads    map[string][]float32
	Params   map[string][]float32
	State    map[string][]float32
}

func set(ts []rt.Tensor, vals map[string][]float32, prefix string) error {
	for _, t := range ts {
		v, ok := vals[t.Name]
		if !ok || len(v) != len(t.Data) {
			return fmt.Errorf("no value of size %%d for %%s", len(t.Data), t.Name)
		}
		copy(t.Data, v)
	}
	return nil
}

func get(ts []rt.Tensor) map[string][]float32 {
	out := map[string][]float32{}
	for _, t := range ts {
		out[t.Name] = append([]float32(nil), t.Data...)
	}
	return out
}

func run(r request) (resp response) {
	m := models[r.Model]()
	fail := func(err error) response { return response{Err: err.Error()} }
	if err := set(m.Params(), r.Params, ""); err != nil {
		return fail(err)
	}
	if err := set(m.State(), r.State, ""); err != nil {
		return fail(err)
	}
	spec := m.Spec()
	for _, o := range spec.Outputs {
		size := 1
		for _, d := range o.Shape {
			if d < 0 {
				size *= -d * r.N
			} else {
				size *= d
			}
		}
		resp.Outputs = append(resp.Outputs, make([]float32, size))
	}
	if err := m.Predict(rt.Batch(r.Inputs), r.N, resp.Outputs); err != nil {
		return fail(err)
	}
	if r.ForwardOnly {
		return resp
	}
	resp.Metrics = make([]float32, len(spec.Metrics))
	var err error
	if resp.Loss, err = m.Evaluate(rt.Batch(r.Inputs), r.N, resp.Metrics); err != nil {
		return fail(err)
	}
	for i := 0; i < r.Steps; i++ {
		loss, err := m.Train(rt.Batch(r.Inputs), r.N)
		if err != nil {
			return fail(err)
		}
		if i == 0 {
			resp.StepLoss = loss
			resp.Grads = get(m.Grads())
		}
	}
	resp.Params = get(m.Params())
	resp.State = get(m.State())
	return resp
}

func main() {
	var reqs []request
	f, err := os.Open(os.Args[1])
	if err == nil {
		err = gob.NewDecoder(f).Decode(&reqs)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var resps []response
	for _, r := range reqs {
		resps = append(resps, run(r))
	}
	if err := gob.NewEncoder(os.Stdout).Encode(resps); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// f32 rounds a binding to float32 values, so both sides see the same inputs.
func f32(bind map[string]*ir.Tensor) {
	for _, t := range bind {
		for i, x := range t.Data {
			t.Data[i] = float64(float32(x))
		}
	}
}

func toF32(xs []float64) []float32 {
	out := make([]float32, len(xs))
	for i, x := range xs {
		out[i] = float32(x)
	}
	return out
}

// runHarness generates, builds and runs all cases, then compares each with
// the interpreter. It returns the per-case error reports (empty = all agree).
func runHarness(t *testing.T, cases []harnessCase, tol float64) map[string][]string {
	t.Helper()
	dir := gotool.TempModule(t, "mdlcharness")
	var imports, entries strings.Builder
	var reqs []request
	binds := make([]map[string]*ir.Tensor, len(cases))
	for i, c := range cases {
		pkg := fmt.Sprintf("m%d", i)
		files, err := gogen.Generate(c.g, gogen.Options{Package: pkg, Source: c.name + ".mdl", Version: "test", VecMinLen: c.vec, NoAsm: c.noAsm, SplitMin: c.split})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		os.MkdirAll(filepath.Join(dir, pkg), 0o755)
		for name, src := range files {
			if err := os.WriteFile(filepath.Join(dir, pkg, name), src, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintf(&imports, "\t%s \"mdlcharness/%s\"\n", pkg, pkg)
		fmt.Fprintf(&entries, "\t%q: func() model { return %s.New() },\n", pkg, pkg)
		bind := eval.Random(c.g, c.n, c.seed, eval.Classes(c.g))
		for _, v := range c.g.State() {
			if strings.HasPrefix(v.Name, passes.StatePrefix) {
				clear(bind[v.Name].Data) // optimizer state starts at zero (v >= 0 matters)
				continue
			}
			for i, x := range bind[v.Name].Data { // a layer's moving statistics: a variance is positive
				bind[v.Name].Data[i] = math.Abs(x) + 0.25
			}
		}
		tameRecurrence(c.g, bind)
		if c.glorot {
			for _, v := range c.g.Params() {
				if s := v.Type.Shape; s.Rank() >= 2 {
					fanIn, _ := s[:s.Rank()-1].Size()
					for j := range bind[v.Name].Data {
						bind[v.Name].Data[j] /= math.Sqrt(float64(fanIn))
					}
				}
			}
		}
		f32(bind)
		binds[i] = bind
		r := request{ForwardOnly: c.g.Loss() == nil, Model: pkg, N: c.n, Steps: c.steps, Params: map[string][]float32{}, State: map[string][]float32{}}
		for _, v := range c.g.Params() {
			r.Params[v.Name] = toF32(bind[v.Name].Data)
		}
		for _, v := range c.g.State() {
			r.State[v.Name] = toF32(bind[v.Name].Data)
		}
		for _, v := range c.g.Inputs() {
			var val value
			if v.Type.DType == ir.I32 {
				for _, x := range bind[v.Name].Data {
					val.I32 = append(val.I32, int32(x))
				}
			} else {
				val.F32 = toF32(bind[v.Name].Data)
			}
			r.Inputs = append(r.Inputs, val)
		}
		reqs = append(reqs, r)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(fmt.Sprintf(driverSrc, imports.String(), entries.String())), 0o644); err != nil {
		t.Fatal(err)
	}
	var data bytes.Buffer
	if err := gob.NewEncoder(&data).Encode(reqs); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "requests.gob"), data.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	gotool.Go(t, dir, nil, "build", "-o", "driver", ".")
	// vet's asmdecl matches the generated model_amd64.s with its declarations.
	gotool.Go(t, dir, nil, "vet", "-asmdecl", "./...")
	cmd := exec.Command(filepath.Join(dir, "driver"), filepath.Join(dir, "requests.gob"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("driver: %v\n%s", err, stderr.String())
	}
	var resps []response
	if err := gob.NewDecoder(&stdout).Decode(&resps); err != nil {
		t.Fatalf("driver output: %v", err)
	}
	report := map[string][]string{}
	for i, c := range cases {
		report[c.name] = compareCase(c, binds[i], resps[i], tol)
		cases[i].resp = &resps[i]
	}
	return report
}

// relErr is max|a-b| / max(max|b|, 1e-6): normwise, so tiny elements of a
// large tensor do not dominate.
func relErr(a []float32, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var maxDiff, maxRef float64
	for i := range b {
		d := math.Abs(float64(a[i]) - b[i])
		if math.IsNaN(d) {
			if math.IsNaN(b[i]) && math.IsNaN(float64(a[i])) {
				continue
			}
			return math.Inf(1)
		}
		maxDiff = max(maxDiff, d)
		maxRef = max(maxRef, math.Abs(b[i]))
	}
	return maxDiff / max(maxRef, 1e-6)
}

func compareCase(c harnessCase, bind map[string]*ir.Tensor, r response, tol float64) []string {
	var bad []string
	if r.Err != "" {
		return []string{"driver error: " + r.Err}
	}
	check := func(what string, got []float32, want []float64) {
		if e := relErr(got, want); !(e <= tol) {
			bad = append(bad, fmt.Sprintf("%s: rel err %.3g (got %v, want %v)", what, e, head(got), head64(want)))
		}
	}
	env, err := eval.Run(c.g, c.n, bind)
	if err != nil {
		return []string{"interpreter: " + err.Error()}
	}
	for i, o := range c.g.ResultsOf(ir.ResultOutput) {
		check("output "+o.Name, r.Outputs[i], env[o.Value].Data)
	}
	if l := c.g.Loss(); l != nil {
		check("loss (Eval)", []float32{r.Loss}, env[l].Data)
		check("loss (TrainStep)", []float32{r.StepLoss}, env[c.g.TrainLoss()].Data)
	}
	for i, m := range c.g.ResultsOf(ir.ResultMetric) {
		check("metric "+m.Name, r.Metrics[i:i+1], env[m.Value].Data)
	}
	if c.steps > 0 {
		for _, gr := range c.g.ResultsOf(ir.ResultGrad) {
			check("grad "+gr.Name, r.Grads[gr.Name], env[gr.Value].Data)
		}
		cur := bind
		for s := 0; s < c.steps; s++ {
			if _, cur, err = eval.Step(c.g, c.n, cur); err != nil {
				return []string{"interpreter step: " + err.Error()}
			}
		}
		for _, v := range c.g.Params() {
			what := fmt.Sprintf("param %s after %d steps", v.Name, c.steps)
			if e := relErr(r.Params[v.Name], cur[v.Name].Data); c.slack && e <= 10*tol {
				continue
			}
			check(what, r.Params[v.Name], cur[v.Name].Data)
		}
		// Optimizer state integrates gradients over the steps, including
		// ones that cancel to near zero in a reduction, so its float32
		// rounding is allowed 10x the tolerance of params.
		for _, v := range c.g.State() {
			if e := relErr(r.State[v.Name], cur[v.Name].Data); !(e <= 10*tol) {
				bad = append(bad, fmt.Sprintf("state %s after %d steps: rel err %.3g", v.Name, c.steps, e))
			}
		}
	}
	return bad
}

func head(x []float32) []float32 {
	if len(x) > 4 {
		return x[:4]
	}
	return x
}

func head64(x []float64) []float64 {
	if len(x) > 4 {
		return x[:4]
	}
	return x
}

func relErr32(a, b []float32) float64 {
	b64 := make([]float64, len(b))
	for i, x := range b {
		b64[i] = float64(x)
	}
	return relErr(a, b64)
}

// tameRecurrence scales, in a model with a recurrence (ir/rnn.go), every
// matrix param by 1/sqrt(its rows), as glorot does: with uniform [-1, 1]
// weights a wide LSTM over many steps (examples/charlstm: 128 units, 64
// steps) is chaotic, and float32 rounding alone moves its loss past any
// tolerance, whatever the code.
func tameRecurrence(g *ir.Graph, bind map[string]*ir.Tensor) {
	if !recurs(g) {
		return
	}
	for _, p := range g.Params() {
		if s := p.Type.Shape; s.Rank() == 2 {
			for i := range bind[p.Name].Data {
				bind[p.Name].Data[i] /= math.Sqrt(float64(s[0]))
			}
		}
	}
}
