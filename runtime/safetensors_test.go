package runtime

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
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
		// As a file (size known) and as a stream.
		for _, size := range []int64{int64(len(b)), -1} {
			dst := destTensors()
			c, err := readCheckpoint("fuzz", bytes.NewReader(b), size)
			if err == nil {
				err = c.load(dst, map[string]string{"mdlc.model": "T"}, false)
			}
			if err != nil && !untouched(dst) {
				t.Fatalf("size %d: failed load changed the destination", size)
			}
			if c, err := readCheckpoint("fuzz", bytes.NewReader(b), size); err == nil {
				c.readAll()
			}
		}
		parseHeader(b)
	})
}

func randSlice(rng *RNG, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.Float64()*2 - 1)
	}
	return x
}

// withData returns a checkpoint with header h (padded) and data bytes.
func withData(h string, data int) []byte {
	for len(h)%8 != 0 {
		h += " "
	}
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	return append(append(b, h...), make([]byte, data)...)
}

// TestSafetensorsStrictHeader checks the header is parsed as strictly as
// the reference reader: exact-case keys, no duplicate keys at any level, no
// unknown fields, __metadata__ a map of strings.
func TestSafetensorsStrictHeader(t *testing.T) {
	const a, bb = `"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]}`, `"bb":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}`
	tests := []struct{ header, want string }{
		// encoding/json would match these case-insensitively.
		{`{"a":{"DType":"F32","Shape":[1,1],"Data_Offsets":[0,4]},` + bb + `}`, `tensor "a": unknown field "DType"`},
		{`{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4],"Dtype":"F16"},` + bb + `}`, `tensor "a": unknown field "Dtype"`},
		{`{"__Metadata__":{"mdlc.model":"T"},` + a + `,` + bb + `}`, `tensor "__Metadata__": unknown field "mdlc.model"`},
		// Duplicates at every level; encoding/json keeps the last.
		{`{` + a + `,` + a + `}`, `duplicate key "a"`},
		{`{"a":{"dtype":"F32","dtype":"F32","shape":[1,1],"data_offsets":[0,4]},` + bb + `}`, `tensor "a": duplicate key "dtype"`},
		{`{"a":{"dtype":"F32","shape":[1,1],"shape":[1,1],"data_offsets":[0,4]},` + bb + `}`, `tensor "a": duplicate key "shape"`},
		{`{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4],"data_offsets":[0,4]},` + bb + `}`, `tensor "a": duplicate key "data_offsets"`},
		{`{"__metadata__":{"mdlc.model":"X","mdlc.model":"T"},` + a + `,` + bb + `}`, `duplicate key "mdlc.model" in __metadata__`},
		{`{"__metadata__":{},"__metadata__":{"mdlc.model":"T"},` + a + `,` + bb + `}`, `duplicate key "__metadata__"`},
		// __metadata__ maps strings to strings.
		{`{"__metadata__":{"k":{"x":"y"}}}`, `__metadata__ is not a map of strings: value of "k"`},
		{`{"__metadata__":{"k":["v"]}}`, `__metadata__ is not a map of strings`},
		{`{"__metadata__":{"k":null}}`, `__metadata__ is not a map of strings`},
		{`{"__metadata__":null}`, `__metadata__ is not a map of strings`},
		{`{"__metadata__":["k","v"]}`, `__metadata__ is not a map of strings`},
		{`{"__metadata__":"k"}`, `__metadata__ is not a map of strings`},
		// Entries: every field, of its type.
		{`{"a":{"dtype":"F32","shape":[1,1]},` + bb + `}`, `tensor "a": lacks data_offsets`},
		{`{"a":{"shape":[1,1],"data_offsets":[0,4]},` + bb + `}`, `tensor "a": lacks dtype`},
		{`{"a":{"dtype":"F32","data_offsets":[0,4]},` + bb + `}`, `tensor "a": lacks shape`},
		{`{"a":{"dtype":"F32","shape":[1.0,1],"data_offsets":[0,4]},` + bb + `}`, `tensor "a": shape: 1.0 is not a non-negative integer`},
		{`{"a":{"dtype":"F32","shape":[1e0,1],"data_offsets":[0,4]},` + bb + `}`, `tensor "a": shape: 1e0 is not a non-negative integer`},
		{`{"a":{"dtype":"F32","shape":[-1,-1],"data_offsets":[0,4]},` + bb + `}`, `tensor "a": shape: -1 is not a non-negative integer`},
		{`{"a":{"dtype":"F32","shape":[1,1],"data_offsets":["0","4"]},` + bb + `}`, `tensor "a": data_offsets: found "0", want a non-negative integer`},
		{`{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,99999999999999999999]},` + bb + `}`, `tensor "a": data_offsets: 99999999999999999999 is not a non-negative integer`},
		{`{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[4]},` + bb + `}`, `tensor "a": has 1 data_offsets, want 2`},
		{`{"a":{"dtype":32,"shape":[1,1],"data_offsets":[0,4]},` + bb + `}`, `tensor "a": dtype: found 32, want a string`},
		{`{"a":{"dtype":"F32","shape":{},"data_offsets":[0,4]},` + bb + `}`, `tensor "a": shape: found '{', want [`},
		{`{"a":5,` + bb + `}`, `tensor "a": found 5, want {`},
		{`{"a":null,` + bb + `}`, `tensor "a": found null, want {`},
		// The object itself.
		{`{` + a + `,` + bb + `} {}`, `data after the JSON object`},
		{`{` + a + `,` + bb, `corrupt header: unexpected end of JSON`},
		{"{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", `not valid UTF-8`},
		{`{` + a + `,` + bb + `,}`, `corrupt header`},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		p := filepath.Join(dir, "h.safetensors")
		if err := os.WriteFile(p, withData(tc.header, 12), 0o644); err != nil {
			t.Fatal(err)
		}
		dst := destTensors()
		err := LoadSafetensors(p, dst, map[string]string{"mdlc.model": "T"})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("case %d %s:\nerror %v\nwant one naming the file and containing %q", i, tc.header, err, tc.want)
		}
		if !untouched(dst) {
			t.Errorf("case %d: failed load changed the destination", i)
		}
		if _, _, err := ReadSafetensors(p); err == nil {
			t.Errorf("case %d: ReadSafetensors accepted %s", i, tc.header)
		}
	}

	// Keys in any order, whitespace, escapes: what another writer may emit.
	p := filepath.Join(dir, "other.safetensors")
	h := "{ \"bb\" : {\"shape\":[ 2 ],\"data_offsets\":[4,12],\"dtype\":\"F32\"},\n" +
		`"\u0061":{"data_offsets":[0,4],"dtype":"F32","shape":[1,1]}, "__metadata__":{"mdlc.model":"T","x":""}}`
	raw := withData(h, 0)
	raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(3))
	raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(1))
	raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(2))
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	dst := destTensors()
	if err := LoadSafetensors(p, dst, map[string]string{"mdlc.model": "T"}); err != nil {
		t.Fatal(err)
	}
	if dst[0].Data[1] != 2 || dst[1].Data[0] != 3 {
		t.Fatalf("loaded %v, want bb=[1 2] a=[3]", dst)
	}
}

// TestLoadSafetensorsSizes checks files shorter or longer than their
// header declares, and declared sizes larger than the file, are refused
// before anything big is allocated, with errors naming the file and tensor.
func TestLoadSafetensorsSizes(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	if err := SaveSafetensors(good, tinyTensors(), map[string]string{"mdlc.model": "T"}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	const big = `{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},"bb":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},` +
		`"w":{"dtype":"F32","shape":[1073741824],"data_offsets":[12,4294967308]}}`
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"cut", raw[:len(raw)-1], `truncated (header says 12 bytes of data, file has 11): tensor "bb" [4,12] runs past the end`},
		{"nodata", raw[:len(raw)-12], `truncated (header says 12 bytes of data, file has 0): tensor "a" [0,4] runs past the end`},
		{"long", append(slices.Clone(raw), 1, 2, 3), `corrupt: 3 bytes after the last tensor's data (tensor "bb")`},
		{"empty", nil, "truncated (0 bytes, shorter than the 8-byte header length)"},
		{"nohdr", binary.LittleEndian.AppendUint64(nil, 0), "does not start with '{'"},
		{"maxhdr", binary.LittleEndian.AppendUint64(nil, maxHeader), "truncated (header length 100000000, file has 0 bytes after it)"},
		{"overmax", binary.LittleEndian.AppendUint64(nil, maxHeader+1), "header length 100000001 exceeds the limit of 100000000 bytes"},
		{"huge", withData(big, 12), `truncated (header says 4294967308 bytes of data, file has 12): tensor "w" [12,4294967308] runs past the end`},
	}
	for _, tc := range tests {
		p := filepath.Join(dir, tc.name+".safetensors")
		if err := os.WriteFile(p, tc.b, 0o644); err != nil {
			t.Fatal(err)
		}
		var err error
		alloc := allocated(func() {
			if tc.name == "huge" {
				_, _, err = ReadSafetensors(p) // Load would refuse the unknown tensor first
			} else {
				err = LoadSafetensors(p, destTensors(), map[string]string{"mdlc.model": "T"})
			}
		})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "checkpoint "+p) {
			t.Errorf("%s: error %v, want one naming the file and containing %q", tc.name, err, tc.want)
		}
		if alloc > 1<<20 {
			t.Errorf("%s: allocated %d bytes", tc.name, alloc)
		}
	}
}

// TestLoadSafetensorsStream checks checkpoints read from a stream, whose
// size is unknown: exactly the declared bytes are read, a stream that goes
// on is refused, and allocation follows the data that arrives.
func TestLoadSafetensorsStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := SaveSafetensors(path, tinyTensors(), map[string]string{"mdlc.model": "T"}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	load := func(r io.Reader) error {
		c, err := readCheckpoint("stream", r, -1)
		if err != nil {
			return err
		}
		dst := destTensors()
		if err := c.load(dst, map[string]string{"mdlc.model": "T"}, false); err != nil {
			if !untouched(dst) {
				t.Error("failed load changed the destination")
			}
			return err
		}
		if dst[0].Data[1] != 2 || dst[1].Data[0] != 3 {
			t.Errorf("loaded %v", dst)
		}
		return nil
	}
	if err := load(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if err := load(io.MultiReader(bytes.NewReader(raw), zeros{})); err == nil || !strings.Contains(err.Error(), `checkpoint stream: corrupt: bytes after the last tensor's data (tensor "bb")`) {
		t.Errorf("endless stream: %v", err)
	}
	if err := load(bytes.NewReader(raw[:len(raw)-3])); err == nil || !strings.Contains(err.Error(), `truncated (header says 12 bytes of data, file has 9): tensor "bb" [4,12] is cut short`) {
		t.Errorf("short stream: %v", err)
	}
	if err := load(bytes.NewReader(raw[:30])); err == nil || !strings.Contains(err.Error(), `truncated (header length 152, file has 22 bytes after it)`) {
		t.Errorf("short header: %v", err)
	}
	var err error
	if alloc := allocated(func() { err = load(zeros{}) }); err == nil || alloc > 1<<20 {
		t.Errorf("zeros: error %v after allocating %d bytes", err, alloc)
	}
	// A header of almost the limit that never comes, and a huge tensor
	// that never comes: memory follows the bytes that arrive.
	short := append(binary.LittleEndian.AppendUint64(nil, maxHeader), "{\"a\":"...)
	if alloc := allocated(func() { err = load(bytes.NewReader(short)) }); err == nil || !strings.Contains(err.Error(), "truncated (header length 100000000, file has 5 bytes after it)") || alloc > 1<<20 {
		t.Errorf("short huge header: error %v after allocating %d bytes", err, alloc)
	}
	huge := withData(`{"w":{"dtype":"F32","shape":[1073741824],"data_offsets":[0,4294967296]}}`, 12)
	alloc := allocated(func() {
		var c *checkpoint
		if c, err = readCheckpoint("stream", bytes.NewReader(huge), -1); err == nil {
			_, _, err = c.readAll()
		}
	})
	if err == nil || !strings.Contains(err.Error(), `truncated (header says 4294967296 bytes of data, file has 12): tensor "w"`) || alloc > 1<<20 {
		t.Errorf("huge tensor: error %v after allocating %d bytes", err, alloc)
	}
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	f()
	goruntime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
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
