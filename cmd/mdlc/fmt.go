package main

// mdlc fmt: .mdl files in their canonical layout (dsl/format), as gofmt.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/mdlc/mdlc/dsl"
	"github.com/mdlc/mdlc/dsl/format"
)

// stdin is what mdlc fmt reads when given no files.
var stdin io.Reader = os.Stdin

const stdinName = "<standard input>"

func cmdFmt(stdout, stderr io.Writer, args []string) int {
	fs := newFlags("fmt", "[-l] [-w] [-d] [FILE...]",
		"Print .mdl files in the canonical layout (standard input when no file is given).\n"+
			"A file with errors is reported as mdlc check does and never rewritten.", stderr)
	list := fs.Bool("l", false, "list the files whose layout differs, instead of printing them")
	write := fs.Bool("w", false, "rewrite the files whose layout differs, instead of printing them")
	diff := fs.Bool("d", false, "print a unified diff of each file whose layout differs, instead of the file")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		if *write {
			fmt.Fprintln(stderr, "mdlc fmt: -w needs files: standard input cannot be rewritten")
			return exitUsage
		}
		src, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "mdlc fmt: %v\n", err)
			return exitError
		}
		return fmtOne(stdout, stderr, stdinName, src, *list, false, *diff)
	}
	code := exitOK
	for _, path := range fs.Args() {
		src, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "mdlc fmt: %v\n", err)
			code = exitError
			continue
		}
		if c := fmtOne(stdout, stderr, path, src, *list, *write, *diff); c != exitOK {
			code = c
		}
	}
	return code
}

// fmtOne formats one file's source and prints, lists, writes or diffs it.
func fmtOne(stdout, stderr io.Writer, path string, src []byte, list, write, diff bool) int {
	out, diags := format.Source(path, src)
	if diags.HasErrors() {
		fmt.Fprint(stderr, diags.Format(dsl.Sources{path: src}))
		return exitError
	}
	changed := !bytes.Equal(src, out)
	if list && changed {
		fmt.Fprintln(stdout, path)
	}
	if write && changed {
		if err := replaceFile(path, out); err != nil {
			fmt.Fprintf(stderr, "mdlc fmt: %v\n", err)
			return exitError
		}
	}
	if diff && changed {
		stdout.Write(unifiedDiff(path+".orig", path, src, out))
	}
	if !list && !write && !diff {
		stdout.Write(out)
	}
	return exitOK
}

// replaceFile replaces the file at path (through a symbolic link) with data:
// a temporary file in the same directory, with the file's permissions,
// renamed over it, so that a reader sees the old or the new file, never a
// part.
func replaceFile(path string, data []byte) error {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	info, err := os.Stat(target)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), target)
}

// unifiedDiff returns a unified diff (3 lines of context) from old to new,
// or nothing when they are equal. Lines are matched around anchors, lines
// that occur once in each (as Go's internal/diff does): the result is not
// always the shortest diff, but it takes O(n log n) time and O(n) memory.
func unifiedDiff(oldName, newName string, old, new []byte) []byte {
	x, y := splitLines(old), splitLines(new)
	edits := anchoredDiff(x, y)
	if len(edits) == 0 {
		return nil
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", oldName, newName)
	const ctx = 3
	for i := 0; i < len(edits); {
		// A hunk: edits closer than 2*ctx lines apart, with context.
		j := i + 1
		for j < len(edits) && edits[j].x0-edits[j-1].x1 <= 2*ctx {
			j++
		}
		x0 := max(0, edits[i].x0-ctx)
		y0 := edits[i].y0 - (edits[i].x0 - x0) // the lines before an edit match
		x1 := min(len(x), edits[j-1].x1+ctx)
		y1 := y0 + (x1 - x0) + sumDelta(edits[i:j])
		fmt.Fprintf(&b, "@@ -%s +%s @@\n", hunkRange(x0, x1), hunkRange(y0, y1))
		xi := x0
		for _, e := range edits[i:j] {
			for ; xi < e.x0; xi++ {
				writeLine(&b, ' ', x[xi])
			}
			for _, l := range x[e.x0:e.x1] {
				writeLine(&b, '-', l)
			}
			for _, l := range y[e.y0:e.y1] {
				writeLine(&b, '+', l)
			}
			xi = e.x1
		}
		for ; xi < x1; xi++ {
			writeLine(&b, ' ', x[xi])
		}
		i = j
	}
	return b.Bytes()
}

// edit replaces x[x0:x1] with y[y0:y1].
type edit struct{ x0, x1, y0, y1 int }

func sumDelta(es []edit) int {
	d := 0
	for _, e := range es {
		d += (e.y1 - e.y0) - (e.x1 - e.x0)
	}
	return d
}

func hunkRange(start, end int) string {
	if start == end {
		return fmt.Sprintf("%d,0", start) // an empty range names the line before it
	}
	return fmt.Sprintf("%d,%d", start+1, end-start)
}

func writeLine(b *bytes.Buffer, tag byte, l string) {
	b.WriteByte(tag)
	b.WriteString(l)
	if len(l) == 0 || l[len(l)-1] != '\n' {
		b.WriteString("\n\\ No newline at end of file\n")
	}
}

// splitLines splits s after each "\n"; the last line may lack one.
func splitLines(s []byte) []string {
	var lines []string
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\n') + 1
		if i == 0 {
			i = len(s)
		}
		lines = append(lines, string(s[:i]))
		s = s[i:]
	}
	return lines
}

// anchoredDiff returns the edits that turn x into y, in order.
func anchoredDiff(x, y []string) []edit {
	// Anchors: lines unique in both, in the longest run increasing in both.
	type count struct{ x, y, xi, yi int }
	counts := map[string]*count{}
	for i, l := range x {
		c := counts[l]
		if c == nil {
			c = &count{}
			counts[l] = c
		}
		c.x++
		c.xi = i
	}
	for j, l := range y {
		if c := counts[l]; c != nil {
			c.y++
			c.yi = j
		}
	}
	var pairs [][2]int
	for _, c := range counts {
		if c.x == 1 && c.y == 1 {
			pairs = append(pairs, [2]int{c.xi, c.yi})
		}
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i][0] < pairs[j][0] })
	anchors := increasing(pairs)
	anchors = append(anchors, [2]int{len(x), len(y)})

	var edits []edit
	xi, yi := 0, 0
	for _, a := range anchors {
		for xi < a[0] && yi < a[1] && x[xi] == y[yi] {
			xi, yi = xi+1, yi+1
		}
		ax, ay := a[0], a[1]
		for ax > xi && ay > yi && x[ax-1] == y[ay-1] {
			ax, ay = ax-1, ay-1
		}
		if xi < ax || yi < ay {
			edits = append(edits, edit{xi, ax, yi, ay})
		}
		xi, yi = a[0]+1, a[1]+1 // the anchor itself matches
	}
	return edits
}

// increasing returns the longest subsequence of pairs (sorted by their
// first element) whose second elements increase (patience sorting).
func increasing(pairs [][2]int) [][2]int {
	var tails []int // index into pairs of the smallest tail of each length
	prev := make([]int, len(pairs))
	for i, p := range pairs {
		k := sort.Search(len(tails), func(k int) bool { return pairs[tails[k]][1] >= p[1] })
		if k > 0 {
			prev[i] = tails[k-1]
		} else {
			prev[i] = -1
		}
		if k == len(tails) {
			tails = append(tails, i)
		} else {
			tails[k] = i
		}
	}
	out := make([][2]int, len(tails))
	for k, i := len(tails)-1, -1; k >= 0; k-- {
		if i == -1 {
			i = tails[len(tails)-1]
		} else {
			i = prev[i]
		}
		out[k] = pairs[i]
	}
	return out
}
