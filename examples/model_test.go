package examples

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdlc/mdlc/examples/charlstm/charlstm"
	"github.com/mdlc/mdlc/examples/fashion_cnn/fashioncnn"
	"github.com/mdlc/mdlc/examples/linreg/linreg"
	"github.com/mdlc/mdlc/examples/mnist_mlp/mnistmlp"
	"github.com/mdlc/mdlc/runtime"
)

// batch returns a deterministic pseudo-random MNIST-shaped batch.
func batch(n int, seed uint64) ([]float32, []int32) {
	r := runtime.NewRNG(seed)
	x := make([]float32, n*784)
	y := make([]int32, n)
	for i := range x {
		x[i] = float32(r.Float64())
	}
	for i := range y {
		y[i] = int32(r.IntN(10))
	}
	return x, y
}

func TestLinRegTrains(t *testing.T) {
	m := linreg.New()
	x := []float32{1, 2, 3, 4, 5}
	y := []float32{2, 4, 5, 4, 5}
	for i := 0; i < 1000; i++ {
		if _, err := m.TrainStep(x, y, 5); err != nil {
			t.Fatal(err)
		}
	}
	p := m.Params()
	// The float64 interpreter gives 2.136117 and 0.617695 (passes/examples_test.go).
	if got := p[0].Data[0]; math.Abs(float64(got)-2.1361170) > 1e-4 {
		t.Errorf("theta0 = %v", got)
	}
	if got := p[1].Data[0]; math.Abs(float64(got)-0.6176950) > 1e-4 {
		t.Errorf("theta1 = %v", got)
	}
}

// TestBadInput: every misuse is an error, never a panic.
func TestBadInput(t *testing.T) {
	m := mnistmlp.New()
	x, y := batch(4, 1)
	nan := append([]float32(nil), x...)
	nan[17] = float32(math.NaN())
	badLabel := append([]int32(nil), y...)
	badLabel[2] = 10
	negLabel := append([]int32(nil), y...)
	negLabel[0] = -1
	cases := []struct {
		name string
		run  func() error
		want string
	}{
		{"n=0", func() error { _, err := m.TrainStep(x[:0], y[:0], 0); return err }, "batch size 0 out of range"},
		{"n>max", func() error { _, err := m.TrainStep(x, y, mnistmlp.MaxBatch+1); return err }, "out of range 1..128"},
		{"short image", func() error { _, err := m.TrainStep(x[:100], y, 4); return err }, "input image"},
		{"long labels", func() error { _, err := m.TrainStep(x, append(y, 1), 4); return err }, "target label"},
		{"NaN image", func() error { _, err := m.TrainStep(nan, y, 4); return err }, "NaN"},
		{"label out of range", func() error { _, err := m.TrainStep(x, badLabel, 4); return err }, "out of range [0, 10)"},
		{"negative label", func() error { _, _, err := m.Eval(x, negLabel, 4); return err }, "out of range"},
		{"forward wrong size", func() error { _, err := m.Forward(x[:783], 1); return err }, "input image"},
		{"generic batch arity", func() error { _, err := m.Train(runtime.Batch{{F32: x}}, 4); return err }, "want 2"},
		{"predict outputs", func() error { return m.Predict(runtime.Batch{{F32: x}, {}}, 4, nil) }, "outputs"},
	}
	before := append([]float32(nil), m.Params()[0].Data...)
	for _, c := range cases {
		err := c.run()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one containing %q", c.name, err, c.want)
		}
	}
	for i, v := range m.Params()[0].Data {
		if v != before[i] {
			t.Fatalf("a rejected call changed the parameters")
		}
	}
	// A partial last batch is fine.
	if _, err := m.TrainStep(x[:3*784], y[:3], 3); err != nil {
		t.Errorf("n=3: %v", err)
	}
}

// text returns n deterministic pseudo-random byte sequences of length t
// and their next bytes, as charlstm takes them.
func text(n, t int, seed uint64) ([]int32, []int32) {
	r := runtime.NewRNG(seed)
	x, y := make([]int32, n*t), make([]int32, n*t)
	for i := range x {
		x[i] = int32(r.IntN(256))
		y[i] = int32(r.IntN(256))
	}
	return x, y
}

// TestNoAllocs: after the first call, the entry points do not allocate
// (the CNN's: neither do its loops split across the cores; the LSTM's:
// nor its gate loops, split per step).
func TestNoAllocs(t *testing.T) {
	m := mnistmlp.New()
	x, y := batch(mnistmlp.MaxBatch, 2)
	n := mnistmlp.MaxBatch
	c := fashioncnn.New()
	l := charlstm.New()
	lx, ly := text(4, 64, 9)
	for name, f := range map[string]func(){
		"TrainStep":      func() { m.TrainStep(x, y, n) },
		"Forward":        func() { m.Forward(x, n) },
		"Eval":           func() { m.Eval(x, y, n) },
		"CNN TrainStep":  func() { c.TrainStep(x, y, n) },
		"LSTM TrainStep": func() { l.TrainStep(lx, ly, 4) },
	} {
		f()
		if a := testing.AllocsPerRun(5, f); a != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, a)
		}
	}
}

// paramsHash trains a fresh model for a few steps and hashes its params.
func paramsHash(seed uint64, steps int) string {
	m := mnistmlp.New(mnistmlp.WithSeed(seed))
	for i := 0; i < steps; i++ {
		x, y := batch(mnistmlp.MaxBatch-i, uint64(100+i))
		if _, err := m.TrainStep(x, y, len(y)); err != nil {
			panic(err)
		}
	}
	tensors := append(m.Params(), m.State()...)
	// The CNN's bias gradients (with the ReLU backward) are column
	// reductions split across the cores (rt.SumRows).
	c := fashioncnn.New(fashioncnn.WithSeed(seed))
	for i := 0; i < 2; i++ {
		x, y := batch(24-i, uint64(200+i))
		if _, err := c.TrainStep(x, y, len(y)); err != nil {
			panic(err)
		}
	}
	tensors = append(tensors, append(c.Params(), c.State()...)...)
	// The LSTM's gate loops run each step's examples split across the
	// cores.
	l := charlstm.New(charlstm.WithSeed(seed))
	for i := 0; i < 2; i++ {
		x, y := text(6-i, 64, uint64(300+i))
		if _, err := l.TrainStep(x, y, 6-i); err != nil {
			panic(err)
		}
	}
	tensors = append(tensors, append(l.Params(), l.State()...)...)
	h := sha256.New()
	for _, p := range tensors {
		for _, v := range p.Data {
			binary.Write(h, binary.LittleEndian, math.Float32bits(v))
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestDeterminismChild is run by TestDeterminism in a subprocess.
func TestDeterminismChild(t *testing.T) {
	out := os.Getenv("MDLC_DETERMINISM_OUT")
	if out == "" {
		t.Skip("run by TestDeterminism")
	}
	if err := os.WriteFile(out, []byte(paramsHash(7, 5)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDeterminism: same seed and data give bit-identical params and state,
// across runs and with 1 or 2 cores.
func TestDeterminism(t *testing.T) {
	want := paramsHash(7, 5)
	if again := paramsHash(7, 5); again != want {
		t.Fatalf("two runs in one process differ")
	}
	if other := paramsHash(8, 5); other == want {
		t.Fatalf("a different seed gives the same params")
	}
	for _, procs := range []string{"1", "2"} {
		out := filepath.Join(t.TempDir(), "hash")
		cmd := exec.Command(os.Args[0], "-test.run=^TestDeterminismChild$")
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+procs, "MDLC_DETERMINISM_OUT="+out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("GOMAXPROCS=%s: %v\n%s", procs, err, b)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("GOMAXPROCS=%s: params differ from this process's", procs)
		}
	}
}

func TestCheckpoint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mnist.safetensors")
	m := mnistmlp.New(mnistmlp.WithSeed(3))
	x, y := batch(16, 4)
	for i := 0; i < 2; i++ {
		m.TrainStep(x, y, 16)
	}
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	// Round trip: a fresh model loaded from the file continues identically.
	m2 := mnistmlp.New(mnistmlp.WithSeed(99))
	if err := m2.Load(path); err != nil {
		t.Fatal(err)
	}
	l1, _ := m.TrainStep(x, y, 16)
	l2, _ := m2.TrainStep(x, y, 16)
	if l1 != l2 || paramsOf(m) != paramsOf(m2) {
		t.Errorf("loaded model diverges: loss %v vs %v", l1, l2)
	}

	good, _ := os.ReadFile(path)
	before := paramsOf(m2)
	expectErr := func(name string, data []byte, want string) {
		t.Helper()
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		err := m2.Load(p)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, want)
		}
		if paramsOf(m2) != before {
			t.Errorf("%s: a failed Load changed the model", name)
		}
	}
	expectErr("truncated", good[:len(good)/2], "truncated")
	corrupt := append([]byte(nil), good...)
	copy(corrupt[8:], "{garbage")
	expectErr("corrupt", corrupt, "checkpoint")
	expectErr("empty", nil, "checkpoint")

	// A checkpoint of another model.
	lr := linreg.New()
	other := filepath.Join(dir, "linreg.safetensors")
	if err := lr.Save(other); err != nil {
		t.Fatal(err)
	}
	err := m2.Load(other)
	if err == nil || !strings.Contains(err.Error(), "LinReg") || !strings.Contains(err.Error(), "MnistMLP") {
		t.Errorf("loading LinReg's checkpoint into MnistMLP: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.safetensors")); err == nil {
		t.Fatal("unexpected file")
	}
	if err := m2.Load(filepath.Join(dir, "missing.safetensors")); err == nil {
		t.Errorf("loading a missing file succeeded")
	}
}

func paramsOf(m *mnistmlp.Model) string {
	h := sha256.New()
	for _, p := range append(m.Params(), m.State()...) {
		for _, v := range p.Data {
			binary.Write(h, binary.LittleEndian, math.Float32bits(v))
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestCrashWhileSavingChild saves in a loop until it is killed.
func TestCrashWhileSavingChild(t *testing.T) {
	path := os.Getenv("MDLC_CRASH_PATH")
	if path == "" {
		t.Skip("run by TestCrashWhileSaving")
	}
	m := mnistmlp.New()
	x, y := batch(8, 5)
	for i := 0; ; i++ {
		m.TrainStep(x, y, 8)
		if err := m.Save(path); err != nil {
			panic(err)
		}
		if i == 0 {
			os.WriteFile(path+".ready", nil, 0o644)
		}
	}
}

// TestCrashWhileSaving kills a process that is saving checkpoints as fast as
// it can; whatever moment the kill hits, the file on disk is a complete
// checkpoint that loads.
func TestCrashWhileSaving(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	for round := 0; round < 3; round++ {
		os.Remove(path + ".ready")
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWhileSavingChild$")
		cmd.Env = append(os.Environ(), "MDLC_CRASH_PATH="+path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, err := os.Stat(path + ".ready"); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(20+37*round) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		if err := mnistmlp.New().Load(path); err != nil {
			t.Fatalf("round %d: after a crash mid-save the checkpoint does not load: %v", round, err)
		}
	}
}
