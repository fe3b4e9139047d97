package augment

import "testing"

// Random123's known-answer vectors for Philox4x32-10 (its tests/kat_vectors).
func TestUnitRange(t *testing.T) {
	if u := unit(0, 0); u != 0 {
		t.Errorf("unit(0, 0) = %v", u)
	}
	if u := unit(0xffffffff, 0xffffffff); u >= 1 || u < 1-0x1p-52 {
		t.Errorf("unit(max) = %v, want just below 1", u)
	}
}
