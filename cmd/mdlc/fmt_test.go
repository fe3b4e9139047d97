package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func runFmt(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(&o, &e, append([]string{"fmt"}, args...))
	return code, o.String(), e.String()
}

const (
	messy     = "model M {\n  input x: f32[N]\n  target y: f32[N]\n  loss mse(x,y)   // the loss\n}\n"
	formatted = "model M {\n    input  x: f32[N]\n    target y: f32[N]\n    loss mse(x, y) // the loss\n}\n"
	broken    = "model M {\n    input x: f32[N]\n    pred x + 1\n}\n"
)

func TestFmt(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // whatever the umask
			t.Fatal(err)
		}
		return p
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	m := write("messy.mdl", messy, 0o600)
	f := write("formatted.mdl", formatted, 0o644)
	b := write("broken.mdl", broken, 0o644)

	// Default: the formatted source on stdout, files untouched.
	if code, out, errOut := runFmt(m); code != exitOK || out != formatted || errOut != "" {
		t.Errorf("fmt messy: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// -l lists what differs.
	if code, out, _ := runFmt("-l", m, f); code != exitOK || out != m+"\n" {
		t.Errorf("fmt -l: exit %d, stdout %q", code, out)
	}
	// -d prints a unified diff.
	wantDiff := "--- " + m + ".orig\n+++ " + m + "\n@@ -1,5 +1,5 @@\n model M {\n-  input x: f32[N]\n-  target y: f32[N]\n-  loss mse(x,y)   // the loss\n+    input  x: f32[N]\n+    target y: f32[N]\n+    loss mse(x, y) // the loss\n }\n"
	if code, out, _ := runFmt("-d", m, f); code != exitOK || out != wantDiff {
		t.Errorf("fmt -d: exit %d, stdout:\n%s\nwant:\n%s", code, out, wantDiff)
	}
	// Errors: diagnostics as mdlc check prints them, exit 1, the file
	// never rewritten; the other files are still done.
	code, out, errOut := runFmt("-w", b, m)
	if code != exitError || out != "" || !strings.HasPrefix(errOut, b+":3:10: unexpected \"x\"; expected \"=\"\n") {
		t.Errorf("fmt -w broken: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if read(b) != broken {
		t.Errorf("fmt -w rewrote a file with errors")
	}
	// -w rewrote messy.mdl, keeping its mode.
	if read(m) != formatted {
		t.Errorf("fmt -w: messy.mdl is now %q", read(m))
	}
	if fi, err := os.Stat(m); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("fmt -w: mode %v, %v; want 0600", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("fmt -w left files behind: %v", entries)
	}
	// Through a symbolic link, the target is rewritten.
	target := write("target.mdl", messy, 0o644)
	link := filepath.Join(dir, "link.mdl")
	if err := os.Symlink(target, link); err == nil {
		if code, _, errOut := runFmt("-w", link); code != exitOK || read(target) != formatted {
			t.Errorf("fmt -w link: exit %d, stderr %q, target %q", code, errOut, read(target))
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("fmt -w replaced the link itself")
		}
	}
	if code, _, errOut := runFmt(filepath.Join(dir, "missing.mdl")); code != exitError || !strings.Contains(errOut, "no such file") {
		t.Errorf("fmt missing: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runFmt("-h"); code != exitOK || !strings.Contains(errOut, "usage: mdlc fmt") {
		t.Errorf("fmt -h: exit %d, stderr %q", code, errOut)
	}
}

func TestFmtStdin(t *testing.T) {
	saved := stdin
	defer func() { stdin = saved }()
	stdin = strings.NewReader(messy)
	if code, out, _ := runFmt(); code != exitOK || out != formatted {
		t.Errorf("fmt < messy: exit %d, stdout %q", code, out)
	}
	stdin = strings.NewReader(messy)
	if code, out, _ := runFmt("-l"); code != exitOK || out != "<standard input>\n" {
		t.Errorf("fmt -l < messy: exit %d, stdout %q", code, out)
	}
	stdin = strings.NewReader(broken)
	if code, out, errOut := runFmt(); code != exitError || out != "" || !strings.HasPrefix(errOut, "<standard input>:3:10: ") {
		t.Errorf("fmt < broken: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, errOut := runFmt("-w"); code != exitUsage || !strings.Contains(errOut, "-w needs files") {
		t.Errorf("fmt -w < stdin: exit %d, stderr %q", code, errOut)
	}
}

func TestUnifiedDiff(t *testing.T) {
	lines := func(n int, f func(i int) string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(f(i) + "\n")
		}
		return b.String()
	}
	old := lines(20, func(i int) string { return "line " + strconv.Itoa(i) })
	new := strings.Replace(strings.Replace(old, "line 2\n", "two\n", 1), "line 15\n", "", 1) + "end"
	want := `--- a
+++ b
@@ -1,6 +1,6 @@
 line 0
 line 1
-line 2
+two
 line 3
 line 4
 line 5
@@ -13,8 +13,8 @@
 line 12
 line 13
 line 14
-line 15
 line 16
 line 17
 line 18
 line 19
+end
\ No newline at end of file
`
	if got := string(unifiedDiff("a", "b", []byte(old), []byte(new))); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := unifiedDiff("a", "b", []byte(old), []byte(old)); got != nil {
		t.Errorf("equal files: %q", got)
	}
	if got := string(unifiedDiff("a", "b", nil, []byte("x\n"))); got != "--- a\n+++ b\n@@ -0,0 +1,1 @@\n+x\n" {
		t.Errorf("from empty: %q", got)
	}
}
