package passes

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// firstFitScan is the first fit of memplan by definition: the lowest
// offset past the blocks placed before whose live range intersects.
func firstFitScan(placed []ffBlock, start, end, size int) int {
	var overlap []ffBlock
	for _, p := range placed {
		if p.start <= end && start <= p.end {
			overlap = append(overlap, p)
		}
	}
	sort.Slice(overlap, func(a, b int) bool { return overlap[a].offset < overlap[b].offset })
	at := 0
	for _, p := range overlap {
		if at+size <= p.offset {
			break
		}
		at = max(at, p.offset+p.size)
	}
	return at
}

type ffBlock struct{ start, end, size, offset int }

// The segment tree gives the scan's offsets: random live ranges and sizes
// (zero included), placed in decreasing size as memplan does, and in any
// order; a few trials with many blocks, so that sets fragment.
func TestFirstFitMatchesScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 400; trial++ {
		units, blocks := 1+r.IntN(60), r.IntN(80)
		if trial%100 == 0 {
			units, blocks = 500, 1500
		}
		var bs []ffBlock
		for i := 0; i < blocks; i++ {
			s := r.IntN(units)
			e := s + r.IntN(units-s)
			sizes := []int{0, 1, 2, 3, 4, 8, 16, 5 + r.IntN(40)}
			bs = append(bs, ffBlock{start: s, end: e, size: sizes[r.IntN(len(sizes))]})
		}
		if trial%2 == 0 {
			sort.SliceStable(bs, func(a, b int) bool { return bs[a].size > bs[b].size })
		}
		ff := newFirstFit(units)
		var placed []ffBlock
		for i, b := range bs {
			want := firstFitScan(placed, b.start, b.end, b.size)
			got := ff.place(b.start, b.end, b.size)
			if got != want {
				t.Fatalf("trial %d, block %d %+v of %d: offset %d, the scan gives %d", trial, i, b, len(bs), got, want)
			}
			b.offset = got
			placed = append(placed, b)
		}
	}
}

func TestSpanSetsAdd(t *testing.T) {
	var s spanSets
	s.n = make([]spanNode, 1)
	s.seed = 1
	root := int32(0)
	for _, a := range [][2]int{{10, 12}, {0, 2}, {4, 6}, {2, 4}, {20, 30}, {11, 15}, {6, 7}, {40, 41}, {25, 45}, {50, 51}, {47, 48}} {
		s.add(&root, a[0], a[1])
	}
	want := [][2]int{{0, 7}, {10, 15}, {20, 45}, {47, 48}, {50, 51}}
	if got := s.spans(root); !slices.Equal(got, want) {
		t.Fatalf("spans %v, want %v", got, want)
	}
	for _, c := range []struct{ at, size, end int }{{0, 1, 7}, {7, 3, 0}, {7, 4, 15}, {45, 2, 0}, {45, 3, 48}, {48, 2, 0}, {49, 1, 0}, {49, 2, 51}, {60, 5, 0}, {8, 0, 0}} {
		end, ok := s.block(root, c.at, c.size)
		if ok != (c.end > 0) || end != c.end {
			t.Errorf("block(%d, %d) = %d, %v; want %d", c.at, c.size, end, ok, c.end)
		}
	}
}
