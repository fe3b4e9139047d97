//go:build unix

package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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
