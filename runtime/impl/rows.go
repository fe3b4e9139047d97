package impl

import "sync"

// Row loops of generated code split across the worker pool. A fused loop
// over rows of a tensor (ReLU backward, say) runs as ForRows: every row is
// independent, so any split gives the same result. A column reduction
// (the bias gradient: the sum of every row) runs as SumRows, whose result
// must not depend on the split either: the rows are cut into chunks of a
// fixed size that the generated code chooses, each chunk sums its rows
// into its own partial row (in row order), and the partial rows are added
// into the result in chunk order on the caller. The chunks, and so every
// rounding, are the same with 1 core or 64.

// rowsParallelMin is the number of elements below which ForRows and
// SumRows run on the caller alone: a parallel call costs a few
// microseconds.
const rowsParallelMin = 1 << 15

// ForRows calls f over disjoint ranges of rows covering [0, rows), rows of
// width elements each: split across the worker pool (ParallelRows) when
// there are at least rowsParallelMin elements, else f(0, rows) on the
// caller. f must be a func value made once (see ParallelRows).
func ForRows(rows, width int, f func(lo, hi int)) {
	if rows*width < rowsParallelMin {
		if rows > 0 {
			f(0, rows)
		}
		return
	}
	ParallelRows(rows, f)
}

// SumRows adds into dst (width elements) the sum over rows [0, rows) that
// f computes: f(acc, lo, hi) adds the contributions of rows lo..hi-1, in
// order, into acc (zero when f is called, len(dst) elements). The rows are
// taken chunk rows at a time; each chunk's partial sums are added into dst
// in chunk order, so the result depends on chunk but not on the number of
// cores. The chunks are split across the worker pool when there are at
// least rowsParallelMin elements. f must be a func value made once (see
// ParallelRows); nothing is allocated per call after the first of a size.
func SumRows(dst []float32, rows, chunk int, f func(acc []float32, lo, hi int)) {
	sumRows(dst, rows, chunk, rows*len(dst), f)
}

// sumRows is SumRows for rows whose work is about work elements in all
// (not rows*len(dst): a row of the pooling gradient is an example).
func sumRows(dst []float32, rows, chunk, work int, f func(acc []float32, lo, hi int)) {
	if rows <= 0 {
		return
	}
	chunk = max(chunk, 1)
	width := len(dst)
	nc := (rows + chunk - 1) / chunk
	part := getPartials(nc * width)
	defer putPartials(part)
	job := sumJob{part: part.buf, width: width, rows: rows, chunk: chunk, f: f}
	if work < rowsParallelMin || nc < 2 || !sumJobs.mu.TryLock() {
		job.chunks(0, nc)
	} else {
		sumJobs.job = job
		ParallelRows(nc, sumJobs.run)
		sumJobs.job = sumJob{}
		sumJobs.mu.Unlock()
	}
	for c := range nc {
		p := part.buf[c*width : (c+1)*width]
		p = p[:len(dst)]
		for j, v := range p {
			dst[j] += v
		}
	}
}

// sumJob is one SumRows call: f over the chunks of rows, chunk c summing
// into part[c*width:].
type sumJob struct {
	part        []float32
	width       int
	rows, chunk int
	f           func(acc []float32, lo, hi int)
}

// chunks computes the partial rows of chunks lo..hi-1.
func (j *sumJob) chunks(lo, hi int) {
	for c := lo; c < hi; c++ {
		acc := j.part[c*j.width : (c+1)*j.width]
		clear(acc)
		j.f(acc, c*j.chunk, min(j.rows, (c+1)*j.chunk))
	}
}

// sumJobs is the one parallel SumRows call in flight (a second caller runs
// its chunks serially, with the same result); run is made once, so a call
// allocates nothing.
var sumJobs struct {
	mu  sync.Mutex
	job sumJob
	run func(lo, hi int)
}

func init() {
	sumJobs.run = func(lo, hi int) { sumJobs.job.chunks(lo, hi) }
}

// partials is a buffer of partial sums; a call takes one from the free
// list for its duration, so there are as many as calls ever ran at once.
type partials struct{ buf []float32 }

var partialsFree struct {
	mu   sync.Mutex
	free []*partials
}

func getPartials(n int) *partials {
	partialsFree.mu.Lock()
	var p *partials
	if k := len(partialsFree.free); k > 0 {
		p = partialsFree.free[k-1]
		partialsFree.free = partialsFree.free[:k-1]
	}
	partialsFree.mu.Unlock()
	if p == nil {
		p = new(partials)
	}
	if len(p.buf) < n {
		p.buf = make([]float32, n)
	}
	return p
}

func putPartials(p *partials) {
	partialsFree.mu.Lock()
	partialsFree.free = append(partialsFree.free, p)
	partialsFree.mu.Unlock()
}
