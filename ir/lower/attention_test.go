package lower_test

import (
	"strings"
	"testing"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/ir/lower"
)

// TestGradcheckAttention checks the attention layers' gradients (scaled
// dot product, causal mask, several heads, cross attention with more keys
// than queries) and a weight used twice: an embedding table tied to the
// output projection, whose gradient is the sum of both uses.
func TestGradcheckAttention(t *testing.T) {
	cases := map[string]string{
		"causal": `model A {
    input  x: f32[N, 4, 6]
    target y: f32[N, 4, 6]
    h = attention(x, heads: 3)
    loss mse(h, y)
    optimizer sgd(lr: 0.1)
}`,
		"not_causal_no_bias": `model A {
    input  x: f32[N, 3, 4]
    target y: f32[N, 3, 4]
    h = attention(tanh(x), 2, causal: false, bias: false)
    loss mse(h, y)
    optimizer sgd(lr: 0.1)
}`,
		"cross": `model A {
    input  q: f32[N, 2, 4]
    input  kv: f32[N, 5, 3]
    target y: f32[N, 2, 4]
    h = multi_head_attention(q, kv, heads: 2)
    loss mse(h, y)
    optimizer sgd(lr: 0.1)
}`,
		"cross_causal": `model A {
    input  q: f32[N, 3, 4]
    target y: f32[N, 3, 4]
    h = multi_head_attention(q, q * 2, 4, causal: true)
    loss mse(h, y)
    optimizer sgd(lr: 0.1)
}`,
		"tied": `model A {
    input  tokens: i32[N, 3]
    target next: i32[N, 3]
    param  emb: f32[7, 4] = normal(0.5)
    h = gather(emb, tokens) + attention(gather(emb, tokens), heads: 2)
    loss cross_entropy(h @ transpose(emb), next)
    optimizer sgd(lr: 0.1)
}`,
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) { gradcheck(t, name+".mdl", []byte(src), 2) })
	}
}

// TestAttentionParams: the layer's parameters, their names and shapes.
func TestAttentionParams(t *testing.T) {
	src := `model A {
    input  x: f32[N, 4, 8]
    input  m: f32[N, 6, 5]
    a = attention(x, heads: 2)
    c = multi_head_attention(a, m, heads: 4, bias: false)
    output c
}`
	gs, diags := lower.Source("a.mdl", []byte(src))
	if len(diags) > 0 {
		t.Fatalf("%s", diags.Format(dsl.Sources{"a.mdl": []byte(src)}))
	}
	var got []string
	for _, p := range gs[0].Params() {
		got = append(got, p.Name+p.Type.Shape.String())
	}
	want := "a.wqkv[8, 24] a.bqkv[24] a.wo[8, 8] a.bo[8] c.wq[8, 8] c.wkv[5, 16] c.wo[8, 8]"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("params:\n got %s\nwant %s", s, want)
	}
}

// TestAttentionErrors: bad arguments get positioned errors.
func TestAttentionErrors(t *testing.T) {
	for src, want := range map[string]string{
		`h = attention(x, heads: 3)`:                 "3 heads do not divide the width 8",
		`h = attention(reshape(x, N, 32), heads: 2)`: "needs a sequence [N, T, D]",
		`h = multi_head_attention(x, x, heads: 0)`:   "heads must be at least 1",
		`h = attention(x, heads: 2, causal: 1)`:      "causal must be true or false",
	} {
		full := "model A {\n    input x: f32[N, 4, 8]\n    " + src + "\n    output h\n}\n"
		_, diags := lower.Source("e.mdl", []byte(full))
		if len(diags) == 0 || !strings.Contains(diags.Format(dsl.Sources{"e.mdl": []byte(full)}), want) {
			t.Errorf("%s: want an error containing %q, got %v", src, want, diags)
		}
	}
}
