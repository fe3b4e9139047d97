// Package curves keeps the per-epoch history of a training run and draws it:
// the history as CSV and JSON (history.csv, history.json), each quantity's
// training and validation curves as a PNG (loss.png, accuracy.png, ...), and
// a confusion matrix as a PNG heatmap with counts and class names. Plots are
// drawn with gonum.org/v1/plot.
//
// Names follow Keras: "loss", "accuracy", ... for training values,
// "val_loss", "val_accuracy", ... for validation ones, and "lr" for the
// learning rate; a PNG shows a name and its val_ name together.
package curves

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Value is one named value of an epoch.
type Value struct {
	Name  string
	Value float64
}

// History is the values of every epoch, in the order the epochs ended.
type History struct {
	// Names are the columns, in the order they were first added.
	Names []string
	Rows  []Row
}

// Row is one epoch's values; a name missing from Values has no value in
// that epoch.
type Row struct {
	Epoch  int
	Values map[string]float64
}

// Add appends an epoch's values.
func (h *History) Add(epoch int, values ...Value) {
	r := Row{Epoch: epoch, Values: make(map[string]float64, len(values))}
	for _, v := range values {
		if !h.has(v.Name) {
			h.Names = append(h.Names, v.Name)
		}
		r.Values[v.Name] = v.Value
	}
	h.Rows = append(h.Rows, r)
}

func (h *History) has(name string) bool {
	for _, n := range h.Names {
		if n == name {
			return true
		}
	}
	return false
}

// Series is the epochs that have a finite value of name, and the values.
func (h *History) Series(name string) (epochs []int, values []float64) {
	for _, r := range h.Rows {
		v, ok := r.Values[name]
		if ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			epochs = append(epochs, r.Epoch)
			values = append(values, v)
		}
	}
	return epochs, values
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// WriteCSV writes a header "epoch,<names>" and one line per epoch; a
// missing value is an empty field.
func (h *History) WriteCSV(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("epoch")
	for _, n := range h.Names {
		bw.WriteString("," + csvField(n))
	}
	bw.WriteString("\n")
	for _, r := range h.Rows {
		bw.WriteString(strconv.Itoa(r.Epoch))
		for _, n := range h.Names {
			bw.WriteString(",")
			if v, ok := r.Values[n]; ok {
				bw.WriteString(formatFloat(v))
			}
		}
		bw.WriteString("\n")
	}
	return bw.Flush()
}

func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\r\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// WriteJSON writes the history as Keras's History.history, one list per
// name, led by the epochs:
//
//	{"epoch": [1, 2], "loss": [0.5, 0.25], "val_loss": [0.75, null]}
//
// A missing or non-finite value is null.
func (h *History) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriter(w)
	list := func(name string, value func(r Row) string) {
		b, _ := json.Marshal(name)
		bw.Write(b)
		bw.WriteString(": [")
		for i, r := range h.Rows {
			if i > 0 {
				bw.WriteString(", ")
			}
			bw.WriteString(value(r))
		}
		bw.WriteString("]")
	}
	bw.WriteString("{")
	list("epoch", func(r Row) string { return strconv.Itoa(r.Epoch) })
	for _, n := range h.Names {
		bw.WriteString(", ")
		list(n, func(r Row) string {
			v, ok := r.Values[n]
			if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
				return "null"
			}
			return formatFloat(v)
		})
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// ReadJSON reads a history WriteJSON wrote, keeping the order of the names
// (to resume a run).
func ReadJSON(r io.Reader) (*History, error) {
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("history: not a JSON object")
	}
	h := &History{}
	var epochs []int
	cols := map[string][]*float64{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("history: %v", err)
		}
		name := t.(string)
		if name == "epoch" {
			if err := dec.Decode(&epochs); err != nil {
				return nil, fmt.Errorf("history: epoch: %v", err)
			}
			continue
		}
		var col []*float64
		if err := dec.Decode(&col); err != nil {
			return nil, fmt.Errorf("history: %s: %v", name, err)
		}
		if _, dup := cols[name]; dup {
			return nil, fmt.Errorf("history: %s twice", name)
		}
		h.Names = append(h.Names, name)
		cols[name] = col
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("history: %v", err)
	}
	for _, n := range h.Names {
		if len(cols[n]) != len(epochs) {
			return nil, fmt.Errorf("history: %s has %d values for %d epochs", n, len(cols[n]), len(epochs))
		}
	}
	for i, e := range epochs {
		r := Row{Epoch: e, Values: map[string]float64{}}
		for _, n := range h.Names {
			if v := cols[n][i]; v != nil {
				r.Values[n] = *v
			}
		}
		h.Rows = append(h.Rows, r)
	}
	return h, nil
}
