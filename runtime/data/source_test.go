package data

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/runtime"
)

// toySource has n examples: a (f32 [2]: i, -i), b (i32 scalar: i), and a
// whole value w (f32 [3]).
type toySource struct{ n int }

func (s toySource) Len() int { return s.n }
func (s toySource) Fields() []Field {
	return []Field{
		{Name: "a", DType: runtime.F32, Shape: []int{2}},
		{Name: "b", DType: runtime.I32, Shape: []int{}},
		{Name: "w", DType: runtime.F32, Shape: []int{3}, Whole: true},
	}
}
func (s toySource) Read(f, i int, dst runtime.Value) error {
	switch f {
	case 0:
		return readF32(dst, []float32{float32(i), -float32(i)})
	case 1:
		return readI32(dst, []int32{int32(i)})
	}
	return readF32(dst, []float32{7, 8, 9})
}

func io_(name, dtype, role string, shape ...int) runtime.IO {
	return runtime.IO{Name: name, DType: dtype, Shape: shape, Role: role}
}

func TestLoaderFill(t *testing.T) {
	inputs := []runtime.IO{
		io_("x", runtime.F32, "input", -1, 2),
		io_("table", runtime.F32, "input", 3),
		io_("y", runtime.F32, "target", -1), // i32 field read as f32
	}
	l, err := NewLoader(toySource{10}, inputs, LoaderOptions{BatchSize: 4, Bind: map[string]string{"table": "w", "y": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if l.Steps() != 3 || l.Len() != 10 {
		t.Fatalf("steps %d len %d", l.Steps(), l.Len())
	}
	b := l.NewBatch()
	n, err := l.Load(b, 0, 2)
	if err != nil || n != 2 {
		t.Fatalf("n %d err %v", n, err)
	}
	if !slices.Equal(b[0].F32[:4], []float32{8, -8, 9, -9}) || !slices.Equal(b[1].F32, []float32{7, 8, 9}) || !slices.Equal(b[2].F32[:2], []float32{8, 9}) {
		t.Fatalf("batch %v", b)
	}
	if _, err := l.Load(b, 0, 3); err == nil || !strings.Contains(err.Error(), "step 3 of an epoch of 3") {
		t.Fatalf("step out of range: %v", err)
	}
	// Wrong buffers are errors, never panics.
	short := runtime.Batch{{F32: make([]float32, 3)}, {F32: make([]float32, 3)}, {F32: make([]float32, 4)}}
	if _, err := l.Load(short, 0, 0); err == nil || !strings.Contains(err.Error(), "holds 3 elements, want 8") {
		t.Fatalf("short buffer: %v", err)
	}
	if _, err := l.Load(b[:2], 0, 0); err == nil || !strings.Contains(err.Error(), "batch has 2 values") {
		t.Fatalf("short batch: %v", err)
	}
	if err := l.Fill(b, []int{10}); err == nil || !strings.Contains(err.Error(), "example 10 of 10") {
		t.Fatalf("bad index: %v", err)
	}

	// Positional binding, and a target the source lacks (Predict).
	two := []runtime.IO{io_("img", runtime.F32, "input", -1, 1, 2), io_("lab", runtime.I32, "target", -1)}
	if _, err := NewLoader(&Dataset{N: 1, Dim: 2, X: []float32{1, 2}, Y: []int32{0}}, two, LoaderOptions{BatchSize: 1}); err != nil {
		t.Fatal(err)
	}
	l2, err := NewLoader(&Dataset{N: 1, Dim: 2, X: []float32{1, 2}}, two, LoaderOptions{BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	b2 := l2.NewBatch()
	if _, err := l2.Load(b2, 0, 0); err != nil || b2[1].I32 != nil || !slices.Equal(b2[0].F32, []float32{1, 2}) {
		t.Fatalf("predict batch %v err %v", b2, err)
	}

	// Names first, then the fields left in order: c takes b, not a.
	named, err := NewLoader(toySource{3}, []runtime.IO{io_("c", runtime.I32, "target", -1), io_("a", runtime.F32, "input", -1, 2)}, LoaderOptions{BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	nb := named.NewBatch()
	if _, err := named.Load(nb, 0, 0); err != nil || !slices.Equal(nb[0].I32, []int32{0, 1, 2}) || nb[1].F32[5] != -2 {
		t.Fatalf("named binding %v %v", nb, err)
	}

	bad := []struct {
		inputs []runtime.IO
		opts   LoaderOptions
		want   string
	}{
		{inputs[:1], LoaderOptions{}, "batch size 0"},
		{[]runtime.IO{io_("x", runtime.F32, "input", -1, 3)}, LoaderOptions{BatchSize: 1}, "takes 3 values per example, field a [2] has 2"},
		{[]runtime.IO{io_("x", runtime.I32, "input", -1, 2)}, LoaderOptions{BatchSize: 1}, "input x is i32 but field a is f32"},
		{[]runtime.IO{io_("x", runtime.F32, "input", 2)}, LoaderOptions{BatchSize: 1}, "has no batch axis but field a is per example"},
		{[]runtime.IO{io_("x", runtime.F32, "input", -1, 3)}, LoaderOptions{BatchSize: 1, Bind: map[string]string{"x": "w"}}, "one value for all examples"},
		{[]runtime.IO{io_("x", runtime.F32, "input", -1, 2)}, LoaderOptions{BatchSize: 1, Bind: map[string]string{"x": "z"}}, `bound to field "z"`},
		{[]runtime.IO{io_("x", runtime.F32, "input", -1, 2), io_("y", runtime.F32, "input", -1), io_("z", runtime.F32, "input", 3), io_("t", runtime.F32, "input", -1)}, LoaderOptions{BatchSize: 1}, "no field of the source for input t"},
		{inputs[:1], LoaderOptions{BatchSize: 1, Rank: 2, World: 2}, "rank 2 of world 2"},
		{[]runtime.IO{io_("a", runtime.F32, "input", -1, 2), io_("x", runtime.F32, "input", -1, 2)}, LoaderOptions{BatchSize: 1, Bind: map[string]string{"x": "a"}}, "field a is bound to two inputs"},
	}
	for _, tc := range bad {
		if _, err := NewLoader(toySource{3}, tc.inputs, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %+v: error %v, want %q", tc.inputs, tc.opts, err, tc.want)
		}
	}
}

// readEpoch reads every batch of an epoch and returns the b values.
func readEpoch(t *testing.T, l *Loader, epoch int) []int32 {
	t.Helper()
	b := l.NewBatch()
	var got []int32
	for s := range l.Steps() {
		n, err := l.Load(b, epoch, s)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b[1].I32[:n]...)
	}
	return got
}

func TestLoaderOrder(t *testing.T) {
	inputs := []runtime.IO{io_("a", runtime.F32, "input", -1, 2), io_("b", runtime.I32, "target", -1)}
	mk := func(o LoaderOptions) *Loader {
		l, err := NewLoader(toySource{23}, inputs, o)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := mk(LoaderOptions{BatchSize: 5, Shuffle: true, Seed: 3})
	e0, e1 := readEpoch(t, l, 0), readEpoch(t, l, 1)
	if !slices.Equal(slices.Sorted(slices.Values(e0)), slices.Sorted(slices.Values(e1))) || len(e0) != 23 {
		t.Fatalf("epochs do not cover the examples once: %v %v", e0, e1)
	}
	if slices.Equal(e0, e1) {
		t.Fatal("two epochs in the same order")
	}
	// Deterministic by (seed, epoch), whatever was read before.
	if again := readEpoch(t, mk(LoaderOptions{BatchSize: 5, Shuffle: true, Seed: 3}), 1); !slices.Equal(again, e1) {
		t.Fatalf("epoch 1 again: %v, want %v", again, e1)
	}
	if other := readEpoch(t, mk(LoaderOptions{BatchSize: 5, Shuffle: true, Seed: 4}), 1); slices.Equal(other, e1) {
		t.Fatal("another seed gives the same order")
	}
	if seq := readEpoch(t, mk(LoaderOptions{BatchSize: 5}), 0); !slices.Equal(seq, slices.Collect(func(yield func(int32) bool) {
		for i := range int32(23) {
			yield(i)
		}
	})) {
		t.Fatalf("unshuffled order %v", seq)
	}
	if d := mk(LoaderOptions{BatchSize: 5, DropLast: true}); d.Steps() != 4 || d.Len() != 20 {
		t.Fatalf("drop last: %d steps, %d examples", d.Steps(), d.Len())
	}
	// Ranks read disjoint shares of the same epoch order, of the same
	// length (the last 23 mod 3 positions left out), in the same number of
	// steps.
	var all []int32
	for r := range 3 {
		lr := mk(LoaderOptions{BatchSize: 5, Shuffle: true, Seed: 3, Rank: r, World: 3})
		part := readEpoch(t, lr, 1)
		if len(part) != lr.Len() || lr.Len() != 7 || lr.Steps() != 2 {
			t.Fatalf("rank %d reads %d examples (Len %d)", r, len(part), lr.Len())
		}
		for k, v := range part {
			if v != e1[r+3*k] {
				t.Fatalf("rank %d position %d: %d, want %d", r, k, v, e1[r+3*k])
			}
		}
		all = append(all, part...)
	}
	slices.Sort(all)
	if len(slices.Compact(all)) != 21 {
		t.Fatal("ranks do not cover the epoch but its last 2 positions")
	}
	// 23 examples on 5 ranks in batches of 4: 4 each, one step (reading
	// 5, 5, 5, 4, 4 would give three ranks a second step the others never
	// run, and the all-reduce would wait forever).
	for r := range 5 {
		lr := mk(LoaderOptions{BatchSize: 4, Rank: r, World: 5})
		if lr.Len() != 4 || lr.Steps() != 1 {
			t.Fatalf("23 examples, rank %d of 5: %d examples, %d steps", r, lr.Len(), lr.Steps())
		}
	}
}

func TestStratifiedSplit(t *testing.T) {
	var labels []int32
	for c, n := range []int{50, 30, 7, 1} {
		for range n {
			labels = append(labels, int32(c))
		}
	}
	train, val, err := StratifiedSplit(labels, 0.2, 9)
	if err != nil {
		t.Fatal(err)
	}
	count := func(idx []int) []int {
		n := make([]int, 4)
		for _, i := range idx {
			n[labels[i]]++
		}
		return n
	}
	// Quotas 10, 6, 1.4, 0.2 of round(0.2*88) = 18: the one left over
	// goes to the largest remainder.
	if got := count(val); !slices.Equal(got, []int{10, 6, 2, 0}) {
		t.Fatalf("validation per class %v, want [10 6 2 0]", got)
	}
	if got := count(train); !slices.Equal(got, []int{40, 24, 5, 1}) {
		t.Fatalf("training per class %v", got)
	}
	if !slices.IsSorted(train) || !slices.IsSorted(val) {
		t.Fatal("parts not in index order")
	}
	all := append(slices.Clone(train), val...)
	slices.Sort(all)
	if len(slices.Compact(all)) != len(labels) {
		t.Fatal("parts overlap or miss examples")
	}
	t2, v2, _ := StratifiedSplit(labels, 0.2, 9)
	if !slices.Equal(t2, train) || !slices.Equal(v2, val) {
		t.Fatal("same seed, another split")
	}
	if _, v3, _ := StratifiedSplit(labels, 0.2, 10); slices.Equal(v3, val) {
		t.Fatal("another seed, same split")
	}
	if _, v, _ := StratifiedSplit(labels, 0, 1); len(v) != 0 {
		t.Fatal("fraction 0 gives validation examples")
	}
	if tr, v, _ := StratifiedSplit(labels, 1, 1); len(tr) != 0 || len(v) != len(labels) {
		t.Fatal("fraction 1 leaves training examples")
	}
	// A class is never wholly in validation: the one left over goes on.
	if _, v, _ := StratifiedSplit([]int32{0, 0, 1}, 0.5, 1); len(v) != 1 || v[0] > 1 {
		t.Fatalf("validation %v, want one example of class 0", v)
	}
	for _, f := range []float64{-0.1, 1.5, math.NaN()} {
		if _, _, err := StratifiedSplit(labels, f, 1); err == nil {
			t.Fatalf("fraction %v accepted", f)
		}
	}
	// Subsets of a labeled source read through to it.
	d := &Dataset{N: len(labels), Dim: 1, X: make([]float32, len(labels)), Y: labels}
	for i := range d.X {
		d.X[i] = float32(i)
	}
	tr, va, err := SplitLabeled(d, 0.2, 9)
	if err != nil || !slices.Equal(tr.Index, train) || !slices.Equal(va.Index, val) {
		t.Fatalf("SplitLabeled: %v", err)
	}
	x := make([]float32, 1)
	if err := va.Read(0, 3, runtime.Value{F32: x}); err != nil || x[0] != float32(val[3]) || va.Label(3) != labels[val[3]] {
		t.Fatalf("subset read %v err %v", x, err)
	}
	if _, err := va.Image(0); err == nil {
		t.Fatal("a dataset's subset has images")
	}
}

func TestLoadIDX(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// gzip'd without a .gz name: told by the magic number.
	imgs := write("images", gz(idxBytes([]int{2, 1, 2, 1}, []byte{0, 255, 51, 0})))
	labs := write("labels", idxBytes([]int{2}, []byte{3, 200}))
	d, err := LoadIDX(imgs, labs)
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 2 || d.Dim != 2 || !slices.Equal(d.Shape, []int{1, 2, 1}) || !slices.Equal(d.X, []float32{0, 1, 0.2, 0}) || !slices.Equal(d.Y, []int32{3, 200}) {
		t.Fatalf("%+v", d)
	}
	l, err := NewLoader(d, []runtime.IO{io_("x", runtime.F32, "input", -1, 1, 2, 1), io_("y", runtime.I32, "target", -1)}, LoaderOptions{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	b := l.NewBatch()
	if _, err := l.Load(b, 0, 0); err != nil || !slices.Equal(b[0].F32, d.X) || !slices.Equal(b[1].I32, d.Y) {
		t.Fatalf("batch %v err %v", b, err)
	}
	three := write("labels3", idxBytes([]int{3}, []byte{1, 2, 3}))
	if _, err := LoadIDX(imgs, three); err == nil || !strings.Contains(err.Error(), "want [2] to match the 2 images") {
		t.Fatalf("count mismatch: %v", err)
	}
	if _, err := LoadIDX(imgs, write("bad", []byte("GIF89a..."))); err == nil || !strings.Contains(err.Error(), "not an IDX file") {
		t.Fatalf("wrong magic: %v", err)
	}
	if _, err := LoadIDX(write("trunc", idxBytes([]int{2, 2}, []byte{1, 2, 3})), labs); err == nil || !strings.Contains(err.Error(), "truncated IDX data") {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := LoadIDX(filepath.Join(dir, "missing"), labs); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestWithConsts(t *testing.T) {
	d := &Dataset{N: 3, Dim: 1, X: []float32{1, 2, 3}, Y: []int32{0, 1, 0}}
	src, err := WithConsts(d, Const{Name: "pos", Shape: []int{2}, Value: runtime.Value{I32: []int32{5, 6}}})
	if err != nil {
		t.Fatal(err)
	}
	inputs := []runtime.IO{io_("x", runtime.F32, "input", -1, 1), io_("pos", runtime.I32, "input", 2), io_("y", runtime.I32, "target", -1)}
	l, err := NewLoader(src, inputs, LoaderOptions{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	b := l.NewBatch()
	if n, err := l.Load(b, 0, 1); err != nil || n != 1 || b[0].F32[0] != 3 || !slices.Equal(b[1].I32, []int32{5, 6}) || b[2].I32[0] != 0 {
		t.Fatalf("batch %v n %d err %v", b, n, err)
	}
	for _, c := range []Const{
		{Name: "c", Shape: []int{3}, Value: runtime.Value{F32: []float32{1}}},
		{Name: "c", Shape: []int{1}, Value: runtime.Value{F32: []float32{1}, I32: []int32{1}}},
		{Name: "x", Shape: []int{1}, Value: runtime.Value{F32: []float32{1}}},
	} {
		if _, err := WithConsts(d, c); err == nil {
			t.Errorf("constant %+v accepted", c)
		}
	}
}

// TestLoaderConcurrent: goroutines filling their own batches of different
// epochs at once get the batches one goroutine gets (run with -race).
func TestLoaderConcurrent(t *testing.T) {
	inputs := []runtime.IO{io_("a", runtime.F32, "input", -1, 2), io_("b", runtime.I32, "target", -1)}
	l, err := NewLoader(toySource{50}, inputs, LoaderOptions{BatchSize: 7, Shuffle: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int32{readEpoch(t, l, 0), readEpoch(t, l, 1), readEpoch(t, l, 2)}
	got := make([][]int32, 6)
	done := make(chan bool)
	for g := range got {
		go func() {
			defer func() { done <- true }()
			b := l.NewBatch()
			for s := range l.Steps() {
				n, err := l.Load(b, g%3, s)
				if err != nil {
					t.Error(err)
					return
				}
				got[g] = append(got[g], b[1].I32[:n]...)
			}
		}()
	}
	for range got {
		<-done
	}
	for g := range got {
		if !slices.Equal(got[g], want[g%3]) {
			t.Fatalf("goroutine %d read epoch %d as %v, want %v", g, g%3, got[g], want[g%3])
		}
	}
}

// epochToy is toySource whose a values are shifted by 100*epoch.
type epochToy struct{ toySource }

func (s epochToy) ReadEpoch(f, i, epoch int, dst runtime.Value) error {
	if f != 0 {
		return s.Read(f, i, dst)
	}
	return readF32(dst, []float32{float32(i + 100*epoch), 0})
}

func TestEpochSource(t *testing.T) {
	inputs := []runtime.IO{io_("a", runtime.F32, "input", -1, 2), io_("b", runtime.I32, "target", -1)}
	sub := &Subset{Src: epochToy{toySource{10}}, Index: []int{4, 2}}
	l, err := NewLoader(sub, inputs, LoaderOptions{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	b := l.NewBatch()
	if _, err := l.Load(b, 3, 0); err != nil || b[0].F32[0] != 304 || b[0].F32[2] != 302 || !slices.Equal(b[1].I32, []int32{4, 2}) {
		t.Fatalf("Load of epoch 3: %v %v", b, err)
	}
	if err := l.Fill(b, []int{1}); err != nil || b[0].F32[0] != 2 || b[0].F32[1] != -2 {
		t.Fatalf("Fill without an epoch: %v %v", b, err)
	}
	if err := l.FillEpoch(b, []int{1}, 1); err != nil || b[0].F32[0] != 102 {
		t.Fatalf("FillEpoch: %v %v", b, err)
	}
}
