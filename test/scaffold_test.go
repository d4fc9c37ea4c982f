package test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wings-bff/wings/framework/testkit"
)

// TestScaffoldEndpoint copies the repository (its git files) into a temp
// dir (test/ and deploy/ left out), runs wings gen endpoint there with and
// without an upstream, builds and vets the copy, runs its app tests, then
// starts the copy's server and calls both new routes: the upstream one
// against a fake of the new team (framework/testkit).
func TestScaffoldEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a copy of the repository")
	}
	dir := t.TempDir()
	ls := exec.Command("git", "ls-files", "-co", "--exclude-standard")
	ls.Dir = ".."
	list, err := ls.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, f := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		if strings.HasPrefix(f, "test/") || strings.HasPrefix(f, "deploy/") {
			continue // not needed to build or run the server
		}
		b, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			continue // deleted in the work tree
		}
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	sh := func(timeout time.Duration, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		done := make(chan struct{})
		timer := time.AfterFunc(timeout, func() { _ = cmd.Process.Kill(); close(done) })
		out, err := cmd.CombinedOutput()
		if !timer.Stop() {
			<-done
			t.Fatalf("%s %s: still running after %s\n%s", name, strings.Join(args, " "), timeout, out)
		}
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	wings := wingsBin(t) // the repository's binary runs gen on the copy
	out := sh(time.Minute, wings, "gen", "endpoint", "order", "--upstream", "order", "--upstream-path", "/order/info/{id}", "--cache", "30s", "--owner", "orders:order-team@example.com")
	if !strings.Contains(out, "app/router.go") || !strings.Contains(out, "upstreams.order added") {
		t.Fatalf("gen output:\n%s", out)
	}
	sh(time.Minute, wings, "gen", "endpoint", "user_profile", "--private", "bizline:{biz}", "--owner", "data:data-team@example.com")
	if out := sh(time.Minute, wings, "gen", "endpoint", "user_profile", "--private", "bizline:{biz}", "--owner", "data:data-team@example.com"); !strings.Contains(out, "nothing to do") {
		t.Errorf("second gen:\n%s", out)
	}

	sh(3*time.Minute, "go", "build", "./...")
	sh(3*time.Minute, "go", "build", "-o", "bin/wings", "./cmd/wings")
	sh(3*time.Minute, "go", "vet", "./...")
	out = sh(3*time.Minute, "go", "test", "-count=1", "-v", "./app/...")
	for _, want := range []string{"--- PASS: TestOrderGet", "--- PASS: TestUserProfileGet", "ok  \tgithub.com/wings-bff/wings/app/controller"} {
		if !strings.Contains(out, want) {
			t.Errorf("go test output lacks %q:\n%s", want, out)
		}
	}
	routes := sh(time.Minute, filepath.Join(dir, "bin/wings"), "routes")
	for _, want := range []string{"/api/order/:id", "order_get", "30s", "/api/user_profile/:biz/:id", "bizline:{biz}"} {
		if !strings.Contains(routes, want) {
			t.Errorf("wings routes lacks %q:\n%s", want, routes)
		}
	}

	// The fake order team, and every other upstream pointed at it too.
	team := testkit.NewUpstream(t, "order", testkit.Bodies(map[string]string{
		"/order/info/42": `{"code":0,"msg":"ok","data":{"id":42,"name":"Order 42","extra":true}}`,
	}))
	srv := exec.Command(filepath.Join(dir, "bin/wings"), "serve")
	srv.Dir = dir
	srv.Env = append(os.Environ(), "WINGS_ENV=test", "WINGS_SERVER__ADDR="+anyPort)
	for _, u := range []string{"VIDEO", "ALBUM", "STAR", "ORDER"} {
		srv.Env = append(srv.Env, fmt.Sprintf("WINGS_UPSTREAMS__%s__BASE_URL=%s", u, team.URL))
	}
	p := &proc{cmd: srv, done: make(chan struct{})}
	srv.Stdout, srv.Stderr = p, p
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Wait(); close(p.done) }()
	defer func() {
		p.Signal(os.Interrupt)
		if !p.Wait(15 * time.Second) {
			_ = srv.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("server output:\n%s", tail(p.Output(), 40))
		}
	}()
	base := "http://" + waitListening(t, p, 15*time.Second)
	waitHTTP(t, base+"/healthz", 15*time.Second)

	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	tests := []struct {
		path, token string
		status      int
		want        string
	}{
		{"/api/order/42", "", 200, `{"code":0,"data":{"id":42,"name":"Order 42"}}`},
		{"/api/order/7", "", 404, `"error":"not_found"`},
		{"/api/order/abc", "", 400, `id: must be a positive integer`},
		{"/api/user_profile/video/42", "demo-video", 200, `{"code":0,"data":{"id":42,"name":""}}`},
		{"/api/user_profile/video/42", "", 401, `"error":"unauthorized"`},
		{"/api/user_profile/music/42", "demo-video", 403, `"error":"forbidden"`},
	}
	for _, tc := range tests {
		status, body := get(tc.path, tc.token)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s (token %q) = %d %s; want %d %s", tc.path, tc.token, status, body, tc.status, tc.want)
		}
	}
}
