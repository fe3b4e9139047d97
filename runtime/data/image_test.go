package data

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/image/bmp"

	"github.com/mdlc/mdlc/runtime"
)

// webp1x1 is a 1x1 lossy WebP of gray 128 (VP8 key frame), a fixture
// widely used to detect WebP support; x/image has no WebP encoder.
const webp1x1 = "UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA"

func solid(w, h int, c color.Color) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	return img
}

func encode(t testing.TB, format string, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, img)
	case "jpg":
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 100})
	case "gif":
		err = gif.Encode(&buf, img, nil)
	case "bmp":
		err = bmp.Encode(&buf, img)
	case "webp":
		b, _ := base64.StdEncoding.DecodeString(webp1x1)
		buf.Write(b)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	red   = color.RGBA{255, 0, 0, 255}
	green = color.RGBA{0, 255, 0, 255}
	blue  = color.RGBA{0, 0, 255, 255}
)

// imageTree writes dir/cats (png, jpg, gif: red, green, blue) and dir/dogs
// (bmp blue, webp gray 128, a gray png in a sub-folder) plus the files a
// loader must skip: a text file, a .png that is text, a truncated PNG, and
// hidden files.
func imageTree(t *testing.T) (dir string, good, bad []string) {
	dir = t.TempDir()
	files := map[string][]byte{
		"cats/a.png":         encode(t, "png", solid(8, 6, red)),
		"cats/b.JPG":         encode(t, "jpg", solid(5, 5, green)),
		"cats/c.gif":         encode(t, "gif", solid(3, 7, blue)),
		"dogs/d.bmp":         encode(t, "bmp", solid(4, 4, blue)),
		"dogs/e.webp":        encode(t, "webp", nil),
		"dogs/sub/f.png":     encode(t, "png", image.NewGray(image.Rect(0, 0, 2, 2))),
		"dogs/notes.txt":     []byte("not an image"),
		"dogs/fake.png":      []byte("not an image either"),
		"cats/trunc.png":     encode(t, "png", solid(16, 16, red))[:60],
		"cats/.DS_Store":     []byte("hidden"),
		"dogs/.hidden/x.png": []byte("hidden"),
		".git/objects/y.png": []byte("hidden class"),
		"top-level-file.png": []byte("not in a class"),
	}
	for name, b := range files {
		writeFile(t, filepath.Join(dir, name), b)
	}
	good = []string{"cats/a.png", "cats/b.JPG", "cats/c.gif", "dogs/d.bmp", "dogs/e.webp", "dogs/sub/f.png"}
	bad = []string{"cats/trunc.png", "dogs/fake.png", "dogs/notes.txt"}
	return dir, good, bad
}

func TestImageFolder(t *testing.T) {
	dir, good, bad := imageTree(t)
	f, err := LoadImageFolder(dir, ImageOptions{Height: 4, Width: 4, Channels: 3, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Classes, []string{"cats", "dogs"}) || !slices.Equal(f.Labels, []int32{0, 0, 0, 1, 1, 1}) {
		t.Fatalf("classes %v labels %v", f.Classes, f.Labels)
	}
	for i, p := range f.Paths {
		if rel, _ := filepath.Rel(dir, p); filepath.ToSlash(rel) != good[i] {
			t.Fatalf("paths %v, want %v", f.Paths, good)
		}
	}
	var warned []string
	for _, w := range f.Warnings {
		rel, _ := filepath.Rel(dir, w.Path)
		warned = append(warned, filepath.ToSlash(rel))
		if !strings.HasPrefix(w.String(), w.Path+": skipped: ") {
			t.Errorf("warning %q does not name its file", w)
		}
	}
	slices.Sort(warned)
	if !slices.Equal(warned, bad) {
		t.Fatalf("warnings for %v, want %v (%v)", warned, bad, f.Warnings)
	}
	// Each image is one color, whatever its size, so resizing keeps it
	// (JPEG and GIF within their loss).
	want := [][3]int{{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {0, 0, 255}, {128, 128, 128}, {0, 0, 0}}
	tol := []int{0, 8, 8, 0, 2, 0}
	for i := range f.Len() {
		img, err := f.Image(i)
		if err != nil || len(img) != 4*4*3 {
			t.Fatalf("image %d: %d bytes, err %v", i, len(img), err)
		}
		for p := range 16 {
			for c := range 3 {
				if d := int(img[3*p+c]) - want[i][c]; d < -tol[i] || d > tol[i] {
					t.Fatalf("%s pixel %d channel %d: %d, want %d", good[i], p, c, img[3*p+c], want[i][c])
				}
			}
		}
	}
	if _, err := f.Image(6); err == nil {
		t.Fatal("image 6 of 6")
	}

	// Filled through a Loader for a model's inputs: rescaled to [0, 1].
	spec := []runtime.IO{io_("x", runtime.F32, "input", -1, 4, 4, 3), io_("y", runtime.I32, "target", -1)}
	opts, err := ImageOptionsFor(spec[0])
	if err != nil || opts.Height != 4 || opts.Width != 4 || opts.Channels != 3 {
		t.Fatalf("ImageOptionsFor: %+v %v", opts, err)
	}
	l, err := NewLoader(f, spec, LoaderOptions{BatchSize: 6})
	if err != nil {
		t.Fatal(err)
	}
	b := l.NewBatch()
	if _, err := l.Load(b, 0, 0); err != nil {
		t.Fatal(err)
	}
	if b[0].F32[0] != 1 || b[0].F32[1] != 0 || !slices.Equal(b[1].I32, f.Labels) || slices.Max(b[0].F32) != 1 || slices.Min(b[0].F32) != 0 {
		t.Fatalf("batch: first pixel %v, labels %v", b[0].F32[:3], b[1].I32)
	}
}

func TestImageFolderOptions(t *testing.T) {
	dir := t.TempDir()
	// A pattern at the exact size is copied, not resampled.
	pat := image.NewRGBA(image.Rect(0, 0, 2, 2))
	pat.Set(0, 0, red)
	pat.Set(1, 0, green)
	pat.Set(0, 1, blue)
	pat.Set(1, 1, color.RGBA{10, 20, 30, 255})
	writeFile(t, filepath.Join(dir, "a/p.png"), encode(t, "png", pat))
	// Shrinking [0 255] to one pixel averages them.
	row := image.NewGray(image.Rect(0, 0, 2, 1))
	row.Pix[1] = 255
	writeFile(t, filepath.Join(dir, "b/r.png"), encode(t, "png", row))
	writeFile(t, filepath.Join(dir, "c/w.png"), encode(t, "png", solid(3, 3, color.White)))

	f, err := LoadImageFolder(dir, ImageOptions{Height: 2, Width: 2, Channels: 3, Rescale: 1, OneHot: true})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := f.Image(0)
	if !slices.Equal(img, []uint8{255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30}) {
		t.Fatalf("exact-size image %v", img)
	}
	x, y := make([]float32, 12), make([]float32, 3)
	if err := f.Read(0, 0, runtime.Value{F32: x}); err != nil || x[0] != 255 || x[11] != 30 {
		t.Fatalf("Rescale 1: %v %v", x, err)
	}
	if err := f.Read(1, 1, runtime.Value{F32: y}); err != nil || !slices.Equal(y, []float32{0, 1, 0}) {
		t.Fatalf("one-hot label %v %v", y, err)
	}
	if err := f.Read(1, 1, runtime.Value{I32: make([]int32, 1)}); err == nil {
		t.Fatal("one-hot label read as i32")
	}

	// Grayscale: ITU-R 601 luma.
	g, err := LoadImageFolder(dir, ImageOptions{Height: 1, Width: 1, Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []uint8{0, 128, 255} {
		img, _ := g.Image(i)
		if d := int(img[0]) - int(want); i == 0 && img[0] == 0 || i > 0 && (d < -1 || d > 1) {
			t.Fatalf("gray image %d: %v, want about %d", i, img, want)
		}
	}
	g2, _ := LoadImageFolder(dir, ImageOptions{Height: 2, Width: 2, Channels: 1})
	if img, _ := g2.Image(0); !slices.Equal(img, []uint8{76, 150, 29, 18}) {
		t.Fatalf("gray pattern %v, want [76 150 29 18]", img)
	}
	gx := make([]float32, 4)
	if err := g2.Read(0, 0, runtime.Value{F32: gx}); err != nil || gx[0] != 76.0/255 {
		t.Fatalf("default rescale: %v %v", gx, err)
	}
}

func TestImageFolderErrors(t *testing.T) {
	dir, _, _ := imageTree(t)
	opts := ImageOptions{Height: 4, Width: 4, Channels: 3}
	strict := opts
	strict.Strict = true
	if _, err := LoadImageFolder(dir, strict); err == nil || !strings.Contains(err.Error(), "trunc.png") && !strings.Contains(err.Error(), "fake.png") {
		t.Fatalf("strict: %v", err)
	}
	only := t.TempDir()
	writeFile(t, filepath.Join(only, "a/trunc.png"), encode(t, "png", solid(16, 16, red))[:60])
	if _, err := LoadImageFolder(only, strict); err == nil || !strings.Contains(err.Error(), "trunc.png: truncated png image") {
		t.Fatalf("strict truncated: %v", err)
	}
	if _, err := LoadImageFolder(only, opts); err == nil || !strings.Contains(err.Error(), "class folder "+filepath.Join(only, "a")+" has no readable images") {
		t.Fatalf("class of corrupt files: %v", err)
	}
	empty := t.TempDir()
	writeFile(t, filepath.Join(empty, "a/x.png"), encode(t, "png", solid(1, 1, red)))
	os.Mkdir(filepath.Join(empty, "b"), 0o755)
	if _, err := LoadImageFolder(empty, opts); err == nil || !strings.Contains(err.Error(), "class folder "+filepath.Join(empty, "b")+" has no readable images") {
		t.Fatalf("empty class: %v", err)
	}
	if _, err := LoadImageFolder(filepath.Join(dir, "missing"), opts); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing folder: %v", err)
	}
	if _, err := LoadImageFolder(t.TempDir(), opts); err == nil || !strings.Contains(err.Error(), "no class sub-folders") {
		t.Fatalf("no classes: %v", err)
	}
	for _, o := range []ImageOptions{{Height: 4, Width: 4, Channels: 2}, {Width: 4, Channels: 3}} {
		if _, err := LoadImageFolder(dir, o); err == nil || !strings.Contains(err.Error(), "image size") {
			t.Fatalf("options %+v: %v", o, err)
		}
	}
	for _, in := range []runtime.IO{io_("x", runtime.F32, "input", -1, 4, 4, 2), io_("x", runtime.F32, "input", -1, 16), io_("x", runtime.I32, "input", -1, 4, 4, 1)} {
		if _, err := ImageOptionsFor(in); err == nil {
			t.Fatalf("ImageOptionsFor(%v) accepted", in)
		}
	}
}

func TestImageFolderSplit(t *testing.T) {
	dir := t.TempDir()
	counts := []int{20, 10, 5}
	for c, n := range counts {
		for i := range n {
			writeFile(t, filepath.Join(dir, string(rune('a'+c)), string(rune('a'+i))+".png"), encode(t, "png", solid(2, 2, color.Gray{uint8(10*c + i)})))
		}
	}
	f, err := LoadImageFolder(dir, ImageOptions{Height: 2, Width: 2, Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	train, val, err := f.Split(0.2, 5)
	if err != nil {
		t.Fatal(err)
	}
	per := func(s *Subset) []int {
		n := make([]int, len(counts))
		for i := range s.Len() {
			n[s.Label(i)]++
		}
		return n
	}
	if !slices.Equal(per(val), []int{4, 2, 1}) || !slices.Equal(per(train), []int{16, 8, 4}) {
		t.Fatalf("validation %v training %v", per(val), per(train))
	}
	_, val2, _ := f.Split(0.2, 5)
	if !slices.Equal(val.Index, val2.Index) {
		t.Fatal("split not deterministic")
	}
	// A Subset is an ImageSource reading through to the folder.
	var is ImageSource = val
	img, err := is.Image(0)
	full, _ := f.Image(val.Index[0])
	if err != nil || !slices.Equal(img, full) {
		t.Fatalf("subset image %v, want %v (%v)", img, full, err)
	}
	if h, w, c := is.ImageShape(); h != 2 || w != 2 || c != 1 {
		t.Fatalf("subset shape %d %d %d", h, w, c)
	}
}

// TestImageFolderTruncated: every format cut at many lengths loads without
// a panic; each cut file either decodes or is skipped with a warning.
func TestImageFolderTruncated(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ok/x.png"), encode(t, "png", solid(2, 2, red)))
	n := 0
	for _, format := range []string{"png", "jpg", "gif", "bmp", "webp"} {
		full := encode(t, format, solid(9, 7, green))
		for cut := 0; cut <= len(full); cut += 1 + len(full)/40 {
			writeFile(t, filepath.Join(dir, "cut", fmt.Sprintf("%s%04d.%s", format, cut, format)), full[:cut])
			n++
		}
		writeFile(t, filepath.Join(dir, "cut", "full."+format), full)
		n++
	}
	f, err := LoadImageFolder(dir, ImageOptions{Height: 3, Width: 3, Channels: 3})
	if err != nil {
		t.Fatal(err)
	}
	if f.Len()+len(f.Warnings) != n+1 || len(f.Warnings) == 0 {
		t.Fatalf("%d images and %d warnings of %d files", f.Len(), len(f.Warnings), n+1)
	}
}

func FuzzDecodeImage(f *testing.F) {
	for _, format := range []string{"png", "jpg", "gif", "bmp", "webp"} {
		f.Add(encode(f, format, solid(3, 2, blue)))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "x")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		dst := make([]uint8, 2*2*3)
		decodeImage(p, ImageOptions{Height: 2, Width: 2, Channels: 3}, dst) // must not panic
	})
}

func TestLoadImages(t *testing.T) {
	dir, _, _ := imageTree(t)
	paths := []string{filepath.Join(dir, "cats/a.png"), filepath.Join(dir, "dogs/fake.png"), filepath.Join(dir, "dogs/d.bmp")}
	f, err := LoadImages(paths, ImageOptions{Height: 2, Width: 2, Channels: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Paths, []string{paths[0], paths[2]}) || len(f.Warnings) != 1 || f.Warnings[0].Path != paths[1] || len(f.Fields()) != 1 {
		t.Fatalf("paths %v warnings %v fields %v", f.Paths, f.Warnings, f.Fields())
	}
	// A Batch for Predict: the target stays nil.
	l, err := NewLoader(f, []runtime.IO{io_("image", runtime.F32, "input", -1, 2, 2, 3), io_("label", runtime.I32, "target", -1)}, LoaderOptions{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	b := l.NewBatch()
	if n, err := l.Load(b, 0, 0); err != nil || n != 2 || b[1].I32 != nil || b[0].F32[0] != 1 || b[0].F32[14] != 1 {
		t.Fatalf("n %d err %v batch %v", n, err, b)
	}
	strict := ImageOptions{Height: 2, Width: 2, Channels: 3, Strict: true}
	if _, err := LoadImages(paths, strict); err == nil || !strings.Contains(err.Error(), "fake.png") {
		t.Fatalf("strict: %v", err)
	}
	if _, err := LoadImages(paths[1:2], ImageOptions{Height: 2, Width: 2, Channels: 3}); err == nil || !strings.Contains(err.Error(), "no readable images") {
		t.Fatalf("none readable: %v", err)
	}
	if _, err := LoadImages(paths, ImageOptions{Height: 1 << 20, Width: 1 << 20, Channels: 3}); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("huge size: %v", err)
	}
}
