// Package names makes the identifiers both code generators give buffers:
// camel case from a value's name, unique within one generated file.
package names

import (
	"fmt"
	"strings"
	"unicode"
)

// Style is how a Namer joins the words of a name.
type Style uint8

const (
	Camel Style = iota // hiddenW: Go identifiers, C locals
	Upper              // HIDDEN_W: C macros
	Snake              // hidden_w: C functions
)

// Namer hands out unique identifiers.
type Namer struct {
	Style Style
	used  map[string]bool
	next  map[string]int // the number to try next after an identifier (numbers below it are all taken)
	// Adjust, if set, rewrites an identifier before it is made unique
	// (CUDA: a name like i0 gets a trailing _ to stay clear of loop indices).
	Adjust func(id string) string
	// Avoid, if set, reports identifiers that must never be handed out
	// (language keywords and builtins).
	Avoid func(id string) bool
}

// New returns a Namer that never hands out the reserved names.
func New(reserved []string) *Namer {
	n := &Namer{used: map[string]bool{}, next: map[string]int{}}
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
	var words []string
	word := ""
	flush := func() {
		if word != "" {
			words = append(words, word)
			word = ""
		}
	}
	for _, r := range s + "." + suffix {
		switch {
		case r == '.' || r == '_' || r == '-':
			flush()
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if unicode.IsUpper(r) && word != "" && n.Style != Camel {
				flush() // a camel-case suffix (Grad) starts a word
			}
			word += string(r)
		}
	}
	flush()
	var b strings.Builder
	for i, w := range words {
		switch n.Style {
		case Upper:
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteString(strings.ToUpper(w))
		case Snake:
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteString(strings.ToLower(w))
		default:
			if i > 0 {
				r := []rune(w)
				r[0] = unicode.ToUpper(r[0])
				w = string(r)
			}
			b.WriteString(w)
		}
	}
	id := b.String()
	if id == "" {
		id = "v"
	}
	if unicode.IsDigit(rune(id[0])) {
		id = "v" + id
	}
	if n.Style != Upper {
		if r := []rune(id); unicode.IsUpper(r[0]) {
			r[0] = unicode.ToLower(r[0])
			id = string(r)
		}
	}
	if n.Adjust != nil {
		id = n.Adjust(id)
	}
	base := id
	avoid := func(id string) bool { return n.Avoid != nil && n.Avoid(id) }
	// Names are never given back and Avoid does not change its mind, so a
	// number tried for base once is never free again: start after it.
	i := max(n.next[base], 2)
	for ; n.used[id] || avoid(id); i++ {
		id = fmt.Sprintf("%s_%d", base, i)
		if n.Style == Camel && !avoid(fmt.Sprintf("%s%d", base, i)) {
			id = fmt.Sprintf("%s%d", base, i)
		}
	}
	if id != base {
		n.next[base] = i
	}
	n.used[id] = true
	return id
}

// Used reports whether id is reserved or was handed out.
func (n *Namer) Used(id string) bool { return n.used[id] }

// Reserve keeps id from being handed out.
func (n *Namer) Reserve(id string) { n.used[id] = true }
