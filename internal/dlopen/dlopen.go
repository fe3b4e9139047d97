// Package dlopen finds a shared library for the bindings that reach C
// libraries through purego (the CUDA driver and cuBLAS, MPI, NCCL): the
// file an environment variable names, else the first of a list of sonames
// that opens.
package dlopen

import (
	"fmt"
	"os"
	"strings"

	"github.com/ebitengine/purego"
)

// First opens the library named by the environment variable env when it is
// set, else the first of names that opens (RTLD_NOW | RTLD_GLOBAL: plugins
// a library loads itself, as Open MPI's, resolve its symbols globally). It
// returns the handle and the name that opened; the error lists every
// failure, for the caller to wrap with what to install.
func First(env string, names []string) (handle uintptr, name string, err error) {
	if p := os.Getenv(env); p != "" {
		names = []string{p}
	}
	var tried []string
	for _, n := range names {
		h, err := purego.Dlopen(n, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			tried = append(tried, err.Error())
			continue
		}
		return h, n, nil
	}
	return 0, "", fmt.Errorf("%s", strings.Join(tried, "; "))
}
