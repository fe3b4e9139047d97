package tblog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Published CRC32C values: RFC 3720 section B.4 (also in TensorFlow's
// crc32c_test.cc) and the check value of the Castagnoli CRC.
func TestCRC32C(t *testing.T) {
	seq := func(f func(i int) byte) []byte {
		b := make([]byte, 32)
		for i := range b {
			b[i] = f(i)
		}
		return b
	}
	for _, c := range []struct {
		name string
		data []byte
		want uint32
	}{
		{"123456789", []byte("123456789"), 0xe3069283},
		{"32 zeros", seq(func(int) byte { return 0 }), 0x8a9136aa},
		{"32 ones", seq(func(int) byte { return 0xff }), 0x62a8ab43},
		{"ascending", seq(func(i int) byte { return byte(i) }), 0x46dd794e},
		{"descending", seq(func(i int) byte { return byte(31 - i) }), 0x113fdb5c},
	} {
		if got := CRC32C(c.data); got != c.want {
			t.Errorf("CRC32C(%s) = %#08x, want %#08x", c.name, got, c.want)
		}
	}
}

// Masked CRCs taken from TensorBoard's Rust data server tests (masked_crc.rs,
// tf_record.rs), which took them from event files TensorFlow wrote.
func TestMaskedCRC32C(t *testing.T) {
	var len24 [8]byte
	binary.LittleEndian.PutUint64(len24[:], 24)
	for _, c := range []struct {
		name string
		data []byte
		want uint32
	}{
		{"file_version event", []byte("\x1a\x11CRC test, one two"), 0x5794d08a},
		{"length 24", len24[:], 0x224b7fa3},
	} {
		if got := MaskedCRC32C(c.data); got != c.want {
			t.Errorf("MaskedCRC32C(%s) = %#08x, want %#08x", c.name, got, c.want)
		}
	}
	for _, crc := range []uint32{0, 1, 0xe3069283, 0xffffffff} {
		if got := Unmask(Mask(crc)); got != crc {
			t.Errorf("Unmask(Mask(%#x)) = %#x", crc, got)
		}
		if Mask(crc) == crc {
			t.Errorf("Mask(%#x) is the identity", crc)
		}
	}
}

// The two records of an event file TensorFlow wrote for
// tf.summary.scalar("accuracy", 0.99, step=77), as dumped in TensorBoard's
// tf_record.rs test: AppendRecord frames them byte for byte as TensorFlow did,
// and FileVersionEvent encodes the first record's data byte for byte.
func TestRecordsTensorFlowWrote(t *testing.T) {
	rec1 := []byte("\x09\x00\x00\x80\x38\x99\xd6\xd7\x41\x1a\x0dbrain.Event:2")
	rec2 := []byte("\x09\xc4\x05\xb7\x3d\x99\xd6\xd7\x41" +
		"\x10\x4d\x2a\x25" +
		"\x0a\x23\x0a\x08accuracy" +
		"\x42\x0a\x08\x01\x12\x00\x22\x04\xa4\x70\x7d\x3f\x4a" +
		"\x0b\x0a\x09\x0a\x07scalars")
	file := []byte("\x18\x00\x00\x00\x00\x00\x00\x00\xa3\x7f\x4b\x22")
	file = append(file, rec1...)
	file = append(file, "\x12\x4b\x36\xab"+"\x32\x00\x00\x00\x00\x00\x00\x00\x24\x19\x56\xec"...)
	file = append(file, rec2...)
	file = append(file, "\xa5\x5b\x64\x33"...)

	got := AppendRecord(AppendRecord(nil, rec1), rec2)
	if !bytes.Equal(got, file) {
		t.Errorf("AppendRecord:\n got % x\nwant % x", got, file)
	}
	wall := math.Float64frombits(binary.LittleEndian.Uint64(rec1[1:9]))
	if ev := FileVersionEvent(wall); !bytes.Equal(ev, rec1) {
		t.Errorf("FileVersionEvent:\n got % x\nwant % x", ev, rec1)
	}
}

// readRecords is a minimal TFRecord reader independent of the package: it
// checks both masked CRCs of every record with hash/crc32 directly.
func readRecords(t *testing.T, b []byte) [][]byte {
	t.Helper()
	tab := crc32.MakeTable(crc32.Castagnoli)
	masked := func(p []byte) uint32 {
		c := crc32.Checksum(p, tab)
		return (c>>15 | c<<17) + 0xa282ead8
	}
	var recs [][]byte
	for len(b) > 0 {
		if len(b) < 12 {
			t.Fatalf("truncated header: % x", b)
		}
		n := binary.LittleEndian.Uint64(b)
		if got, want := binary.LittleEndian.Uint32(b[8:]), masked(b[:8]); got != want {
			t.Fatalf("length crc %#x, want %#x", got, want)
		}
		b = b[12:]
		if uint64(len(b)) < n+4 {
			t.Fatalf("truncated record of %d bytes", n)
		}
		data := b[:n]
		if got, want := binary.LittleEndian.Uint32(b[n:]), masked(data); got != want {
			t.Fatalf("data crc %#x, want %#x", got, want)
		}
		recs = append(recs, data)
		b = b[n+4:]
	}
	return recs
}

// field is one protobuf field: a number, and a varint, a fixed value or bytes.
type field struct {
	num   int
	wire  int
	u     uint64
	bytes []byte
}

// parseFields parses protobuf wire format, the four wire types it may hold.
func parseFields(t *testing.T, b []byte) []field {
	t.Helper()
	uvarint := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			t.Fatalf("bad varint in % x", b)
		}
		b = b[n:]
		return v
	}
	var fs []field
	for len(b) > 0 {
		key := uvarint()
		f := field{num: int(key >> 3), wire: int(key & 7)}
		switch f.wire {
		case 0:
			f.u = uvarint()
		case 1:
			f.u = binary.LittleEndian.Uint64(b)
			b = b[8:]
		case 2:
			n := uvarint()
			f.bytes = b[:n]
			b = b[n:]
		case 5:
			f.u = uint64(binary.LittleEndian.Uint32(b))
			b = b[4:]
		default:
			t.Fatalf("wire type %d", f.wire)
		}
		fs = append(fs, f)
	}
	return fs
}

// event is what the reader makes of an Event.
type event struct {
	wall    float64
	step    int64
	version string
	values  []string // "tag=value"
}

func decodeEvent(t *testing.T, b []byte) event {
	var e event
	for _, f := range parseFields(t, b) {
		switch {
		case f.num == 1 && f.wire == 1:
			e.wall = math.Float64frombits(f.u)
		case f.num == 2 && f.wire == 0:
			e.step = int64(f.u)
		case f.num == 3 && f.wire == 2:
			e.version = string(f.bytes)
		case f.num == 5 && f.wire == 2:
			for _, v := range parseFields(t, f.bytes) {
				if v.num != 1 || v.wire != 2 {
					t.Fatalf("Summary field %d wire %d", v.num, v.wire)
				}
				var tag string
				var val float32
				for _, g := range parseFields(t, v.bytes) {
					switch {
					case g.num == 1 && g.wire == 2:
						tag = string(g.bytes)
					case g.num == 2 && g.wire == 5:
						val = math.Float32frombits(uint32(g.u))
					default:
						t.Fatalf("Summary.Value field %d wire %d", g.num, g.wire)
					}
				}
				e.values = append(e.values, fmt.Sprintf("%s=%g", tag, val))
			}
		default:
			t.Fatalf("Event field %d wire %d", f.num, f.wire)
		}
	}
	return e
}

func TestWriterReadBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs", "train")
	clock := time.Unix(1700000000, 250_000_000)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	w, err := Create(dir, Options{Now: now, Hostname: "host.example"})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "events.out.tfevents.1700000001.host.example"); w.Path() != want {
		t.Errorf("path %s, want %s", w.Path(), want)
	}
	if err := w.Scalars(0, Scalar{"epoch_loss", 0.5}, Scalar{"epoch_accuracy", 0.75}); err != nil {
		t.Fatal(err)
	}
	if err := w.Scalar("epoch_loss", 1, 0.25); err != nil {
		t.Fatal(err)
	}
	if err := w.Scalar("epoch_loss", 300, -1.5); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Scalar("x", 1, 1); err == nil {
		t.Error("Scalar after Close: no error")
	}

	// A second writer in the same second gets a name of its own.
	clock = time.Unix(1700000000, 250_000_000)
	w2, err := Create(dir, Options{Now: now, Hostname: "host.example"})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "events.out.tfevents.1700000001.host.example.1"); w2.Path() != want {
		t.Errorf("second path %s, want %s", w2.Path(), want)
	}
	w2.Close()

	b, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range readRecords(t, b) {
		e := decodeEvent(t, r)
		got = append(got, fmt.Sprintf("%.2f %d %q %v", e.wall, e.step, e.version, e.values))
	}
	want := []string{
		`1700000001.25 0 "brain.Event:2" []`,
		`1700000002.25 0 "" [epoch_loss=0.5 epoch_accuracy=0.75]`,
		`1700000003.25 1 "" [epoch_loss=0.25]`,
		`1700000004.25 300 "" [epoch_loss=-1.5]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TensorBoard's own reader, when the Python package is installed.
func TestTensorBoardReads(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import tensorboard").Run(); err != nil {
		t.Skip("no tensorboard Python package")
	}
	dir := t.TempDir()
	w, err := Create(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for step := range 3 {
		if err := w.Scalar("epoch_loss", int64(step), 1/float64(step+1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	script := `
import sys
from tensorboard.backend.event_processing import event_accumulator
acc = event_accumulator.EventAccumulator(sys.argv[1])
acc.Reload()
for e in acc.Scalars("epoch_loss"):
    print(e.step, round(e.value, 4))
`
	out, err := exec.Command(py, "-c", script, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if want := "0 1.0\n1 0.5\n2 0.3333\n"; string(out) != want {
		t.Errorf("TensorBoard read:\n%s\nwant:\n%s", out, want)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(filepath.Join(file, "logs"), Options{}); err == nil {
		t.Error("Create under a file: no error")
	}
	if _, err := NewWriter(failWriter{}, Options{}); err == nil {
		t.Error("NewWriter on a failing writer: no error")
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Options{Now: func() time.Time { return time.Unix(1, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	if w.Path() != "" {
		t.Errorf("Path() = %q", w.Path())
	}
	if err := w.Scalar("a", 1, 2); err != nil {
		t.Fatal(err)
	}
	if n := len(readRecords(t, buf.Bytes())); n != 2 {
		t.Errorf("%d records, want 2", n)
	}
}
