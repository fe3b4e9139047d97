package impl

import (
	"testing"
	"time"
)

// TestFMAPeak checks that FMAPeak measures something: at least one FMA lane
// per nanosecond (2 GFLOP/s) and less than any CPU reaches (100 TFLOP/s).
func TestFMAPeak(t *testing.T) {
	if p := FMAPeak(20 * time.Millisecond); p < 2 || p > 1e5 {
		t.Errorf("FMAPeak = %.1f GFLOP/s, want between 2 and 100000", p)
	}
}
