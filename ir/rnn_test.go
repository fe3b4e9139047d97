package ir_test

// Tests of the recurrence ops (ir/rnn.go): shape cases, reference kernels
// against values computed by hand from the Keras equations (joined to the
// tables of shapes_test.go and kernels_test.go), and the gradient-check
// grid through 5 and more time steps (rnnGradCases, joined in gradCases).
// The gradcheck's loss weights every slot of the packed sequence, so the
// backward ops are checked with gradients on c and the gates too.

import "github.com/mdlc/mdlc/ir"

var (
	after  = ir.Attrs{"reset_after": true}
	before = ir.Attrs{"reset_after": false}
)

func init() {
	shapeCases = append(shapeCases, []scase{
		{op: "lstm_scan", args: vals(tf32(ir.N, 7, 12), tf32(3, 12)), want: "f32[N, 7, 18]"},
		{op: "lstm_scan", args: vals(tf32(ir.N, 7, 12), tf32(3, 9)), errs: []string{"recurrent kernel", "f32[3, 9]"}},
		{op: "lstm_scan", args: vals(tf32(ir.N, 7, 8), tf32(3, 12)), errs: []string{"input projection", "f32[N, 7, 8]"}},
		{op: "lstm_scan_grad", args: vals(tf32(ir.N, 7, 18), tf32(3, 12), tf32(ir.N, 7, 18)), want: "f32[N, 7, 12]"},
		{op: "lstm_scan_grad", args: vals(tf32(ir.N, 7, 18), tf32(3, 12), tf32(ir.N, 6, 18)), errs: []string{"gradient f32[N, 6, 18]"}},
		{op: "gru_scan", attrs: after, args: vals(tf32(ir.N, 5, 6), tf32(2, 6), tf32(2, 6)), want: "f32[N, 5, 10]"},
		{op: "gru_scan", attrs: after, args: vals(tf32(ir.N, 5, 6), tf32(2, 6)), errs: []string{"reset_after needs 3 args"}},
		{op: "gru_scan", attrs: after, args: vals(tf32(ir.N, 5, 6), tf32(2, 6), tf32(6)), errs: []string{"bias", "f32[6]"}},
		{op: "gru_scan", attrs: before, args: vals(tf32(ir.N, 5, 6), tf32(2, 6)), want: "f32[N, 5, 10]"},
		{op: "gru_scan_grad", attrs: after, args: vals(tf32(ir.N, 5, 10), tf32(2, 6), tf32(ir.N, 5, 10)), want: "f32[N, 5, 8]"},
		{op: "gru_scan_grad", attrs: before, args: vals(tf32(ir.N, 5, 10), tf32(2, 6), tf32(ir.N, 5, 10)), want: "f32[N, 5, 6]"},
		{op: "gru_scan_grad", attrs: after, args: vals(tf32(ir.N, 5, 6), tf32(2, 6), tf32(ir.N, 5, 6)), errs: []string{"packed sequence", "f32[N, 5, 6]"}},
		{op: "gru_scan", attrs: before, args: vals(ti32(ir.N, 5, 6), tf32(2, 6)), errs: []string{"f32"}},
		{op: "gru_scan", attrs: before, args: vals(tf32(ir.N, 5, 6)), errs: []string{"got 1 args"}},
		{op: "gru_scan", attrs: after, args: vals(tf32(ir.N, 5, 6), tf32(2, 6), tf32(2, 6), tf32(2, 6)), errs: []string{"got 4"}},
	}...)

	// One unit, two steps, values from the Keras equations (ir/rnn.go)
	// evaluated by hand in float64: step 0 reads the zero initial state,
	// step 1 the recurrent kernel.
	kernelCases = append(kernelCases, []kcase{
		// i = s(0.5), f = s(-0.5), g = tanh(1), o = s(0.2); c = i g; h = o tanh(c);
		// step 1: z = xproj_1 + h_0 U.
		{name: "lstm_scan/2 steps", build: func(k *kg) *ir.Value {
			return k.op("lstm_scan", nil, k.f32("x", ir.Shape{1, 2, 4}, 0.5, -0.5, 1, 0.2, 0.1, 0.3, -0.4, 0.6), k.f32("U", ir.Shape{1, 4}, 0.5, -1, 2, 0.3))
		}, shape: []int{1, 2, 6}, tol: 1e-12, want: []float64{
			0.242737960490577, 0.474061388963466, 0.622459331201855, 0.377540668798145, 0.761594155955765, 0.549833997312478,
			0.187511367910632, 0.291149217766647, 0.55511734677271, 0.514311599516644, 0.0852683613923261, 0.662134627054224}},
		// z = s(x_z + h U_z + b_z), r likewise, q = h U_h + b_h, hh = tanh(x_h + r q), h = z h + (1-z) hh.
		{name: "gru_scan/reset_after 2 steps", build: func(k *kg) *ir.Value {
			return k.op("gru_scan", after, k.f32("x", ir.Shape{1, 2, 3}, 0.5, -0.5, 1, 0.1, 0.3, -0.4), k.f32("U", ir.Shape{1, 3}, 0.5, -1, 2), k.f32("b", ir.Shape{2, 3}, 0, 0, 0, 0.1, 0.2, -0.3))
		}, shape: []int{1, 2, 5}, tol: 1e-12, want: []float64{
			0.248946786241141, 0.645656306225795, 0.425557483188341, 0.702557405747921, -0.3,
			0.0266155757976634, 0.580414063796467, 0.562435715689581, -0.280935631780679, 0.197893572482282}},
		// hh = tanh(x_h + (r h) U_h); slot 4 is r h.
		{name: "gru_scan/reset_before 2 steps", build: func(k *kg) *ir.Value {
			return k.op("gru_scan", before, k.f32("x", ir.Shape{1, 2, 3}, 0.5, -0.5, 1, 0.1, 0.3, -0.4), k.f32("U", ir.Shape{1, 3}, 0.5, -1, 2))
		}, shape: []int{1, 2, 5}, tol: 1e-12, want: []float64{
			0.287532766992299, 0.622459331201855, 0.377540668798145, 0.761594155955765, 0,
			0.112774461986051, 0.560641605474113, 0.503116767881601, -0.110225207325751, 0.144662556389219}},
		// One step, gradient on h only: dz_o = dh tanh(c) o (1-o), dz_g = dh o (1-tanh^2 c) i (1-g^2), ...
		// With xproj 0: i = f = o = 1/2, g = 0, c = 0: only d a_g = dh o i = 1/4 is non-zero.
		{name: "lstm_scan_grad/one step", build: func(k *kg) *ir.Value {
			seq := k.f32("seq", ir.Shape{1, 1, 6}, 0, 0, 0.5, 0.5, 0, 0.5)
			return k.op("lstm_scan_grad", nil, seq, k.f32("U", ir.Shape{1, 4}, 1, 1, 1, 1), k.f32("g", ir.Shape{1, 1, 6}, 1, 0, 0, 0, 0, 0))
		}, shape: []int{1, 1, 4}, want: []float64{0, 0, 0.25, 0}},
		// One step of the GRU from h_prev = 0 with z = 1/2, hh = 0: d a_z = dh (0 - hh) z(1-z) = 0,
		// d a_h = dh (1-z)(1-hh^2) = 1/2, d q = d a_h r, d a_r = d a_h q r (1-r).
		{name: "gru_scan_grad/one step", build: func(k *kg) *ir.Value {
			seq := k.f32("seq", ir.Shape{1, 1, 5}, 0, 0.5, 0.25, 0, 2)
			return k.op("gru_scan_grad", after, seq, k.f32("U", ir.Shape{1, 3}, 1, 1, 1), k.f32("g", ir.Shape{1, 1, 5}, 1, 0, 0, 0, 0))
		}, shape: []int{1, 1, 4}, want: []float64{0, 0.5 * 2 * 0.25 * 0.75, 0.5 * 0.25, 0.5}},
		{name: "gru_scan_grad/reset_before one step", build: func(k *kg) *ir.Value {
			seq := k.f32("seq", ir.Shape{1, 1, 5}, 0, 0.5, 0.25, 0, 0)
			return k.op("gru_scan_grad", before, seq, k.f32("U", ir.Shape{1, 3}, 1, 1, 1), k.f32("g", ir.Shape{1, 1, 5}, 1, 0, 0, 0, 0))
		}, shape: []int{1, 1, 3}, want: []float64{0, 0, 0.5}},
	}...)
}

// rnnGradCases checks the scans through 5 and more steps, with a batch,
// a single step (no recurrent product), and both GRU variants.
func rnnGradCases() []gradCase {
	var cs []gradCase
	add := func(op, name string, n int, attrs ir.Attrs, args ...argSpec) {
		cs = append(cs, gradCase{op: op, name: name, n: n, args: args, build: opOf(op, attrs)})
	}
	add("lstm_scan", "6 steps 2 units batch 2", 2, nil, f(ir.N, 6, 8), f(2, 8))
	add("lstm_scan", "5 steps 3 units", 1, nil, f(1, 5, 12), f(3, 12))
	add("lstm_scan", "1 step", 1, nil, f(2, 1, 8), f(2, 8))
	add("gru_scan", "reset_after 6 steps 2 units batch 2", 2, after, f(ir.N, 6, 6), f(2, 6), f(2, 6))
	add("gru_scan", "reset_after 1 step", 1, after, f(2, 1, 6), f(2, 6), f(2, 6))
	add("gru_scan", "reset_before 1 step", 1, before, f(1, 1, 3), f(1, 3))
	add("gru_scan", "reset_before 2 steps", 1, before, f(1, 2, 3), f(1, 3))
	add("gru_scan", "reset_before 5 steps 3 units", 1, before, f(1, 5, 9), f(3, 9))
	add("gru_scan", "reset_before 6 steps batch 2", 2, before, f(ir.N, 6, 6), f(2, 6))
	return cs
}
