// Package gocheck checks the scoping of generated Go source, for the code
// generators' tests: no declaration may shadow a name visible where it is
// made. Generated code that never shadows cannot capture: a user's name and
// a generator's local can only meet as a compile error, which the same
// check reports as a redeclaration.
package gocheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Shadows checks the scoping of a generated package (its files by name):
// no declaration may reuse a name visible where it is made (a package-level
// name, an import, a predeclared identifier, a parameter or a local of an
// enclosing block). It returns one line per violation, and every name the
// package declares (at package level, the fields of its struct types, and
// parameters and locals of its functions). The bodies of the package-level functions skip names are not
// walked (helpers that refer to nothing of the package but each other).
func Shadows(files map[string][]byte, skip func(fn string) bool) (bad, declared []string, err error) {
	fset := token.NewFileSet()
	var parsed []*ast.File
	pkg := map[string]bool{}
	for _, s := range types.Universe.Names() {
		pkg[s] = true
	}
	var names []string
	for name := range files {
		if strings.HasSuffix(name, ".go") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		f, err := parser.ParseFile(fset, name, files[name], parser.SkipObjectResolution)
		if err != nil {
			return nil, nil, err
		}
		parsed = append(parsed, f)
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					pkg[d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.ValueSpec:
						for _, n := range s.Names {
							pkg[n.Name] = true
						}
					case *ast.TypeSpec:
						pkg[s.Name.Name] = true
					case *ast.ImportSpec:
						p, _ := strconv.Unquote(s.Path.Value)
						n := path.Base(p)
						if s.Name != nil {
							n = s.Name.Name
						}
						pkg[n] = true
					}
				}
			}
		}
	}
	for _, f := range parsed {
		w := &scopeWalker{fset: fset, scopes: []map[string]bool{pkg}, bad: &bad, declared: &declared}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil && !(fd.Recv == nil && skip != nil && skip(fd.Name.Name)) {
				w.push()
				w.fields(fd.Recv)
				w.fields(fd.Type.Params)
				w.fields(fd.Type.Results)
				w.stmts(fd.Body.List)
				w.pop()
			}
		}
	}
	for _, f := range parsed {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.Name != "_" {
					declared = append(declared, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					switch sp := sp.(type) {
					case *ast.ValueSpec:
						for _, n := range sp.Names {
							if n.Name != "_" {
								declared = append(declared, n.Name)
							}
						}
					case *ast.TypeSpec:
						declared = append(declared, sp.Name.Name)
						// A field may not share a name with a method.
						if st, ok := sp.Type.(*ast.StructType); ok {
							for _, f := range st.Fields.List {
								for _, n := range f.Names {
									declared = append(declared, n.Name)
								}
							}
						}
					}
				}
			}
		}
	}
	return bad, declared, nil
}

type scopeWalker struct {
	fset     *token.FileSet
	scopes   []map[string]bool
	bad      *[]string
	declared *[]string
}

func (w *scopeWalker) push() { w.scopes = append(w.scopes, map[string]bool{}) }
func (w *scopeWalker) pop()  { w.scopes = w.scopes[:len(w.scopes)-1] }

// declare adds id to the innermost scope; redefine is a := that may reuse
// a name of the same scope.
func (w *scopeWalker) declare(id *ast.Ident, redefine bool) {
	// err is the generator's own (api.Reserved): if err := ...; err !=
	// nil inside a function with an err result is the idiom.
	if id == nil || id.Name == "_" || id.Name == "err" {
		return
	}
	*w.declared = append(*w.declared, id.Name)
	top := w.scopes[len(w.scopes)-1]
	if top[id.Name] && redefine {
		return
	}
	for i, s := range w.scopes {
		if s[id.Name] {
			what := "an enclosing declaration"
			switch {
			case i == 0:
				what = "a package-level, imported or predeclared name"
			case i == len(w.scopes)-1:
				what = "a declaration of the same scope"
			}
			*w.bad = append(*w.bad, fmt.Sprintf("%s: %s shadows %s", w.fset.Position(id.Pos()), id.Name, what))
			break
		}
	}
	top[id.Name] = true
}

func (w *scopeWalker) fields(fl *ast.FieldList) {
	if fl == nil {
		return
	}
	for _, f := range fl.List {
		for _, n := range f.Names {
			w.declare(n, false)
		}
	}
}

func (w *scopeWalker) stmts(list []ast.Stmt) {
	for _, s := range list {
		w.stmt(s)
	}
}

func (w *scopeWalker) block(b *ast.BlockStmt) {
	if b != nil {
		w.push()
		w.stmts(b.List)
		w.pop()
	}
}

func (w *scopeWalker) stmt(s ast.Stmt) {
	switch s := s.(type) {
	case *ast.AssignStmt:
		for _, e := range s.Rhs {
			w.expr(e)
		}
		if s.Tok == token.DEFINE {
			for _, e := range s.Lhs {
				id, _ := e.(*ast.Ident)
				w.declare(id, len(s.Lhs) > 1)
			}
		}
	case *ast.DeclStmt:
		if gd, ok := s.Decl.(*ast.GenDecl); ok {
			for _, sp := range gd.Specs {
				switch sp := sp.(type) {
				case *ast.ValueSpec:
					for _, e := range sp.Values {
						w.expr(e)
					}
					for _, n := range sp.Names {
						w.declare(n, false)
					}
				case *ast.TypeSpec:
					w.declare(sp.Name, false)
				}
			}
		}
	case *ast.BlockStmt:
		w.block(s)
	case *ast.IfStmt:
		w.push()
		if s.Init != nil {
			w.stmt(s.Init)
		}
		w.block(s.Body)
		if s.Else != nil {
			w.stmt(s.Else)
		}
		w.pop()
	case *ast.ForStmt:
		w.push()
		if s.Init != nil {
			w.stmt(s.Init)
		}
		w.block(s.Body)
		w.pop()
	case *ast.RangeStmt:
		w.expr(s.X)
		w.push()
		if s.Tok == token.DEFINE {
			for _, e := range []ast.Expr{s.Key, s.Value} {
				id, _ := e.(*ast.Ident)
				w.declare(id, false)
			}
		}
		w.block(s.Body)
		w.pop()
	case *ast.SwitchStmt:
		w.push()
		if s.Init != nil {
			w.stmt(s.Init)
		}
		for _, c := range s.Body.List {
			w.push()
			w.stmts(c.(*ast.CaseClause).Body)
			w.pop()
		}
		w.pop()
	case *ast.ExprStmt:
		w.expr(s.X)
	case *ast.ReturnStmt:
		for _, e := range s.Results {
			w.expr(e)
		}
	case *ast.DeferStmt:
		w.expr(s.Call)
	case *ast.GoStmt:
		w.expr(s.Call)
	case *ast.LabeledStmt:
		w.stmt(s.Stmt)
	}
}

// expr walks function literals in e.
func (w *scopeWalker) expr(e ast.Expr) {
	ast.Inspect(e, func(n ast.Node) bool {
		if fl, ok := n.(*ast.FuncLit); ok {
			w.push()
			w.fields(fl.Type.Params)
			w.fields(fl.Type.Results)
			w.stmts(fl.Body.List)
			w.pop()
			return false
		}
		return true
	})
}
