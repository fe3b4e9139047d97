package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
)

// maxIDXBytes bounds the data an IDX header may announce (4 GiB).
const maxIDXBytes = 1 << 32

// ReadIDX reads an IDX file of unsigned bytes (type 0x08), gzip-compressed
// or not (told by the gzip magic number 1f 8b, whatever the name). It returns the dimensions and the data, whose
// length is their product. A bad magic number, another element type, a size
// that disagrees with the dimensions, or a truncated or corrupt file is an
// error.
func ReadIDX(path string) (dims []int, data []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	dims, data, err = readIDX(r)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return dims, data, nil
}

func readIDX(r io.Reader) ([]int, []byte, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, nil, fmt.Errorf("truncated IDX header: %w", err)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, nil, fmt.Errorf("not an IDX file (magic % x)", magic)
	}
	if magic[2] != 0x08 {
		return nil, nil, fmt.Errorf("IDX element type 0x%02x, want 0x08 (unsigned byte)", magic[2])
	}
	nd := int(magic[3])
	if nd == 0 {
		return nil, nil, fmt.Errorf("IDX file has no dimensions")
	}
	raw := make([]byte, 4*nd)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, nil, fmt.Errorf("truncated IDX header: %w", err)
	}
	dims := make([]int, nd)
	size := 1
	for i := range dims {
		d := int(binary.BigEndian.Uint32(raw[4*i:]))
		dims[i] = d
		if d > 0 && size > maxIDXBytes/d {
			return nil, nil, fmt.Errorf("IDX dimensions %v exceed %d bytes", dims[:i+1], maxIDXBytes)
		}
		size *= d
	}
	// Read at most size+1 bytes so a file longer than announced is caught
	// without trusting size for the allocation up front.
	buf, err := io.ReadAll(io.LimitReader(r, int64(size)+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading IDX data: %w", err)
	}
	if len(buf) < size {
		return nil, nil, fmt.Errorf("truncated IDX data: dimensions %v need %d bytes, file has %d", dims, size, len(buf))
	}
	if len(buf) > size {
		return nil, nil, fmt.Errorf("IDX file longer than its dimensions %v (%d bytes)", dims, size)
	}
	// Drain a gzip stream to its end so its checksum is verified.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, nil, fmt.Errorf("reading IDX data: %w", err)
	}
	return dims, buf, nil
}

// LoadIDX reads a pair of IDX files: images [N, ...] (any rank; each
// example is the product of the other dimensions, scaled from 0..255 to
// [0, 1]) and labels [N] (0..255). Either may be gzip-compressed. A count
// that differs between the two is an error naming both files.
func LoadIDX(images, labels string) (*Dataset, error) {
	idims, pix, err := ReadIDX(images)
	if err != nil {
		return nil, err
	}
	ldims, lab, err := ReadIDX(labels)
	if err != nil {
		return nil, err
	}
	if len(ldims) != 1 || ldims[0] != idims[0] {
		return nil, fmt.Errorf("%s: dimensions %v, want [%d] to match the %d images of %s", labels, ldims, idims[0], idims[0], images)
	}
	d := &Dataset{N: idims[0], Dim: prod(idims[1:]), Shape: slices.Clone(idims[1:]), X: make([]float32, len(pix)), Y: make([]int32, len(lab))}
	for i, p := range pix {
		d.X[i] = float32(p) / 255
	}
	for i, l := range lab {
		d.Y[i] = int32(l)
	}
	return d, nil
}
