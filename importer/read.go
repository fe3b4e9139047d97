package importer

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
)

// Weight is one tensor of a file written by another framework, in its own
// layout, converted to float32.
type Weight struct {
	Name  string
	DType string // the file's dtype (F32, F64, F16, BF16, I64, ...)
	Shape []int
	Data  []float32 // nil for an integer tensor (a counter such as PyTorch's num_batches_tracked)
}

// ReadWeights reads a safetensors file as the frameworks write it: F32,
// F64, F16 and BF16 tensors become float32; integer tensors keep only their
// name and shape (no parameter is an integer). The weights come in the
// order of their data in the file, which is the order the writer was given
// them (PyTorch's state_dict order, Keras's layer order), whatever the order
// of the header's keys.
func ReadWeights(path string) ([]Weight, map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	ws, meta, err := parseWeights(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return ws, meta, nil
}

type rawEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

var dtypeSize = map[string]int{"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}

func parseWeights(data []byte) ([]Weight, map[string]string, error) {
	if len(data) < 8 {
		return nil, nil, fmt.Errorf("not a safetensors file: %d bytes", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > uint64(len(data)-8) {
		return nil, nil, fmt.Errorf("not a safetensors file: header of %d bytes in a file of %d", n, len(data))
	}
	hdr, body := data[8:8+n], data[8+n:]
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if err := dec.Decode(&raw); err != nil {
		return nil, nil, fmt.Errorf("safetensors header: %v", err)
	}
	var meta map[string]string
	var ws []Weight
	var begins []int64
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, fmt.Errorf("safetensors metadata: %v", err)
			}
			continue
		}
		var e rawEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %v", name, err)
		}
		size, ok := dtypeSize[e.DType]
		if !ok {
			return nil, nil, fmt.Errorf("tensor %q: unsupported dtype %q", name, e.DType)
		}
		count := 1
		for _, d := range e.Shape {
			if d < 0 || d > math.MaxInt32 {
				return nil, nil, fmt.Errorf("tensor %q: bad shape %v", name, e.Shape)
			}
			count *= d
		}
		b, end := e.Offsets[0], e.Offsets[1]
		if b < 0 || end < b || end > int64(len(body)) || end-b != int64(count*size) {
			return nil, nil, fmt.Errorf("tensor %q: data_offsets %v do not hold %d values of %s in %d bytes of data", name, e.Offsets, count, e.DType, len(body))
		}
		w := Weight{Name: name, DType: e.DType, Shape: e.Shape}
		if w.Data, ok = decode(e.DType, body[b:end], count); !ok {
			w.Data = nil
		}
		ws = append(ws, w)
		begins = append(begins, b)
	}
	idx := make([]int, len(ws))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		if begins[idx[a]] != begins[idx[b]] {
			return begins[idx[a]] < begins[idx[b]]
		}
		return ws[idx[a]].Name < ws[idx[b]].Name // empty tensors share an offset
	})
	out := make([]Weight, len(ws))
	for i, j := range idx {
		out[i] = ws[j]
	}
	return out, meta, nil
}

// decode converts little-endian floating-point data to float32; it reports
// false for an integer dtype.
func decode(dtype string, b []byte, count int) ([]float32, bool) {
	out := make([]float32, count)
	switch dtype {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case "F64":
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	case "BF16":
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	case "F16":
		for i := range out {
			out[i] = half(binary.LittleEndian.Uint16(b[2*i:]))
		}
	default:
		return nil, false
	}
	return out, true
}

// half converts an IEEE 754 binary16 value to float32.
func half(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: frac * 2^-24
		v := float32(frac) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// readAllLimited is io.ReadAll for a map file.
func readAllLimited(r io.Reader) ([]byte, error) { return io.ReadAll(io.LimitReader(r, 1<<20)) }
