package curves

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sample() *History {
	var h History
	h.Add(1, Value{"loss", 0.75}, Value{"accuracy", 0.5}, Value{"val_loss", 0.875}, Value{"val_accuracy", 0.25}, Value{"lr", 0.001})
	h.Add(2, Value{"loss", 0.5}, Value{"accuracy", 0.625}, Value{"val_loss", math.NaN()}, Value{"lr", 0.0005})
	h.Add(3, Value{"loss", 0.25}, Value{"accuracy", 0.875}, Value{"val_loss", 0.5}, Value{"val_accuracy", 0.75}, Value{"lr", 0.00025}, Value{"top_5, %", 1})
	return &h
}

func TestCSV(t *testing.T) {
	var b bytes.Buffer
	if err := sample().WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	want := `epoch,loss,accuracy,val_loss,val_accuracy,lr,"top_5, %"
1,0.75,0.5,0.875,0.25,0.001,
2,0.5,0.625,NaN,,0.0005,
3,0.25,0.875,0.5,0.75,0.00025,1
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestJSON(t *testing.T) {
	var b bytes.Buffer
	h := sample()
	if err := h.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	want := `{"epoch": [1, 2, 3], "loss": [0.75, 0.5, 0.25], "accuracy": [0.5, 0.625, 0.875], "val_loss": [0.875, null, 0.5], "val_accuracy": [0.25, null, 0.75], "lr": [0.001, 0.0005, 0.00025], "top_5, %": [null, null, 1]}
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}

	back, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	// NaN is written as null, so it reads back as missing.
	delete(h.Rows[1].Values, "val_loss")
	if !reflect.DeepEqual(back, h) {
		t.Errorf("read back %+v\nwant %+v", back, h)
	}

	for _, bad := range []string{`[]`, `{"epoch": [1], "loss": [1, 2]}`, `{"loss": [1], "loss": [2], "epoch": [1]}`, `{"epoch": [1], "loss": ["x"]}`, `{"epoch": [1]`} {
		if _, err := ReadJSON(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadJSON(%s): no error", bad)
		}
	}
}

func TestQuantities(t *testing.T) {
	var h History
	h.Add(1, Value{"loss", 1}, Value{"val_loss", 1}, Value{"val_auc", 1}, Value{"lr", 1})
	if got, want := h.Quantities(), []string{"loss", "val_auc", "lr"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Quantities() = %v, want %v", got, want)
	}
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// hasColor reports whether img has a pixel within 8 of c in every channel.
func hasColor(img image.Image, c color.RGBA) bool {
	near := func(a uint32, b uint8) bool { d := int(a>>8) - int(b); return d > -8 && d < 8 }
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			if near(pr, c.R) && near(pg, c.G) && near(pb, c.B) {
				return true
			}
		}
	}
	return false
}

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	paths, err := sample().WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	want := []string{"history.csv", "history.json", "loss.png", "accuracy.png", "lr.png", "top_5___.png"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("files %v, want %v", names, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(want) {
		t.Errorf("%d entries in %s, want %d (no temporary files left)", len(entries), dir, len(want))
	}
	for _, p := range paths[2:] {
		img := decodePNG(t, p)
		if got := img.Bounds().Size(); got != image.Pt(576, 384) {
			t.Errorf("%s: size %v, want 576x384", p, got)
		}
	}
	// loss.png has both curves; lr.png only the training one.
	loss := decodePNG(t, paths[2])
	if !hasColor(loss, trainColor) || !hasColor(loss, valColor) {
		t.Error("loss.png lacks a training or validation curve")
	}
	if lr := decodePNG(t, paths[4]); hasColor(lr, valColor) {
		t.Error("lr.png has a validation curve")
	}
	csv, _ := os.ReadFile(paths[0])
	if !strings.HasPrefix(string(csv), "epoch,loss,accuracy,") {
		t.Errorf("history.csv: %q", csv)
	}
}

// One epoch: a plot of single points.
func TestOneEpoch(t *testing.T) {
	var h History
	h.Add(1, Value{"loss", 0.5}, Value{"val_loss", 0.5})
	if _, err := h.WriteFiles(t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

func TestConfusionMatrix(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		classes []string
		side    int
	}{
		{[]string{"cats", "dogs", "birds"}, 384},     // 4 inches
		{strings.Fields("0 1 2 3 4 5 6 7 8 9"), 720}, // 1.5 + 0.6*10 inches
	} {
		n := len(c.classes)
		counts := make([][]int64, n)
		for i := range counts {
			counts[i] = make([]int64, n)
			for j := range counts[i] {
				counts[i][j] = int64(i + j)
			}
			counts[i][i] = int64(100 + i)
		}
		path := filepath.Join(dir, "cm.png")
		if err := ConfusionMatrix(path, counts, c.classes); err != nil {
			t.Fatal(err)
		}
		img := decodePNG(t, path)
		if got := img.Bounds().Size(); got != image.Pt(c.side, c.side) {
			t.Errorf("%d classes: size %v, want %dx%d", n, got, c.side, c.side)
		}
		// The palette's two ends: the diagonal is dark, the rest light.
		if !hasColor(img, color.RGBA{8, 48, 107, 255}) || !hasColor(img, color.RGBA{247, 251, 255, 255}) {
			t.Errorf("%d classes: the heatmap lacks its dark or light cells", n)
		}
	}

	for _, bad := range []struct {
		counts  [][]int64
		classes []string
	}{
		{nil, nil},
		{[][]int64{{1}}, []string{"a", "b"}},
		{[][]int64{{1, 2}, {3}}, []string{"a", "b"}},
		{[][]int64{{1, -2}, {3, 4}}, []string{"a", "b"}},
	} {
		if err := ConfusionMatrix(filepath.Join(dir, "bad.png"), bad.counts, bad.classes); err == nil {
			t.Errorf("ConfusionMatrix(%v, %v): no error", bad.counts, bad.classes)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.png")); err == nil {
		t.Error("bad.png written")
	}
}
