package runtime

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func tinyTensors() []Tensor {
	return []Tensor{
		{Name: "bb", Shape: []int{2}, Data: []float32{1, 2}},
		{Name: "a", Shape: []int{1, 1}, Data: []float32{3}},
	}
}

// TestSafetensorsLayout checks the file byte for byte against one built by
// hand from the format's description.
func TestSafetensorsLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := SaveSafetensors(path, tinyTensors(), map[string]string{"mdlc.model": "T"}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	header := `{"__metadata__":{"mdlc.model":"T"},` +
		`"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},` +
		`"bb":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}` + "       " // 145 bytes + 7 spaces
	var want []byte
	want = append(want, 152, 0, 0, 0, 0, 0, 0, 0)
	want = append(want, header...)
	want = append(want, 0x00, 0x00, 0x40, 0x40) // a  = 3
	want = append(want, 0x00, 0x00, 0x80, 0x3f) // bb = 1
	want = append(want, 0x00, 0x00, 0x00, 0x40) //      2
	if !bytes.Equal(got, want) {
		t.Fatalf("file bytes:\n%q\nwant:\n%q", got, want)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, %v; want 0644", st.Mode(), err)
	}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	rng := NewRNG(1)
	ts := []Tensor{
		{Name: "hidden.w", Shape: []int{784, 256}, Data: randSlice(rng, 784*256)},
		{Name: "hidden.b", Shape: []int{256}, Data: randSlice(rng, 256)},
		{Name: "scalar", Shape: []int{}, Data: []float32{float32(math.Inf(-1))}},
		{Name: "empty", Shape: []int{0, 3}, Data: []float32{}},
		{Name: "<&>", Shape: []int{1}, Data: []float32{float32(math.NaN())}},
	}
	meta := map[string]string{"mdlc.model": "MnistMLP", "step": "12"}
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := SaveSafetensors(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	dst := make([]Tensor, len(ts))
	for i, tt := range ts {
		dst[i] = Tensor{Name: tt.Name, Shape: tt.Shape, Data: make([]float32, len(tt.Data))}
	}
	if err := LoadSafetensors(path, dst, map[string]string{"mdlc.model": "MnistMLP"}); err != nil {
		t.Fatal(err)
	}
	for i := range ts {
		if !slices.EqualFunc(ts[i].Data, dst[i].Data, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
			t.Fatalf("tensor %q differs after round trip", ts[i].Name)
		}
	}
	all, gotMeta, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tt := range all {
		names = append(names, tt.Name)
	}
	if !slices.Equal(names, []string{"<&>", "empty", "hidden.b", "hidden.w", "scalar"}) || gotMeta["step"] != "12" {
		t.Fatalf("ReadSafetensors: names %v metadata %v", names, gotMeta)
	}
	if !slices.Equal(all[3].Shape, []int{784, 256}) || all[3].Data[5] != ts[0].Data[5] {
		t.Fatal("ReadSafetensors: hidden.w differs")
	}
}

// destTensors returns the tiny model's tensors filled with a sentinel, to
// check a failed load leaves them alone.
func destTensors() []Tensor {
	ts := tinyTensors()
	for _, tt := range ts {
		for i := range tt.Data {
			tt.Data[i] = -7
		}
	}
	return ts
}

func untouched(ts []Tensor) bool {
	for _, tt := range ts {
		for _, v := range tt.Data {
			if v != -7 {
				return false
			}
		}
	}
	return true
}

func TestLoadSafetensorsErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	if err := SaveSafetensors(good, tinyTensors(), map[string]string{"mdlc.model": "T"}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	withHeader := func(h string) []byte {
		for len(h)%8 != 0 {
			h += " "
		}
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
		return append(append(b, h...), make([]byte, 12)...)
	}
	other := filepath.Join(dir, "other.safetensors")
	SaveSafetensors(other, []Tensor{
		{Name: "a", Shape: []int{1, 1}, Data: []float32{1}},
		{Name: "bb", Shape: []int{1, 2}, Data: []float32{1, 2}},
		{Name: "c", Shape: []int{1}, Data: []float32{1}},
	}, map[string]string{"mdlc.model": "T"})
	lin := filepath.Join(dir, "lin.safetensors")
	SaveSafetensors(lin, tinyTensors(), map[string]string{"mdlc.model": "LinReg"})
	tests := []struct {
		path string
		want string
	}{
		{write("trunc.safetensors", raw[:len(raw)-5]), "trunc.safetensors: truncated (header says 12 bytes of data, file has 7)"},
		{write("short.safetensors", raw[:5]), "truncated (5 bytes"},
		{write("hdrtrunc.safetensors", raw[:40]), "truncated (header length 152, file has 32 bytes after it)"},
		{write("huge.safetensors", binary.LittleEndian.AppendUint64(nil, 1<<62)), "exceeds the limit"},
		{write("json.safetensors", withHeader(`{"a":{"dtype":"F32",`)), "corrupt header"},
		{write("notobj.safetensors", withHeader(`[1,2]`)), "does not start with '{'"},
		{write("dup.safetensors", withHeader(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`)), `duplicate key "a"`},
		{write("dtype.safetensors", withHeader(`{"a":{"dtype":"F16","shape":[1,1],"data_offsets":[0,2]}}`)), `tensor "a" has dtype F16, want F32`},
		{write("overlap.safetensors", withHeader(`{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},"bb":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`)), `overlap`},
		{write("gap.safetensors", withHeader(`{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},"bb":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`)), `gap of 4 bytes before tensor "bb"`},
		{write("size.safetensors", withHeader(`{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,8]},"bb":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`)), `tensor "a" has 8 bytes of data for shape [1 1], want 4`},
		{write("extra.safetensors", append(slices.Clone(raw), 0)), "1 bytes after the last tensor's data"},
		{write("unknown.safetensors", withHeader(`{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4],"x":1}}`)), `unknown field "x"`},
		{write("meta.safetensors", withHeader(`{"__metadata__":{"k":1}}`)), "not a map of strings"},
		{other, `checkpoint ` + other + `: tensor "bb" has shape [1 2], model expects [2]`},
		{other, `checkpoint ` + other + `: unexpected tensor "c" (not in the model)`},
		{lin, `checkpoint ` + lin + ` was saved by model "LinReg", not "T"`},
		{filepath.Join(dir, "none.safetensors"), "no such file"},
	}
	for _, tc := range tests {
		dst := destTensors()
		err := LoadSafetensors(tc.path, dst, map[string]string{"mdlc.model": "T"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", filepath.Base(tc.path), err, tc.want)
		}
		if !untouched(dst) {
			t.Errorf("%s: failed load changed the destination", filepath.Base(tc.path))
		}
	}

	// Missing tensor and missing metadata key.
	dst := append(destTensors(), Tensor{Name: "logits.b", Shape: []int{1}, Data: []float32{-7}})
	err := LoadSafetensors(good, dst, nil)
	if err == nil || err.Error() != `checkpoint `+good+`: missing tensor "logits.b"` || !untouched(dst) {
		t.Errorf("missing tensor: %v", err)
	}
	dst = destTensors()
	err = LoadSafetensors(good, dst, map[string]string{"mdlc.version": "1"})
	if err == nil || !strings.Contains(err.Error(), `metadata "mdlc.version" missing`) || !untouched(dst) {
		t.Errorf("missing metadata: %v", err)
	}
}

func TestSaveSafetensorsAtomic(t *testing.T) {
	defer func() { saveHook = nil }()
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	if err := SaveSafetensors(path, tinyTensors(), nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	big := []Tensor{{Name: "a", Shape: []int{1, 1}, Data: []float32{9}}, {Name: "w", Shape: []int{100000}, Data: make([]float32, 100000)}}
	for _, stage := range []string{"data", "rename"} {
		crash := errors.New("simulated crash")
		partial := int64(0)
		saveHook = func(s string) error {
			if s != stage {
				return nil
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if strings.Contains(e.Name(), ".tmp-") {
					info, _ := e.Info()
					partial = info.Size()
				}
			}
			return crash
		}
		err := SaveSafetensors(path, big, nil)
		if !errors.Is(err, crash) {
			t.Fatalf("stage %s: error %v, want the simulated crash", stage, err)
		}
		if partial == 0 {
			t.Fatalf("stage %s: no partly written temp file seen", stage)
		}
		after, _ := os.ReadFile(path)
		if !bytes.Equal(before, after) {
			t.Fatalf("stage %s: previous checkpoint changed", stage)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Fatalf("stage %s: directory holds %d entries, want only the checkpoint", stage, len(ents))
		}
	}
	saveHook = nil

	// A rename that fails: the target is a non-empty directory.
	target := filepath.Join(dir, "isdir")
	os.MkdirAll(filepath.Join(target, "x"), 0o755)
	if err := SaveSafetensors(target, tinyTensors(), nil); err == nil {
		t.Fatal("save over a directory succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("failed rename left %d entries, want 2", len(ents))
	}
	// Invalid tensors are refused before anything is written.
	if err := SaveSafetensors(path, []Tensor{{Name: "a", Shape: []int{2}, Data: []float32{1}}}, nil); err == nil {
		t.Fatal("save of a tensor with the wrong length succeeded")
	}
	if err := SaveSafetensors(path, []Tensor{{Name: "a", Data: []float32{1}}, {Name: "a", Data: []float32{1}}}, nil); err == nil {
		t.Fatal("save of duplicate names succeeded")
	}
}

func FuzzLoadSafetensors(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.safetensors")
	if err := SaveSafetensors(path, tinyTensors(), map[string]string{"mdlc.model": "T"}); err != nil {
		f.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	f.Add(raw)
	f.Add(raw[:20])
	f.Add([]byte{})
	f.Add(binary.LittleEndian.AppendUint64(nil, 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		dst := destTensors()
		if err := loadBytes("fuzz", b, dst, map[string]string{"mdlc.model": "T"}); err != nil && !untouched(dst) {
			t.Fatal("failed load changed the destination")
		}
		parseSafetensors(b)
	})
}

func randSlice(rng *RNG, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.Float64()*2 - 1)
	}
	return x
}

// TestSaveSafetensorsStaleTemps checks a save removes the temp files that
// interrupted saves of the same checkpoint left, and nothing else.
func TestSaveSafetensorsStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	old := time.Now().Add(-2 * staleAge)
	mk := func(name string, mtime time.Time) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	removed := []string{".ckpt.safetensors.tmp-123", ".ckpt.safetensors.tmp-4294967295"}
	kept := []string{
		".ckpt.safetensors.tmp-456",         // young: a save may still be writing it
		".ckpt.safetensors.tmp-",            // not what os.CreateTemp makes
		".ckpt.safetensors.tmp-12x",         //
		".ckpt.safetensors.tmp-1.tmp-2",     // a temp file of checkpoint "ckpt.safetensors.tmp-1"
		".ckpt.tmp-123",                     // another checkpoint's
		".Ckpt.safetensors.tmp-123",         //
		"ckpt.safetensors.tmp-123",          //
		"x.ckpt.safetensors.tmp-123",        //
		".ckpt.safetensors.tmp-123.partial", //
		"other",
	}
	for _, n := range removed {
		mk(n, old)
	}
	for _, n := range kept {
		mk(n, old)
	}
	mk(kept[0], time.Now())
	if err := os.Mkdir(filepath.Join(dir, ".ckpt.safetensors.tmp-789"), 0o755); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, ".ckpt.safetensors.tmp-789") // a directory
	if err := SaveSafetensors(path, tinyTensors(), nil); err != nil {
		t.Fatal(err)
	}
	var names []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := append(slices.Clone(kept), "ckpt.safetensors")
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("directory after save:\n%q\nwant:\n%q", names, want)
	}
}
