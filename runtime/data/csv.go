package data

// CSV tables: a header row, then one example a row; chosen feature and
// target columns by name; standardization fit on the training part only.
//
// Every cell read must be a finite number (no imputation of missing
// values, no category encoding); an error names file:line:column and the
// column.

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/runtime"
)

// CSVOptions configures LoadCSV.
type CSVOptions struct {
	// Features are the feature columns by name, in the order of the
	// feature vector; empty means every column that is not a target, in
	// file order.
	Features []string
	// Targets are the target columns by name (none for a table to
	// predict on).
	Targets []string
	// TargetDType is runtime.F32 (the default: regression) or runtime.I32
	// (class ids: every target must be an integer).
	TargetDType string
	// Comma is the field separator; 0 means ','.
	Comma rune
}

// Table is the rows of a CSV file: a Source of two fields, x (f32
// [len(Features)]) and y (TargetDType [len(Targets)]; absent without
// targets).
type Table struct {
	Path        string
	Features    []string
	Targets     []string
	TargetDType string
	N           int
	X           []float32 // N x len(Features), row-major
	Y           []float32 // N x len(Targets) (integers when TargetDType is I32)
	Lines       []int     // each row's line in Path
}

// LoadCSV reads the table at path with a header row. A missing column, a
// cell that is not a finite number, a row with another number of fields,
// an empty file or a file without rows is an error naming the file and
// line (and column, for a cell).
func LoadCSV(path string, opts CSVOptions) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	t, err := readCSV(f, path, opts)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return t, nil
}

func readCSV(in io.Reader, path string, opts CSVOptions) (*Table, error) {
	switch opts.TargetDType {
	case "":
		opts.TargetDType = runtime.F32
	case runtime.F32, runtime.I32:
	default:
		return nil, fmt.Errorf("%s: target dtype %q, want f32 or i32", path, opts.TargetDType)
	}
	r := csv.NewReader(in)
	if opts.Comma != 0 {
		r.Comma = opts.Comma
	}
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file, want a header row", path)
	}
	if err != nil {
		return nil, csvError(path, err)
	}
	names := make([]string, len(header))
	for i, h := range header {
		names[i] = strings.TrimSpace(h)
	}
	names[0] = strings.TrimPrefix(names[0], "\ufeff")
	column := func(name, what string) (int, error) {
		i := slices.Index(names, name)
		if i < 0 {
			hint := ""
			if near := nearest(name, names); near != "" {
				hint = fmt.Sprintf("; did you mean %q?", near)
			}
			return 0, fmt.Errorf("%s:1: no %s column %q in the header (columns: %s)%s", path, what, name, strings.Join(names, ", "), hint)
		}
		if slices.Index(names[i+1:], name) >= 0 {
			return 0, fmt.Errorf("%s:1: the header has two columns %q", path, name)
		}
		return i, nil
	}
	t := &Table{Path: path, Targets: slices.Clone(opts.Targets), TargetDType: opts.TargetDType}
	var fcols, tcols []int
	for _, name := range opts.Targets {
		i, err := column(name, "target")
		if err != nil {
			return nil, err
		}
		tcols = append(tcols, i)
	}
	if len(opts.Features) == 0 {
		for i, name := range names {
			if !slices.Contains(tcols, i) {
				fcols = append(fcols, i)
				t.Features = append(t.Features, name)
			}
		}
	} else {
		for _, name := range opts.Features {
			i, err := column(name, "feature")
			if err != nil {
				return nil, err
			}
			fcols = append(fcols, i)
		}
		t.Features = slices.Clone(opts.Features)
	}
	if len(fcols) == 0 {
		return nil, fmt.Errorf("%s:1: no feature columns", path)
	}
	cell := func(rec []string, col int, integer bool) (float32, error) {
		s := strings.TrimSpace(rec[col])
		v, err := strconv.ParseFloat(s, 64)
		line, c := r.FieldPos(col)
		switch {
		case err != nil || math.IsNaN(v) || math.IsInf(v, 0):
			return 0, fmt.Errorf("%s:%d:%d: column %q: %q is not a finite number", path, line, c, names[col], rec[col])
		case integer && (v != math.Trunc(v) || v < math.MinInt32 || v > math.MaxInt32):
			return 0, fmt.Errorf("%s:%d:%d: column %q: %q is not an integer class id", path, line, c, names[col], rec[col])
		case math.Abs(v) > math.MaxFloat32:
			return 0, fmt.Errorf("%s:%d:%d: column %q: %s overflows float32", path, line, c, names[col], s)
		}
		return float32(v), nil
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(path, err)
		}
		line, _ := r.FieldPos(0)
		for _, col := range fcols {
			v, err := cell(rec, col, false)
			if err != nil {
				return nil, err
			}
			t.X = append(t.X, v)
		}
		for _, col := range tcols {
			v, err := cell(rec, col, t.TargetDType == runtime.I32)
			if err != nil {
				return nil, err
			}
			t.Y = append(t.Y, v)
		}
		t.Lines = append(t.Lines, line)
		t.N++
	}
	if t.N == 0 {
		return nil, fmt.Errorf("%s: no rows after the header", path)
	}
	return t, nil
}

// csvError is err (from encoding/csv) as path:line:col: message.
func csvError(path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d:%d: %v", path, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// nearest returns the name among names closest to s (case-insensitive
// edit distance at most 2), or "".
func nearest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(strings.ToLower(s), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (t *Table) Len() int { return t.N }

// check reports a Table whose slices disagree with N (one built by hand).
func (t *Table) check() error {
	if t.N < 0 || len(t.X) != t.N*len(t.Features) || len(t.Y) != t.N*len(t.Targets) {
		return fmt.Errorf("data: table %s of %d rows holds %d feature values for %d features and %d target values for %d targets", t.Path, t.N, len(t.X), len(t.Features), len(t.Y), len(t.Targets))
	}
	return nil
}

func (t *Table) Fields() []Field {
	fs := []Field{{Name: "x", DType: runtime.F32, Shape: []int{len(t.Features)}}}
	if len(t.Targets) > 0 {
		fs = append(fs, Field{Name: "y", DType: t.TargetDType, Shape: []int{len(t.Targets)}})
	}
	return fs
}

func (t *Table) Read(f, i int, dst runtime.Value) error {
	if i < 0 || i >= t.N {
		return fmt.Errorf("row %d of %d", i, t.N)
	}
	if err := t.check(); err != nil {
		return err
	}
	nf, nt := len(t.Features), len(t.Targets)
	switch {
	case f == 0:
		return readF32(dst, t.X[i*nf:(i+1)*nf])
	case f == 1 && nt > 0 && t.TargetDType == runtime.I32 && dst.I32 != nil:
		if len(dst.I32) != nt {
			return fmt.Errorf("destination holds %d elements, want %d", len(dst.I32), nt)
		}
		for k, v := range t.Y[i*nt : (i+1)*nt] {
			dst.I32[k] = int32(v)
		}
		return nil
	case f == 1 && nt > 0:
		return readF32(dst, t.Y[i*nt:(i+1)*nt])
	}
	return fmt.Errorf("no field %d", f)
}

// Label is row i's first target as a class id (for a stratified split of
// an I32 table).
func (t *Table) Label(i int) int32 {
	if len(t.Targets) == 0 || i < 0 || i*len(t.Targets) >= len(t.Y) {
		return -1
	}
	return int32(t.Y[i*len(t.Targets)])
}

// Rows returns a new Table of the rows idx of t, in that order.
func (t *Table) Rows(idx []int) (*Table, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	s := &Table{Path: t.Path, Features: t.Features, Targets: t.Targets, TargetDType: t.TargetDType, N: len(idx)}
	nf, nt := len(t.Features), len(t.Targets)
	for _, i := range idx {
		if i < 0 || i >= t.N {
			return nil, fmt.Errorf("data: row %d of %d", i, t.N)
		}
		s.X = append(s.X, t.X[i*nf:(i+1)*nf]...)
		s.Y = append(s.Y, t.Y[i*nt:(i+1)*nt]...)
		if len(t.Lines) == t.N {
			s.Lines = append(s.Lines, t.Lines[i])
		}
	}
	return s, nil
}

// Split splits t into training and validation tables, each in file order:
// stratified by class (StratifiedSplit on the first target) for an I32
// table, else a fraction round(valFraction*N) of the rows drawn by seed.
func (t *Table) Split(valFraction float64, seed uint64) (train, val *Table, err error) {
	labels := make([]int32, t.N)
	if t.TargetDType == runtime.I32 {
		for i := range labels {
			labels[i] = t.Label(i)
		}
	}
	ti, vi, err := StratifiedSplit(labels, valFraction, seed)
	if err != nil {
		return nil, nil, err
	}
	if train, err = t.Rows(ti); err != nil {
		return nil, nil, err
	}
	if val, err = t.Rows(vi); err != nil {
		return nil, nil, err
	}
	return train, val, nil
}

// Standardizer maps each feature to (x - Mean) / Std.
type Standardizer struct {
	Features []string
	Mean     []float32
	Std      []float32 // population standard deviation; 1 for a constant feature
}

// FitStandardizer computes each feature's mean and standard deviation over
// t (in float64), as scikit-learn's StandardScaler: fit it on the training
// split only and Apply it to every split.
func FitStandardizer(t *Table) (Standardizer, error) {
	if err := t.check(); err != nil {
		return Standardizer{}, err
	}
	nf := len(t.Features)
	sum, sq := make([]float64, nf), make([]float64, nf)
	for i := range t.N {
		for k, v := range t.X[i*nf : (i+1)*nf] {
			sum[k] += float64(v)
		}
	}
	s := Standardizer{Features: slices.Clone(t.Features), Mean: make([]float32, nf), Std: make([]float32, nf)}
	for k := range nf {
		sum[k] /= float64(max(t.N, 1))
	}
	for i := range t.N {
		for k, v := range t.X[i*nf : (i+1)*nf] {
			d := float64(v) - sum[k]
			sq[k] += d * d
		}
	}
	for k := range nf {
		s.Mean[k] = float32(sum[k])
		std := math.Sqrt(sq[k] / float64(max(t.N, 1)))
		if std == 0 || float32(std) == 0 {
			std = 1
		}
		s.Std[k] = float32(std)
	}
	return s, nil
}

// Apply standardizes t's features in place; t must have the features s
// was fit on, in the same order.
func (s Standardizer) Apply(t *Table) error {
	if !slices.Equal(s.Features, t.Features) {
		return fmt.Errorf("data: standardizer fit on features %v, table %s has %v", s.Features, t.Path, t.Features)
	}
	if len(s.Mean) != len(s.Features) || len(s.Std) != len(s.Features) {
		return fmt.Errorf("data: standardizer of %d features has %d means and %d deviations", len(s.Features), len(s.Mean), len(s.Std))
	}
	if err := t.check(); err != nil {
		return err
	}
	nf := len(s.Features)
	for i := range t.N {
		row := t.X[i*nf : (i+1)*nf]
		for k := range row {
			row[k] = (row[k] - s.Mean[k]) / s.Std[k]
		}
	}
	return nil
}

// Standardize fits a Standardizer on train and applies it to train and to
// every other table (validation, test).
func Standardize(train *Table, others ...*Table) (Standardizer, error) {
	s, err := FitStandardizer(train)
	if err != nil {
		return Standardizer{}, err
	}
	for _, t := range append([]*Table{train}, others...) {
		if err := s.Apply(t); err != nil {
			return Standardizer{}, err
		}
	}
	return s, nil
}
