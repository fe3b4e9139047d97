package gocheck

import (
	"fmt"
	"regexp"
	"sort"

	"github.com/mdlc/mdlc/ir/lower"
)

var word = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// Hostile returns copies of src, a model source that declares the names
// declared (the model's own name first), with those names replaced by
// names drawn in turn from pool: every name of pool a model can give (the
// language accepts it as an input's name, and src does not call a
// function of that name) is used at least once. The models are named
// Hostile0, Hostile1, ...; names is how many names of pool were usable.
func Hostile(src []byte, declared []string, pool map[string]bool) (models []string, names int) {
	isDeclared := map[string]bool{}
	for _, s := range declared {
		isDeclared[s] = true
	}
	calls := map[string]bool{}
	for _, w := range word.FindAllString(string(src), -1) {
		calls[w] = !isDeclared[w]
	}
	var usable []string
	for s := range pool {
		// A name the language reserves or cannot spell is not one a
		// model can give; everything else it accepts must work.
		probe := fmt.Sprintf("model Probe {\n input %s: f32[N, 2]\n output y = %s * 2\n}\n", s, s)
		if _, diags := lower.Source("probe.mdl", []byte(probe)); diags.HasErrors() || calls[s] || s == "_" {
			continue
		}
		usable = append(usable, s)
	}
	sort.Strings(usable)
	if len(usable) == 0 {
		return nil, 0
	}
	per := len(declared) - 1
	for i := 0; i*per < len(usable); i++ {
		rename := map[string]string{declared[0]: fmt.Sprintf("Hostile%d", i)}
		for j, s := range declared[1:] {
			rename[s] = usable[(i*per+j)%len(usable)]
		}
		models = append(models, word.ReplaceAllStringFunc(string(src), func(w string) string {
			if r, ok := rename[w]; ok {
				return r
			}
			return w
		}))
	}
	return models, len(usable)
}
