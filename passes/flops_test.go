package passes_test

import (
	"strings"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
)

// The plan's FLOP counts equal the products counted by hand: every GEMM
// and convolution of the forward pass, and of the training step (forward,
// the backward GEMMs and convolutions except the input image's gradient,
// which nothing needs).
func TestPlanFlops(t *testing.T) {
	const n = 32
	for _, c := range []struct {
		path             string
		forward, convFwd float64 // per example
		step, convStep   float64 // per step at batch n
	}{{
		path:    "../examples/mnist_mlp/mnist_mlp.mdl",
		forward: 2 * (784*256 + 256*10),
		// forward; dHidden = dLogits @ W2^T; dW2, dW1 (no gradient of the image)
		step: n * 2 * (784*256 + 256*10 + 10*256 + 256*10 + 784*256),
	}, {
		path: "../examples/fashion_cnn/fashion_cnn.mdl",
		// conv 3x3x1 -> 26x26x32, conv 3x3x32 -> 11x11x64; dense 1600x128, 128x10
		forward: 2 * (26*26*32*9 + 11*11*64*288 + 1600*128 + 128*10),
		convFwd: 2 * (26*26*32*9 + 11*11*64*288),
		// each convolution's filter gradient, the second's input gradient;
		// each dense's weight and input gradients
		step:     n * 2 * (3*(26*26*32*9+11*11*64*288) - 26*26*32*9 + 3*(1600*128+128*10)),
		convStep: n * 2 * (3*(26*26*32*9+11*11*64*288) - 26*26*32*9),
	}} {
		g := lowerExample(t, c.path)
		ctx, err := passes.Run(g, passes.Options{MaxBatch: n})
		if err != nil {
			t.Fatal(err)
		}
		st := ctx.Stats
		for _, v := range []struct {
			what      string
			got, want float64
		}{
			{"forward", st.Flops[ir.EntryForward] / n, c.forward},
			{"forward in convolutions", st.ConvFlops[ir.EntryForward] / n, c.convFwd},
			{"step", st.Flops[ir.EntryStep], c.step},
			{"step in convolutions", st.ConvFlops[ir.EntryStep], c.convStep},
		} {
			if v.got != v.want {
				t.Errorf("%s: %s FLOPs %.0f, counted by hand %.0f", c.path, v.what, v.got, v.want)
			}
		}
		if line := st.Format(st.Ops); !strings.Contains(line, "flops:  ") || !strings.Contains(line, "per training step at batch 32") {
			t.Errorf("%s: the report has no FLOP line:\n%s", c.path, line)
		}
	}
}
