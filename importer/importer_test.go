package importer_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/importer"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime"
)

func lowered(t *testing.T, file string) *ir.Graph {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	g, _, err := compile.Load(file, src, "")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func weights(t *testing.T, file string) []importer.Weight {
	t.Helper()
	ws, _, err := importer.ReadWeights(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// The checkpoint has every tensor of the training build, the optimizer's
// state from its initializers, and PyTorch's layouts converted.
func TestConvertLayouts(t *testing.T) {
	g := lowered(t, "cnn.mdl")
	ws := weights(t, "torch_cnn.safetensors")
	ts, err := importer.Convert(g, ws, importer.Options{From: importer.PyTorch})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]runtime.Tensor{}
	var names []string
	for _, x := range ts {
		by[x.Name] = x
		names = append(names, x.Name)
	}
	for _, want := range []string{"c1.conv2d0.w", "c1.batch_norm0.moving_variance", "hidden.w", "optimizer.step", "optimizer.random_key"} {
		if !slices.Contains(names, want) {
			t.Errorf("checkpoint lacks %s (has %v)", want, names)
		}
	}
	src := map[string]importer.Weight{}
	for _, w := range ws {
		src[w.Name] = w
	}
	// conv1.weight [O=4, I=2, 3, 3] -> [3, 3, 2, 4]: element (o, i, y, x).
	o, i, y, x := 3, 1, 2, 0
	if got, want := by["c1.conv2d0.w"].Data[((y*3+x)*2+i)*4+o], src["conv1.weight"].Data[((o*2+i)*3+y)*3+x]; got != want {
		t.Errorf("conv weight (o%d i%d y%d x%d) = %g, want %g", o, i, y, x, got, want)
	}
	// fc1.weight [16, 24] of an NCHW flatten of [6, 2, 2] -> hidden.w [24, 16]
	// of an NHWC flatten: mdlc row (y, x, c) is PyTorch column (c, y, x).
	c := 5
	y, x = 1, 0
	if got, want := by["hidden.w"].Data[((y*2+x)*6+c)*16+7], src["fc1.weight"].Data[7*24+(c*2+y)*2+x]; got != want {
		t.Errorf("dense after flatten (y%d x%d c%d) = %g, want %g", y, x, c, got, want)
	}
	if got, want := by["c1.batch_norm0.moving_variance"].Data, src["bn1.running_var"].Data; !slices.Equal(got, want) {
		t.Errorf("moving_variance %v, want running_var %v", got, want)
	}
	if m := by["optimizer.hidden.w.m"]; m.Data == nil || slices.ContainsFunc(m.Data, func(v float32) bool { return v != 0 }) {
		t.Errorf("Adam's first moment of hidden.w: %v, want zeros", m.Data[:min(4, len(m.Data))])
	}
}

// Errors name every missing, extra and mis-shaped tensor.
func TestConvertErrors(t *testing.T) {
	g := lowered(t, "cnn.mdl")
	ws := weights(t, "torch_cnn.safetensors")
	drop := func(name string) []importer.Weight {
		return slices.DeleteFunc(slices.Clone(ws), func(w importer.Weight) bool { return w.Name == name })
	}
	reshape := func(name string, shape []int) []importer.Weight {
		out := slices.Clone(ws)
		for i := range out {
			if out[i].Name == name {
				out[i].Shape = shape
			}
		}
		return out
	}
	extra := append(slices.Clone(ws), importer.Weight{Name: "scale", DType: "F32", Shape: []int{1}, Data: []float32{2}})
	for _, c := range []struct {
		name string
		ws   []importer.Weight
		opt  importer.Options
		want []string
	}{
		{"missing", drop("bn1.running_var"), importer.Options{From: importer.PyTorch}, []string{"missing tensor", "c1.batch_norm0.moving_variance"}},
		{"extra", extra, importer.Options{From: importer.PyTorch}, []string{"extra tensor", "scale [1]"}},
		{"misshaped", reshape("fc1.weight", []int{24, 16}), importer.Options{From: importer.PyTorch}, []string{"mis-shaped tensor", "fc1.weight [24 16]", "hidden.w", "expected [16 24]"}},
		{"layers", drop("fc2.weight"), importer.Options{From: importer.PyTorch}, []string{"extra tensor: fc2.bias"}},
		{"keras names", ws, importer.Options{From: importer.Keras}, []string{"the model has 2 dense layers (hidden, logits), the file 0", "look like PyTorch's (-from pytorch)"}},
		{"framework", ws, importer.Options{From: "onnx"}, []string{`unknown framework "onnx"`}},
		{"map", ws, importer.Options{From: importer.PyTorch, Map: []importer.MapEntry{{Theirs: "fc1.weight", Ours: "hiden.w", Line: 3}, {Theirs: "nope", Ours: "-", Line: 4}}},
			[]string{"map line 3: the model has no parameter or state hiden.w", "map line 4: the file has no tensor nope", "extra tensor: conv1.weight", "missing tensor: the model's param hidden.w"}},
	} {
		_, err := importer.Convert(g, c.ws, c.opt)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error lacks %q:\n%v", c.name, w, err)
			}
		}
	}
}

// An explicit map gives the same checkpoint as the default order.
func TestConvertMap(t *testing.T) {
	g := lowered(t, "cnn.mdl")
	ws := weights(t, "torch_cnn.safetensors")
	text := `# theirs = ours
conv1.weight = c1.conv2d0.w
conv1.bias = c1.conv2d0.b
bn1.weight = c1.batch_norm0.gamma
bn1.bias = c1.batch_norm0.beta
bn1.running_mean = c1.batch_norm0.moving_mean
bn1.running_var = c1.batch_norm0.moving_variance
conv2.weight = c2.w
conv2.bias = c2.b
fc1.weight = hidden.w
fc1.bias = hidden.b
fc2.weight = logits.w
fc2.bias = logits.b
`
	m, err := importer.ParseMap(strings.NewReader(text), "map.txt")
	if err != nil {
		t.Fatal(err)
	}
	a, err := importer.Convert(g, ws, importer.Options{From: importer.PyTorch, Map: m})
	if err != nil {
		t.Fatal(err)
	}
	b, err := importer.Convert(g, ws, importer.Options{From: importer.PyTorch})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i].Name != b[i].Name || !slices.Equal(a[i].Data, b[i].Data) {
			t.Errorf("tensor %s differs between the map and the default order", a[i].Name)
		}
	}
	for _, bad := range []string{"fc1.weight hidden.w", "a = b\na = c", "= x"} {
		if _, err := importer.ParseMap(strings.NewReader(bad), "map.txt"); err == nil || !strings.Contains(err.Error(), "map.txt:") {
			t.Errorf("ParseMap(%q): %v", bad, err)
		}
	}
}

// ReadWeights keeps the file's order (its data offsets), converts F64 and
// F16, and keeps integer tensors by name only.
func TestReadWeights(t *testing.T) {
	ws := weights(t, "torch_cnn.safetensors")
	var names []string
	for _, w := range ws {
		names = append(names, w.Name)
	}
	want := "conv1.weight conv1.bias bn1.weight bn1.bias bn1.running_mean bn1.running_var bn1.num_batches_tracked conv2.weight conv2.bias fc1.weight fc1.bias fc2.weight fc2.bias"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("order:\n got %s\nwant %s", got, want)
	}
	for _, w := range ws {
		if w.Name == "bn1.num_batches_tracked" && (w.DType != "I64" || w.Data != nil) {
			t.Errorf("num_batches_tracked: %s %v", w.DType, w.Data)
		}
	}
	// F16 1.5, -2, 2^-24 and F64 0.25.
	hdr := `{"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"d":{"dtype":"F64","shape":[1],"data_offsets":[6,14]}}`
	data := []byte{8 + byte(len(hdr)), 0, 0, 0, 0, 0, 0, 0}
	data = append(append(data, hdr...), 0x00, 0x3e, 0x00, 0xc0, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0xd0, 0x3f)
	data[0] = byte(len(hdr))
	path := filepath.Join(t.TempDir(), "x.safetensors")
	os.WriteFile(path, data, 0o644)
	got, _, err := importer.ReadWeights(path)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Name != "h" || !slices.Equal(got[0].Data, []float32{1.5, -2, 1.0 / (1 << 24)}) || got[1].Data[0] != 0.25 {
		t.Errorf("decoded %+v", got)
	}
}
