package scaffold

import (
	"bytes"
	"embed"
	"fmt"
	"go/format"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/wings-bff/wings/framework/wings"
)

// FrameworkModule is the framework's module path, imported by generated code.
const FrameworkModule = "github.com/wings-bff/wings"

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").ParseFS(templateFS, "templates/*.tmpl"))

// Endpoint describes one endpoint to generate.
type Endpoint struct {
	Name Name
	// Method is the HTTP method (GET by default).
	Method string
	// Path is the echo route template; /api/<stem>/:id by default.
	Path string
	// Upstream names the upstream the dao calls; empty means no dao and no
	// formatter: the service answers a model made from the request.
	Upstream string
	// UpstreamPath is the upstream's path; {id} is replaced by the id.
	// Without {id}, the id goes in the query (?id=42).
	UpstreamPath string
	// Cache is the route's response cache TTL; zero means no cache.
	Cache time.Duration
	// Auth is the resource template the route requires (bizline:{biz}).
	Auth string
	// Owner is the route's owner as "team:contact" (wings.ParseOwner).
	Owner string
}

var (
	pathParamRE = regexp.MustCompile(`:([A-Za-z_][A-Za-z0-9_]*)`)
	authParamRE = regexp.MustCompile(`\{([^}]*)\}`)
	verbs       = map[string][2]string{ // method: handler verb, interface name
		http.MethodGet: {"Get", "Getter"}, http.MethodPost: {"Create", "Creator"}, http.MethodPut: {"Update", "Updater"},
		http.MethodPatch: {"Update", "Updater"}, http.MethodDelete: {"Delete", "Deleter"},
	}
)

// Normalize fills defaults and checks the options, naming the flag at fault.
func (e *Endpoint) Normalize() error {
	e.Method = strings.ToUpper(e.Method)
	if e.Method == "" {
		e.Method = http.MethodGet
	}
	if _, ok := verbs[e.Method]; !ok {
		return fmt.Errorf("--method %q: must be GET, POST, PUT, PATCH or DELETE", e.Method)
	}
	authParams := authParamRE.FindAllStringSubmatch(e.Auth, -1)
	if e.Path == "" {
		e.Path = "/api/" + e.Name.Stem
		for _, p := range authParams {
			e.Path += "/:" + p[1]
		}
		e.Path += "/:id"
	}
	if !strings.HasPrefix(e.Path, "/") || strings.ContainsAny(e.Path, " \t\"`\\?#") {
		return fmt.Errorf("--path %q: must be an absolute route template like /api/%s/:id", e.Path, e.Name.Stem)
	}
	params := map[string]bool{}
	for _, m := range pathParamRE.FindAllStringSubmatch(e.Path, -1) {
		params[m[1]] = true
	}
	for _, p := range authParams {
		if !params[p[1]] {
			return fmt.Errorf("--private %q: {%s} must be a parameter of --path %q (:%s)", e.Auth, p[1], e.Path, p[1])
		}
	}
	if strings.ContainsAny(e.Auth, "\"`\\") {
		return fmt.Errorf("--private %q: quotes and backslashes are not allowed", e.Auth)
	}
	if e.Cache < 0 {
		return fmt.Errorf("--cache %s: must be >= 0", e.Cache)
	}
	if e.Owner != "" {
		if _, err := wings.ParseOwner(e.Owner); err != nil {
			return fmt.Errorf("--owner: %w", err)
		}
	}
	if e.Upstream == "" {
		if e.UpstreamPath != "" {
			return fmt.Errorf("--upstream-path needs --upstream")
		}
		return nil
	}
	if !upstreamRE.MatchString(e.Upstream) {
		return fmt.Errorf("--upstream %q: must be lower-case letters, digits and underscores (a config key under upstreams)", e.Upstream)
	}
	if e.UpstreamPath == "" {
		e.UpstreamPath = "/" + e.Name.Stem
		if params["id"] {
			e.UpstreamPath += "/{id}"
		}
	}
	if !strings.HasPrefix(e.UpstreamPath, "/") || strings.ContainsAny(e.UpstreamPath, " \t\"`\\?#") {
		return fmt.Errorf("--upstream-path %q: must be an absolute path like /%s/{id}", e.UpstreamPath, e.Name.Stem)
	}
	for _, p := range authParamRE.FindAllStringSubmatch(e.UpstreamPath, -1) {
		if p[1] != "id" || !params["id"] {
			return fmt.Errorf("--upstream-path %q: only {id} is replaced, and only when --path has :id", e.UpstreamPath)
		}
	}
	return nil
}

var upstreamRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// HasID reports whether the route has an :id parameter, which the
// controller parses as a positive integer.
func (e *Endpoint) HasID() bool {
	for _, m := range pathParamRE.FindAllStringSubmatch(e.Path, -1) {
		if m[1] == "id" {
			return true
		}
	}
	return false
}

// RouteName is the route's name (the key of routes.<name> in config):
// the stem and the verb, order_get.
func (e *Endpoint) RouteName() string { return e.Name.Stem + "_" + strings.ToLower(verbs[e.Method][0]) }

// Verb is the handler's and the service method's name.
func (e *Endpoint) Verb() string { return verbs[e.Method][0] }

// Field is one line of a formatter's field map.
type Field struct{ Model, Source string }

// tmplData is what the templates see.
type tmplData struct {
	Module, Framework                             string
	N                                             Name
	Method, MethodConst, Verb, Iface, Path        string
	HasID                                         bool
	SampleTarget, BadTarget, OtherTarget          string
	ZeroTarget, RouteName                         string
	Upstream, UpstreamPathExpr, UpstreamQueryExpr string
	UpstreamSample                                string
	DAOURL                                        bool
	Fields                                        []Field
}

func (e *Endpoint) data(module string) tmplData {
	target := func(id string) string {
		return pathParamRE.ReplaceAllStringFunc(e.Path, func(m string) string {
			if m == ":id" {
				return id
			}
			return "video"
		})
	}
	d := tmplData{
		Module: module, Framework: FrameworkModule, N: e.Name,
		Method: e.Method, MethodConst: methodConst(e.Method), Verb: verbs[e.Method][0], Iface: e.Name.Exported + verbs[e.Method][1],
		Path: e.Path, HasID: e.HasID(),
		SampleTarget: target("42"), BadTarget: target("abc"), OtherTarget: target("7"), ZeroTarget: target("0"),
		RouteName: e.RouteName(), Upstream: e.Upstream,
		Fields: []Field{{"id", "id"}, {"name", "name"}},
	}
	if e.Upstream != "" {
		d.UpstreamPathExpr, d.UpstreamQueryExpr, d.UpstreamSample = upstreamExprs(e.UpstreamPath, d.HasID)
		d.DAOURL = d.UpstreamQueryExpr != "nil"
	}
	return d
}

// upstreamExprs returns the dao's path expression, its query expression
// and the request URI the dao makes for id 42.
func upstreamExprs(p string, hasID bool) (pathExpr, queryExpr, sample string) {
	const idExpr = "strconv.FormatInt(id, 10)"
	if !strings.Contains(p, "{id}") {
		if hasID {
			return strconv.Quote(p), `url.Values{"id": {` + idExpr + `}}`, p + "?id=42"
		}
		return strconv.Quote(p), "nil", p
	}
	var parts []string
	for i, s := range strings.Split(p, "{id}") {
		if i > 0 {
			parts = append(parts, idExpr)
		}
		if s != "" {
			parts = append(parts, strconv.Quote(s))
		}
	}
	return strings.Join(parts, " + "), "nil", strings.ReplaceAll(p, "{id}", "42")
}

func methodConst(m string) string {
	return "http.Method" + capitalize(strings.ToLower(m))
}

// durationExpr writes d as Go source: 30 * time.Second.
func durationExpr(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "time.Hour"}, {time.Minute, "time.Minute"}, {time.Second, "time.Second"}, {time.Millisecond, "time.Millisecond"}} {
		if d%u.d == 0 {
			if d == u.d {
				return u.name
			}
			return strconv.FormatInt(int64(d/u.d), 10) + " * " + u.name
		}
	}
	return strconv.FormatInt(int64(d), 10)
}

// Layer is one of the files an endpoint is made of.
type Layer string

// The layers, in the order they are written.
const (
	LayerModel          Layer = "model"
	LayerDAO            Layer = "dao"
	LayerFormatter      Layer = "formatter"
	LayerService        Layer = "service"
	LayerController     Layer = "controller"
	LayerControllerTest Layer = "controller_test"
)

// Layers lists the files an endpoint is made of: without an upstream there
// is no dao and no formatter.
func (e *Endpoint) Layers() []Layer {
	if e.Upstream == "" {
		return []Layer{LayerModel, LayerService, LayerController, LayerControllerTest}
	}
	return []Layer{LayerModel, LayerDAO, LayerFormatter, LayerService, LayerController, LayerControllerTest}
}

// LayerPath is the file a layer is written to, relative to the project.
func (e *Endpoint) LayerPath(l Layer) string {
	if l == LayerControllerTest {
		return "app/controller/" + e.Name.Stem + "_test.go"
	}
	return "app/" + string(l) + "/" + e.Name.Stem + ".go"
}

// Render returns the gofmt'd source of one layer for the module.
func (e *Endpoint) Render(module string, l Layer) ([]byte, error) {
	return render(string(l)+".go.tmpl", e.data(module))
}

func render(name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, err
	}
	out, err := format.Source(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: generated code does not parse: %v\n%s", name, err, buf.Bytes())
	}
	return out, nil
}
