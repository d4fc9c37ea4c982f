package scaffold

import (
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"sort"
	"strconv"
	"strings"

	"github.com/wings-bff/wings/framework/wings"
)

// The edits of app/app.go and app/router.go are guided by the syntax tree:
// the file is parsed, the node to extend is found (the route table's
// []wings.Route literal, the Container struct, NewContainer's final
// return), the new code is inserted at that node's position, and the
// result is gofmt'd and parsed again. Each edit first looks for what it
// would add, so running it twice changes nothing.

// insertion is text to insert at a byte offset of the source.
type insertion struct {
	off  int
	text string
}

// splice applies the insertions and gofmt's the result.
func splice(src []byte, ins []insertion) ([]byte, error) {
	sort.SliceStable(ins, func(i, j int) bool { return ins[i].off > ins[j].off })
	out := append([]byte(nil), src...)
	for _, in := range ins {
		out = append(out[:in.off], append([]byte(in.text), out[in.off:]...)...)
	}
	return format.Source(out)
}

// afterElem returns the offset just after the last element of a composite
// literal (after its trailing comma, if any), or after the brace when empty.
func afterElem(fset *token.FileSet, src []byte, lit *ast.CompositeLit) (off int, needComma bool) {
	if len(lit.Elts) == 0 {
		return fset.Position(lit.Lbrace).Offset + 1, false
	}
	off = fset.Position(lit.Elts[len(lit.Elts)-1].End()).Offset
	for i := off; i < len(src); i++ {
		switch src[i] {
		case ' ', '\t':
			continue
		case ',':
			return i + 1, false
		}
		break
	}
	return off, true
}

// importIns returns the insertions that add the missing import paths.
// Standard library paths go after the file's last standard library
// import (or first in the block), others after its last import, so gofmt
// keeps the groups.
func importIns(fset *token.FileSet, f *ast.File, paths ...string) []insertion {
	have := map[string]bool{}
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		have[p] = true
	}
	isStd := func(p string) bool { return !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") }
	var std, other []string
	for _, p := range paths {
		if have[p] {
			continue
		}
		have[p] = true
		if isStd(p) {
			std = append(std, strconv.Quote(p))
		} else {
			other = append(other, strconv.Quote(p))
		}
	}
	if len(std)+len(other) == 0 {
		return nil
	}
	var decl *ast.GenDecl
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.IMPORT {
			decl = g
			break
		}
	}
	if decl == nil || !decl.Lparen.IsValid() {
		all := append(std, other...)
		return []insertion{{fset.Position(f.Name.End()).Offset, "\n\nimport (\n" + strings.Join(all, "\n") + "\n)\n"}}
	}
	var lastStd, lastOther token.Pos
	for _, s := range decl.Specs {
		sp, _ := strconv.Unquote(s.(*ast.ImportSpec).Path.Value)
		if isStd(sp) {
			lastStd = s.End()
		} else {
			lastOther = s.End()
		}
	}
	var ins []insertion
	if len(std) > 0 {
		if lastStd.IsValid() {
			ins = append(ins, insertion{fset.Position(lastStd).Offset, "\n" + strings.Join(std, "\n")})
		} else {
			ins = append(ins, insertion{fset.Position(decl.Lparen).Offset + 1, "\n" + strings.Join(std, "\n") + "\n"})
		}
	}
	if len(other) > 0 {
		if lastOther.IsValid() {
			ins = append(ins, insertion{fset.Position(lastOther).Offset, "\n" + strings.Join(other, "\n")})
		} else {
			ins = append(ins, insertion{fset.Position(decl.Rparen).Offset, "\n" + strings.Join(other, "\n") + "\n"})
		}
	}
	return ins
}

// RouteExpr is the wings.Route literal the route table gets for e, with c
// the name of the Container parameter. It declares Query: the generated
// handler reads no query parameter, and the field is where one it comes
// to read is declared (the response cache keys on those alone).
func (e *Endpoint) RouteExpr(c string) string {
	s := fmt.Sprintf("{Method: %s, Path: %q, Name: %q, Handler: %s.%s.%s, Query: nil", methodConst(e.Method), e.Path, e.RouteName(), c, e.Name.Exported, e.Verb())
	if e.Cache > 0 || e.Auth != "" {
		s += ",\n"
	}
	if e.Cache > 0 {
		s += "Cache: &wings.CacheOptions{TTL: " + durationExpr(e.Cache)
		if e.Auth != "" {
			s += ", Private: true"
		}
		s += "}"
	}
	if e.Auth != "" {
		if e.Cache > 0 {
			s += ", "
		}
		s += "Auth: " + strconv.Quote(e.Auth)
	}
	if o, err := wings.ParseOwner(e.Owner); err == nil {
		s += fmt.Sprintf(",\nOwner: wings.Owner{Team: %q, Contact: %q}", o.Team, o.Contact)
	}
	return s + "}"
}

// RegisterRoute adds e's route to the route table in src (app/router.go):
// the first []wings.Route literal in func Routes. It reports changed false
// when the route is already there, and an error when another route has
// the same method and path or name.
func RegisterRoute(src []byte, e *Endpoint) (out []byte, changed bool, err error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "router.go", src, parser.ParseComments)
	if err != nil {
		return nil, false, err
	}
	fn := findFunc(f, "Routes")
	if fn == nil || fn.Type.Params.NumFields() != 1 || len(fn.Type.Params.List[0].Names) != 1 {
		return nil, false, errors.New("app/router.go: no func Routes(c *Container) []wings.Route")
	}
	c := fn.Type.Params.List[0].Names[0].Name
	var table *ast.CompositeLit
	var dup error
	found := false
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		if table == nil && isRouteSlice(lit.Type) {
			table = lit
		}
		kv := keyValues(lit)
		if kv["Handler"] == c+"."+e.Name.Exported+"."+e.Verb() {
			found = true
		} else if kv["Path"] == strconv.Quote(e.Path) && kv["Method"] == methodConst(e.Method) {
			dup = fmt.Errorf("app/router.go: %s %s is already routed to %s", e.Method, e.Path, kv["Handler"])
		} else if kv["Name"] == strconv.Quote(e.RouteName()) {
			dup = fmt.Errorf("app/router.go: a route is already named %q", e.RouteName())
		}
		return true
	})
	switch {
	case found:
		return src, false, nil
	case dup != nil:
		return nil, false, dup
	case table == nil:
		return nil, false, errors.New("app/router.go: func Routes has no []wings.Route literal to add to")
	}
	off, comma := afterElem(fset, src, table)
	text := "\n" + e.RouteExpr(c) + ",\n"
	if comma {
		text = "," + text
	}
	ins := []insertion{{off, text}}
	imports := []string{"net/http"}
	if e.Cache > 0 {
		imports = append(imports, "time")
	}
	ins = append(ins, importIns(fset, f, imports...)...)
	out, err = splice(src, ins)
	return out, err == nil, err
}

// isRouteSlice reports whether t is []<pkg>.Route.
func isRouteSlice(t ast.Expr) bool {
	at, ok := t.(*ast.ArrayType)
	if !ok || at.Len != nil {
		return false
	}
	sel, ok := at.Elt.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "Route"
}

// keyValues returns the source text of a literal's simple key: value
// pairs (identifiers, selectors and strings).
func keyValues(lit *ast.CompositeLit) map[string]string {
	m := map[string]string{}
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		k, ok := kv.Key.(*ast.Ident)
		if !ok {
			continue
		}
		m[k.Name] = exprString(kv.Value)
	}
	return m
}

func exprString(x ast.Expr) string {
	switch v := x.(type) {
	case *ast.Ident:
		return v.Name
	case *ast.BasicLit:
		return v.Value
	case *ast.SelectorExpr:
		if s := exprString(v.X); s != "" {
			return s + "." + v.Sel.Name
		}
	}
	return ""
}

func findFunc(f *ast.File, name string) *ast.FuncDecl {
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == name {
			return fn
		}
	}
	return nil
}

// WireContainer adds e's controller to the Container struct in src
// (app/app.go) and builds it in NewContainer, just before the final
// return &Container{...}: the upstream client (reusing a variable that
// already holds rt.Upstream("<name>")), the dao, the service and the
// controller. It reports changed false when the field is already there.
func WireContainer(src []byte, module string, e *Endpoint) (out []byte, changed bool, err error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "app.go", src, parser.ParseComments)
	if err != nil {
		return nil, false, err
	}
	field := e.Name.Exported
	want := "*controller." + e.Name.Exported + "Controller"
	var st *ast.StructType
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE {
			continue
		}
		for _, s := range g.Specs {
			if ts := s.(*ast.TypeSpec); ts.Name.Name == "Container" {
				st, _ = ts.Type.(*ast.StructType)
			}
		}
	}
	if st == nil {
		return nil, false, errors.New("app/app.go: no type Container struct")
	}
	for _, fl := range st.Fields.List {
		for _, n := range fl.Names {
			if n.Name != field {
				continue
			}
			if got := typeString(fl.Type); got != want {
				return nil, false, fmt.Errorf("app/app.go: Container.%s already exists with type %s; want %s", field, got, want)
			}
			return src, false, nil
		}
	}
	fn := findFunc(f, "NewContainer")
	if fn == nil || fn.Type.Results.NumFields() != 2 || typeString(fn.Type.Results.List[len(fn.Type.Results.List)-1].Type) != "error" {
		return nil, false, errors.New("app/app.go: no func NewContainer(rt *wings.Runtime, ...) (*Container, error)")
	}
	rt := ""
	for _, p := range fn.Type.Params.List {
		if typeString(p.Type) == "*wings.Runtime" && len(p.Names) == 1 {
			rt = p.Names[0].Name
		}
	}
	if rt == "" {
		return nil, false, errors.New("app/app.go: NewContainer has no *wings.Runtime parameter")
	}
	var ret *ast.ReturnStmt
	var lit *ast.CompositeLit
	for _, s := range fn.Body.List {
		r, ok := s.(*ast.ReturnStmt)
		if !ok || len(r.Results) != 2 {
			continue
		}
		if u, ok := r.Results[0].(*ast.UnaryExpr); ok && u.Op == token.AND {
			if cl, ok := u.X.(*ast.CompositeLit); ok && exprString(cl.Type) == "Container" {
				ret, lit = r, cl
			}
		}
	}
	if ret == nil {
		return nil, false, errors.New("app/app.go: NewContainer does not end with return &Container{...}, nil")
	}

	var ins []insertion
	imports := []string{module + "/app/controller", module + "/app/service"}
	ctor := "service.New" + e.Name.Exported + "Service()"
	if e.Upstream != "" {
		client := upstreamVar(fn.Body, rt, e.Upstream)
		if client == "" {
			client = e.Name.Lower + "Client"
			if declared(fn, client) {
				return nil, false, fmt.Errorf("app/app.go: NewContainer already declares %s", client)
			}
			ins = append(ins, insertion{fset.Position(ret.Pos()).Offset, fmt.Sprintf(
				"%s, err := %s.Upstream(%q)\nif err != nil {\nreturn nil, err\n}\n", client, rt, e.Upstream)})
		}
		ctor = "service.New" + e.Name.Exported + "Service(dao.New" + e.Name.Exported + "DAO(" + client + "))"
		imports = append(imports, module+"/app/dao")
	}
	off, comma := afterElem(fset, src, lit)
	text := fmt.Sprintf("\n%s: controller.New%sController(%s),\n", field, e.Name.Exported, ctor)
	if comma {
		text = "," + text
	}
	ins = append(ins, insertion{off, text})
	ins = append(ins, insertion{fset.Position(st.Fields.Closing).Offset,
		fmt.Sprintf("// %s serves %s %s.\n%s %s\n", field, e.Method, e.Path, field, want)})
	ins = append(ins, importIns(fset, f, imports...)...)
	out, err = splice(src, ins)
	return out, err == nil, err
}

// upstreamVar returns the variable that NewContainer assigns
// rt.Upstream("<name>") to, if any.
func upstreamVar(body *ast.BlockStmt, rt, name string) string {
	v := ""
	ast.Inspect(body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Rhs) != 1 || len(as.Lhs) == 0 {
			return true
		}
		call, ok := as.Rhs[0].(*ast.CallExpr)
		if !ok || exprString(call.Fun) != rt+".Upstream" || len(call.Args) != 1 {
			return true
		}
		if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Value == strconv.Quote(name) {
			if id, ok := as.Lhs[0].(*ast.Ident); ok && id.Name != "_" && v == "" {
				v = id.Name
			}
		}
		return true
	})
	return v
}

// declared reports whether name is used as an identifier in fn.
func declared(fn *ast.FuncDecl, name string) bool {
	found := false
	ast.Inspect(fn, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && id.Name == name {
			found = true
		}
		return !found
	})
	return found
}

func typeString(x ast.Expr) string {
	switch v := x.(type) {
	case *ast.StarExpr:
		return "*" + typeString(v.X)
	default:
		return exprString(x)
	}
}
