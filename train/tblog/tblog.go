// Package tblog writes TensorBoard event files holding scalars, without
// TensorFlow: the TFRecord framing and the Event protocol buffer are encoded
// here by hand.
//
// A file is a sequence of records, each
//
//	uint64 length            (little endian)
//	uint32 masked CRC32C of the 8 length bytes
//	byte   data[length]      (one serialized Event)
//	uint32 masked CRC32C of data
//
// where mask(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 and CRC32C is
// the Castagnoli CRC. The first record is the Event with file_version
// "brain.Event:2"; each scalar is an Event with wall_time, step and a
// Summary holding one Value{tag, simple_value}.
//
// The fields written (tensorflow/core/util/event.proto, summary.proto):
//
//	Event:         wall_time = 1 (double), step = 2 (int64),
//	               file_version = 3 (string), summary = 5 (Summary)
//	Summary:       value = 1 (repeated Value)
//	Summary.Value: tag = 1 (string), simple_value = 2 (float)
//
// Keras's TensorBoard callback writes the training and validation values of
// a run into two directories (logdir/train, logdir/validation) under the same
// tags (epoch_loss, epoch_accuracy), so TensorBoard draws them as two runs on
// one chart; a caller that wants the same opens one Writer per directory.
package tblog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FileVersion is the file_version of the first event of every file.
const FileVersion = "brain.Event:2"

const maskDelta = 0xa282ead8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C is the Castagnoli CRC of b.
func CRC32C(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Mask is the masked form of crc stored in TFRecord files.
func Mask(crc uint32) uint32 { return (crc>>15 | crc<<17) + maskDelta }

// Unmask inverts Mask.
func Unmask(masked uint32) uint32 {
	rot := masked - maskDelta
	return rot>>17 | rot<<15
}

// MaskedCRC32C is Mask(CRC32C(b)).
func MaskedCRC32C(b []byte) uint32 { return Mask(CRC32C(b)) }

// AppendRecord appends data framed as one TFRecord to dst.
func AppendRecord(dst, data []byte) []byte {
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], uint64(len(data)))
	dst = append(dst, hdr[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, MaskedCRC32C(hdr[:]))
	dst = append(dst, data...)
	return binary.LittleEndian.AppendUint32(dst, MaskedCRC32C(data))
}

// Protocol buffer wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

func appendTag(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field)<<3|uint64(wire))
}

func appendBytesField(b []byte, field int, v []byte) []byte {
	b = appendTag(b, field, wireBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// WallTime is t in seconds since the Unix epoch, an Event's wall_time.
func WallTime(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// appendEventHeader appends an Event's wall_time and step.
func appendEventHeader(b []byte, wall float64, step int64) []byte {
	b = appendTag(b, 1, wireFixed64)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(wall))
	if step != 0 { // proto3: a zero scalar is not written
		b = appendTag(b, 2, wireVarint)
		b = binary.AppendUvarint(b, uint64(step))
	}
	return b
}

// FileVersionEvent is the serialized Event{wall_time, file_version}; wall
// is in seconds since the Unix epoch.
func FileVersionEvent(wall float64) []byte {
	b := appendEventHeader(nil, wall, 0)
	return appendBytesField(b, 3, []byte(FileVersion))
}

// Scalar is one value of a summary.
type Scalar struct {
	Tag   string
	Value float64
}

// ScalarEvent is the serialized Event{wall_time, step, summary} whose
// summary holds one simple_value per scalar.
func ScalarEvent(wall float64, step int64, scalars ...Scalar) []byte {
	var sum []byte
	for _, s := range scalars {
		var v []byte
		v = appendBytesField(v, 1, []byte(s.Tag))
		v = appendTag(v, 2, wireFixed32)
		v = binary.LittleEndian.AppendUint32(v, math.Float32bits(float32(s.Value)))
		sum = appendBytesField(sum, 1, v)
	}
	b := appendEventHeader(nil, wall, step)
	return appendBytesField(b, 5, sum)
}

// Writer writes one event file. Each event is written with one Write call,
// so a reader sees whole records (TensorBoard reads files while they grow).
type Writer struct {
	w    io.Writer
	c    io.Closer
	path string
	now  func() time.Time
	err  error
}

// Options configure Create and NewWriter.
type Options struct {
	// Now is the clock for wall_time and the file name; time.Now if nil.
	Now func() time.Time
	// Hostname names the file; os.Hostname() if empty.
	Hostname string
}

// Create makes dir (and its parents) and creates a new event file in it,
// events.out.tfevents.<unix seconds>.<hostname>, with the file_version
// event written. An existing file is never overwritten: the name gets a
// suffix .1, .2, ... instead.
func Create(dir string, opts Options) (*Writer, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	host := opts.Hostname
	if host == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		host = h
	}
	host = strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r < ' ' {
			return '_'
		}
		return r
	}, host)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	t := now()
	base := filepath.Join(dir, fmt.Sprintf("events.out.tfevents.%d.%s", t.Unix(), host))
	path := base
	for i := 1; ; i++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) && i < 1000 {
			path = fmt.Sprintf("%s.%d", base, i)
			continue
		}
		if err != nil {
			return nil, err
		}
		w := &Writer{w: f, c: f, path: path, now: now}
		if err := w.write(FileVersionEvent(WallTime(t))); err != nil {
			f.Close()
			os.Remove(path)
			return nil, err
		}
		return w, nil
	}
}

// NewWriter writes events to w, starting with the file_version event.
func NewWriter(w io.Writer, opts Options) (*Writer, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	tw := &Writer{w: w, now: now}
	if err := tw.write(FileVersionEvent(WallTime(now()))); err != nil {
		return nil, err
	}
	return tw, nil
}

// Path is the file's path ("" for a Writer made by NewWriter).
func (w *Writer) Path() string { return w.path }

func (w *Writer) write(event []byte) error {
	if w.err != nil {
		return w.err
	}
	_, w.err = w.w.Write(AppendRecord(nil, event))
	return w.err
}

// Scalars writes one event at step holding every scalar.
func (w *Writer) Scalars(step int64, scalars ...Scalar) error {
	return w.write(ScalarEvent(WallTime(w.now()), step, scalars...))
}

// Scalar writes one event at step holding the value of tag.
func (w *Writer) Scalar(tag string, step int64, value float64) error {
	return w.Scalars(step, Scalar{tag, value})
}

// Close closes the file; it reports the first error of any write.
func (w *Writer) Close() error {
	err := w.err
	if w.c != nil {
		if cerr := w.c.Close(); err == nil {
			err = cerr
		}
		w.c = nil
	}
	if w.err == nil {
		w.err = errors.New("tblog: writer closed")
	}
	return err
}
