package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxIDXBytes bounds the data an IDX header may announce (4 GiB).
const maxIDXBytes = 1 << 32

// ReadIDX reads an IDX file of unsigned bytes (type 0x08), gzip-compressed
// when its name ends in .gz. It returns the dimensions and the data, whose
// length is their product. A bad magic number, another element type, a size
// that disagrees with the dimensions, or a truncated or corrupt file is an
// error.
func ReadIDX(path string) (dims []int, data []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReader(f)
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(r)
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
