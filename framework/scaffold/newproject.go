package scaffold

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"go/format"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
	"time"
)

//go:embed templates/new/*.tmpl
var newFS embed.FS

var newTemplates = template.Must(template.New("").ParseFS(newFS, "templates/new/*.tmpl"))

// NewProject describes a project for wings new.
type NewProject struct {
	Dir    string // where to create it; must not exist or be empty
	Module string // its module path
	// FrameworkDir is the local framework checkout go.mod replaces the
	// framework module with (it is not published).
	FrameworkDir string
}

var modulePathRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._~-]*(/[A-Za-z0-9._~-]+)*$`)

// FindFramework walks up from dir to the framework's checkout (the go.mod
// whose module is the framework's) and returns its directory.
func FindFramework(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && ModulePath(b) == FrameworkModule {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%s is not inside a checkout of %s: pass --framework <checkout> (the module is not published)", dir, FrameworkModule)
		}
	}
}

// PlanNew plans a new project: the layout, config, its own binary
// (cmd/server over framework/cli: serve, routes, version, cache purge and
// gen), and one example endpoint (GET /api/item/:id over the
// item upstream) with its test.
func PlanNew(np NewProject) (*Plan, error) {
	if !modulePathRE.MatchString(np.Module) {
		return nil, fmt.Errorf("--module %q: must be a module path like example.com/team/bff", np.Module)
	}
	if np.Module == FrameworkModule || strings.HasPrefix(np.Module, FrameworkModule+"/") {
		return nil, fmt.Errorf("--module %q: must not be the framework's module", np.Module)
	}
	dir, err := filepath.Abs(np.Dir)
	if err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s exists and is not empty: wings new writes only into a new or empty directory", np.Dir)
	}
	fw, err := filepath.Abs(np.FrameworkDir)
	if err != nil {
		return nil, err
	}
	gomod, err := os.ReadFile(filepath.Join(fw, "go.mod"))
	if err != nil || ModulePath(gomod) != FrameworkModule {
		return nil, fmt.Errorf("--framework %s: not a checkout of %s", np.FrameworkDir, FrameworkModule)
	}
	goVersion, requires := goModRequires(gomod)
	name := path.Base(np.Module)
	data := map[string]any{
		"Module": np.Module, "Name": name, "Framework": FrameworkModule, "FrameworkDir": fw,
		"GoVersion": goVersion, "Requires": requires,
	}
	plan := &Plan{Project: Project{Dir: dir, Module: np.Module}}
	files := []struct{ tmpl, path string }{
		{"go.mod.tmpl", "go.mod"}, {"gitignore.tmpl", ".gitignore"}, {"Makefile.tmpl", "Makefile"},
		{"README.md.tmpl", "README.md"}, {"config.default.yaml.tmpl", "conf/config.default.yaml"},
		{"main.go.tmpl", "cmd/server/main.go"}, {"app.go.tmpl", "app/app.go"}, {"config.go.tmpl", "app/config.go"}, {"router.go.tmpl", "app/router.go"},
		{"app_test.go.tmpl", "app/app_test.go"}, {"item.json.tmpl", "app/testdata/upstreams/item.json"},
	}
	for _, f := range files {
		var buf bytes.Buffer
		if err := newTemplates.ExecuteTemplate(&buf, f.tmpl, data); err != nil {
			return nil, err
		}
		out := buf.Bytes()
		if strings.HasSuffix(f.path, ".go") {
			if out, err = format.Source(out); err != nil {
				return nil, fmt.Errorf("%s: %w", f.path, err)
			}
		}
		plan.Changes = append(plan.Changes, Change{Path: f.path, New: out, Note: "created"})
	}
	if sum, err := os.ReadFile(filepath.Join(fw, "go.sum")); err == nil {
		plan.Changes = append(plan.Changes, Change{Path: "go.sum", New: sum, Note: "created (the framework's, for offline builds)"})
	}
	docs := map[string]string{
		"model":      "// Package model holds the shared entities the BFF answers with; formatters\n// map every upstream's schema onto them.",
		"dao":        "// Package dao calls the upstream teams' APIs. Each dao checks its team's\n// envelope and returns the payload; mapping it is the formatter's job.",
		"formatter":  "// Package formatter maps upstream schemas onto the shared models.",
		"service":    "// Package service composes models from the upstreams: the BFF's business\n// logic. Services never import echo.",
		"controller": "// Package controller parses requests, calls a service and answers through\n// the framework's renderer. Controllers return errors; they never write\n// error responses themselves.",
	}
	for _, pkg := range []string{"model", "dao", "formatter", "service", "controller"} {
		var buf bytes.Buffer
		if err := newTemplates.ExecuteTemplate(&buf, "doc.go.tmpl", map[string]string{"Pkg": pkg, "Doc": docs[pkg]}); err != nil {
			return nil, err
		}
		plan.Changes = append(plan.Changes, Change{Path: "app/" + pkg + "/doc.go", New: buf.Bytes(), Note: "created"})
	}
	item, _ := ParseName("item")
	e := &Endpoint{Name: item, Upstream: "item", Cache: 10 * time.Second}
	if err := e.Normalize(); err != nil {
		return nil, err
	}
	for _, l := range e.Layers() {
		src, err := e.Render(np.Module, l)
		if err != nil {
			return nil, err
		}
		plan.Changes = append(plan.Changes, Change{Path: e.LayerPath(l), New: src, Note: "created (example endpoint)"})
	}
	for _, ed := range []struct {
		path string
		fn   func([]byte) ([]byte, bool, error)
	}{
		{ConfigFile, func(b []byte) ([]byte, bool, error) { return AddUpstream(b, "item") }},
		{"app/router.go", func(b []byte) ([]byte, bool, error) { return RegisterRoute(b, e) }},
		{"app/app.go", func(b []byte) ([]byte, bool, error) { return WireContainer(b, np.Module, e) }},
	} {
		for i := range plan.Changes {
			if plan.Changes[i].Path == ed.path {
				out, _, err := ed.fn(plan.Changes[i].New)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", ed.path, err)
				}
				plan.Changes[i].New = out
			}
		}
	}
	return plan, nil
}

// goModRequires returns a go.mod's go version and its requirements
// ("path version"), direct and indirect.
func goModRequires(gomod []byte) (string, []string) {
	version := ""
	var reqs []string
	in := false
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "go":
			version = f[1]
		case line == "require (":
			in = true
		case in && line == ")":
			in = false
		case in && len(f) == 2:
			reqs = append(reqs, f[0]+" "+f[1]+" // indirect")
		case len(f) == 3 && f[0] == "require":
			reqs = append(reqs, f[1]+" "+f[2]+" // indirect")
		}
	}
	return version, reqs
}
