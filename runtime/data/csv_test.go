package data

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/runtime"
)

func writeCSV(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "t.csv")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCSV(t *testing.T) {
	p := writeCSV(t, "\ufeffid, age ,income,label\n1,20,100,0\n2,30,300,1\n3, 40 ,200,1\n4,50,400,0\n")
	tab, err := LoadCSV(p, CSVOptions{Features: []string{"income", "age"}, Targets: []string{"label"}, TargetDType: runtime.I32})
	if err != nil {
		t.Fatal(err)
	}
	if tab.N != 4 || !slices.Equal(tab.X, []float32{100, 20, 300, 30, 200, 40, 400, 50}) || !slices.Equal(tab.Y, []float32{0, 1, 1, 0}) || !slices.Equal(tab.Lines, []int{2, 3, 4, 5}) {
		t.Fatalf("%+v", tab)
	}
	all, err := LoadCSV(p, CSVOptions{Targets: []string{"label"}})
	if err != nil || !slices.Equal(all.Features, []string{"id", "age", "income"}) || all.TargetDType != runtime.F32 {
		t.Fatalf("default features %v dtype %s err %v", all.Features, all.TargetDType, err)
	}

	// Through a Loader: i32 class ids, or the same target read as f32.
	for _, dt := range []string{runtime.I32, runtime.F32} {
		l, err := NewLoader(tab, []runtime.IO{io_("x", runtime.F32, "input", -1, 2), io_("y", dt, "target", -1)}, LoaderOptions{BatchSize: 4})
		if err != nil {
			t.Fatal(err)
		}
		b := l.NewBatch()
		if _, err := l.Load(b, 0, 0); err != nil {
			t.Fatal(err)
		}
		if dt == runtime.I32 && !slices.Equal(b[1].I32, []int32{0, 1, 1, 0}) || dt == runtime.F32 && !slices.Equal(b[1].F32, []float32{0, 1, 1, 0}) || b[0].F32[2] != 300 {
			t.Fatalf("%s batch %v", dt, b)
		}
	}
}

func TestCSVStandardize(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("a,b,c,y\n")
	for i := range 100 {
		fmt.Fprintf(&sb, "%d,%d,7,%d\n", i, 1000-3*i, i%3)
	}
	tab, err := LoadCSV(writeCSV(t, sb.String()), CSVOptions{Features: []string{"a", "b", "c"}, Targets: []string{"y"}, TargetDType: runtime.I32})
	if err != nil {
		t.Fatal(err)
	}
	train, val, err := tab.Split(0.2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 80 || val.N != 20 {
		t.Fatalf("split %d/%d", train.N, val.N)
	}
	counts := make([]int, 3)
	for i := range val.N {
		counts[val.Label(i)]++
	}
	if !slices.Equal(counts, []int{7, 7, 6}) { // quotas 6.8, 6.6, 6.6
		t.Fatalf("validation classes %v", counts)
	}
	rawVal := slices.Clone(val.X)
	// Reference statistics of the training rows only.
	var mean, sq [3]float64
	for i := range train.N {
		for k := range 3 {
			mean[k] += float64(train.X[3*i+k]) / float64(train.N)
		}
	}
	for i := range train.N {
		for k := range 3 {
			d := float64(train.X[3*i+k]) - mean[k]
			sq[k] += d * d / float64(train.N)
		}
	}
	s, err := Standardize(train, val)
	if err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		std := math.Sqrt(sq[k])
		if k == 2 {
			std = 1 // constant feature
		}
		if math.Abs(float64(s.Mean[k])-mean[k]) > 1e-3 || math.Abs(float64(s.Std[k])-std) > 1e-3 {
			t.Fatalf("feature %d: mean %v std %v, want %v %v", k, s.Mean[k], s.Std[k], mean[k], std)
		}
	}
	// Training features now have mean 0 and std 1; validation ones were
	// mapped with the training statistics, not their own.
	var m0, v0 float64
	for i := range train.N {
		m0 += float64(train.X[3*i]) / float64(train.N)
	}
	for i := range train.N {
		v0 += (float64(train.X[3*i]) - m0) * (float64(train.X[3*i]) - m0) / float64(train.N)
	}
	if math.Abs(m0) > 1e-5 || math.Abs(v0-1) > 1e-4 {
		t.Fatalf("standardized training feature: mean %v variance %v", m0, v0)
	}
	for i := range val.N {
		want := (float64(rawVal[3*i]) - mean[0]) / math.Sqrt(sq[0])
		if math.Abs(float64(val.X[3*i])-want) > 1e-4 || val.X[3*i+2] != 0 {
			t.Fatalf("validation row %d: %v, want %v", i, val.X[3*i:3*i+3], want)
		}
	}
	other := &Table{Features: []string{"a"}}
	if err := s.Apply(other); err == nil || !strings.Contains(err.Error(), "standardizer fit on features") {
		t.Fatalf("feature mismatch: %v", err)
	}
	_, val2, _ := tab.Split(0.2, 1)
	tr3, _, _ := tab.Split(0.2, 1)
	if !slices.Equal(val2.Lines, val.Lines) || !slices.Equal(tr3.Lines, train.Lines) {
		t.Fatal("split not deterministic")
	}
}

func TestCSVErrors(t *testing.T) {
	for _, tc := range []struct {
		text string
		opts CSVOptions
		want string
	}{
		{"a,b,y\n1,2,3\n", CSVOptions{Features: []string{"a", "c"}, Targets: []string{"y"}}, `t.csv:1: no feature column "c" in the header (columns: a, b, y)`},
		{"age,b,y\n1,2,3\n", CSVOptions{Features: []string{"Age"}, Targets: []string{"y"}}, `did you mean "age"?`},
		{"a,b,y\n1,2,3\n", CSVOptions{Targets: []string{"label"}}, `no target column "label"`},
		{"a,b,y\n1,2,3\n4,x5,6\n", CSVOptions{Targets: []string{"y"}}, `t.csv:3:3: column "b": "x5" is not a finite number`},
		{"a,b,y\n1,2,3\n4,,6\n", CSVOptions{Targets: []string{"y"}}, `t.csv:3:3: column "b": "" is not a finite number`},
		{"a,b,y\n1,NaN,3\n", CSVOptions{Targets: []string{"y"}}, `t.csv:2:3: column "b": "NaN" is not a finite number`},
		{"a,b,y\n1,2,3.5\n", CSVOptions{Targets: []string{"y"}, TargetDType: runtime.I32}, `t.csv:2:5: column "y": "3.5" is not an integer class id`},
		{"a,b,y\n1,2,3\n4,5\n", CSVOptions{Targets: []string{"y"}}, `t.csv:3:1: wrong number of fields`},
		{"a,a,y\n1,2,3\n", CSVOptions{Features: []string{"a"}, Targets: []string{"y"}}, `two columns "a"`},
		{"", CSVOptions{}, "empty file"},
		{"a,y\n", CSVOptions{Targets: []string{"y"}}, "no rows after the header"},
		{"y\n1\n", CSVOptions{Targets: []string{"y"}}, "no feature columns"},
		{"a,y\n1,1e39\n", CSVOptions{Targets: []string{"y"}}, "overflows float32"},
		{"a,y\n1,2\n", CSVOptions{Targets: []string{"y"}, TargetDType: "f64"}, `target dtype "f64"`},
	} {
		if _, err := LoadCSV(writeCSV(t, tc.text), tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %+v: error %v, want %q", tc.text, tc.opts, err, tc.want)
		}
	}
	if _, err := LoadCSV(filepath.Join(t.TempDir(), "missing.csv"), CSVOptions{}); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Fatalf("missing file: %v", err)
	}
	// A table built by hand with too few values: errors, not panics.
	bad := &Table{Path: "hand", Features: []string{"a", "b"}, Targets: []string{"y"}, N: 2, X: []float32{1, 2, 3}, Y: []float32{0, 1}}
	if err := bad.Read(0, 1, runtime.Value{F32: make([]float32, 2)}); err == nil || !strings.Contains(err.Error(), "holds 3 feature values") {
		t.Fatalf("Read: %v", err)
	}
	if _, err := Standardize(bad); err == nil {
		t.Fatal("Standardize accepted a bad table")
	}
	if _, _, err := bad.Split(0.5, 1); err == nil {
		t.Fatal("Split accepted a bad table")
	}
	if err := (Standardizer{Features: []string{"a", "b"}}).Apply(&Table{Features: []string{"a", "b"}}); err == nil {
		t.Fatal("Apply of a standardizer without statistics")
	}
}

func FuzzCSV(f *testing.F) {
	f.Add("a,b,y\n1,2,3\n4,5,6\n")
	f.Add("a,\"b\",y\n1,\"2\n\",3\n")
	f.Add("y\n1\n")
	f.Fuzz(func(t *testing.T, text string) {
		for _, opts := range []CSVOptions{{Targets: []string{"y"}}, {Features: []string{"a"}, Targets: []string{"y"}, TargetDType: runtime.I32}} {
			tab, err := readCSV(strings.NewReader(text), "f.csv", opts)
			if err != nil {
				continue
			}
			if len(tab.X) != tab.N*len(tab.Features) || len(tab.Y) != tab.N*len(tab.Targets) {
				t.Fatalf("%d rows, %d values, %d targets", tab.N, len(tab.X), len(tab.Y))
			}
			train, val, err := tab.Split(0.3, 1)
			if err != nil || train.N+val.N != tab.N {
				t.Fatalf("split %v", err)
			}
			if _, err := Standardize(train, val); err != nil {
				t.Fatal(err)
			}
		}
	})
}
