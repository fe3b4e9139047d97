package data

// Byte-level text windows for character models: example i is the window of
// Window bytes starting at i*Stride (input x) and the same window shifted
// by one byte (target y: each position's next byte), both i32 byte values
// 0..255. Windows are views of the bytes; nothing is copied per example.

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mdlc/mdlc/runtime"
)

// Text is a byte string cut into windows. It is a Source of two fields, x
// and y, both i32 [Window] (readable as f32).
type Text struct {
	Bytes  []byte
	Window int // T: bytes per window
	Stride int // bytes between the starts of consecutive windows
}

// LoadText reads the file at path as bytes cut into windows of window bytes
// every stride bytes (stride 0 means 1: a window at every position).
func LoadText(path string, window, stride int) (*Text, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	t, err := NewText(b, window, stride)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	return t, nil
}

// NewText cuts b into windows (see LoadText). b must hold at least
// window+1 bytes: one window and its next byte.
func NewText(b []byte, window, stride int) (*Text, error) {
	if stride == 0 {
		stride = 1
	}
	if window < 1 || stride < 1 {
		return nil, fmt.Errorf("text window %d, stride %d: want both >= 1", window, stride)
	}
	if len(b) < window+1 {
		return nil, fmt.Errorf("text of %d bytes has no window of %d bytes and its next byte", len(b), window)
	}
	return &Text{Bytes: b, Window: window, Stride: stride}, nil
}

// Len is the number of windows that have a next byte after their end.
func (t *Text) Len() int {
	if len(t.Bytes) < t.Window+1 || t.Stride < 1 {
		return 0
	}
	return (len(t.Bytes)-t.Window-1)/t.Stride + 1
}

func (t *Text) Fields() []Field {
	return []Field{
		{Name: "x", DType: runtime.I32, Shape: []int{t.Window}},
		{Name: "y", DType: runtime.I32, Shape: []int{t.Window}},
	}
}

func (t *Text) Read(f, i int, dst runtime.Value) error {
	if i < 0 || i >= t.Len() || f < 0 || f > 1 {
		return fmt.Errorf("field %d of window %d of %d", f, i, t.Len())
	}
	src := t.Bytes[i*t.Stride+f : i*t.Stride+f+t.Window]
	switch {
	case dst.I32 != nil && len(dst.I32) == t.Window:
		for k, c := range src {
			dst.I32[k] = int32(c)
		}
	case dst.I32 == nil && len(dst.F32) == t.Window:
		for k, c := range src {
			dst.F32[k] = float32(c)
		}
	default:
		return fmt.Errorf("destination holds %d i32 or %d f32 elements, want %d", len(dst.I32), len(dst.F32), t.Window)
	}
	return nil
}

// Split cuts the bytes by position: the first 1-valFraction of them for
// training, the rest for validation (90/10 with 0.1), each cut into
// windows alike; no window crosses the cut. Both parts must hold a window
// and its next byte.
func (t *Text) Split(valFraction float64) (train, val *Text, err error) {
	if !(valFraction > 0 && valFraction < 1) {
		return nil, nil, fmt.Errorf("data: validation fraction %v not in (0, 1)", valFraction)
	}
	cut := int(math.Round((1 - valFraction) * float64(len(t.Bytes))))
	if train, err = NewText(t.Bytes[:cut], t.Window, t.Stride); err != nil {
		return nil, nil, fmt.Errorf("data: training part: %w", err)
	}
	if val, err = NewText(t.Bytes[cut:], t.Window, t.Stride); err != nil {
		return nil, nil, fmt.Errorf("data: validation part: %w", err)
	}
	return train, val, nil
}

// OpticksPath returns the path of Isaac Newton's Opticks, the public-domain
// text every Go installation ships in $GOROOT/src/testdata (the text the
// sequence examples train on). GOROOT comes from the environment, else from
// `go env GOROOT`.
func OpticksPath() (string, error) {
	root := os.Getenv("GOROOT")
	if root == "" {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			return "", fmt.Errorf("data: finding GOROOT for the Opticks text: %w", err)
		}
		root = strings.TrimSpace(string(out))
	}
	return filepath.Join(root, "src", "testdata", "Isaac.Newton-Opticks.txt"), nil
}
