package cuda

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// DefaultArch is the architecture PTX is built for unless told otherwise:
// sm_80 PTX runs on Ampere and, JIT-compiled by the driver, on Hopper.
const DefaultArch = "sm_80"

// Archs are the architectures CompilePTX accepts.
var Archs = []string{"sm_80", "sm_90"}

// Compiler is a CUDA compiler found on this machine.
type Compiler struct {
	Kind  string // "nvcc" or "clang"
	Path  string
	Flags []string // extra flags, e.g. -DMDLC_FAST_TANH
}

// clangMinVersion is the oldest clang that compiles our kernels to PTX 7.8.
const clangMinVersion = 16

// FindCompiler returns nvcc when it is on PATH (or named by MDLC_NVCC),
// else clang >= 16 (clang-16 ... clang-20, then clang; MDLC_CLANG names
// another), else an error that says how to get one.
func FindCompiler() (*Compiler, error) {
	if p := os.Getenv("MDLC_NVCC"); p != "" {
		return &Compiler{Kind: "nvcc", Path: p}, nil
	}
	if p, err := exec.LookPath("nvcc"); err == nil {
		return &Compiler{Kind: "nvcc", Path: p}, nil
	}
	cands := []string{os.Getenv("MDLC_CLANG")}
	for v := 20; v >= clangMinVersion; v-- {
		cands = append(cands, "clang-"+strconv.Itoa(v))
	}
	cands = append(cands, "clang")
	var old []string
	for _, c := range cands {
		if c == "" {
			continue
		}
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		v, err := clangVersion(p)
		if err != nil || v < clangMinVersion {
			old = append(old, fmt.Sprintf("%s is version %d", p, v))
			continue
		}
		return &Compiler{Kind: "clang", Path: p}, nil
	}
	msg := "cuda: no CUDA compiler found: mdlc builds PTX with nvcc (the CUDA toolkit) when it is on PATH, " +
		"else with clang >= 16 in CUDA mode (no toolkit needed; Debian/Ubuntu: apt-get install clang-16)"
	if len(old) > 0 {
		msg += "; too old: " + strings.Join(old, ", ")
	}
	return nil, fmt.Errorf("%s", msg)
}

var clangVersionRE = regexp.MustCompile(`clang version (\d+)`)

func clangVersion(path string) (int, error) {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return 0, err
	}
	m := clangVersionRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("%s: no version in %q", path, out)
	}
	return strconv.Atoi(string(m[1]))
}

// CompilePTX compiles CUDA C source to PTX for arch (sm_80 when empty)
// with the compiler FindCompiler finds.
func CompilePTX(cu []byte, arch string) ([]byte, error) {
	if arch != "" && !validArch(arch) {
		return nil, fmt.Errorf("cuda: unknown architecture %q (want one of %s)", arch, strings.Join(Archs, ", "))
	}
	c, err := FindCompiler()
	if err != nil {
		return nil, err
	}
	return c.CompilePTX(cu, arch)
}

// CompilePTX compiles cu to PTX for arch with this compiler.
func (c *Compiler) CompilePTX(cu []byte, arch string) ([]byte, error) {
	if arch == "" {
		arch = DefaultArch
	}
	if !validArch(arch) {
		return nil, fmt.Errorf("cuda: unknown architecture %q (want one of %s)", arch, strings.Join(Archs, ", "))
	}
	dir, err := os.MkdirTemp("", "mdlc-ptx-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	src, out := filepath.Join(dir, "kernels.cu"), filepath.Join(dir, "kernels.ptx")
	if err := os.WriteFile(src, cu, 0o644); err != nil {
		return nil, err
	}
	var args []string
	switch c.Kind {
	case "nvcc":
		args = []string{"-ptx", "-arch=" + arch, "-O3", "-o", out, src}
	default:
		prelude := filepath.Join(dir, "mdlc_prelude.h")
		if err := os.WriteFile(prelude, []byte(Prelude), 0o644); err != nil {
			return nil, err
		}
		args = []string{"-x", "cuda", "--cuda-device-only", "-nocudainc", "-nocudalib",
			"--cuda-gpu-arch=" + arch, "--cuda-feature=+ptx78", "-O3", "-S",
			"-Wno-unknown-cuda-version", "-include", prelude, "-o", out, src}
	}
	args = append(c.Flags, args...)
	cmd := exec.Command(c.Path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("cuda: %s %s: %v\n%s", filepath.Base(c.Path), strings.Join(args, " "), err, stderr.String())
	}
	ptx, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	// The PTX starts with the .cu's generated-code header (PTX has // comments).
	if line, _, ok := bytes.Cut(cu, []byte("\n")); ok && bytes.HasPrefix(line, []byte("// Code generated ")) {
		ptx = append(append(append([]byte(nil), line...), '\n'), ptx...)
	}
	return ptx, nil
}

func validArch(a string) bool {
	for _, x := range Archs {
		if a == x {
			return true
		}
	}
	return false
}
