// Package editors holds editor support for .mdl files; it has no Go code of
// its own, only tests.
//
// textmate/ is a TextMate grammar (mdl.tmLanguage.json, scope source.mdl)
// and a VS Code extension manifest (package.json, language-configuration.json)
// in one folder. Its grammar tests (textmate/tests/*.mdl) and snapshots of
// the bundled examples (textmate/snap/*.snap) run with the npm package
// vscode-tmgrammar-test through node; editors_test.go runs them under
// go test, and checks without node that the grammar's builtin lists match
// the compiler's tables (ir/lower/builtins.go, ir/optimizers.go) and its
// keywords the lexer's (dsl/scan.go).
//
// Setup: `npm ci --ignore-scripts` in textmate/. Without node or that
// install the node tests skip, unless MDLC_CI=1, where they fail. Refresh
// the snapshots with `go test ./editors -update`.
package editors
