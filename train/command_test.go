package train_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/examples/linreg/linreg"
	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/train"
)

func newLinReg(seed uint64) runtime.Model { return linreg.New(linreg.WithSeed(seed)) }

func command(args ...string) (int, string, string) {
	var o, e bytes.Buffer
	code := train.Command(context.Background(), newLinReg, args, &o, &e)
	return code, o.String(), e.String()
}

// TestCommandCSV trains, evaluates and predicts with linreg on a CSV file
// (standardization fit on the training split, kept for eval).
func TestCommandCSV(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("x,y\n")
	for i := range 40 {
		x := float64(i) / 4
		fmt.Fprintf(&b, "%g,%g\n", x, 2*x+1)
	}
	csv := filepath.Join(dir, "line.csv")
	os.WriteFile(csv, []byte(b.String()), 0o644)
	ckpt := filepath.Join(dir, "lr.safetensors")
	code, out, errs := command("train", "-data", csv, "-target", "y", "-epochs", "30", "-batch", "5", "-checkpoint", ckpt)
	if code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, errs)
	}
	hb, err := os.ReadFile(train.HistoryPath(ckpt))
	if err != nil {
		t.Fatal(err)
	}
	var hist map[string][]float64
	json.Unmarshal(hb, &hist)
	if vl := hist["val_loss"]; len(vl) != 30 || !(vl[29] < vl[0]/10) {
		t.Errorf("val_loss %v does not fall tenfold", vl)
	}
	meta, err := os.ReadFile(train.MetaPath(ckpt))
	if err != nil || !strings.Contains(string(meta), `"standardize"`) {
		t.Errorf("data description %s (%v)", meta, err)
	}
	code, out, errs = command("eval", "-data", csv, "-target", "y", "-checkpoint", ckpt)
	if code != 0 || !strings.Contains(out, "40 examples") {
		t.Errorf("eval: exit %d\n%s\n%s", code, out, errs)
	}
	in := filepath.Join(dir, "in.csv")
	os.WriteFile(in, []byte("x\n1\n2\n"), 0o644)
	code, out, errs = command("predict", "-checkpoint", ckpt, in)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 3 || lines[0] != "input,pred" {
		t.Errorf("predict: exit %d\n%s\n%s", code, out, errs)
	}
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"train", "-data", csv, "-target", "z"}, 1, `"z"`},
		{[]string{"train", "-data", csv, "-batch", "6", "-target", "y"}, 1, "-batch 6: want 1..5"},
		{[]string{"train", "-data", filepath.Join(dir, "none.csv")}, 1, "no such file"},
		{[]string{"fly"}, 2, "usage"},
		{[]string{"eval", "-checkpoint", filepath.Join(dir, "none.safetensors"), "-data", csv}, 1, "none.safetensors"},
	} {
		code, out, errs := command(c.args...)
		if code != c.code || !strings.Contains(errs, c.err) {
			t.Errorf("%v: exit %d, want %d and %q\n%s\n%s", c.args, code, c.code, c.err, out, errs)
		}
	}
}

func TestParseAugment(t *testing.T) {
	p, err := train.ParseAugment("rotation=20,width_shift=0.2,height_shift=0.2,shear=0.2,zoom=0.2,hflip,fill=reflect")
	if err != nil {
		t.Fatal(err)
	}
	if p.RotationRange != 20 || p.WidthShiftRange != 0.2 || p.HeightShiftRange != 0.2 || p.ShearRange != 0.2 ||
		p.ZoomRange != [2]float64{0.8, 1.2} || !p.HorizontalFlip || p.VerticalFlip || p.FillMode.String() != "reflect" {
		t.Errorf("%+v", p)
	}
	for _, bad := range []string{"rotation", "rotation=x", "spin=1", "zoom=2:1", "fill=mirror"} {
		if _, err := train.ParseAugment(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
