package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/train"
)

// stripesModel is a small dense classifier of 8x8 gray images.
const stripesModel = `// Two classes of 8x8 gray images.
model Stripes {
    input  image: f32[N, 8, 8, 1]
    target label: i32[N]
    hidden = relu(dense(flatten(image), 16))
    logits = dense(hidden, 2)
    output probs = softmax(logits)
    loss cross_entropy(logits, label)
    metric accuracy(logits, label)
    optimizer adam(lr: 0.01)
}
`

// otherModel has the same input but other parameters.
const otherModel = `model Other {
    input  image: f32[N, 8, 8, 1]
    target label: i32[N]
    logits = dense(flatten(image), 2)
    output probs = softmax(logits)
    loss cross_entropy(logits, label)
    optimizer sgd(lr: 0.1)
}
`

// stripes writes n PNGs of horizontal stripes into dir/horizontal and n of
// vertical ones into dir/vertical, each with a random phase and noise.
func stripes(t *testing.T, dir string, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, class := range []string{"horizontal", "vertical"} {
		cdir := filepath.Join(dir, class)
		if err := os.MkdirAll(cdir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			img := image.NewGray(image.Rect(0, 0, 8, 8))
			phase := rng.IntN(2)
			for y := range 8 {
				for x := range 8 {
					k := y
					if class == "vertical" {
						k = x
					}
					v := 40 + rng.IntN(40)
					if (k+phase)%2 == 0 {
						v = 180 + rng.IntN(60)
					}
					img.SetGray(x, y, color.Gray{Y: uint8(v)})
				}
			}
			f, err := os.Create(filepath.Join(cdir, fmt.Sprintf("%03d.png", i)))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
}

// TestTrainEvalPredict runs mdlc train, eval and predict end to end on an
// image folder written here, then bad inputs.
func TestTrainEvalPredict(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a trainer program")
	}
	dir := t.TempDir()
	t.Setenv("MDLC_CACHE", filepath.Join(dir, "cache"))
	mdl := filepath.Join(dir, "stripes.mdl")
	if err := os.WriteFile(mdl, []byte(stripesModel), 0o644); err != nil {
		t.Fatal(err)
	}
	imgs := filepath.Join(dir, "images")
	stripes(t, imgs, 40)
	// A truncated PNG and a file that is not an image are skipped with a
	// warning (an error with -strict).
	good, _ := os.ReadFile(filepath.Join(imgs, "vertical", "000.png"))
	os.WriteFile(filepath.Join(imgs, "vertical", "truncated.png"), good[:len(good)/2], 0o644)
	os.WriteFile(filepath.Join(imgs, "horizontal", "notes.txt"), []byte("not an image"), 0o644)
	ckpt := filepath.Join(dir, "out", "stripes.safetensors")
	logs := filepath.Join(dir, "logs")

	code, out, errs := mdlc("train", mdl, "-data", imgs, "-epochs", "6", "-batch", "16", "-checkpoint", ckpt, "-logdir", logs,
		"-augment", "width_shift=0.1,zoom=0.1")
	if code != exitOK {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("train:\n%s%s", out, errs)
	for _, want := range []string{"epoch 6/6", "val_loss", "precision", "recall", "f1-score", "horizontal", "vertical"} {
		if !strings.Contains(out, want) {
			t.Errorf("train output lacks %q", want)
		}
	}
	if !strings.Contains(errs, "truncated.png: skipped: ") || !strings.Contains(errs, "notes.txt: skipped: not an image file name") {
		t.Errorf("no warnings for the bad files:\n%s", errs)
	}
	if !strings.Contains(errs, "mdlc: built ") {
		t.Errorf("the first run did not report its build:\n%s", errs)
	}
	b, err := os.ReadFile(train.HistoryPath(ckpt))
	if err != nil {
		t.Fatal(err)
	}
	var hist map[string][]*float64
	if err := json.Unmarshal(b, &hist); err != nil {
		t.Fatal(err)
	}
	if acc := hist["val_accuracy"]; len(acc) != 6 || *acc[5] < 0.9 {
		t.Errorf("validation accuracy %v, want >= 0.9 at epoch 6", deref(acc))
	}
	for _, p := range []string{ckpt, train.BestPath(ckpt), filepath.Join(logs, "loss.png"), filepath.Join(logs, "confusion.png"), filepath.Join(logs, "history.csv")} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}

	// A second run reuses the trainer; -resume continues at epoch 7.
	code, out, errs = mdlc("train", mdl, "-data", imgs, "-epochs", "7", "-batch", "16", "-checkpoint", ckpt, "-resume",
		"-augment", "width_shift=0.1,zoom=0.1")
	if code != exitOK || strings.Contains(errs, "mdlc: built") || !strings.Contains(out, "epoch 7/7") || strings.Contains(out, "epoch 6/7") {
		t.Errorf("resumed train: exit %d\n%s\n%s", code, out, errs)
	}

	code, out, errs = mdlc("eval", mdl, "-checkpoint", ckpt, "-data", imgs)
	if code != exitOK || !strings.Contains(out, "accuracy") || !strings.Contains(out, "80 examples") {
		t.Errorf("eval: exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("eval:\n%s", out)

	inputs := []string{filepath.Join(imgs, "horizontal", "000.png"), filepath.Join(imgs, "vertical", "001.png")}
	code, out, errs = mdlc(append([]string{"predict", mdl, "-checkpoint", ckpt}, inputs...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) != 3 || lines[0] != "input,class,horizontal,vertical" ||
		!strings.HasPrefix(lines[1], inputs[0]+",horizontal,") || !strings.HasPrefix(lines[2], inputs[1]+",vertical,") {
		t.Errorf("predict: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = mdlc(append([]string{"predict", mdl, "-checkpoint", ckpt, "-json"}, inputs...)...)
	var preds []struct {
		Input, Class string
		Scores       map[string]float64
	}
	if err := json.Unmarshal([]byte(out), &preds); code != exitOK || err != nil || len(preds) != 2 || preds[1].Class != "vertical" {
		t.Errorf("predict -json: exit %d, %v\n%s\n%s", code, err, out, errs)
	}

	// Bad input.
	other := filepath.Join(dir, "other.mdl")
	os.WriteFile(other, []byte(otherModel), 0o644)
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"train", mdl, "-data", filepath.Join(dir, "missing")}, exitError, "missing: no such file or directory"},
		{[]string{"train", mdl}, exitUsage, "want -data PATH"},
		{[]string{"train", "-data", imgs, "-epochs", "x", mdl}, exitUsage, "invalid value"},
		{[]string{"train", "-data", imgs}, exitUsage, "no MODEL.mdl file"},
		{[]string{"train", mdl, "-data", imgs, "-frobnicate"}, exitUsage, "flag provided but not defined: -frobnicate"},
		{[]string{"train", mdl, "-data", imgs, "-augment", "spin=3"}, exitError, `unknown "spin"`},
		{[]string{"train", mdl, "-data", imgs, "-strict"}, exitError, "truncated.png: not a readable png image"},
		{[]string{"eval", other, "-checkpoint", ckpt, "-data", imgs}, exitError, "Stripes"},
		{[]string{"eval", mdl, "-data", imgs}, exitUsage, "-checkpoint is required"},
		{[]string{"predict", mdl, "-checkpoint", ckpt, mdl}, exitError, "not an image file name"},
	} {
		code, out, errs := mdlc(c.args...)
		if code != c.code || !strings.Contains(errs, c.err) {
			t.Errorf("mdlc %s: exit %d, want %d and %q\n%s\n%s", strings.Join(c.args, " "), code, c.code, c.err, out, errs)
		}
	}
}

func TestModelCommandHelp(t *testing.T) {
	for _, name := range []string{"train", "eval", "predict"} {
		code, out, _ := mdlc(name, "-h")
		if code != exitOK || !strings.Contains(out, "usage: mdlc "+name) || !strings.Contains(out, "Go toolchain") || !strings.Contains(out, "-checkpoint") {
			t.Errorf("mdlc %s -h: exit %d\n%s", name, code, out)
		}
	}
}

func deref(vs []*float64) []float64 {
	var r []float64
	for _, v := range vs {
		if v != nil {
			r = append(r, *v)
		}
	}
	return r
}
