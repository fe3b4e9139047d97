package data

// Sources and the Loader that fills a runtime.Batch from one.
//
// A Source is N examples, each with a value for every one of its Fields
// (an image and its label; a window of bytes and its next bytes). A Loader
// binds the fields to a model's Spec().Inputs (inputs then targets), checks
// that every example's size agrees with each input's shape, and fills a
// Batch for any list of example indices. The order of an epoch is a
// permutation drawn from (seed, epoch) alone, so any epoch's batches can be
// made again, by any goroutine, in any order (prefetching, resuming).
// Nothing here panics on bad data or wrong buffers: every failure is an
// error.

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/mdlc/mdlc/runtime"
)

// Field describes one value every example of a Source has.
type Field struct {
	Name  string
	DType string // runtime.F32 or runtime.I32: how the Source holds it
	// Shape of one example's value (no batch axis; [] for a scalar), or of
	// the whole value when Whole.
	Shape []int
	// Whole marks a batch-independent value (the same for every example),
	// bound to an input without the batch axis and passed whole.
	Whole bool
}

// Size is the number of elements of one example's value (of the whole
// value when f.Whole).
func (f Field) Size() int { return prod(f.Shape) }

// Source is a set of examples.
type Source interface {
	// Len is the number of examples.
	Len() int
	// Fields describes the values of each example.
	Fields() []Field
	// Read writes field f of example i into dst: into dst.F32 when the
	// input bound to it is f32, else into dst.I32, exactly Fields()[f].Size()
	// elements. An I32 field may be read as F32 (labels as float targets);
	// an F32 field is never read as I32. For a Whole field i is ignored.
	Read(f, i int, dst runtime.Value) error
}

// EpochSource is a Source whose values may differ by epoch (augmentation
// drawn from (seed, epoch, example)): a Loader's Load and FillEpoch call
// ReadEpoch, Fill calls Read (the values without augmentation).
type EpochSource interface {
	Source
	ReadEpoch(f, i, epoch int, dst runtime.Value) error
}

// LoaderOptions configures a Loader.
type LoaderOptions struct {
	// BatchSize is the number of examples per batch (required, >= 1).
	BatchSize int
	// Shuffle visits each epoch in a permutation drawn from (Seed, epoch);
	// without it every epoch is in index order.
	Shuffle bool
	Seed    uint64
	// DropLast leaves out an epoch's last batch when it is short.
	DropLast bool
	// Rank and World split each epoch among World loaders (data-parallel
	// training, dist/mpi): rank r reads positions r, r+World, r+2*World, ...
	// of the epoch's order, so batch s of every rank together is batch s
	// of one loader with World times the batch size. Every rank reads
	// floor(Len/World) examples: the last Len mod World positions of the
	// order (other examples each shuffled epoch) are left out, so that
	// every rank runs the same number of steps (an all-reduce waits for
	// every rank), as PyTorch's DistributedSampler with drop_last. World
	// 0 or 1 means one loader reads everything.
	Rank, World int
	// Bind names the field of the Source each input reads, by input name.
	// Without an entry, an input reads the field of its own name when the
	// Source has one; the inputs left take the fields left, in order.
	Bind map[string]string
}

// Loader fills batches for a model from a Source. Its methods may be
// called from several goroutines at once as long as each uses its own
// Batch.
type Loader struct {
	src    Source
	fields []Field
	inputs []runtime.IO
	opts   LoaderOptions
	bind   []int // input k reads field bind[k]; -1: a target the Source lacks (left nil)
	per    []int // elements of input k per example (whole size for a Whole field)

	mu     sync.Mutex
	orders [2]epochOrder // the last two epochs asked for (training and the one prefetched)
}

type epochOrder struct {
	epoch int
	order []int // this rank's share of the epoch's order; nil: none yet
}

// NewLoader binds src's fields to inputs (a model's Spec().Inputs). It
// fails when an input has no field, when an input's size per example (its
// shape without the batch axis, times k for a -k axis) differs from its
// field's, when a field's dtype cannot be read as the input's, or when an
// input without the batch axis is bound to a per-example field or the
// reverse. A target the Source lacks is allowed only when the Source has no
// field left for it (a Batch for Predict): its Value stays nil.
func NewLoader(src Source, inputs []runtime.IO, opts LoaderOptions) (*Loader, error) {
	if src == nil {
		return nil, errors.New("data: NewLoader: nil Source")
	}
	if opts.BatchSize < 1 {
		return nil, fmt.Errorf("data: batch size %d < 1", opts.BatchSize)
	}
	if opts.World < 0 || opts.World > 1 && (opts.Rank < 0 || opts.Rank >= opts.World) || opts.World <= 1 && opts.Rank != 0 {
		return nil, fmt.Errorf("data: rank %d of world %d", opts.Rank, opts.World)
	}
	l := &Loader{src: src, fields: src.Fields(), inputs: inputs, opts: opts}
	byName := map[string]int{}
	for j, f := range l.fields {
		byName[f.Name] = j
	}
	// Inputs named in Bind or named like a field first; the others take the
	// fields left, in order.
	bind := make([]int, len(inputs))
	used := make([]bool, len(l.fields))
	for k, in := range inputs {
		bind[k] = -1
		name, ok := opts.Bind[in.Name]
		if !ok {
			name = in.Name
		}
		j, found := byName[name]
		switch {
		case !found && ok:
			return nil, fmt.Errorf("data: input %s is bound to field %q, which the source lacks (fields: %s)", in.Name, name, fieldNames(l.fields))
		case !found:
			continue
		case used[j]:
			return nil, fmt.Errorf("data: field %s is bound to two inputs (the second %s); say which in LoaderOptions.Bind", name, in.Name)
		}
		bind[k], used[j] = j, true
	}
	next := 0
	for k := range inputs {
		if bind[k] >= 0 {
			continue
		}
		for next < len(used) && used[next] {
			next++
		}
		if next < len(used) {
			bind[k], used[next] = next, true
		}
	}
	for k, in := range inputs {
		j := bind[k]
		if j < 0 {
			if in.Role == "target" && allUsed(used) {
				l.bind = append(l.bind, -1)
				l.per = append(l.per, 0)
				continue
			}
			return nil, fmt.Errorf("data: no field of the source for input %s (fields: %s)", in.Name, fieldNames(l.fields))
		}
		f := l.fields[j]
		per, batched, err := perExample(in)
		if err != nil {
			return nil, err
		}
		switch {
		case batched && f.Whole:
			return nil, fmt.Errorf("data: input %s %v has the batch axis but field %s is one value for all examples", in.Name, in.Shape, f.Name)
		case !batched && !f.Whole:
			return nil, fmt.Errorf("data: input %s %v has no batch axis but field %s is per example", in.Name, in.Shape, f.Name)
		case per != f.Size():
			what := "per example"
			if !batched {
				what = "in all"
			}
			return nil, fmt.Errorf("data: input %s %v takes %d values %s, field %s %v has %d", in.Name, in.Shape, per, what, f.Name, f.Shape, f.Size())
		case in.DType == runtime.I32 && f.DType != runtime.I32:
			return nil, fmt.Errorf("data: input %s is i32 but field %s is %s", in.Name, f.Name, f.DType)
		case in.DType != runtime.I32 && in.DType != runtime.F32:
			return nil, fmt.Errorf("data: input %s has dtype %q", in.Name, in.DType)
		}
		l.bind = append(l.bind, j)
		l.per = append(l.per, per)
	}
	return l, nil
}

func allUsed(used []bool) bool { return !slices.Contains(used, false) }

func fieldNames(fs []Field) string {
	var s []string
	for _, f := range fs {
		s = append(s, fmt.Sprintf("%s %s%v", f.Name, f.DType, f.Shape))
	}
	return strings.Join(s, ", ")
}

// perExample returns the elements of in per example and whether in has the
// batch axis; without it, the elements of the whole value.
func perExample(in runtime.IO) (int, bool, error) {
	n, batched := 1, false
	for _, d := range in.Shape {
		switch {
		case d < 0 && batched:
			return 0, false, fmt.Errorf("data: input %s %v has two batch axes", in.Name, in.Shape)
		case d < 0:
			batched = true
			n *= -d
		default:
			n *= d
		}
	}
	return n, batched, nil
}

func prod(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Source returns the Source the loader reads.
func (l *Loader) Source() Source { return l.src }

// Len is the number of examples the loader reads per epoch (this rank's
// share, without the short last batch when DropLast).
func (l *Loader) Len() int {
	n := l.share()
	if l.opts.DropLast {
		n -= n % l.opts.BatchSize
	}
	return n
}

// share is the number of positions of an epoch that are this rank's.
func (l *Loader) share() int {
	return l.src.Len() / max(l.opts.World, 1)
}

// Steps is the number of batches per epoch.
func (l *Loader) Steps() int {
	return (l.Len() + l.opts.BatchSize - 1) / l.opts.BatchSize
}

// BatchSize is the number of examples of a full batch.
func (l *Loader) BatchSize() int { return l.opts.BatchSize }

// NewBatch allocates a Batch for a full batch: BatchSize examples of every
// input bound to a field (the whole value for an input without the batch
// axis); a target the Source lacks stays nil.
func (l *Loader) NewBatch() runtime.Batch {
	b := make(runtime.Batch, len(l.inputs))
	for k, in := range l.inputs {
		if l.bind[k] < 0 {
			continue
		}
		n := l.per[k]
		if !l.fields[l.bind[k]].Whole {
			n *= l.opts.BatchSize
		}
		if in.DType == runtime.I32 {
			b[k].I32 = make([]int32, n)
		} else {
			b[k].F32 = make([]float32, n)
		}
	}
	return b
}

// Order returns the example indices of an epoch in the order this rank
// visits them: a permutation of 0..Len-1 drawn from (Seed, epoch) when
// shuffling, else index order; then this rank's share. The same (Seed,
// epoch) gives the same order in every run. The caller must not modify
// the result.
func (l *Loader) Order(epoch int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range l.orders {
		if o.order != nil && o.epoch == epoch {
			return o.order
		}
	}
	n := l.src.Len()
	perm := make([]int, n)
	if l.opts.Shuffle {
		runtime.NewRNG(epochSeed(l.opts.Seed, epoch)).Perm(n, perm)
	} else {
		for i := range perm {
			perm[i] = i
		}
	}
	if w := l.opts.World; w > 1 {
		mine := make([]int, 0, l.share())
		for p := l.opts.Rank; p < w*l.share(); p += w {
			mine = append(mine, perm[p])
		}
		perm = mine
	}
	l.orders[1], l.orders[0] = l.orders[0], epochOrder{epoch, perm}
	return perm
}

// epochSeed mixes seed and epoch into one seed (SplitMix64's finalizer), so
// that neighbouring epochs and seeds give unrelated permutations.
func epochSeed(seed uint64, epoch int) uint64 {
	z := seed + uint64(epoch+1)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// Indices returns the example indices of batch step of epoch (a view of
// Order(epoch)); an error when step is out of range.
func (l *Loader) Indices(epoch, step int) ([]int, error) {
	if step < 0 || step >= l.Steps() {
		return nil, fmt.Errorf("data: step %d of an epoch of %d", step, l.Steps())
	}
	order := l.Order(epoch)[:l.Len()]
	lo := step * l.opts.BatchSize
	return order[lo:min(lo+l.opts.BatchSize, len(order))], nil
}

// Load fills b with batch step of epoch and returns its number of
// examples.
func (l *Loader) Load(b runtime.Batch, epoch, step int) (int, error) {
	idx, err := l.Indices(epoch, step)
	if err != nil {
		return 0, err
	}
	return len(idx), l.fill(b, idx, epoch)
}

// Fill writes the examples idx into b, one after another; b must have one
// Value per input, each holding at least len(idx) examples (the whole value
// for an input without the batch axis) of the input's dtype. A target the
// Source lacks is skipped. Fill reads no epoch's values of an EpochSource
// (Read, e.g. without augmentation); FillEpoch does.
func (l *Loader) Fill(b runtime.Batch, idx []int) error { return l.fill(b, idx, -1) }

// FillEpoch is Fill with the values of epoch (ReadEpoch) when the Source is
// an EpochSource.
func (l *Loader) FillEpoch(b runtime.Batch, idx []int, epoch int) error {
	return l.fill(b, idx, epoch)
}

// fill is Fill; epoch -1 reads with Read.
func (l *Loader) fill(b runtime.Batch, idx []int, epoch int) error {
	if len(b) != len(l.inputs) {
		return fmt.Errorf("data: batch has %d values, the model %d inputs", len(b), len(l.inputs))
	}
	n := l.src.Len()
	for _, i := range idx {
		if i < 0 || i >= n {
			return fmt.Errorf("data: example %d of %d", i, n)
		}
	}
	for k, in := range l.inputs {
		j := l.bind[k]
		if j < 0 {
			continue
		}
		per, f := l.per[k], l.fields[j]
		v := b[k]
		have, want := len(v.F32), per*len(idx)
		if in.DType == runtime.I32 {
			have = len(v.I32)
		}
		if f.Whole {
			want = per
		}
		if have < want {
			return fmt.Errorf("data: batch value %d (input %s) holds %d elements, want %d", k, in.Name, have, want)
		}
		if f.Whole {
			if err := l.read(j, 0, epoch, in.DType, v, 0, per); err != nil {
				return err
			}
			continue
		}
		for s, i := range idx {
			if err := l.read(j, i, epoch, in.DType, v, s*per, per); err != nil {
				return err
			}
		}
	}
	return nil
}

// read reads field j of example i (of epoch, unless -1) into v[off:off+n]
// as dtype.
func (l *Loader) read(j, i, epoch int, dtype string, v runtime.Value, off, n int) error {
	var dst runtime.Value
	if dtype == runtime.I32 {
		dst.I32 = v.I32[off : off+n]
	} else {
		dst.F32 = v.F32[off : off+n]
	}
	var err error
	if es, ok := l.src.(EpochSource); ok && epoch >= 0 {
		err = es.ReadEpoch(j, i, epoch, dst)
	} else {
		err = l.src.Read(j, i, dst)
	}
	if err != nil {
		return fmt.Errorf("data: example %d, field %s: %w", i, l.fields[j].Name, err)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Helpers for Sources

// readI32 writes src into dst.I32, or converted into dst.F32 when dst has
// no I32 (an i32 field read as an f32 input).
func readI32(dst runtime.Value, src []int32) error {
	if dst.I32 != nil {
		if len(dst.I32) != len(src) {
			return fmt.Errorf("destination holds %d elements, want %d", len(dst.I32), len(src))
		}
		copy(dst.I32, src)
		return nil
	}
	if len(dst.F32) != len(src) {
		return fmt.Errorf("destination holds %d elements, want %d", len(dst.F32), len(src))
	}
	for i, v := range src {
		dst.F32[i] = float32(v)
	}
	return nil
}

// readF32 writes src into dst.F32.
func readF32(dst runtime.Value, src []float32) error {
	if dst.F32 == nil && dst.I32 != nil {
		return errors.New("an f32 field read as i32")
	}
	if len(dst.F32) != len(src) {
		return fmt.Errorf("destination holds %d elements, want %d", len(dst.F32), len(src))
	}
	copy(dst.F32, src)
	return nil
}

// ---------------------------------------------------------------------------
// Subsets and splits

// Subset is the examples Index of Src, in that order. It is itself a
// Source; when Src is an ImageSource so is the Subset.
type Subset struct {
	Src   Source
	Index []int
}

func (s *Subset) Len() int        { return len(s.Index) }
func (s *Subset) Fields() []Field { return s.Src.Fields() }

func (s *Subset) Read(f, i int, dst runtime.Value) error {
	if i < 0 || i >= len(s.Index) {
		return fmt.Errorf("example %d of %d", i, len(s.Index))
	}
	return s.Src.Read(f, s.Index[i], dst)
}

// ReadEpoch reads through to Src's ReadEpoch when Src is an EpochSource,
// else to its Read.
func (s *Subset) ReadEpoch(f, i, epoch int, dst runtime.Value) error {
	if i < 0 || i >= len(s.Index) {
		return fmt.Errorf("example %d of %d", i, len(s.Index))
	}
	if es, ok := s.Src.(EpochSource); ok {
		return es.ReadEpoch(f, s.Index[i], epoch, dst)
	}
	return s.Src.Read(f, s.Index[i], dst)
}

// Image returns the cached image of example i (see ImageSource); an error
// when Src is not an ImageSource.
func (s *Subset) Image(i int) ([]uint8, error) {
	is, ok := s.Src.(ImageSource)
	if !ok {
		return nil, fmt.Errorf("data: %T holds no images", s.Src)
	}
	if i < 0 || i >= len(s.Index) {
		return nil, fmt.Errorf("data: image %d of %d", i, len(s.Index))
	}
	return is.Image(s.Index[i])
}

// ImageShape is Src's (see ImageSource); zeros when Src has no images.
func (s *Subset) ImageShape() (h, w, c int) {
	if is, ok := s.Src.(ImageSource); ok {
		return is.ImageShape()
	}
	return 0, 0, 0
}

// Label is the label of example i when Src is Labeled, else -1.
func (s *Subset) Label(i int) int32 {
	if ls, ok := s.Src.(Labeled); ok && i >= 0 && i < len(s.Index) {
		return ls.Label(s.Index[i])
	}
	return -1
}

// ImageSource is a Source of images cached as uint8 (what augmentation
// reads).
type ImageSource interface {
	Source
	// ImageShape is the size of every image: height, width, channels.
	ImageShape() (h, w, c int)
	// Image returns example i's image, h*w*c uint8 values in HWC order (a
	// view of the cache: do not modify it).
	Image(i int) ([]uint8, error)
}

// Labeled is a Source whose examples have one class id each.
type Labeled interface {
	Source
	Label(i int) int32 // -1 for an example without one
}

// StratifiedSplit splits the examples 0..len(labels)-1 into a training and
// a validation part, as Keras's validation_split but per class: the
// validation part has round(valFraction*N) examples, shared among the
// classes in proportion to their sizes (each class c of n_c examples gives
// floor(valFraction*n_c), and the examples left over go to the classes with
// the largest remainders, the smaller class id first on a tie), never all
// of a class unless valFraction is 1. Which examples of a class go to
// validation is drawn from seed. Both parts are in index order; the same
// labels, fraction and seed give the same split. valFraction must lie in
// [0, 1].
func StratifiedSplit(labels []int32, valFraction float64, seed uint64) (train, val []int, err error) {
	if !(valFraction >= 0 && valFraction <= 1) {
		return nil, nil, fmt.Errorf("data: validation fraction %v not in [0, 1]", valFraction)
	}
	byClass := map[int32][]int{}
	var classes []int32
	for i, c := range labels {
		if _, ok := byClass[c]; !ok {
			classes = append(classes, c)
		}
		byClass[c] = append(byClass[c], i)
	}
	slices.Sort(classes)
	// Largest-remainder quotas.
	k := make([]int, len(classes))
	rem := make([]float64, len(classes))
	left := int(math.Round(valFraction * float64(len(labels))))
	for ci, c := range classes {
		q := valFraction * float64(len(byClass[c]))
		k[ci] = int(math.Floor(q))
		rem[ci] = q - float64(k[ci])
		left -= k[ci]
	}
	capOf := func(ci int) int {
		n := len(byClass[classes[ci]])
		if valFraction < 1 {
			return n - 1
		}
		return n
	}
	byRem := make([]int, len(classes))
	for ci := range byRem {
		byRem[ci] = ci
	}
	slices.SortStableFunc(byRem, func(a, b int) int { return cmpDesc(rem[a], rem[b]) })
	for _, ci := range byRem {
		if left <= 0 {
			break
		}
		if k[ci] < capOf(ci) {
			k[ci]++
			left--
		}
	}
	isVal := make([]bool, len(labels))
	rng := runtime.NewRNG(seed)
	for ci, c := range classes {
		idx := byClass[c]
		kc := min(k[ci], max(capOf(ci), 0))
		perm := make([]int, len(idx))
		rng.Perm(len(idx), perm)
		for _, p := range perm[:kc] {
			isVal[idx[p]] = true
		}
	}
	for i, v := range isVal {
		if v {
			val = append(val, i)
		} else {
			train = append(train, i)
		}
	}
	return train, val, nil
}

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// SplitLabeled splits a labeled source with StratifiedSplit into two
// Subsets.
func SplitLabeled(src Labeled, valFraction float64, seed uint64) (train, val *Subset, err error) {
	labels := make([]int32, src.Len())
	for i := range labels {
		labels[i] = src.Label(i)
	}
	ti, vi, err := StratifiedSplit(labels, valFraction, seed)
	if err != nil {
		return nil, nil, err
	}
	return &Subset{Src: src, Index: ti}, &Subset{Src: src, Index: vi}, nil
}

// Const is a batch-independent value: one value for every example, bound
// to an input without the batch axis and passed whole.
type Const struct {
	Name  string
	Shape []int
	Value runtime.Value // F32 or I32, prod(Shape) elements
}

// WithConsts returns src with the fields consts added after its own, each
// Whole. It fails when a Const's value does not have prod(Shape) elements
// of one dtype or its name is already a field of src.
func WithConsts(src Source, consts ...Const) (Source, error) {
	fs := slices.Clone(src.Fields())
	for _, c := range consts {
		var dtype string
		n := -1
		switch {
		case c.Value.F32 != nil && c.Value.I32 == nil:
			dtype, n = runtime.F32, len(c.Value.F32)
		case c.Value.I32 != nil && c.Value.F32 == nil:
			dtype, n = runtime.I32, len(c.Value.I32)
		}
		if n != prod(c.Shape) {
			return nil, fmt.Errorf("data: constant %s %v needs %d values of one dtype", c.Name, c.Shape, prod(c.Shape))
		}
		if slices.ContainsFunc(fs, func(f Field) bool { return f.Name == c.Name }) {
			return nil, fmt.Errorf("data: constant %s: the source has a field of that name", c.Name)
		}
		fs = append(fs, Field{Name: c.Name, DType: dtype, Shape: slices.Clone(c.Shape), Whole: true})
	}
	return &withConsts{src: src, fields: fs, consts: consts, own: len(src.Fields())}, nil
}

type withConsts struct {
	src    Source
	fields []Field
	consts []Const
	own    int // fields of src
}

func (w *withConsts) Len() int        { return w.src.Len() }
func (w *withConsts) Fields() []Field { return w.fields }

func (w *withConsts) Read(f, i int, dst runtime.Value) error {
	if f < w.own {
		return w.src.Read(f, i, dst)
	}
	if f-w.own >= len(w.consts) {
		return fmt.Errorf("no field %d", f)
	}
	if v := w.consts[f-w.own].Value; v.I32 != nil {
		return readI32(dst, v.I32)
	}
	return readF32(dst, w.consts[f-w.own].Value.F32)
}

// ReadEpoch reads the source's fields through its ReadEpoch when it is an
// EpochSource.
func (w *withConsts) ReadEpoch(f, i, epoch int, dst runtime.Value) error {
	if es, ok := w.src.(EpochSource); ok && f < w.own {
		return es.ReadEpoch(f, i, epoch, dst)
	}
	return w.Read(f, i, dst)
}
