// Package codescan reads finding-code constants out of Go source, for the
// tests that keep the finding registry (verify.Codes), the packages that
// define codes and docs/findings.md equal. It is used by tests only.
package codescan

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Constants returns the exported constants whose names start with "Code"
// declared in the non-test Go files of dir, name → value. A Code constant
// whose value is not a string literal is an error: a code is defined once,
// as a literal, where it is found, and referred to by name everywhere else.
func Constants(dir string) (map[string]string, error) {
	files, err := parse(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !n.IsExported() || !strings.HasPrefix(n.Name, "Code") {
						continue
					}
					if i >= len(vs.Values) {
						return nil, fmt.Errorf("%s: %s has no value of its own", dir, n.Name)
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						return nil, fmt.Errorf("%s: %s is not a string literal", dir, n.Name)
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						return nil, err
					}
					out[n.Name] = v
				}
			}
		}
	}
	return out, nil
}

// LiteralCodes returns the places in the non-test Go files of dir where a
// call of one of the named functions (or methods) passes a string literal as
// its first argument: a code written by hand instead of by its constant,
// where a typo would become an unregistered finding at run time.
func LiteralCodes(dir string, funcs ...string) ([]string, error) {
	files, err := parse(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for name, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			var fn string
			switch x := call.Fun.(type) {
			case *ast.Ident:
				fn = x.Name
			case *ast.SelectorExpr:
				fn = x.Sel.Name
			}
			for _, want := range funcs {
				if fn == want {
					if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						out = append(out, fmt.Sprintf("%s: %s(%s, ...)", name, fn, lit.Value))
					}
				}
			}
			return true
		})
	}
	return out, nil
}

func parse(dir string) (map[string]*ast.File, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	files := map[string]*ast.File{}
	fset := token.NewFileSet()
	for _, p := range names {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, p, src, 0)
		if err != nil {
			return nil, err
		}
		files[filepath.Base(p)] = f
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no Go files", dir)
	}
	return files, nil
}

// DocRow is one row of the codes table of docs/findings.md.
type DocRow struct {
	Severity, Effect, Meaning string
}

// DocTable reads the codes table of docs/findings.md: rows of the form
// "| `code` | severity | effect | meaning |".
func DocTable(path string) (map[string]DocRow, error) {
	doc, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rows := map[string]DocRow{}
	for _, m := range docRow.FindAllStringSubmatch(string(doc), -1) {
		if _, dup := rows[m[1]]; dup {
			return nil, fmt.Errorf("%s: %s is listed twice", path, m[1])
		}
		rows[m[1]] = DocRow{m[2], m[3], strings.TrimSpace(m[4])}
	}
	return rows, nil
}

var docRow = regexp.MustCompile("(?m)^\\| `([a-zA-Z0-9]+\\.[a-zA-Z0-9]+)` \\| ([a-z]+) \\| ([a-z]+) \\|(.*)\\|\\s*$")
