package curves

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The size of a curve's PNG: 6 x 4 inches at vgimg.DefaultDPI (96), that is
// 576 x 384 pixels.
const (
	CurveWidth  = 6 * vg.Inch
	CurveHeight = 4 * vg.Inch
)

var (
	trainColor = color.RGBA{R: 31, G: 119, B: 180, A: 255} // blue
	valColor   = color.RGBA{R: 255, G: 127, B: 14, A: 255} // orange
)

// Quantities are the names that get a PNG of their own: every training
// name, and a val_ name whose training name is missing; in the order of
// h.Names.
func (h *History) Quantities() []string {
	var qs []string
	for _, n := range h.Names {
		if base, ok := strings.CutPrefix(n, "val_"); ok && h.has(base) {
			continue
		}
		qs = append(qs, n)
	}
	return qs
}

// Plot is the plot of quantity q: its training curve and, when the history
// has one, its validation curve, over the epochs.
func (h *History) Plot(q string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = q
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = q
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = false
	val := "val_" + q
	if strings.HasPrefix(q, "val_") {
		val = ""
	}
	for _, s := range []struct {
		name, label string
		color       color.Color
	}{{q, "training", trainColor}, {val, "validation", valColor}} {
		if s.name == "" || !h.has(s.name) {
			continue
		}
		epochs, values := h.Series(s.name)
		if len(epochs) == 0 {
			continue
		}
		xys := make(plotter.XYs, len(epochs))
		for i := range epochs {
			xys[i] = plotter.XY{X: float64(epochs[i]), Y: values[i]}
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", s.name, err)
		}
		line.Color = s.color
		line.Width = vg.Points(1.5)
		points.Color = s.color
		points.Shape = draw.CircleGlyph{}
		points.Radius = vg.Points(2.5)
		p.Add(line, points)
		p.Legend.Add(s.label, line, points)
	}
	// Whole epochs on the x axis.
	p.X.Tick.Marker = epochTicks{}
	return p, nil
}

// epochTicks marks integers only.
type epochTicks struct{}

func (epochTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for _, t := range (plot.DefaultTicks{}).Ticks(min, max) {
		if t.Value == math.Trunc(t.Value) {
			if t.Label != "" {
				t.Label = strconv.Itoa(int(t.Value))
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// WriteFiles writes history.csv, history.json and one PNG per quantity,
// <quantity>.png, into dir (made if missing), and returns the paths
// written.
func (h *History) WriteFiles(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, f := range []struct {
		name  string
		write func(*os.File) error
	}{
		{"history.csv", func(f *os.File) error { return h.WriteCSV(f) }},
		{"history.json", func(f *os.File) error { return h.WriteJSON(f) }},
	} {
		path := filepath.Join(dir, f.name)
		if err := writeFile(path, f.write); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	for _, q := range h.Quantities() {
		p, err := h.Plot(q)
		if err != nil {
			return paths, err
		}
		path := filepath.Join(dir, fileName(q)+".png")
		if err := savePNG(p, CurveWidth, CurveHeight, path); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// fileName is name with every character but letters, digits, '_', '-' and
// '.' replaced by '_'.
func fileName(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			return r
		}
		return '_'
	}, name)
}

// writeFile writes path through a temporary file renamed into place, so a
// reader (or a failed run) never sees half a file.
func writeFile(path string, write func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

func savePNG(p *plot.Plot, w, h vg.Length, path string) error {
	return writeFile(path, func(f *os.File) error {
		c := vgimg.PngCanvas{Canvas: vgimg.New(w, h)}
		p.Draw(draw.New(c))
		_, err := c.WriteTo(f)
		return err
	})
}

// ConfusionMatrix writes a PNG of counts, counts[true][predicted] (as in
// metrics.Report.Confusion), as a
// heatmap from white to blue with each cell's count written in it, the true
// classes down the left (the first at the top) and the predicted classes
// along the bottom, named by classes. The image is square, 4 inches or
// 1.5 + 0.6 per class inches if larger, at 96 dots per inch.
func ConfusionMatrix(path string, counts [][]int64, classes []string) error {
	n := len(classes)
	if n == 0 {
		return fmt.Errorf("confusion matrix: no classes")
	}
	if len(counts) != n {
		return fmt.Errorf("confusion matrix: %d rows for %d classes", len(counts), n)
	}
	var top int64
	for i, row := range counts {
		if len(row) != n {
			return fmt.Errorf("confusion matrix: row %d has %d counts for %d classes", i, len(row), n)
		}
		for _, c := range row {
			if c < 0 {
				return fmt.Errorf("confusion matrix: negative count %d", c)
			}
			top = max(top, c)
		}
	}

	p := plot.New()
	p.Title.Text = "confusion matrix"
	p.X.Label.Text = "predicted"
	p.Y.Label.Text = "true"
	hm := plotter.NewHeatMap(grid(counts), blues{})
	hm.Min, hm.Max = 0, float64(max(1, top))
	p.Add(hm)

	// Counts, dark text on light cells and white on dark ones.
	var labels plotter.XYLabels
	var styles []text.Style
	for i, row := range counts {
		for j, c := range row {
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(j), Y: float64(n - 1 - i)})
			labels.Labels = append(labels.Labels, strconv.FormatInt(c, 10))
			st := text.Style{
				Color:   color.Black,
				Font:    plot.DefaultFont,
				Handler: p.Title.TextStyle.Handler,
				XAlign:  draw.XCenter,
				YAlign:  draw.YCenter,
			}
			st.Font.Size = vg.Points(10)
			if float64(c) > 0.5*hm.Max {
				st.Color = color.White
			}
			styles = append(styles, st)
		}
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	l.TextStyle = styles
	p.Add(l)

	xt := make([]plot.Tick, n)
	yt := make([]plot.Tick, n)
	for i, name := range classes {
		xt[i] = plot.Tick{Value: float64(i), Label: name}
		yt[i] = plot.Tick{Value: float64(n - 1 - i), Label: name}
	}
	p.X.Tick.Marker = plot.ConstantTicks(xt)
	p.Y.Tick.Marker = plot.ConstantTicks(yt)
	if n > 4 {
		p.X.Tick.Label.Rotation = math.Pi / 4
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5

	side := ConfusionSide(n)
	return savePNG(p, side, side, path)
}

// ConfusionSide is the side of the confusion matrix PNG of n classes.
func ConfusionSide(n int) vg.Length {
	return vg.Length(math.Max(4, 1.5+0.6*float64(n))) * vg.Inch
}

// grid is a confusion matrix as a heatmap's grid: column j, row r is the
// count of true class n-1-r predicted as j (the first class at the top).
type grid [][]int64

func (g grid) Dims() (c, r int)   { return len(g), len(g) }
func (g grid) Z(c, r int) float64 { return float64(g[len(g)-1-r][c]) }
func (g grid) X(c int) float64    { return float64(c) }
func (g grid) Y(r int) float64    { return float64(r) }

// blues is a palette from white to a dark blue.
type blues struct{}

func (blues) Colors() []color.Color {
	const n = 256
	cs := make([]color.Color, n)
	lo := [3]float64{247, 251, 255}
	hi := [3]float64{8, 48, 107}
	for i := range cs {
		t := float64(i) / (n - 1)
		mix := func(k int) uint8 { return uint8(lo[k] + t*(hi[k]-lo[k]) + 0.5) }
		cs[i] = color.RGBA{R: mix(0), G: mix(1), B: mix(2), A: 255}
	}
	return cs
}
