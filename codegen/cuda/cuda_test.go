package cuda

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	gogen "github.com/mdlc/mdlc/codegen/go"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/ir/lower"
	"github.com/mdlc/mdlc/passes"
)

var update = flag.Bool("update", false, "rewrite the generated packages under internal/gpucheck")

// testModel is one generated package under internal/gpucheck: the golden
// output of both backends, and what the GPU check runs.
type testModel struct {
	pkg   string
	mdl   string
	batch int
	level passes.Level
}

var testModels = []testModel{
	{"linreg", "../../examples/linreg/linreg.mdl", 5, passes.Default},
	{"mnistmlp", "../../examples/mnist_mlp/mnist_mlp.mdl", 128, passes.Default},
	{"allops", "../go/testdata/models/allops.mdl", 8, passes.Default},
	{"allopso0", "../go/testdata/models/allops.mdl", 8, passes.O0}, // unfused: a kernel per value
}

func (m testModel) dir() string { return filepath.Join("internal", "gpucheck", m.pkg) }

// graph lowers and runs the pass pipeline as `mdlc build` does.
func (m testModel) graph(t *testing.T) *ir.Graph {
	t.Helper()
	src, err := os.ReadFile(m.mdl)
	if err != nil {
		t.Fatal(err)
	}
	gs, diags := lower.Source(filepath.Base(m.mdl), src)
	if diags.HasErrors() || len(gs) != 1 {
		t.Fatalf("%s: %v", m.mdl, diags)
	}
	if _, err := passes.Run(gs[0], passes.Options{VerifyEach: true, Level: m.level, MaxBatch: m.batch}); err != nil {
		t.Fatal(err)
	}
	return gs[0]
}

// generate returns kernels.cu, model_cuda.go and the Go backend's files
// (model.go and, when it has AVX2 loops, model_amd64.go and .s), as
// mdlc build -target cuda writes them.
func (m testModel) generate(t *testing.T) (cu, goSrc []byte, host gogen.Files) {
	t.Helper()
	g := m.graph(t)
	cu, goSrc, err := Generate(g, Options{Package: m.pkg, Source: m.mdl, MaxBatch: m.batch})
	if err != nil {
		t.Fatal(err)
	}
	host, err = gogen.Generate(g, gogen.Options{Package: m.pkg, Source: m.mdl, MaxBatch: m.batch})
	if err != nil {
		t.Fatal(err)
	}
	return cu, goSrc, host
}

var entryRE = regexp.MustCompile(`extern "C" __global__ void (\w+)\(`)

func kernelNames(cu []byte) []string {
	var out []string
	for _, m := range entryRE.FindAllSubmatch(cu, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

func checkEntries(t *testing.T, what string, cu, ptx []byte) {
	t.Helper()
	for _, k := range kernelNames(cu) {
		if !bytes.Contains(ptx, []byte(".entry "+k+"(")) {
			t.Errorf("%s: PTX lacks kernel %s", what, k)
		}
	}
}

// The committed packages are what the generators produce now (refresh
// with -update; that also rebuilds their PTX).
func TestGenerated(t *testing.T) {
	for _, m := range testModels {
		t.Run(m.pkg, func(t *testing.T) {
			cu, goSrc, host := m.generate(t)
			files := map[string][]byte{CUFile: cu, GoFile: goSrc}
			for name, data := range host {
				files[name] = data
			}
			if *update {
				ptx, err := CompilePTX(cu, DefaultArch)
				if err != nil {
					t.Fatal(err)
				}
				files[PTXFile] = ptx
				if err := os.MkdirAll(m.dir(), 0o755); err != nil {
					t.Fatal(err)
				}
				for _, name := range gogen.Generated {
					os.Remove(filepath.Join(m.dir(), name)) // one the Go backend no longer writes must go
				}
				for name, data := range files {
					if err := os.WriteFile(filepath.Join(m.dir(), name), data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			for _, msg := range host.Stale(m.dir()) {
				t.Errorf("%s/%s (run go test ./codegen/cuda -update)", m.dir(), msg)
			}
			for name, want := range files {
				got, err := os.ReadFile(filepath.Join(m.dir(), name))
				if err != nil {
					t.Fatalf("%v (run go test ./codegen/cuda -update)", err)
				}
				if d := cmp.Diff(string(want), string(got)); d != "" {
					t.Errorf("%s/%s is stale (run go test ./codegen/cuda -update); -generated +committed:\n%s", m.dir(), name, d)
				}
			}
			ptx, err := os.ReadFile(filepath.Join(m.dir(), PTXFile))
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, m.dir()+"/"+PTXFile, cu, ptx)
			if c, err := FindCompiler(); err == nil && strings.HasSuffix(c.Path, "clang-16") {
				fresh, err := c.CompilePTX(cu, DefaultArch)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(fresh, ptx) {
					t.Errorf("%s/%s differs from clang-16's output (run go test ./codegen/cuda -update)", m.dir(), PTXFile)
				}
			}
		})
	}
}

// Every example and the all-ops model compile to PTX for each
// architecture, so every kernel template is compiled at least once.
func TestPTX(t *testing.T) {
	c, err := FindCompiler()
	if err != nil {
		t.Skipf("neither nvcc nor clang >= 16 is installed (apt-get install clang-16): %v", err)
	}
	t.Logf("compiler: %s %s", c.Kind, c.Path)
	for _, m := range testModels {
		cu, _, _ := m.generate(t)
		for _, arch := range Archs {
			ptx, err := c.CompilePTX(cu, arch)
			if err != nil {
				t.Fatalf("%s %s: %v", m.pkg, arch, err)
			}
			if !bytes.Contains(ptx, []byte(".target "+arch)) {
				t.Errorf("%s: PTX is not for %s", m.pkg, arch)
			}
			checkEntries(t, m.pkg+" "+arch, cu, ptx)
		}
	}
}

// The fast tanh variant of the prelude compiles too.
func TestPTXFastTanh(t *testing.T) {
	c, err := FindCompiler()
	if err != nil || c.Kind != "clang" {
		t.Skip("needs clang >= 16")
	}
	c.Flags = []string{"-DMDLC_FAST_TANH"}
	cu := []byte("extern \"C\" __global__ void k(float* mem, int n) { mem[threadIdx.x] = tanhf(mem[threadIdx.x]); }\n")
	ptx, err := c.CompilePTX(cu, "sm_90")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(ptx, []byte("tanh.approx.f32")) {
		t.Error("MDLC_FAST_TANH does not use tanh.approx.f32")
	}
}

// Every op of the op table that computes has a CUDA emitter.
func TestEmitterCoverage(t *testing.T) {
	for _, op := range ir.Ops() {
		if op.Bound() {
			continue
		}
		if !hasEmitter(op.Name) {
			t.Errorf("op %s has no CUDA emitter", op.Name)
		}
		if op.Kind == ir.KindElementwise && scalarOps[op.Name] == nil {
			t.Errorf("elementwise op %s has no scalar expression", op.Name)
		}
	}
}

func TestNoCompiler(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("MDLC_NVCC", "")
	t.Setenv("MDLC_CLANG", "")
	_, err := CompilePTX([]byte("x"), "")
	if err == nil {
		t.Fatal("compiled without a compiler")
	}
	for _, want := range []string{"nvcc", "clang >= 16", "apt-get install clang-16"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := CompilePTX([]byte("x"), "sm_75"); err == nil || !strings.Contains(err.Error(), "sm_80, sm_90") {
		t.Errorf("unknown arch: %v", err)
	}
}

func TestDeterministic(t *testing.T) {
	m := testModels[1]
	cu1, go1, _ := m.generate(t)
	cu2, go2, _ := m.generate(t)
	if !bytes.Equal(cu1, cu2) || !bytes.Equal(go1, go2) {
		t.Fatal("two generations differ")
	}
}

func TestHeaders(t *testing.T) {
	cu, goSrc, _ := testModels[0].generate(t)
	want := "// Code generated by mdlc v0.1.0 from linreg.mdl. DO NOT EDIT.\n"
	if !strings.HasPrefix(string(cu), want) || !strings.HasPrefix(string(goSrc), want) {
		t.Errorf("headers:\n%s\n%s", cu[:80], goSrc[:80])
	}
}

// Fused groups become one kernel each; a reduction computes its
// elementwise producers in its loop.
func TestFusedKernels(t *testing.T) {
	m := testModels[1]
	g := m.graph(t)
	if len(g.Groups) == 0 {
		t.Skip("the pipeline does not fuse")
	}
	cu, _, err := Generate(g, Options{Package: "p", Source: "m.mdl", MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	var values int
	for _, v := range g.Values {
		if computes(v) && v.Op.Name != "matmul" {
			values++
		}
	}
	if k := len(kernelNames(cu)); k >= values {
		t.Errorf("%d kernels for %d computing values: nothing fused", k, values)
	}
	if !regexp.MustCompile(`const float e\d+ = .*\n\t\tconst float xv = e\d+;`).Match(cu) {
		t.Error("no reduction computes its producer in its loop")
	}
}

// A group whose member needs a value computed after the group is launched
// is refused with a message naming both.
func TestGroupOrder(t *testing.T) {
	g := testModels[0].graph(t)
	// theta1 * x, then + theta0, then - y: group the first and the last only.
	var mul, sub *ir.Value
	for _, v := range g.Values {
		if v.Op.Name == "mul" && mul == nil {
			mul = v
		}
		if v.Op.Name == "sub" && sub == nil {
			sub = v
		}
	}
	g.Groups = []ir.Group{{Kind: ir.KindElementwise, Values: []*ir.Value{mul, sub}}}
	_, _, err := Generate(g, Options{Package: "p", Source: "m.mdl", MaxBatch: 4})
	if err == nil || !strings.Contains(err.Error(), "computed later") {
		t.Fatalf("err = %v", err)
	}
}

var defineRE = regexp.MustCompile(`(?m)^#define (\w+) (\d+)$`)

// defines returns the numeric #defines of a .cu (block bases, WORDS).
func defines(cu []byte) map[string]int {
	out := map[string]int{}
	for _, m := range defineRE.FindAllSubmatch(cu, -1) {
		n := 0
		for _, c := range m[2] {
			n = 10*n + int(c-'0')
		}
		out[string(m[1])] = n
	}
	return out
}

// compiles checks that cu builds to PTX when a compiler is installed.
func compiles(t *testing.T, cu []byte) {
	t.Helper()
	c, err := FindCompiler()
	if err != nil {
		return
	}
	ptx, err := c.CompilePTX(cu, DefaultArch)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, "PTX", cu, ptx)
}

// With a memory plan the device arena is the planned one, every value the
// plan leaves in registers has no memory, and the optimizer update of all
// params is one kernel that writes params and state in place.
func TestPlannedArena(t *testing.T) {
	for _, m := range testModels {
		g := m.graph(t)
		cu, _, err := Generate(g, Options{Package: "p", Source: "m.mdl", MaxBatch: m.batch})
		if err != nil {
			t.Fatal(err)
		}
		d := defines(cu)
		arena, iarena := d["IARENA"]-d["ARENA"], d["INPUTS"]-d["IARENA"]
		if g.Plan == nil {
			continue
		}
		if arena != g.Plan.Arena || iarena != g.Plan.IArena {
			t.Errorf("%s: device arena %d + %d words, plan %d + %d", m.pkg, arena, iarena, g.Plan.Arena, g.Plan.IArena)
		}
		for _, v := range g.Values {
			if _, ok := g.Plan.Slots[v]; ok || !computes(v) || v.Op.Name == "matmul" {
				continue
			}
			if regexp.MustCompile(`(?m)^#define \w+ [FI]32\(I?ARENA, \d+\) // %` + strconv.Itoa(v.ID) + ` `).Match(cu) {
				t.Errorf("%s: %%%d %s has device memory; the plan keeps it in a register", m.pkg, v.ID, v.Op.Name)
			}
		}
		if n := strings.Count(string(cu), "_update_all_params("); n != 1 {
			t.Errorf("%s: %d kernels update all params, want 1", m.pkg, n)
		}
		if i := strings.Index(string(cu), "void apply_updates("); i >= 0 {
			body := string(cu[i:])
			body = body[:strings.Index(body, "\n}\n")]
			for _, p := range regexp.MustCompile(`(?m)^#define (\w+) F32\(PARAMS,`).FindAllSubmatch(cu, -1) {
				if strings.Contains(body, " "+string(p[1])+"[i] =") {
					t.Errorf("%s: apply_updates copies %s, which the optimizer kernel updated in place", m.pkg, p[1])
				}
			}
		}
	}
	g := testModels[1].graph(t)
	cu, _, err := Generate(g, Options{Package: "p", Source: "m.mdl", MaxBatch: 128})
	if err != nil {
		t.Fatal(err)
	}
	d := defines(cu)
	t.Logf("mnist_mlp at batch 128: arena %d + iarena %d words, allocation %d words (%.2f MiB)",
		d["IARENA"]-d["ARENA"], d["INPUTS"]-d["IARENA"], d["WORDS"], float64(4*d["WORDS"])/(1<<20))
}

// mnistWithReshapedGrad returns the MNIST graph with the gradient of
// logits.b replaced by a reshape of it (so that it is not computed in its
// grads slot) and re-planned.
func mnistWithReshapedGrad(t *testing.T) *ir.Graph {
	g := testModels[1].graph(t)
	var grad *ir.Value
	ri := -1
	for i, r := range g.Results {
		if r.Kind == ir.ResultGrad && r.Name == "logits.b" {
			grad, ri = r.Value, i
		}
	}
	if grad == nil {
		t.Fatal("no gradient of logits.b")
	}
	r := &ir.Value{Op: ir.LookupOp("reshape"), Type: grad.Type, Args: []*ir.Value{grad}, Attrs: ir.Attrs{"shape": grad.Type.Shape.Clone()}}
	var vals []*ir.Value
	for _, v := range g.Values {
		for i, a := range v.Args {
			if a == grad {
				v.Args[i] = r
			}
		}
		vals = append(vals, v)
		if v == grad {
			vals = append(vals, r)
		}
	}
	g.Values = vals
	g.Results[ri].Value = r
	g.Renumber()
	if err := passes.Memplan(g, &passes.Context{MaxBatch: 128}); err != nil {
		t.Fatal(err)
	}
	return g
}

// A gradient computed outside its slot is copied there before the
// optimizer kernel reads the grads block.
func TestGradCopiedBeforeOptimizer(t *testing.T) {
	g := mnistWithReshapedGrad(t)
	cu, goSrc, err := Generate(g, Options{Package: "p", Source: "m.mdl", MaxBatch: 128})
	if err != nil {
		t.Fatal(err)
	}
	s := string(cu)
	cp, upd := strings.Index(s, "void copy_grads("), strings.Index(s, "_update_all_params(")
	if cp < 0 || upd < 0 || cp > upd {
		t.Fatalf("copy_grads at %d, the optimizer kernel at %d", cp, upd)
	}
	if !strings.Contains(s[cp:upd], "logitsBGrad[i] =") {
		t.Errorf("copy_grads does not copy logits.b's gradient:\n%s", s[cp:upd])
	}
	if strings.Contains(s[upd:], "logitsBGrad[i] =") {
		t.Error("apply_updates copies the gradient again")
	}
	lc, lu := strings.Index(string(goSrc), "m.launch(kernCopyGrads"), strings.Index(string(goSrc), "m.launch(kernG10UpdateAllParams")
	if lc < 0 || lu < 0 || lc > lu {
		t.Errorf("copy_grads launched at %d, the optimizer kernel at %d", lc, lu)
	}
	compiles(t, cu)
}

// A lanes group whose layout is not flat runs a kernel per lane shape; the
// updates the plan writes in place get device scratch and apply_updates
// copies them.
func TestLanesNotFlat(t *testing.T) {
	g := testModels[1].graph(t)
	var gr *ir.Group
	for i := range g.Groups {
		if g.Groups[i].Lanes != nil {
			gr = &g.Groups[i]
		}
	}
	if gr == nil {
		t.Skip("no lanes group")
	}
	// Lanes out of param order: not flat.
	gr.Lanes[0], gr.Lanes[1] = gr.Lanes[1], gr.Lanes[0]
	cu, _, err := Generate(g, Options{Package: "p", Source: "m.mdl", MaxBatch: 128})
	if err != nil {
		t.Fatal(err)
	}
	s := string(cu)
	if strings.Contains(s, "_update_all_params(") {
		t.Error("lanes out of param order run as one kernel")
	}
	if !strings.Contains(s, "device scratch after the planned arena") {
		t.Error("no scratch for the updates")
	}
	d := defines(cu)
	if arena := d["IARENA"] - d["ARENA"]; arena <= g.Plan.Arena {
		t.Errorf("arena %d words, plan %d: no room for the updates", arena, g.Plan.Arena)
	}
	if !regexp.MustCompile(`apply_updates[^}]*hiddenW\[i\] = `).MatchString(s) {
		t.Error("apply_updates does not update hidden.w")
	}
	compiles(t, cu)
}
