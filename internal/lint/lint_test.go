package lint

import (
	"os"
	"os/exec"
	"testing"

	"github.com/mdlc/mdlc/internal/gotool"
)

// staticcheckVersion is the staticcheck the lint runs (go run fetches it
// from the Go module proxy; nothing is added to go.mod).
const staticcheckVersion = "honnef.co/go/tools/cmd/staticcheck@v0.8.2"

// TestLint runs go vet and staticcheck on every package of the module.
// Building staticcheck takes a minute, so it runs in CI (MDLC_CI=1, set by
// .ci/run) or when MDLC_LINT=1; elsewhere the test skips.
func TestLint(t *testing.T) {
	if os.Getenv("MDLC_CI") != "1" && os.Getenv("MDLC_LINT") != "1" {
		t.Skip("set MDLC_LINT=1 to run go vet and staticcheck (CI does)")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("no go tool: %v", err)
	}
	root := gotool.RepoRoot(t)
	gotool.Go(t, root, nil, "vet", "./...")
	gotool.Go(t, root, nil, "run", staticcheckVersion, "./...")
}
