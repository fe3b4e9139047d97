package runtime

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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

// stEntry is one tensor of a parsed header.
type stEntry struct {
	name       string
	shape      []int
	begin, end int
}

// stHeader is a parsed, validated safetensors header.
type stHeader struct {
	entries  []stEntry // sorted by name
	byOffset []int     // indices into entries, in the order their data lies
	metadata map[string]string
	hlen     int // bytes of JSON header
	dataLen  int // bytes of tensor data the header declares
}

// checkpoint is an open checkpoint file whose header has been read.
type checkpoint struct {
	path string
	r    io.Reader
	size int64 // of the whole file; -1 when unknown (a pipe, a device)
	h    *stHeader
}

// openCheckpoint opens path and reads its header; it reads no tensor data.
// Opening a FIFO waits for a writer, as reading one does for data.
func openCheckpoint(path string) (*checkpoint, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	size := int64(-1)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	} else if err == nil && fi.IsDir() {
		f.Close()
		return nil, nil, fmt.Errorf("checkpoint %s: is a directory", path)
	}
	c, err := readCheckpoint(path, f, size)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return c, f, nil
}

// readCheckpoint reads the header of the checkpoint r, of size bytes in all
// (-1 when unknown). It reads exactly the 8-byte length and the header, and
// allocates for the header only as much as arrives when size is unknown, so
// an endless or lying stream fails fast without exhausting memory.
func readCheckpoint(path string, r io.Reader, size int64) (*checkpoint, error) {
	h, err := readHeader(r, size)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return &checkpoint{path: path, r: r, size: size, h: h}, nil
}

func readHeader(r io.Reader, size int64) (*stHeader, error) {
	var n8 [8]byte
	if n, err := io.ReadFull(r, n8[:]); err != nil {
		if isEOF(err) {
			return nil, fmt.Errorf("truncated (%d bytes, shorter than the 8-byte header length)", n)
		}
		return nil, err
	}
	hlen := binary.LittleEndian.Uint64(n8[:])
	if hlen > maxHeader {
		return nil, fmt.Errorf("header length %d exceeds the limit of %d bytes", hlen, maxHeader)
	}
	if size >= 0 && hlen > uint64(size-8) {
		return nil, fmt.Errorf("truncated (header length %d, file has %d bytes after it)", hlen, size-8)
	}
	var buf bytes.Buffer
	if size >= 0 {
		buf.Grow(int(hlen))
	}
	if n, err := io.CopyN(&buf, r, int64(hlen)); err != nil {
		if isEOF(err) {
			return nil, fmt.Errorf("truncated (header length %d, file has %d bytes after it)", hlen, n)
		}
		return nil, err
	}
	return parseHeader(buf.Bytes())
}

func isEOF(err error) bool { return err == io.EOF || err == io.ErrUnexpectedEOF }

// checkSize checks that the file holds exactly the header and the data it
// declares, when its size is known; streams are checked as they are read.
func (c *checkpoint) checkSize() error {
	if c.size < 0 {
		return nil
	}
	h := c.h
	have := c.size - 8 - int64(h.hlen)
	if have < int64(h.dataLen) {
		for _, i := range h.byOffset {
			if e := h.entries[i]; int64(e.end) > have {
				return fmt.Errorf("checkpoint %s: truncated (header says %d bytes of data, file has %d): tensor %q [%d,%d] runs past the end", c.path, h.dataLen, have, e.name, e.begin, e.end)
			}
		}
	}
	if have > int64(h.dataLen) {
		return fmt.Errorf("checkpoint %s: corrupt: %d bytes after the last tensor's data%s", c.path, have-int64(h.dataLen), c.lastName())
	}
	return nil
}

// lastName names the tensor whose data comes last, for errors.
func (c *checkpoint) lastName() string {
	if n := len(c.h.byOffset); n > 0 {
		return fmt.Sprintf(" (tensor %q)", c.h.entries[c.h.byOffset[n-1]].name)
	}
	return ""
}

// readData reads every tensor's data, in file order, into data (indexed like
// the header's entries) and checks the file ends there. At most limit values
// of a tensor are allocated before they arrive. An entry skip[i] is read
// past, not kept (data[i] stays nil); skip may be nil.
func (c *checkpoint) readData(limit int, skip []bool) (data [][]float32, err error) {
	h := c.h
	data = make([][]float32, len(h.entries))
	chunk := make([]byte, 1<<16)
	for _, i := range h.byOffset {
		e := h.entries[i]
		n := (e.end - e.begin) / 4
		if skip != nil && skip[i] {
			if k, err := io.CopyN(io.Discard, c.r, int64(e.end-e.begin)); err != nil {
				if isEOF(err) {
					return nil, fmt.Errorf("checkpoint %s: truncated (header says %d bytes of data, file has %d): tensor %q [%d,%d] is cut short", c.path, h.dataLen, e.begin+int(k), e.name, e.begin, e.end)
				}
				return nil, fmt.Errorf("checkpoint %s: tensor %q: %w", c.path, e.name, err)
			}
			continue
		}
		d := make([]float32, 0, min(n, limit))
		for len(d) < n {
			m := min(n-len(d), len(chunk)/4)
			k, err := io.ReadFull(c.r, chunk[:4*m])
			if err != nil {
				if isEOF(err) {
					return nil, fmt.Errorf("checkpoint %s: truncated (header says %d bytes of data, file has %d): tensor %q [%d,%d] is cut short", c.path, h.dataLen, e.begin+4*len(d)+k, e.name, e.begin, e.end)
				}
				return nil, fmt.Errorf("checkpoint %s: tensor %q: %w", c.path, e.name, err)
			}
			for j := range m {
				d = append(d, math.Float32frombits(binary.LittleEndian.Uint32(chunk[4*j:])))
			}
		}
		data[i] = d
	}
	// The declared data must end the file (a stream, or a file that grew).
	var one [1]byte
	if k, _ := io.ReadFull(c.r, one[:]); k > 0 {
		return nil, fmt.Errorf("checkpoint %s: corrupt: bytes after the last tensor's data%s", c.path, c.lastName())
	}
	return data, nil
}

// parseHeader parses the JSON header as strictly as the reference reader:
// keys match exactly (not case-insensitively), a duplicate key at any level
// is an error, a tensor entry has exactly the fields dtype, shape and
// data_offsets, and __metadata__ maps strings to strings. The tensors' data
// must tile [0, dataLen) with neither gaps nor overlaps. Its errors lack the
// path.
func parseHeader(hdr []byte) (*stHeader, error) {
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, errors.New("corrupt header: does not start with '{'")
	}
	if !utf8.Valid(hdr) {
		return nil, errors.New("corrupt header: not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if err := expectDelim(dec, '{'); err != nil {
		return nil, fmt.Errorf("corrupt header: %v", err)
	}
	h := &stHeader{hlen: len(hdr)}
	seen := map[string]bool{}
	for dec.More() {
		key, err := stringToken(dec)
		if err != nil {
			return nil, fmt.Errorf("corrupt header: %v", err)
		}
		if seen[key] {
			return nil, fmt.Errorf("corrupt header: duplicate key %q", key)
		}
		seen[key] = true
		if key == metadataKey {
			if h.metadata, err = parseMetadata(dec); err != nil {
				return nil, err
			}
			continue
		}
		e, err := parseEntry(dec, key)
		if err != nil {
			return nil, err
		}
		h.entries = append(h.entries, e)
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, fmt.Errorf("corrupt header: %v", err)
	}
	if rest := bytes.TrimRight(hdr[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, errors.New("corrupt header: data after the JSON object")
	}
	slices.SortFunc(h.entries, func(a, b stEntry) int { return strings.Compare(a.name, b.name) })
	var err error
	if h.byOffset, h.dataLen, err = tile(h.entries); err != nil {
		return nil, err
	}
	return h, nil
}

// expectDelim reads the next token, which must be d.
func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonErr(err)
	}
	if tok != d {
		return fmt.Errorf("found %v, want %v", tokenText(tok), d)
	}
	return nil
}

// stringToken reads the next token, which must be a string.
func stringToken(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", jsonErr(err)
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("found %v, want a string", tokenText(tok))
	}
	return s, nil
}

func jsonErr(err error) error {
	if err == io.EOF {
		return errors.New("unexpected end of JSON")
	}
	return err
}

func tokenText(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return "'" + t.String() + "'"
	case string:
		return strconv.Quote(t)
	case nil:
		return "null"
	}
	return fmt.Sprint(tok)
}

// parseMetadata reads the value of __metadata__: an object of strings.
func parseMetadata(dec *json.Decoder) (map[string]string, error) {
	bad := func(err error) error {
		return fmt.Errorf("corrupt header: __metadata__ is not a map of strings: %v", err)
	}
	if err := expectDelim(dec, '{'); err != nil {
		return nil, bad(err)
	}
	m := map[string]string{}
	for dec.More() {
		k, err := stringToken(dec)
		if err != nil {
			return nil, bad(err)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("corrupt header: duplicate key %q in __metadata__", k)
		}
		v, err := stringToken(dec)
		if err != nil {
			return nil, bad(fmt.Errorf("value of %q: %v", k, err))
		}
		m[k] = v
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, bad(err)
	}
	return m, nil
}

// parseEntry reads the value of tensor name's key and validates it alone.
func parseEntry(dec *json.Decoder, name string) (stEntry, error) {
	fail := func(format string, args ...any) (stEntry, error) {
		return stEntry{}, fmt.Errorf("corrupt header: tensor %q: "+format, append([]any{name}, args...)...)
	}
	if err := expectDelim(dec, '{'); err != nil {
		return fail("%v", err)
	}
	var (
		dtype       string
		shape, offs []int64
		seen        = map[string]bool{}
		err         error
	)
	for dec.More() {
		key, err := stringToken(dec)
		if err != nil {
			return fail("%v", err)
		}
		if seen[key] {
			return fail("duplicate key %q", key)
		}
		seen[key] = true
		switch key {
		case "dtype":
			dtype, err = stringToken(dec)
		case "shape":
			shape, err = intsToken(dec)
		case "data_offsets":
			offs, err = intsToken(dec)
		default:
			return fail("unknown field %q", key)
		}
		if err != nil {
			return fail("%s: %v", key, err)
		}
	}
	if err = expectDelim(dec, '}'); err != nil {
		return fail("%v", err)
	}
	for _, k := range []string{"dtype", "shape", "data_offsets"} {
		if !seen[k] {
			return fail("lacks %s", k)
		}
	}
	if dtype != "F32" {
		return stEntry{}, fmt.Errorf("tensor %q has dtype %s, want F32", name, dtype)
	}
	e := stEntry{name: name, shape: make([]int, len(shape))}
	for i, s := range shape {
		if s > math.MaxInt32 {
			return fail("invalid shape %v", shape)
		}
		e.shape[i] = int(s)
	}
	n, ok := numel(e.shape)
	if !ok {
		return fail("shape %v is too large", shape)
	}
	if len(offs) != 2 {
		return fail("has %d data_offsets, want 2", len(offs))
	}
	b, end := offs[0], offs[1]
	if end < b || end > math.MaxInt32*16 {
		return fail("invalid data_offsets [%d,%d]", b, end)
	}
	if end-b != 4*int64(n) {
		return stEntry{}, fmt.Errorf("corrupt header: tensor %q has %d bytes of data for shape %v, want %d", name, end-b, e.shape, 4*n)
	}
	e.begin, e.end = int(b), int(end)
	return e, nil
}

// intsToken reads an array of non-negative integers.
func intsToken(dec *json.Decoder) ([]int64, error) {
	if err := expectDelim(dec, '['); err != nil {
		return nil, err
	}
	xs := []int64{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonErr(err)
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("found %v, want a non-negative integer", tokenText(tok))
		}
		x, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil || x < 0 {
			return nil, fmt.Errorf("%s is not a non-negative integer", num)
		}
		xs = append(xs, x)
	}
	if err := expectDelim(dec, ']'); err != nil {
		return nil, err
	}
	return xs, nil
}

// tile checks that the entries' byte ranges tile [0, dataLen) and returns
// their indices in offset order.
func tile(entries []stEntry) (byOffset []int, dataLen int, err error) {
	byOffset = make([]int, len(entries))
	for i := range byOffset {
		byOffset[i] = i
	}
	slices.SortStableFunc(byOffset, func(i, j int) int {
		a, b := entries[i], entries[j]
		if a.begin != b.begin {
			return a.begin - b.begin
		}
		return a.end - b.end
	})
	end := 0
	for k, i := range byOffset {
		e := entries[i]
		if e.begin < end {
			prev := entries[byOffset[k-1]]
			return nil, 0, fmt.Errorf("corrupt header: tensors %q [%d,%d] and %q [%d,%d] overlap", prev.name, prev.begin, prev.end, e.name, e.begin, e.end)
		}
		if e.begin > end {
			return nil, 0, fmt.Errorf("corrupt header: gap of %d bytes before tensor %q", e.begin-end, e.name)
		}
		end = e.end
	}
	return byOffset, end, nil
}

// LoadSafetensors reads the checkpoint at path into tensors, whose Shape and
// Data length say what is expected. The header is read and validated first:
// that the file holds exactly the expected tensors with equal shapes, that
// its metadata has every key of metadata with that value, and, for a regular
// file, that its size is exactly what the header declares. Only then is the
// data read, exactly the declared bytes, and copied once it has all arrived,
// so a failed load leaves tensors untouched. Errors name the file and the
// mismatch; several tensor mismatches are reported together.
func LoadSafetensors(path string, tensors []Tensor, metadata map[string]string) error {
	c, f, err := openCheckpoint(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.load(tensors, metadata, false)
}

// LoadSafetensorsPart is LoadSafetensors for a model that needs part of a
// checkpoint: the file may hold tensors the model does not have, which are
// skipped unread (an inference build loading a training checkpoint, whose
// optimizer state it has no use for). Every tensor of the model must still
// be there with its shape.
func LoadSafetensorsPart(path string, tensors []Tensor, metadata map[string]string) error {
	c, f, err := openCheckpoint(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.load(tensors, metadata, true)
}

func (c *checkpoint) load(tensors []Tensor, metadata map[string]string, part bool) error {
	path, h := c.path, c.h
	// Metadata first: a checkpoint of another model mismatches everywhere.
	var errs []error
	for _, k := range sortedKeys(metadata) {
		want := metadata[k]
		got, ok := h.metadata[k]
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
	found := make([]int, len(tensors)) // tensor -> entry
	used := make([]bool, len(h.entries))
	for i, t := range tensors {
		n, ok := numel(t.Shape)
		if !ok || n != len(t.Data) {
			errs = append(errs, fmt.Errorf("checkpoint %s: model tensor %q has %d values for shape %v", path, t.Name, len(t.Data), t.Shape))
			continue
		}
		j, ok := slices.BinarySearchFunc(h.entries, t.Name, func(e stEntry, name string) int { return strings.Compare(e.name, name) })
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
		if !slices.Equal(h.entries[j].shape, t.Shape) {
			errs = append(errs, fmt.Errorf("checkpoint %s: tensor %q has shape %v, model expects %v", path, t.Name, h.entries[j].shape, t.Shape))
		}
	}
	for j, e := range h.entries {
		if !used[j] && !part {
			errs = append(errs, fmt.Errorf("checkpoint %s: unexpected tensor %q (not in the model)", path, e.name))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := c.checkSize(); err != nil {
		return err
	}
	// Every entry now matches a model tensor of its size: allocating it
	// whole costs no more than the model itself.
	skip := make([]bool, len(used))
	for j := range used {
		skip[j] = !used[j]
	}
	data, err := c.readData(math.MaxInt, skip)
	if err != nil {
		return err
	}
	for i, t := range tensors {
		copy(t.Data, data[found[i]])
	}
	return nil
}

// ReadSafetensors reads every tensor and the metadata of the checkpoint at
// path, for tools. Tensors come sorted by name.
func ReadSafetensors(path string) (tensors []Tensor, metadata map[string]string, err error) {
	c, f, err := openCheckpoint(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return c.readAll()
}

func (c *checkpoint) readAll() ([]Tensor, map[string]string, error) {
	if err := c.checkSize(); err != nil {
		return nil, nil, err
	}
	// A file's size vouches for its header; a stream's tensors grow as
	// their data arrives.
	limit := math.MaxInt
	if c.size < 0 {
		limit = 1 << 16
	}
	data, err := c.readData(limit, nil)
	if err != nil {
		return nil, nil, err
	}
	tensors := make([]Tensor, len(c.h.entries))
	for i, e := range c.h.entries {
		tensors[i] = Tensor{Name: e.name, Shape: e.shape, Data: data[i]}
	}
	metadata := c.h.metadata
	if metadata == nil {
		metadata = map[string]string{}
	}
	return tensors, metadata, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
