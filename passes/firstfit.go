package passes

// First fit over live ranges: the offsets of memplan (memplan.go, stage 4).
//
// A block of memory live over units start..end goes to the lowest offset
// where it overlaps no block placed before it whose live range intersects
// its own. Only the union of those blocks' offset ranges matters, so the
// placed blocks are kept in a segment tree over the units, each node
// holding offset ranges merged into disjoint spans: cover, the blocks whose
// range the tree splits at that node (it covers the node's units), and
// live, every block live at some unit of the node. The blocks live at some
// unit of start..end are those of cover on the paths from the root to the
// nodes that make up start..end, and of live at those nodes: a query reads
// O(log units) span sets instead of every block placed, and a block is
// added to O(log units) of them.

// spanSets holds sets of offsets, each a treap of disjoint, non-touching
// spans [lo, hi) ordered by offset (a node's spans are fragmented when
// small blocks fill gaps between large ones), all in one pool of nodes.
type spanSets struct {
	n    []spanNode // n[0] stands for the empty tree
	free []int32
	seed uint32
}

type spanNode struct {
	lo, hi int
	l, r   int32
	prio   uint32
}

func (s *spanSets) node(lo, hi int) int32 {
	s.seed ^= s.seed << 13
	s.seed ^= s.seed >> 17
	s.seed ^= s.seed << 5
	nd := spanNode{lo: lo, hi: hi, prio: s.seed}
	if k := len(s.free); k > 0 {
		i := s.free[k-1]
		s.free = s.free[:k-1]
		s.n[i] = nd
		return i
	}
	s.n = append(s.n, nd)
	return int32(len(s.n) - 1)
}

// split splits tree t into the spans starting before key and the others.
func (s *spanSets) split(t int32, key int) (int32, int32) {
	if t == 0 {
		return 0, 0
	}
	if s.n[t].lo < key {
		a, b := s.split(s.n[t].r, key)
		s.n[t].r = a
		return t, b
	}
	a, b := s.split(s.n[t].l, key)
	s.n[t].l = b
	return a, t
}

// merge joins trees a and b, whose spans all come before b's.
func (s *spanSets) merge(a, b int32) int32 {
	if a == 0 {
		return b
	}
	if b == 0 {
		return a
	}
	if s.n[a].prio > s.n[b].prio {
		r := s.merge(s.n[a].r, b)
		s.n[a].r = r
		return a
	}
	l := s.merge(a, s.n[b].l)
	s.n[b].l = l
	return b
}

// before returns the last span of tree t starting before key (0: none).
func (s *spanSets) before(t int32, key int) int32 {
	p := int32(0)
	for t != 0 {
		if s.n[t].lo < key {
			p, t = t, s.n[t].r
		} else {
			t = s.n[t].l
		}
	}
	return p
}

// add adds [lo, hi) (hi > lo) to the set rooted at *root, merging the
// spans it overlaps or touches.
func (s *spanSets) add(root *int32, lo, hi int) {
	from := lo
	if p := s.before(*root, lo); p != 0 && s.n[p].hi >= lo {
		from = s.n[p].lo
	}
	a, rest := s.split(*root, from)
	mid, c := s.split(rest, hi+1) // the spans [from, hi] start in merge into one
	if mid != 0 {
		first, last := mid, mid
		for s.n[first].l != 0 {
			first = s.n[first].l
		}
		for s.n[last].r != 0 {
			last = s.n[last].r
		}
		lo, hi = min(lo, s.n[first].lo), max(hi, s.n[last].hi)
		for stack := []int32{mid}; len(stack) > 0; {
			t := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if l, r := s.n[t].l, s.n[t].r; l != 0 || r != 0 {
				stack = append(stack, l, r)
			}
			if t != 0 {
				s.free = append(s.free, t)
			}
		}
	}
	*root = s.merge(s.merge(a, s.node(lo, hi)), c)
}

// block returns the end of the span of the set rooted at t that
// [at, at+size) overlaps, if any.
func (s *spanSets) block(t int32, at, size int) (int, bool) {
	if p := s.before(t, at+size); p != 0 && s.n[p].hi > at {
		return s.n[p].hi, true
	}
	return 0, false
}

// spans lists the set rooted at t, in order.
func (s *spanSets) spans(t int32) [][2]int {
	if t == 0 {
		return nil
	}
	return append(append(s.spans(s.n[t].l), [2]int{s.n[t].lo, s.n[t].hi}), s.spans(s.n[t].r)...)
}

// firstFit places blocks over units 0..n-1.
type firstFit struct {
	n           int
	sets        spanSets
	cover, live []int32 // roots by node: 1 is the root, 2i and 2i+1 the halves of i
	query       []int32 // a query's sets
}

func newFirstFit(n int) *firstFit {
	return &firstFit{n: n, sets: spanSets{n: make([]spanNode, 1), seed: 2463534242}, cover: make([]int32, 4*n), live: make([]int32, 4*n)}
}

// place puts a block of size elements live over units start..end at the
// lowest offset where it overlaps no block placed before it with a live
// range intersecting its own, and returns that offset.
func (f *firstFit) place(start, end, size int) int {
	f.query = f.query[:0]
	f.collect(1, 0, f.n-1, start, end)
	at := 0
	for moved := true; moved; {
		moved = false
		for _, t := range f.query {
			if hi, ok := f.sets.block(t, at, size); ok {
				at, moved = hi, true
			}
		}
	}
	if size > 0 { // an empty block is in no one's way
		f.insert(1, 0, f.n-1, start, end, at, at+size)
	}
	return at
}

func (f *firstFit) collect(node, lo, hi, start, end int) {
	if end < lo || hi < start {
		return
	}
	if start <= lo && hi <= end {
		f.query = append(f.query, f.live[node])
		return
	}
	f.query = append(f.query, f.cover[node])
	mid := (lo + hi) / 2
	f.collect(2*node, lo, mid, start, end)
	f.collect(2*node+1, mid+1, hi, start, end)
}

func (f *firstFit) insert(node, lo, hi, start, end, from, to int) {
	if end < lo || hi < start {
		return
	}
	f.sets.add(&f.live[node], from, to)
	if start <= lo && hi <= end {
		f.sets.add(&f.cover[node], from, to)
		return
	}
	mid := (lo + hi) / 2
	f.insert(2*node, lo, mid, start, end, from, to)
	f.insert(2*node+1, mid+1, hi, start, end, from, to)
}
