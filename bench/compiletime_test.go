package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mdlc/mdlc/compile"
)

// RepeatModel is a model of K layers, each adding a bias parameter and a
// tanh (one Adam-trained param per layer): the deepest chain the language
// makes from a few lines, which exposes any pass whose cost grows faster
// than the graph.
func RepeatModel(k int) string {
	return fmt.Sprintf(`const D = 64
def f(h: f32[N, D]) {
    return tanh(h + param b: f32[D] = zeros)
}
model Rep {
    input  x: f32[N, D]
    target y: f32[N, D]
    h = x
    repeat %d { h = f(h) }
    loss mse(h, y)
    optimizer adam(lr: 1e-3)
}
`, k)
}

// StatementsModel is a model of n statements h = h * s + 1 on one scalar
// parameter s (SGD), written as repeat blocks of ten statements: the
// source stays small (a file holds at most 524,288 tokens), the graph has
// n of them.
func StatementsModel(n int) string {
	src := "model Stmts {\n    input  x: f32[N, 16]\n    target y: f32[N, 16]\n    param  s: f32 = 1\n    h = x\n"
	src += fmt.Sprintf("    repeat %d {\n", n/10) + strings.Repeat("        h = h * s + 1\n", 10) + "    }\n"
	src += strings.Repeat("    h = h * s + 1\n", n%10)
	return src + "    loss mse(h, y)\n    optimizer sgd(lr: 0.01)\n}\n"
}

// GPT2SmallModel is a GPT-2 small sized model: 12 blocks of width 768
// (single-head attention from dense layers and matmuls, layer norms, a GELU
// MLP of width 3072), vocabulary 50257, context 128; 162M parameters.
const GPT2SmallModel = `const V = 50257, T = 128, D = 768, F = 3072
def block(x: f32[N, T, D]) {
    a = layer_norm(x)
    q = dense(a, D)
    k = dense(a, D)
    v = dense(a, D)
    att = softmax(q @ transpose(k) * 0.036)
    o = dense(att @ v, D)
    x = x + o
    m = layer_norm(x)
    u = gelu(dense(m, F))
    p = dense(u, D)
    return x + p
}
model GPT2Small {
    input  tokens: i32[N, T]
    target next: i32[N, T]
    h = embedding(tokens, V, D) + param pos: f32[T, D] = normal(0.02)
    repeat 12 { h = block(h) }
    hn = layer_norm(h)
    logits = dense(hn, V)
    loss cross_entropy(logits, next)
    optimizer adamw(lr: 3e-4, weight_decay: 0.1)
}
`

// build compiles src as mdlc build does (Go target, -O2): compile.Load
// and compile.Plan (the passes), then compile.Generate (the Go backend),
// and returns the time of each part.
func build(b *testing.B, name, src string) (passes, codegen time.Duration) {
	t0 := time.Now()
	g, _, err := compile.Load(name, []byte(src), "")
	if err != nil {
		b.Fatal(err)
	}
	opt := compile.BuildOptions{Package: "model"}
	if _, err := compile.Plan(g, opt.Options); err != nil {
		b.Fatal(err)
	}
	t1 := time.Now()
	if _, err := compile.Generate(g, name, opt); err != nil {
		b.Fatal(err)
	}
	return t1.Sub(t0), time.Since(t1)
}

// timed returns a benchmark of build(src) that reports its two parts.
func timed(name, src string) func(*testing.B) {
	return func(b *testing.B) {
		var passes, codegen time.Duration
		for b.Loop() {
			p, c := build(b, name, src)
			passes, codegen = passes+p, codegen+c
		}
		b.ReportMetric(passes.Seconds()/float64(b.N), "passes-s/op")
		b.ReportMetric(codegen.Seconds()/float64(b.N), "codegen-s/op")
	}
}

// BenchmarkBuildRepeat times a whole build (what compile.Build runs) of
// RepeatModel(K) for K = 500 .. 8000, and of the GPT-2 small sized model,
// and reports its two parts: parse, lower and passes (passes-s/op), and
// the Go backend (codegen-s/op). bench/compiletime.sh prints the growth
// table.
func BenchmarkBuildRepeat(b *testing.B) {
	for _, k := range []int{500, 1000, 2000, 4000, 8000} {
		b.Run(fmt.Sprintf("K=%d", k), timed("rep.mdl", RepeatModel(k)))
	}
	b.Run("gpt2small", timed("gpt2.mdl", GPT2SmallModel))
}

// BenchmarkBuildStatements times the build of StatementsModel(n): 100,000
// statements take about a gigabyte for the passes and several for the Go
// backend, which formats the whole generated file (over 100 MB).
func BenchmarkBuildStatements(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("n=%d", n), timed("stmts.mdl", StatementsModel(n)))
	}
}
