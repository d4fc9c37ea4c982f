package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wings-bff/wings/app"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/scaffold"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/gen")

// golden compares got with testdata/gen/<name>, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "gen", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/wings -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s", name, scaffold.UnifiedDiff(name, want, got))
	}
}

func mustName(t *testing.T, s string) scaffold.Name {
	t.Helper()
	n, err := scaffold.ParseName(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// goldenCases are the endpoints whose every generated file is kept as a
// golden file: with an upstream, a cache and an owner, private without an upstream,
// and a POST without :id whose dao passes no id.
func goldenCases(t *testing.T) map[string]*scaffold.Endpoint {
	return map[string]*scaffold.Endpoint{
		"order": {Name: mustName(t, "order"), Upstream: "order", UpstreamPath: "/order/info/{id}", Cache: 30 * time.Second,
			Owner: "orders:order-team@example.com"},
		"user_profile": {Name: mustName(t, "userProfile"), Auth: "bizline:{biz}", Cache: time.Minute},
		"report":       {Name: mustName(t, "report"), Method: "post", Path: "/api/report", Upstream: "stats"},
		"video_stat":   {Name: mustName(t, "VideoStat"), Upstream: "stats", UpstreamPath: "/stat"},
	}
}

func TestGoldenLayers(t *testing.T) {
	for name, e := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			if err := e.Normalize(); err != nil {
				t.Fatal(err)
			}
			for _, l := range e.Layers() {
				src, err := e.Render("github.com/wings-bff/wings", l)
				if err != nil {
					t.Fatal(err)
				}
				golden(t, name+"/"+strings.TrimPrefix(e.LayerPath(l), "app/")+".golden", src)
			}
		})
	}
}

// TestGoldenEdits checks the edits of app/app.go, app/router.go and
// conf/config.default.yaml (copies in testdata/gen/fixture, so that others'
// changes to the live files do not move the golden diffs), and that they
// are idempotent.
func TestGoldenEdits(t *testing.T) {
	appSrc := readFile(t, "testdata/gen/fixture/app.go.txt")
	routerSrc := readFile(t, "testdata/gen/fixture/router.go.txt")
	confSrc := readFile(t, "testdata/gen/fixture/config.default.yaml")
	for _, name := range []string{"order", "user_profile"} {
		e := goldenCases(t)[name]
		if err := e.Normalize(); err != nil {
			t.Fatal(err)
		}
		router, changed, err := scaffold.RegisterRoute(routerSrc, e)
		if err != nil || !changed {
			t.Fatalf("%s: RegisterRoute: changed %v, %v", name, changed, err)
		}
		golden(t, name+"/router.go.diff", []byte(scaffold.UnifiedDiff("app/router.go", routerSrc, router)))
		appOut, changed, err := scaffold.WireContainer(appSrc, "github.com/wings-bff/wings", e)
		if err != nil || !changed {
			t.Fatalf("%s: WireContainer: changed %v, %v", name, changed, err)
		}
		golden(t, name+"/app.go.diff", []byte(scaffold.UnifiedDiff("app/app.go", appSrc, appOut)))

		// Idempotent: a second edit finds what the first added.
		if again, changed, err := scaffold.RegisterRoute(router, e); err != nil || changed || !bytes.Equal(again, router) {
			t.Errorf("%s: second RegisterRoute: changed %v, %v", name, changed, err)
		}
		if again, changed, err := scaffold.WireContainer(appOut, "github.com/wings-bff/wings", e); err != nil || changed || !bytes.Equal(again, appOut) {
			t.Errorf("%s: second WireContainer: changed %v, %v", name, changed, err)
		}
	}
	conf, changed, err := scaffold.AddUpstream(confSrc, "order")
	if err != nil || !changed {
		t.Fatalf("AddUpstream: changed %v, %v", changed, err)
	}
	golden(t, "order/config.default.yaml.diff", []byte(scaffold.UnifiedDiff("conf/config.default.yaml", confSrc, conf)))
	if _, changed, err := scaffold.AddUpstream(conf, "order"); err != nil || changed {
		t.Errorf("second AddUpstream: changed %v, %v", changed, err)
	}
	if _, changed, _ := scaffold.AddUpstream(confSrc, "video"); changed {
		t.Error("AddUpstream added upstreams.video, which exists")
	}

	// The live config, edited, still loads and validates, with the new
	// upstream.
	live, changed, err := scaffold.AddUpstream(readFile(t, "../../conf/config.default.yaml"), "order")
	if err != nil || !changed {
		t.Fatalf("AddUpstream on conf/config.default.yaml: changed %v, %v", changed, err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "config.default.yaml"), live)
	var cfg app.Config
	if _, err := config.Load(config.Options{Dir: dir, Env: "test", Environ: []string{}}, &cfg); err != nil {
		t.Fatalf("edited config does not load: %v", err)
	}
	if u := cfg.Upstreams["order"]; u.BaseURL == "" || u.Timeout <= 0 || u.MaxIdleConns <= 0 {
		t.Errorf("upstreams.order = %+v", u)
	}
}

func TestGoldenUpstreamModel(t *testing.T) {
	f, err := os.Open("testdata/gen/sample_playlist.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	um, err := scaffold.GenUpstreamModel("github.com/wings-bff/wings", mustName(t, "playlist"), f, "auto")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "playlist/model.go.golden", um.Model)
	golden(t, "playlist/formatter.go.golden", um.Formatter)
	golden(t, "playlist/formatter_test.go.golden", um.Test)
	if um.Root != "data" || strings.Join(um.Skipped, ",") != "episodes,extra" {
		t.Errorf("root %q, skipped %v; want data, [episodes extra]", um.Root, um.Skipped)
	}
}

func TestParseName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, stem, exported, lower, err string
	}{
		{in: "order", stem: "order", exported: "Order", lower: "order"},
		{in: "user_profile", stem: "user_profile", exported: "UserProfile", lower: "userProfile"},
		{in: "userProfile", stem: "user_profile", exported: "UserProfile", lower: "userProfile"},
		{in: "UserProfile", stem: "user_profile", exported: "UserProfile", lower: "userProfile"},
		{in: "videoID", stem: "video_id", exported: "VideoID", lower: "videoID"},
		{in: "HTTPStatus", stem: "http_status", exported: "HTTPStatus", lower: "httpStatus"},
		{in: "page2", stem: "page2", exported: "Page2", lower: "page2"},
		{in: "type", err: `"type" is a Go keyword`},
		{in: "Func", err: `"func" is a Go keyword`},
		{in: "user-profile", err: "must be an identifier"},
		{in: "1st", err: "must be an identifier"},
		{in: "", err: "must be an identifier"},
		{in: "a__b", err: "underscores only between words"},
		{in: "order_", err: "underscores only between words"},
		{in: "order_test", err: "test file or a build constraint"},
		{in: "orderLinux", err: "test file or a build constraint"},
		{in: "名字", err: "must be an identifier"},
	}
	for _, tc := range tests {
		n, err := scaffold.ParseName(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseName(%q) = %+v, %v; want error containing %q", tc.in, n, err, tc.err)
			}
			continue
		}
		if err != nil || n.Stem != tc.stem || n.Exported != tc.exported || n.Lower != tc.lower {
			t.Errorf("ParseName(%q) = %+v, %v; want %s %s %s", tc.in, n, err, tc.stem, tc.exported, tc.lower)
		}
	}
}

func TestEndpointFlagErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		e   scaffold.Endpoint
		err string
	}{
		{scaffold.Endpoint{Method: "TRACE"}, "--method"},
		{scaffold.Endpoint{Path: "api/x"}, "--path"},
		{scaffold.Endpoint{Auth: "bizline:{biz}", Path: "/api/x/:id"}, "{biz} must be a parameter of --path"},
		{scaffold.Endpoint{UpstreamPath: "/x"}, "--upstream-path needs --upstream"},
		{scaffold.Endpoint{Upstream: "Bad-Name"}, "--upstream"},
		{scaffold.Endpoint{Owner: "Order Team:x@example.com"}, "--owner"},
		{scaffold.Endpoint{Upstream: "x", UpstreamPath: "/x/{name}"}, "only {id}"},
		{scaffold.Endpoint{Upstream: "x", Path: "/api/x", UpstreamPath: "/x/{id}"}, "only {id}"},
	}
	for _, tc := range tests {
		tc.e.Name = mustName(t, "thing")
		if err := tc.e.Normalize(); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: %v; want error containing %q", tc.e, err, tc.err)
		}
	}
}

// run executes the wings command line in-process.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := newRoot()
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// TestGenCommand runs wings new and wings gen on a fresh project: files,
// refusals, --dry-run and a second run that changes nothing.
func TestGenCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	if out, err := run(t, "new", dir, "--module", "example.com/shop", "--framework", "../.."); err != nil {
		t.Fatalf("wings new: %v\n%s", err, out)
	}
	if _, err := run(t, "new", dir, "--module", "example.com/shop", "--framework", "../.."); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("wings new into a non-empty directory: %v; want a refusal", err)
	}
	snapshot := func() map[string]string {
		files := map[string]string{}
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := os.ReadFile(p)
				files[p] = string(b)
			}
			return nil
		})
		return files
	}
	gen := []string{"gen", "endpoint", "order", "--dir", dir, "--upstream", "order", "--upstream-path", "/order/{id}", "--cache", "30s"}

	before := snapshot()
	out, err := run(t, append(gen, "--dry-run")...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"dry run", "+++ b/app/controller/order.go", "+\t\tOrder: controller.NewOrderController(", "+  order: # added by wings gen"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if after := snapshot(); len(after) != len(before) {
		t.Errorf("--dry-run wrote files: %d -> %d", len(before), len(after))
	}

	if out, err = run(t, gen...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, f := range []string{"controller/order.go", "controller/order_test.go", "service/order.go", "dao/order.go", "model/order.go", "formatter/order.go"} {
		if _, err := os.Stat(filepath.Join(dir, "app", f)); err != nil {
			t.Error(err)
		}
	}
	first := snapshot()
	if out, err = run(t, gen...); err != nil || !strings.Contains(out, "nothing to do") {
		t.Errorf("second run: %v\n%s; want nothing to do", err, out)
	}
	if again := snapshot(); len(again) != len(first) {
		t.Error("second run changed the tree")
	} else {
		for p, c := range first {
			if again[p] != c {
				t.Errorf("second run changed %s", p)
			}
		}
	}

	// Another endpoint of the same name but other options is refused.
	if _, err := run(t, "gen", "endpoint", "order", "--dir", dir); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("regenerating order differently: %v; want a refusal naming --force", err)
	}
	// A name whose type exists in another file of the package is refused.
	writeFile(t, filepath.Join(dir, "app/model/extra.go"), []byte("package model\n\n// Coupon is declared by hand.\ntype Coupon struct{}\n"))
	if _, err := run(t, "gen", "endpoint", "coupon", "--dir", dir); err == nil || !strings.Contains(err.Error(), "which app/model/extra.go already declares") {
		t.Errorf("coupon clashing with model.Coupon: %v", err)
	}
	if _, err := run(t, "gen", "endpoint", "map", "--dir", dir); err == nil || !strings.Contains(err.Error(), "keyword") {
		t.Errorf("keyword name: %v", err)
	}
	// A route already taken by another handler is refused.
	if _, err := run(t, "gen", "endpoint", "other", "--dir", dir, "--path", "/api/order/:id"); err == nil || !strings.Contains(err.Error(), "already routed") {
		t.Errorf("taken route: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "app/controller/other.go")); err == nil {
		t.Error("a refused gen wrote app/controller/other.go")
	}
	// The other shapes: POST without :id over an upstream (query-less
	// dao), a private cached endpoint without an upstream, the id in the
	// upstream's query.
	for _, args := range [][]string{
		{"report", "--method", "POST", "--path", "/api/report", "--upstream", "stats"},
		{"user_profile", "--private", "bizline:{biz}", "--cache", "1m"},
		{"videoStat", "--upstream", "stats", "--upstream-path", "/stat"},
	} {
		if out, err := run(t, append([]string{"gen", "endpoint", "--dir", dir}, args...)...); err != nil {
			t.Fatalf("gen endpoint %v: %v\n%s", args, err, out)
		}
	}
	if out, err := run(t, "gen", "model", "coupon_item", "--dir", dir); err != nil || !strings.Contains(out, "app/model/coupon_item.go") {
		t.Errorf("gen model: %v\n%s", err, out)
	}
	if out, err := run(t, "gen", "upstream-model", "playlist", "--dir", dir, "--from", "testdata/gen/sample_playlist.json"); err != nil || !strings.Contains(out, "app/formatter/playlist_test.go") {
		t.Errorf("gen upstream-model: %v\n%s", err, out)
	}

	if testing.Short() {
		return
	}
	// The generated tree builds, vets and passes its own tests.
	cmd := exec.Command("go", "vet", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go vet in the generated project: %v\n%s", err, out)
	}
	cmd = exec.Command("go", "test", "-count=1", "./app/...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test in the generated project: %v\n%s", err, out)
	} else if !strings.Contains(string(out), "ok  \texample.com/shop/app\t") || !strings.Contains(string(out), "ok  \texample.com/shop/app/controller") ||
		!strings.Contains(string(out), "ok  \texample.com/shop/app/formatter") {
		t.Errorf("go test output:\n%s", out)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAddUpstreamShapes(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in string }{
		{"no section", "app:\n  name: x\n"},
		{"empty section", "app:\n  name: x\nupstreams:\n\nlog:\n  level: info\n"},
		{"last section, four spaces", "app:\n  name: x\nupstreams:\n    video:\n        base_url: http://a\n# trailing comment\n"},
		{"followed by a commented section", "upstreams:\n  video:  # team A\n    base_url: http://a\n\n# routes: per-route settings\nroutes: {}\n"},
	}
	for _, tc := range tests {
		out, changed, err := scaffold.AddUpstream([]byte(tc.in), "order")
		if err != nil || !changed {
			t.Errorf("%s: changed %v, %v", tc.name, changed, err)
			continue
		}
		for _, keep := range strings.Split(strings.TrimSpace(tc.in), "\n") {
			if !strings.Contains(string(out), keep) {
				t.Errorf("%s: lost line %q:\n%s", tc.name, keep, out)
			}
		}
		if again, changed, err := scaffold.AddUpstream(out, "order"); err != nil || changed || !bytes.Equal(again, out) {
			t.Errorf("%s: second AddUpstream: changed %v, %v", tc.name, changed, err)
		}
	}
	if _, _, err := scaffold.AddUpstream([]byte("upstreams: [a]\n"), "order"); err == nil {
		t.Error("a non-mapping upstreams was edited")
	}
}
