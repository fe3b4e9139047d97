// Package names makes the identifiers both code generators give buffers:
// camel case from a value's name, unique within one generated file.
package names

import (
	"fmt"
	"strings"
	"unicode"
)

// Namer hands out unique identifiers.
type Namer struct {
	used map[string]bool
	// Adjust, if set, rewrites an identifier before it is made unique
	// (CUDA: a name like i0 gets a trailing _ to stay clear of loop indices).
	Adjust func(id string) string
	// Avoid, if set, reports identifiers that must never be handed out
	// (language keywords and builtins).
	Avoid func(id string) bool
}

// New returns a Namer that never hands out the reserved names.
func New(reserved []string) *Namer {
	n := &Namer{used: map[string]bool{}}
	for _, r := range reserved {
		n.used[r] = true
	}
	return n
}

// Name makes a unique identifier from a value name and a suffix
// ("hidden.w", "Grad" -> "hiddenWGrad"): separators start a capital, other
// characters are dropped, a leading digit gets a v, the first letter is
// lower case, and a taken name gets a number.
func (n *Namer) Name(s, suffix string) string {
	var b strings.Builder
	up := false
	for _, r := range s + suffix {
		switch {
		case r == '.' || r == '_' || r == '-':
			up = b.Len() > 0
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if up {
				r = unicode.ToUpper(r)
				up = false
			}
			if b.Len() == 0 && unicode.IsDigit(r) {
				b.WriteByte('v')
			}
			b.WriteRune(r)
		}
	}
	id := b.String()
	if id == "" {
		id = "v"
	}
	if r := []rune(id); unicode.IsUpper(r[0]) {
		r[0] = unicode.ToLower(r[0])
		id = string(r)
	}
	if n.Adjust != nil {
		id = n.Adjust(id)
	}
	base := id
	for i := 2; n.used[id] || (n.Avoid != nil && n.Avoid(id)); i++ {
		id = fmt.Sprintf("%s%d", base, i)
	}
	n.used[id] = true
	return id
}
