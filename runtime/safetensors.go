package runtime

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Checkpoints in the safetensors format (github.com/huggingface/safetensors):
//
//	8 bytes   little-endian uint64 N, the header length
//	N bytes   JSON header, padded with spaces to a multiple of 8:
//	          {"__metadata__":{"k":"v",...},
//	           "name":{"dtype":"F32","shape":[...],"data_offsets":[begin,end]},...}
//	rest      raw little-endian tensor data; offsets are relative to its start
//
// Tensors are written sorted by name, as Hugging Face's writer does for one
// dtype, and their data follows in that order. Only F32 is supported.

// Tensor is a named float32 tensor: a view of live parameters or checkpoint
// contents.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// MetaModel is the metadata key generated models store their name under;
// LoadSafetensors words a mismatch in it as "saved by model X, not Y".
const MetaModel = "mdlc.model"

// maxHeader is the header size limit Hugging Face's reader enforces.
const maxHeader = 100_000_000

const metadataKey = "__metadata__"

// saveHook, when set by tests, is called at each stage of SaveSafetensors
// ("data" after the header and part of the data are written, "rename"); an
// error it returns fails the save there.
var saveHook func(stage string) error

// staleAge is how old a temp file left by an interrupted save must be before
// a later save of the same checkpoint removes it: a younger one may belong to
// a save still running in another process.
const staleAge = time.Minute

// SaveSafetensors writes tensors and metadata to path atomically: to a temp
// file .NAME.tmp-DIGITS in the same directory, synced and renamed over path,
// then the directory is synced. On error the previous file at path is left
// intact and the temp file is removed; temp files of that same checkpoint
// left by interrupted saves (older than a minute) are removed by the next
// save.
//
// When path is a symbolic link, the file it points to is replaced and the
// link is kept, as editors do: the temp file is written in the target's
// directory and renamed onto the target (a dangling link is followed to the
// file it names, which is created).
func SaveSafetensors(path string, tensors []Tensor, metadata map[string]string) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("checkpoint %s: save: %w", path, err)
		}
	}()
	order, err := saveOrder(tensors)
	if err != nil {
		return err
	}
	header := encodeHeader(tensors, order, metadata)

	target, err := saveTarget(path)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	removeStale(dir, base)
	f, err := os.CreateTemp(dir, tempPrefix(base)+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<16)
	var n8 [8]byte
	binary.LittleEndian.PutUint64(n8[:], uint64(len(header)))
	w.Write(n8[:])
	w.Write(header)
	var chunk [4096]byte
	for ti, i := range order {
		data := tensors[i].Data
		for len(data) > 0 {
			m := min(len(data), len(chunk)/4)
			for j, v := range data[:m] {
				binary.LittleEndian.PutUint32(chunk[4*j:], math.Float32bits(v))
			}
			if _, err := w.Write(chunk[:4*m]); err != nil {
				return err
			}
			data = data[m:]
		}
		if ti == 0 && saveHook != nil {
			if err := w.Flush(); err != nil {
				return err
			}
			if err := saveHook("data"); err != nil {
				return err
			}
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if saveHook != nil {
		if err := saveHook("rename"); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, target); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil // the file is in place; only durability of the rename is unsure
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// tempPrefix is the name of a save's temp file of checkpoint base, less the
// digits os.CreateTemp appends.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// saveTarget returns the file a save of path replaces: path itself, or when
// path is a symbolic link, the file the chain of links ends at.
func saveTarget(path string) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return path, nil // missing or not a link: written in place
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return real, nil
	}
	// A dangling link: follow it by hand to the missing file it names. A
	// relative target is appended to the link's directory unchanged, so the
	// kernel resolves it as it would the link.
	for range 40 {
		link, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(link) {
			dir, _ := filepath.Split(path)
			link = dir + link
		}
		path = link
		if fi, err := os.Lstat(path); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}

// removeStale removes the regular files in dir named like a temp file of a
// save of checkpoint base (exactly .BASE.tmp-DIGITS) and older than staleAge:
// leftovers of saves that were interrupted before their rename. Errors are
// ignored; the save goes on.
func removeStale(dir, base string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := tempPrefix(base)
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || rest == "" || strings.Trim(rest, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) >= staleAge {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// saveOrder validates tensors and returns their indices sorted by name.
func saveOrder(tensors []Tensor) ([]int, error) {
	order := make([]int, len(tensors))
	for i, t := range tensors {
		order[i] = i
		if t.Name == "" || t.Name == metadataKey {
			return nil, fmt.Errorf("invalid tensor name %q", t.Name)
		}
		n, ok := numel(t.Shape)
		if !ok || n != len(t.Data) {
			return nil, fmt.Errorf("tensor %q has %d values for shape %v", t.Name, len(t.Data), t.Shape)
		}
	}
	slices.SortFunc(order, func(i, j int) int { return strings.Compare(tensors[i].Name, tensors[j].Name) })
	for k := 1; k < len(order); k++ {
		if tensors[order[k]].Name == tensors[order[k-1]].Name {
			return nil, fmt.Errorf("duplicate tensor name %q", tensors[order[k]].Name)
		}
	}
	return order, nil
}

// encodeHeader returns the JSON header padded with spaces to a multiple of 8.
func encodeHeader(tensors []Tensor, order []int, metadata map[string]string) []byte {
	var h bytes.Buffer
	h.WriteByte('{')
	sep := ""
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		h.WriteString(`"__metadata__":{`)
		for i, k := range keys {
			if i > 0 {
				h.WriteByte(',')
			}
			writeJSONString(&h, k)
			h.WriteByte(':')
			writeJSONString(&h, metadata[k])
		}
		h.WriteByte('}')
		sep = ","
	}
	off := 0
	for _, i := range order {
		t := tensors[i]
		h.WriteString(sep)
		sep = ","
		writeJSONString(&h, t.Name)
		h.WriteString(`:{"dtype":"F32","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			fmt.Fprint(&h, d)
		}
		end := off + 4*len(t.Data)
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, off, end)
		off = end
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	return h.Bytes()
}

func writeJSONString(w *bytes.Buffer, s string) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	w.Truncate(w.Len() - 1) // Encode's newline
}

// numel returns the product of shape, false if a dimension is negative or
// the product overflows.
func numel(shape []int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > math.MaxInt/8/d) {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// stEntry is one tensor of a parsed file.
type stEntry struct {
	name       string
	shape      []int
	begin, end int
}

// stFile is a parsed, validated safetensors file.
type stFile struct {
	entries  []stEntry // sorted by name
	metadata map[string]string
	data     []byte
}

type stInfo struct {
	Dtype       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// parseSafetensors checks a whole file strictly; its errors lack the path.
func parseSafetensors(buf []byte) (*stFile, error) {
	if len(buf) < 8 {
		return nil, fmt.Errorf("truncated (%d bytes, shorter than the 8-byte header length)", len(buf))
	}
	hlen := binary.LittleEndian.Uint64(buf)
	if hlen > maxHeader {
		return nil, fmt.Errorf("header length %d exceeds the limit of %d bytes", hlen, maxHeader)
	}
	if hlen > uint64(len(buf)-8) {
		return nil, fmt.Errorf("truncated (header length %d, file has %d bytes after it)", hlen, len(buf)-8)
	}
	hdr := buf[8 : 8+hlen]
	data := buf[8+hlen:]
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, errors.New("corrupt header: does not start with '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("corrupt header: %v", err)
	}
	f := &stFile{data: data}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("corrupt header: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("corrupt header: key %v is not a string", tok)
		}
		if seen[key] {
			return nil, fmt.Errorf("corrupt header: duplicate key %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("corrupt header: %v", err)
		}
		if key == metadataKey {
			if err := json.Unmarshal(raw, &f.metadata); err != nil {
				return nil, fmt.Errorf("corrupt header: __metadata__ is not a map of strings: %v", err)
			}
			continue
		}
		e, err := parseEntry(key, raw, len(data))
		if err != nil {
			return nil, err
		}
		f.entries = append(f.entries, e)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("corrupt header: %v", err)
	}
	if rest := bytes.TrimRight(hdr[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, errors.New("corrupt header: data after the JSON object")
	}
	if err := checkCoverage(f.entries, len(data)); err != nil {
		return nil, err
	}
	slices.SortFunc(f.entries, func(a, b stEntry) int { return strings.Compare(a.name, b.name) })
	return f, nil
}

func parseEntry(name string, raw json.RawMessage, dataLen int) (stEntry, error) {
	var info stInfo
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(&info); err != nil {
		return stEntry{}, fmt.Errorf("corrupt header: tensor %q: %v", name, err)
	}
	if info.Dtype == "" || info.Shape == nil || info.DataOffsets == nil {
		return stEntry{}, fmt.Errorf("corrupt header: tensor %q lacks dtype, shape or data_offsets", name)
	}
	if info.Dtype != "F32" {
		return stEntry{}, fmt.Errorf("tensor %q has dtype %s, want F32", name, info.Dtype)
	}
	e := stEntry{name: name, shape: make([]int, len(info.Shape))}
	for i, s := range info.Shape {
		if s < 0 || s > math.MaxInt32 {
			return stEntry{}, fmt.Errorf("corrupt header: tensor %q has invalid shape %v", name, info.Shape)
		}
		e.shape[i] = int(s)
	}
	n, ok := numel(e.shape)
	if !ok {
		return stEntry{}, fmt.Errorf("corrupt header: tensor %q shape %v is too large", name, info.Shape)
	}
	if len(info.DataOffsets) != 2 {
		return stEntry{}, fmt.Errorf("corrupt header: tensor %q has %d data_offsets, want 2", name, len(info.DataOffsets))
	}
	b, end := info.DataOffsets[0], info.DataOffsets[1]
	if b < 0 || end < b || end > math.MaxInt32*16 {
		return stEntry{}, fmt.Errorf("corrupt header: tensor %q has invalid data_offsets [%d,%d]", name, b, end)
	}
	if end-b != 4*int64(n) {
		return stEntry{}, fmt.Errorf("corrupt header: tensor %q has %d bytes of data for shape %v, want %d", name, end-b, e.shape, 4*n)
	}
	e.begin, e.end = int(b), int(end)
	return e, nil
}

// checkCoverage checks that the tensors' byte ranges tile [0, dataLen).
func checkCoverage(entries []stEntry, dataLen int) error {
	byOff := slices.Clone(entries)
	slices.SortFunc(byOff, func(a, b stEntry) int {
		if a.begin != b.begin {
			return a.begin - b.begin
		}
		return a.end - b.end
	})
	end := 0
	for i, e := range byOff {
		if e.begin < end {
			return fmt.Errorf("corrupt header: tensors %q and %q overlap", byOff[i-1].name, e.name)
		}
		if e.begin > end {
			return fmt.Errorf("corrupt header: gap of %d bytes before tensor %q", e.begin-end, e.name)
		}
		end = e.end
	}
	if end > dataLen {
		return fmt.Errorf("truncated (header says %d bytes of data, file has %d)", end, dataLen)
	}
	if end < dataLen {
		return fmt.Errorf("corrupt: %d bytes after the last tensor's data", dataLen-end)
	}
	return nil
}

// LoadSafetensors reads the checkpoint at path into tensors, whose Shape and
// Data length say what is expected. The file is validated whole first: its
// header, that it holds exactly the expected tensors with equal shapes, and
// that its metadata has every key of metadata with that value. Only then is
// data copied, so a failed load leaves tensors untouched. Errors name the
// mismatch; several tensor mismatches are reported together.
func LoadSafetensors(path string, tensors []Tensor, metadata map[string]string) error {
	buf, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return loadBytes(path, buf, tensors, metadata)
}

func loadBytes(path string, buf []byte, tensors []Tensor, metadata map[string]string) error {
	f, err := parseSafetensors(buf)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	// Metadata first: a checkpoint of another model mismatches everywhere.
	var errs []error
	for _, k := range sortedKeys(metadata) {
		want := metadata[k]
		got, ok := f.metadata[k]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("checkpoint %s: metadata %q missing, want %q", path, k, want))
		case got != want && k == MetaModel:
			errs = append(errs, fmt.Errorf("checkpoint %s was saved by model %q, not %q", path, got, want))
		case got != want:
			errs = append(errs, fmt.Errorf("checkpoint %s: metadata %q is %q, want %q", path, k, got, want))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	found := make([]int, len(tensors))
	used := make([]bool, len(f.entries))
	for i, t := range tensors {
		n, ok := numel(t.Shape)
		if !ok || n != len(t.Data) {
			errs = append(errs, fmt.Errorf("checkpoint %s: model tensor %q has %d values for shape %v", path, t.Name, len(t.Data), t.Shape))
			continue
		}
		j, ok := slices.BinarySearchFunc(f.entries, t.Name, func(e stEntry, name string) int { return strings.Compare(e.name, name) })
		if !ok {
			errs = append(errs, fmt.Errorf("checkpoint %s: missing tensor %q", path, t.Name))
			continue
		}
		if used[j] {
			errs = append(errs, fmt.Errorf("checkpoint %s: model lists tensor %q twice", path, t.Name))
			continue
		}
		used[j] = true
		found[i] = j
		if !slices.Equal(f.entries[j].shape, t.Shape) {
			errs = append(errs, fmt.Errorf("checkpoint %s: tensor %q has shape %v, model expects %v", path, t.Name, f.entries[j].shape, t.Shape))
		}
	}
	for j, e := range f.entries {
		if !used[j] {
			errs = append(errs, fmt.Errorf("checkpoint %s: unexpected tensor %q (not in the model)", path, e.name))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for i, t := range tensors {
		e := f.entries[found[i]]
		decodeF32(t.Data, f.data[e.begin:e.end])
	}
	return nil
}

// ReadSafetensors reads every tensor and the metadata of the checkpoint at
// path, for tools. Tensors come sorted by name.
func ReadSafetensors(path string) (tensors []Tensor, metadata map[string]string, err error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	f, err := parseSafetensors(buf)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	tensors = make([]Tensor, len(f.entries))
	for i, e := range f.entries {
		tensors[i] = Tensor{Name: e.name, Shape: e.shape, Data: make([]float32, (e.end-e.begin)/4)}
		decodeF32(tensors[i].Data, f.data[e.begin:e.end])
	}
	if f.metadata == nil {
		f.metadata = map[string]string{}
	}
	return tensors, f.metadata, nil
}

func decodeF32(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
