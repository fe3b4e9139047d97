// Package importer brings weights trained by another framework into mdlc:
// it reads a safetensors file written from PyTorch (a state_dict) or from
// Keras / TF.js (the layers' weights), converts each tensor to mdlc's
// layout and names, and returns a checkpoint that the model's generated
// Load accepts (the training build's and the inference build's alike).
//
// Layouts. PyTorch's Linear weight is [out, in] and mdlc's dense w is
// [in, out]: it is transposed. PyTorch's Conv2d weight is OIHW and mdlc's
// conv2d w is HWIO [kh, kw, cin/groups, cout]: it is permuted. PyTorch's
// activations are NCHW where mdlc's are NHWC, so a flatten of a conv's
// output orders features (c, h, w) there and (h, w, c) here: the rows of
// the dense that reads such a flatten are permuted too (the importer finds
// the shape before the flatten in the IR). BatchNorm's weight, bias,
// running_mean and running_var are batch_norm's gamma, beta, moving_mean and
// moving_variance; Embedding and LayerNorm weights are taken as they are.
// Keras and TF.js already use mdlc's layouts (kernel [in, out], HWIO, NHWC):
// only names change.
//
// Names. By default, layers are matched in order of appearance by kind:
// the first Linear of the file is the model's first dense, its second the
// second, and so on for conv2d, batch_norm, embedding and layer_norm; a
// parameter declared with `param` matches a tensor of the same name. An
// explicit map (Options.Map, `mdlc import -map FILE`) names tensors
// instead, one `theirs = ours` per line (`theirs = -` drops a tensor). Any
// tensor of the model the file does not give, any tensor of the file left
// over, and any shape that does not fit is an error naming it.
//
// The checkpoint holds every parameter and state tensor of the training
// build: the state no framework has (the optimizer's moments and step,
// dropout's random key) starts from its initializer, as after Reset.
package importer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime"
	"github.com/mdlc/mdlc/runtime/impl"
)

// Frameworks the importer reads.
const (
	PyTorch = "pytorch"
	Keras   = "keras" // Keras and TF.js
)

// Options control an import.
type Options struct {
	From string     // PyTorch or Keras
	Map  []MapEntry // explicit names; nil matches layers in order by kind
	Seed uint64     // seeds the state the weights do not give (default 1)
}

// MapEntry maps a tensor of the file to a tensor of the model; Ours "-"
// drops it.
type MapEntry struct {
	Theirs, Ours string
	Line         int
}

// ParseMap reads a name map: one `theirs = ours` per line; blank lines and
// lines starting with # are skipped.
func ParseMap(r io.Reader, name string) ([]MapEntry, error) {
	data, err := readAllLimited(r)
	if err != nil {
		return nil, err
	}
	var out []MapEntry
	seen := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		theirs, ours, ok := strings.Cut(line, "=")
		theirs, ours = strings.TrimSpace(theirs), strings.TrimSpace(ours)
		if !ok || theirs == "" || ours == "" {
			return nil, fmt.Errorf("%s:%d: want `theirs = ours` (or `theirs = -`), got %q", name, n, line)
		}
		if prev, dup := seen[theirs]; dup {
			return nil, fmt.Errorf("%s:%d: %s is already mapped on line %d", name, n, theirs, prev)
		}
		seen[theirs] = n
		out = append(out, MapEntry{Theirs: theirs, Ours: ours, Line: n})
	}
	return out, nil
}

// Import reads the weights at weightsPath and converts them for the model
// named model ("" for the only one) of the .mdl source.
func Import(filename string, src []byte, model, weightsPath string, opt Options) ([]runtime.Tensor, map[string]string, error) {
	g, _, err := compile.Load(filename, src, model)
	if err != nil {
		return nil, nil, err
	}
	ws, _, err := ReadWeights(weightsPath)
	if err != nil {
		return nil, nil, err
	}
	ts, err := Convert(g, ws, opt)
	if err != nil {
		return nil, nil, fmt.Errorf("importing %s: %w", weightsPath, err)
	}
	return ts, Metadata(g, opt), nil
}

// Metadata is the checkpoint metadata of an import into g: the model's
// name, which Load checks, and the framework the weights came from.
func Metadata(g *ir.Graph, opt Options) map[string]string {
	return map[string]string{runtime.MetaModel: g.Name, "mdlc.imported_from": opt.From}
}

// layer is a layer of the model or of the file: its kind and its tensors
// by local name (w, b, gamma...; weight, kernel...).
type layer struct {
	prefix string
	kind   string // dense, conv2d, batch_norm, embedding, layer_norm, param; or dense|embedding (a PyTorch weight [a, b] alone)
	ours   map[string]*ir.Value
	theirs map[string]*Weight
}

// split cuts a tensor name into its layer prefix and local name.
func split(name, sep string) (prefix, local string) {
	if i := strings.LastIndex(name, sep); i >= 0 {
		return name[:i], name[i+len(sep):]
	}
	return "", name
}

// ourLayers groups the model's parameters and layer state by layer, in
// order of appearance, and names each layer's kind.
func ourLayers(g *ir.Graph) []*layer {
	var out []*layer
	byPrefix := map[string]*layer{}
	for _, v := range append(g.Params(), g.State()...) {
		if strings.HasPrefix(v.Name, "optimizer.") {
			continue
		}
		prefix, local := split(v.Name, ".")
		l := byPrefix[prefix]
		if l == nil || prefix == "" {
			l = &layer{prefix: prefix, ours: map[string]*ir.Value{}}
			if prefix != "" {
				byPrefix[prefix] = l
			}
			out = append(out, l)
		}
		l.ours[local] = v
	}
	for _, l := range out {
		w := l.ours["w"]
		switch {
		case w != nil && w.Type.Shape.Rank() == 2 && len(l.ours) <= 2:
			l.kind = "dense"
		case w != nil && w.Type.Shape.Rank() == 4 && len(l.ours) <= 2:
			l.kind = "conv2d"
		case l.ours["table"] != nil && len(l.ours) == 1:
			l.kind = "embedding"
		case l.ours["gamma"] != nil && l.ours["moving_mean"] != nil:
			l.kind = "batch_norm"
		case l.ours["gamma"] != nil && l.ours["beta"] != nil && len(l.ours) == 2:
			l.kind = "layer_norm"
		case l.prefix == "" || len(l.ours) == 1:
			l.kind = "param"
		default:
			l.kind = "other"
		}
	}
	return out
}

// theirLayers groups the file's tensors by layer, in file order, and names
// each layer's kind as the framework writes it.
func theirLayers(ws []Weight, from string) ([]*layer, error) {
	sep := "."
	if from == Keras {
		sep = "/"
	}
	var out []*layer
	byPrefix := map[string]*layer{}
	for i := range ws {
		w := &ws[i]
		prefix, local := split(strings.TrimSuffix(w.Name, ":0"), sep)
		l := byPrefix[prefix]
		if l == nil || prefix == "" {
			l = &layer{prefix: prefix, theirs: map[string]*Weight{}}
			if prefix != "" {
				byPrefix[prefix] = l
			}
			out = append(out, l)
		}
		l.theirs[local] = w
	}
	for _, l := range out {
		t := l.theirs
		rank := func(k string) int {
			if w := t[k]; w != nil {
				return len(w.Shape)
			}
			return -1
		}
		switch from {
		case PyTorch:
			switch {
			case t["running_mean"] != nil:
				l.kind = "batch_norm"
			case rank("weight") == 4:
				l.kind = "conv2d"
			case rank("weight") == 2 && t["bias"] != nil:
				l.kind = "dense"
			case rank("weight") == 2:
				l.kind = "dense|embedding"
			case rank("weight") == 1 && t["bias"] != nil:
				l.kind = "layer_norm"
			default:
				l.kind = "param"
			}
		case Keras:
			switch {
			case t["moving_mean"] != nil:
				l.kind = "batch_norm"
			case rank("kernel") == 4:
				l.kind = "conv2d"
			case rank("kernel") == 2:
				l.kind = "dense"
			case t["embeddings"] != nil:
				l.kind = "embedding"
			case t["gamma"] != nil && t["beta"] != nil:
				l.kind = "layer_norm"
			default:
				l.kind = "param"
			}
		default:
			return nil, fmt.Errorf("unknown framework %q (want %s or %s)", from, PyTorch, Keras)
		}
	}
	return out, nil
}

// locals maps, per framework and layer kind, mdlc's local names to the
// framework's.
var locals = map[string]map[string]map[string]string{
	PyTorch: {
		"dense":      {"w": "weight", "b": "bias"},
		"conv2d":     {"w": "weight", "b": "bias"},
		"batch_norm": {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"},
		"embedding":  {"table": "weight"},
		"layer_norm": {"gamma": "weight", "beta": "bias"},
	},
	Keras: {
		"dense":      {"w": "kernel", "b": "bias"},
		"conv2d":     {"w": "kernel", "b": "bias"},
		"batch_norm": {"gamma": "gamma", "beta": "beta", "moving_mean": "moving_mean", "moving_variance": "moving_variance"},
		"embedding":  {"table": "embeddings"},
		"layer_norm": {"gamma": "gamma", "beta": "beta"},
	},
}

// ignorable are tensors a framework writes that no mdlc model has a use
// for: PyTorch's count of batches a BatchNorm has seen.
var ignorable = map[string]bool{"num_batches_tracked": true}

// pair is one tensor of the file going to one of the model's.
type pair struct {
	theirs *Weight
	ours   *ir.Value
	kind   string // the kind of the model's layer
}

// Convert converts the weights for the lowered model g (compile.Load):
// the returned tensors are every parameter and state tensor of g's
// training build, in its order.
func Convert(g *ir.Graph, ws []Weight, opt Options) ([]runtime.Tensor, error) {
	if opt.From != PyTorch && opt.From != Keras {
		return nil, fmt.Errorf("unknown framework %q (want %s or %s)", opt.From, PyTorch, Keras)
	}
	ours := ourLayers(g)
	theirs, err := theirLayers(ws, opt.From)
	if err != nil {
		return nil, err
	}
	var pairs []pair
	var errs []error
	if opt.Map != nil {
		pairs, errs = byMap(ours, ws, opt)
	} else {
		pairs, errs = byOrder(ours, theirs, opt.From)
	}
	// Every tensor of the model must be given, once.
	given := map[*ir.Value]*Weight{}
	for _, p := range pairs {
		if prev := given[p.ours]; prev != nil {
			errs = append(errs, fmt.Errorf("%s is given twice: by %s and by %s", p.ours.Name, prev.Name, p.theirs.Name))
		}
		given[p.ours] = p.theirs
	}
	for _, l := range ours {
		for _, v := range sortedValues(l.ours) {
			if given[v] == nil {
				errs = append(errs, fmt.Errorf("missing tensor: the model's %s %s %s (of its %s layer) is not in the file", v.Op.Name, v.Name, v.Type.Shape, l.kind))
			}
		}
	}
	conv := map[*ir.Value][]float32{}
	for _, p := range pairs {
		data, err := convert(g, p, opt.From)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		conv[p.ours] = data
	}
	if len(errs) > 0 {
		if hint := frameworkHint(ws, opt.From); hint != "" {
			errs = append(errs, errors.New(hint))
		}
		return nil, errors.Join(errs...)
	}
	return checkpoint(g, conv, opt.Seed)
}

// byOrder matches layers in order of appearance by kind.
func byOrder(ours, theirs []*layer, from string) ([]pair, []error) {
	var errs []error
	count := map[string]int{}
	for _, l := range ours {
		count[l.kind]++
	}
	for _, l := range theirs {
		if l.kind == "dense|embedding" {
			switch {
			case count["embedding"] == 0:
				l.kind = "dense"
			case count["dense"] == 0:
				l.kind = "embedding"
			default:
				errs = append(errs, fmt.Errorf("%s: a weight %v without a bias may be a Linear without bias or an Embedding, and the model has both dense and embedding layers: name the tensors with a map (-map)", l.theirs["weight"].Name, l.theirs["weight"].Shape))
			}
		}
	}
	byKind := func(ls []*layer) map[string][]*layer {
		m := map[string][]*layer{}
		for _, l := range ls {
			m[l.kind] = append(m[l.kind], l)
		}
		return m
	}
	ok, tk := byKind(ours), byKind(theirs)
	var pairs []pair
	for _, kind := range []string{"dense", "conv2d", "batch_norm", "embedding", "layer_norm"} {
		o, t := ok[kind], tk[kind]
		if len(o) != len(t) {
			errs = append(errs, fmt.Errorf("the model has %d %s layers (%s), the file %d (%s): match them with a map (-map)", len(o), kind, prefixes(o), len(t), prefixes(t)))
			continue
		}
		for i := range o {
			names := locals[from][kind]
			used := map[string]bool{}
			for _, local := range sortedKeys(o[i].ours) {
				v := o[i].ours[local]
				w := t[i].theirs[names[local]]
				if w == nil {
					continue // reported as missing by Convert
				}
				used[names[local]] = true
				pairs = append(pairs, pair{theirs: w, ours: v, kind: kind})
			}
			for _, local := range sortedKeys(t[i].theirs) {
				if !used[local] && !ignorable[local] {
					errs = append(errs, fmt.Errorf("extra tensor: %s %v of the file has no place in the model's %s layer %s", t[i].theirs[local].Name, t[i].theirs[local].Shape, kind, o[i].prefix))
				}
			}
		}
	}
	// Free parameters and layers without a default conversion: by name.
	for _, l := range ours {
		if l.kind != "param" && l.kind != "other" {
			continue
		}
		for _, v := range sortedValues(l.ours) {
			for _, tl := range tk["param"] {
				for _, w := range tl.theirs {
					if w.Name == v.Name {
						pairs = append(pairs, pair{theirs: w, ours: v, kind: l.kind})
					}
				}
			}
		}
	}
	taken := map[*Weight]bool{}
	for _, p := range pairs {
		taken[p.theirs] = true
	}
	for _, tl := range append(tk["param"], tk["other"]...) {
		for _, local := range sortedKeys(tl.theirs) {
			if w := tl.theirs[local]; !taken[w] && !ignorable[local] {
				errs = append(errs, fmt.Errorf("extra tensor: %s %v of the file matches no tensor of the model", w.Name, w.Shape))
			}
		}
	}
	return pairs, errs
}

// byMap pairs tensors by an explicit map.
func byMap(ours []*layer, ws []Weight, opt Options) ([]pair, []error) {
	var errs []error
	model := map[string]*ir.Value{}
	kindOf := map[*ir.Value]string{}
	for _, l := range ours {
		for _, v := range l.ours {
			model[v.Name] = v
			kindOf[v] = l.kind
		}
	}
	file := map[string]*Weight{}
	for i := range ws {
		file[ws[i].Name] = &ws[i]
	}
	mapped := map[string]bool{}
	var pairs []pair
	for _, e := range opt.Map {
		w := file[e.Theirs]
		mapped[e.Theirs] = true
		if w == nil {
			errs = append(errs, fmt.Errorf("map line %d: the file has no tensor %s", e.Line, e.Theirs))
			continue
		}
		if e.Ours == "-" {
			continue
		}
		v := model[e.Ours]
		if v == nil {
			errs = append(errs, fmt.Errorf("map line %d: the model has no parameter or state %s (it has %s)", e.Line, e.Ours, strings.Join(sortedKeys(model), ", ")))
			continue
		}
		pairs = append(pairs, pair{theirs: w, ours: v, kind: kindOf[v]})
	}
	for _, w := range ws {
		_, local := split(w.Name, ".")
		if !mapped[w.Name] && !ignorable[local] {
			errs = append(errs, fmt.Errorf("extra tensor: %s %v of the file is not in the map (map it to - to drop it)", w.Name, w.Shape))
		}
	}
	return pairs, errs
}

// convert returns the data of p.ours from p.theirs in mdlc's layout.
func convert(g *ir.Graph, p pair, from string) ([]float32, error) {
	w, v := p.theirs, p.ours
	want := v.Type.Shape
	_, local := split(v.Name, ".")
	if w.Data == nil {
		return nil, fmt.Errorf("%s: %s is an integer tensor (%s), not a weight", v.Name, w.Name, w.DType)
	}
	bad := func(layout string, expect []int) error {
		return fmt.Errorf("mis-shaped tensor: %s %v (%s) does not fit the model's %s %s: expected %v", w.Name, w.Shape, layout, v.Name, want, expect)
	}
	ints := make([]int, len(want))
	for i, d := range want {
		ints[i] = int(d)
	}
	if from == PyTorch && local == "w" && p.kind == "dense" {
		in, out := ints[0], ints[1]
		if !slices.Equal(w.Shape, []int{out, in}) {
			return nil, bad("PyTorch Linear weight [out, in]", []int{out, in})
		}
		col := func(r int) int { return r }
		if h, wd, c, ok := flattened(g, v); ok {
			// mdlc's row (y, x, ch) of an NHWC flatten is PyTorch's
			// column (ch, y, x) of an NCHW flatten.
			col = func(r int) int {
				ch, x, y := r%c, (r/c)%wd, r/(c*wd)
				return (ch*h+y)*wd + x
			}
		}
		dst := make([]float32, in*out)
		for r := range in {
			src := col(r)
			for o := range out {
				dst[r*out+o] = w.Data[o*in+src]
			}
		}
		return dst, nil
	}
	if from == PyTorch && local == "w" && p.kind == "conv2d" {
		kh, kw, ci, co := ints[0], ints[1], ints[2], ints[3]
		if !slices.Equal(w.Shape, []int{co, ci, kh, kw}) {
			return nil, bad("PyTorch Conv2d weight OIHW", []int{co, ci, kh, kw})
		}
		dst := make([]float32, len(w.Data))
		for o := range co {
			for i := range ci {
				for y := range kh {
					for x := range kw {
						dst[((y*kw+x)*ci+i)*co+o] = w.Data[((o*ci+i)*kh+y)*kw+x]
					}
				}
			}
		}
		return dst, nil
	}
	if !slices.Equal(w.Shape, ints) {
		return nil, bad("taken as it is", ints)
	}
	return slices.Clone(w.Data), nil
}

// flattened reports whether the dense weight w reads a flatten of a rank-4
// value [N, h, w, c] (through ops that keep the shape, such as dropout),
// and that value's h, w and c.
func flattened(g *ir.Graph, w *ir.Value) (h, wd, c int, ok bool) {
	for _, v := range g.Values {
		if v.Op.Name != "matmul" || len(v.Args) != 2 || v.Args[1] != w {
			continue
		}
		x := v.Args[0]
		for range 16 {
			if x.Op.Name == "reshape" {
				s := x.Args[0].Type.Shape
				if s.Rank() == 4 && !s[1].IsBatch() && !s[2].IsBatch() && !s[3].IsBatch() && x.Type.Shape.Rank() == 2 && int(x.Type.Shape[1]) == int(s[1]*s[2]*s[3]) {
					return int(s[1]), int(s[2]), int(s[3]), true
				}
				return 0, 0, 0, false
			}
			if len(x.Args) == 0 || !x.Args[0].Type.Shape.Equal(x.Type.Shape) {
				return 0, 0, 0, false
			}
			x = x.Args[0]
		}
		return 0, 0, 0, false
	}
	return 0, 0, 0, false
}

// checkpoint plans g's training build (a clone) for the list of its
// parameters and state and fills them: converted data, else the
// initializer's.
func checkpoint(g *ir.Graph, conv map[*ir.Value][]float32, seed uint64) ([]runtime.Tensor, error) {
	byName := map[string][]float32{}
	for v, d := range conv {
		byName[v.Name] = d
	}
	pg := g.Clone()
	if _, err := compile.Plan(pg, compile.Options{MaxBatch: 1}); err != nil {
		return nil, err
	}
	if seed == 0 {
		seed = 1
	}
	rng := impl.NewRNG(seed)
	var out []runtime.Tensor
	for _, v := range append(pg.Params(), pg.State()...) {
		shape := make([]int, len(v.Type.Shape))
		for i, d := range v.Type.Shape {
			shape[i] = int(d)
		}
		data := byName[v.Name]
		if data == nil {
			n := 1
			for _, d := range shape {
				n *= d
			}
			data = make([]float32, n)
			args, _ := v.Attrs["init_args"].([]float64)
			if err := impl.InitParam(data, shape, v.Attrs.String("init"), args, rng); err != nil {
				return nil, fmt.Errorf("%s: %v", v.Name, err)
			}
		}
		out = append(out, runtime.Tensor{Name: v.Name, Shape: shape, Data: data})
	}
	return out, nil
}

// frameworkHint suggests the other framework when no tensor name has the
// separator of from's: PyTorch's module paths use dots, Keras's slashes.
func frameworkHint(ws []Weight, from string) string {
	sep, other, flag := "/", "PyTorch's", PyTorch
	if from == PyTorch {
		sep, other, flag = ".", "Keras's", Keras
	}
	for _, w := range ws {
		if strings.Contains(w.Name, sep) {
			return ""
		}
	}
	if len(ws) == 0 {
		return ""
	}
	return fmt.Sprintf("hint: no tensor name contains %q; names like %s look like %s (-from %s)", sep, ws[0].Name, other, flag)
}

func prefixes(ls []*layer) string {
	var out []string
	for _, l := range ls {
		out = append(out, l.prefix)
	}
	return strings.Join(out, ", ")
}

func sortedKeys[T any](m map[string]T) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sortedValues(m map[string]*ir.Value) []*ir.Value {
	var out []*ir.Value
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}
