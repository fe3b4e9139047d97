// Package lint holds no code: its test runs go vet and staticcheck over the
// module, so that both stay clean.
package lint
