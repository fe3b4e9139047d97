package data

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/runtime"
)

func TestText(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.txt")
	if err := os.WriteFile(p, []byte("hello world!"), 0o644); err != nil {
		t.Fatal(err)
	}
	txt, err := LoadText(p, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	if txt.Len() != 8 { // windows at 0..7; the one at 8 has no next byte
		t.Fatalf("%d windows", txt.Len())
	}
	l, err := NewLoader(txt, []runtime.IO{io_("x", runtime.I32, "input", -1, 4), io_("y", runtime.I32, "target", -1, 4)}, LoaderOptions{BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	b := l.NewBatch()
	if n, err := l.Load(b, 0, 2); err != nil || n != 2 {
		t.Fatalf("n %d err %v", n, err)
	}
	str := func(v []int32) string {
		var s []byte
		for _, c := range v {
			s = append(s, byte(c))
		}
		return string(s)
	}
	if str(b[0].I32[:8]) != "worlorld" || str(b[1].I32[:8]) != "orldrld!" { // windows 6 and 7
		t.Fatalf("x %q y %q", str(b[0].I32[:8]), str(b[1].I32[:8]))
	}
	// Read as f32 (a one-hot or embedding-free model): byte values.
	x := make([]float32, 4)
	if err := txt.Read(0, 7, runtime.Value{F32: x}); err != nil || !slices.Equal(x, []float32{'o', 'r', 'l', 'd'}) {
		t.Fatalf("f32 read %v %v", x, err)
	}
	if err := txt.Read(1, 8, runtime.Value{I32: make([]int32, 4)}); err == nil {
		t.Fatal("window 8 read")
	}
	s2, _ := NewText([]byte("hello world!"), 4, 3)
	if s2.Len() != 3 {
		t.Fatalf("stride 3: %d windows", s2.Len())
	}

	// 90/10 by position, no window across the cut.
	long := []byte(strings.Repeat("abcdefghij", 10))
	all, _ := NewText(long, 5, 1)
	train, val, err := all.Split(0.1)
	if err != nil {
		t.Fatal(err)
	}
	if string(train.Bytes) != string(long[:90]) || string(val.Bytes) != string(long[90:]) || train.Len() != 85 || val.Len() != 5 {
		t.Fatalf("split %d/%d bytes, %d/%d windows", len(train.Bytes), len(val.Bytes), train.Len(), val.Len())
	}
	for _, tc := range []struct {
		f    func() error
		want string
	}{
		{func() error { _, err := LoadText(filepath.Join(t.TempDir(), "none"), 4, 1); return err }, "none"},
		{func() error { _, err := NewText([]byte("abcd"), 4, 1); return err }, "no window of 4 bytes"},
		{func() error { _, err := NewText(long, 0, 1); return err }, "window 0"},
		{func() error { _, _, err := all.Split(0.01); return err }, "validation part"},
		{func() error { _, _, err := all.Split(1); return err }, "not in (0, 1)"},
	} {
		if err := tc.f(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}
