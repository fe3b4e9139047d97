//go:build unix

package runtime

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hangLimit bounds how long a test waits for a load that must not block
// before it fails instead of hanging; it is not a performance limit.
const hangLimit = 30 * time.Second

// noHang runs f and fails the test if it does not return within hangLimit.
func noHang(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(hangLimit):
		t.Fatalf("%s did not return within %v", what, hangLimit)
		return nil
	}
}

// TestLoadSafetensorsDevZero checks a device of endless zeros is refused at
// once: its header length is 0. Reading the whole file first ran out of
// memory.
func TestLoadSafetensorsDevZero(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip(err)
	}
	var err error
	alloc := allocated(func() {
		err = noHang(t, "LoadSafetensors(/dev/zero)", func() error {
			return LoadSafetensors("/dev/zero", destTensors(), map[string]string{"mdlc.model": "T"})
		})
	})
	if err == nil || !strings.Contains(err.Error(), "checkpoint /dev/zero: corrupt header") || alloc > 1<<20 {
		t.Errorf("error %v after allocating %d bytes", err, alloc)
	}
	alloc = allocated(func() {
		err = noHang(t, "ReadSafetensors(/dev/zero)", func() error {
			_, _, err := ReadSafetensors("/dev/zero")
			return err
		})
	})
	if err == nil || !strings.Contains(err.Error(), "checkpoint /dev/zero: corrupt header") || alloc > 1<<20 {
		t.Errorf("ReadSafetensors: error %v after allocating %d bytes", err, alloc)
	}
}

// TestLoadSafetensorsFIFO loads from a named pipe: what it reads is checked
// as it comes, a bad header fails at once even while the writer keeps the
// pipe open, and a good checkpoint loads.
func TestLoadSafetensorsFIFO(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	if err := SaveSafetensors(good, tinyTensors(), map[string]string{"mdlc.model": "T"}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	tests := []struct {
		name     string
		b        []byte
		keepOpen bool   // the writer closes only after the load returns
		want     string // "" for success
	}{
		{"hugehdr", binary.LittleEndian.AppendUint64(nil, 1<<56), true, "exceeds the limit"},
		{"badjson", withData(`{"a":{"dtype":"F32",`, 12), true, "corrupt header"},
		{"badkey", withData(`{"a":{"DTYPE":"F32","shape":[1,1],"data_offsets":[0,4]}}`, 4), true, `unknown field "DTYPE"`},
		{"wrongshape", withData(`{"__metadata__":{"mdlc.model":"T"},"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}`, 0), true, `tensor "a" has shape [1 2], model expects [1 1]`},
		{"cut", raw[:len(raw)-2], false, `truncated (header says 12 bytes of data, file has 10): tensor "bb" [4,12] is cut short`},
		{"long", append(bytes.Clone(raw), 0), false, `corrupt: bytes after the last tensor's data (tensor "bb")`},
		{"good", raw, false, ""},
	}
	for _, tc := range tests {
		fifo := filepath.Join(dir, tc.name+".fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Skip("mkfifo:", err)
		}
		release := make(chan struct{})
		written := make(chan error, 1)
		go func() {
			w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // waits for the reader
			if err != nil {
				written <- err
				return
			}
			defer w.Close()
			_, err = w.Write(tc.b)
			if tc.keepOpen {
				<-release
			}
			written <- err
		}()
		dst := destTensors()
		err := noHang(t, "LoadSafetensors("+tc.name+")", func() error {
			return LoadSafetensors(fifo, dst, map[string]string{"mdlc.model": "T"})
		})
		close(release)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want == "" && (dst[0].Data[1] != 2 || dst[1].Data[0] != 3):
			t.Errorf("%s: loaded %v", tc.name, dst)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), fifo)):
			t.Errorf("%s: error %v, want one naming the file and containing %q", tc.name, err, tc.want)
		case tc.want != "" && !untouched(dst):
			t.Errorf("%s: failed load changed the destination", tc.name)
		}
		// The writer may fail with EPIPE once the reader is gone; it must
		// only finish.
		noHang(t, "writer "+tc.name, func() error { return <-written })
	}
}

// TestSaveSafetensorsSymlink checks a save through a symbolic link replaces
// the file it points to and keeps the link.
func TestSaveSafetensorsSymlink(t *testing.T) {
	root := t.TempDir()
	data, links := filepath.Join(root, "data"), filepath.Join(root, "links")
	for _, d := range []string{data, links} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(data, "run1.safetensors")
	if err := SaveSafetensors(target, tinyTensors(), map[string]string{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	check := func(link, linkText, target, v string) {
		t.Helper()
		fi, err := os.Lstat(link)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("%s is no longer a symbolic link: %v %v", link, fi.Mode(), err)
		}
		if got, _ := os.Readlink(link); got != linkText {
			t.Fatalf("%s points to %q, want %q", link, got, linkText)
		}
		_, meta, err := ReadSafetensors(target)
		if err != nil || meta["v"] != v {
			t.Fatalf("target %s: metadata %v, %v; want v=%s", target, meta, err, v)
		}
		for _, d := range []string{data, links} {
			ents, _ := os.ReadDir(d)
			for _, e := range ents {
				if strings.Contains(e.Name(), ".tmp-") {
					t.Fatalf("temp file %s left in %s", e.Name(), d)
				}
			}
		}
	}

	// Relative and absolute links, and a link to a link.
	rel := filepath.Join(links, "latest.safetensors")
	if err := os.Symlink("../data/run1.safetensors", rel); err != nil {
		t.Skip("symlink:", err)
	}
	if err := SaveSafetensors(rel, tinyTensors(), map[string]string{"v": "2"}); err != nil {
		t.Fatal(err)
	}
	check(rel, "../data/run1.safetensors", target, "2")
	abs := filepath.Join(links, "abs.safetensors")
	os.Symlink(target, abs)
	if err := SaveSafetensors(abs, tinyTensors(), map[string]string{"v": "3"}); err != nil {
		t.Fatal(err)
	}
	check(abs, target, target, "3")
	chain := filepath.Join(root, "chain")
	os.Symlink("links/latest.safetensors", chain)
	if err := SaveSafetensors(chain, tinyTensors(), map[string]string{"v": "4"}); err != nil {
		t.Fatal(err)
	}
	check(chain, "links/latest.safetensors", target, "4")
	check(rel, "../data/run1.safetensors", target, "4")

	// Stale temp files are looked for next to the target.
	stale := filepath.Join(data, ".run1.safetensors.tmp-42")
	os.WriteFile(stale, nil, 0o600)
	old := time.Now().Add(-2 * staleAge)
	os.Chtimes(stale, old, old)
	if err := SaveSafetensors(rel, tinyTensors(), map[string]string{"v": "5"}); err != nil {
		t.Fatal(err)
	}
	check(rel, "../data/run1.safetensors", target, "5")

	// A failed save through the link leaves the target and no temp file.
	defer func() { saveHook = nil }()
	crash := errors.New("simulated crash")
	saveHook = func(s string) error { return crash }
	if err := SaveSafetensors(rel, tinyTensors(), map[string]string{"v": "6"}); !errors.Is(err, crash) {
		t.Fatalf("error %v, want the simulated crash", err)
	}
	saveHook = nil
	check(rel, "../data/run1.safetensors", target, "5")

	// A dangling link: the file it names is created.
	dangling := filepath.Join(links, "next.safetensors")
	os.Symlink("../data/run2.safetensors", dangling)
	if err := SaveSafetensors(dangling, tinyTensors(), map[string]string{"v": "7"}); err != nil {
		t.Fatal(err)
	}
	check(dangling, "../data/run2.safetensors", filepath.Join(data, "run2.safetensors"), "7")

	// A loop of links is an error, and nothing is written.
	loop := filepath.Join(links, "loop")
	os.Symlink("loop", loop)
	if err := SaveSafetensors(loop, tinyTensors(), nil); err == nil || !strings.Contains(err.Error(), "too many levels of symbolic links") {
		t.Fatalf("save through a loop: %v", err)
	}
}
