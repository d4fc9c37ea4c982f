package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wings-bff/wings/framework/testkit"
)

// TestScaffoldNewProjectOwnBinary makes a project with wings new outside
// this tree and then works only through the project's own binary
// (cmd/server over framework/cli): its gen adds a second endpoint, the
// project builds and passes its tests, and its serve answers both endpoints
// from fake upstream teams; its routes and version answer too.
func TestScaffoldNewProjectOwnBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds, tests and serves a generated project")
	}
	framework, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "shop")
	if out, err := run(t, "new", dir, "--module", "example.com/shop", "--framework", framework); err != nil {
		t.Fatalf("wings new: %v\n%s", err, out)
	}
	if b := readFile(t, filepath.Join(dir, "Makefile")); !strings.Contains(string(b), "$(GO) run ./cmd/server gen $(ARGS)") {
		t.Errorf("the project's Makefile does not run its own gen:\n%s", b)
	}
	bin := filepath.Join(tmp, "shop-bin")
	build := func() {
		t.Helper()
		inProject(t, dir, "go", "build", "-ldflags", "-X main.version=v0.1.0-test", "-o", bin, "./cmd/server")
	}
	build()

	// The project's own gen, run from a directory inside the project.
	out := inProject(t, filepath.Join(dir, "app"), bin, "gen", "endpoint", "order", "--upstream", "order",
		"--upstream-path", "/order/{id}", "--owner", "orders:order-team@example.com")
	if !strings.Contains(out, "app/controller/order.go") {
		t.Errorf("gen endpoint order printed:\n%s", out)
	}
	inProject(t, dir, "go", "vet", "./...")
	if out := inProject(t, dir, "go", "test", "-count=1", "./..."); !strings.Contains(out, "ok  \texample.com/shop/app/controller") {
		t.Errorf("go test ./... in the project:\n%s", out)
	}
	build()

	if out := inProject(t, dir, bin, "version"); out != "shop v0.1.0-test (commit unknown, built unknown)\n" {
		t.Errorf("version printed %q", out)
	}
	routes := inProject(t, dir, bin, "routes")
	for _, want := range []string{"/api/item/:id", "/api/order/:id", "orders:order-team@example.com"} {
		if !strings.Contains(routes, want) {
			t.Errorf("routes lacks %q:\n%s", want, routes)
		}
	}

	item := testkit.NewUpstream(t, "item", testkit.Bodies(map[string]string{
		"/item/42": `{"code":0,"msg":"ok","data":{"id":42,"name":"Item 42","stock":3}}`,
	}))
	order := testkit.NewUpstream(t, "order", testkit.Bodies(map[string]string{
		"/order/7": `{"code":0,"msg":"ok","data":{"id":7,"name":"Order 7"}}`,
	}))
	base := serveProject(t, dir, bin, "WINGS_SERVER__ADDR=127.0.0.1:0",
		"WINGS_UPSTREAMS__ITEM__BASE_URL="+item.URL, "WINGS_UPSTREAMS__ORDER__BASE_URL="+order.URL)
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/api/item/42", 200, `{"code":0,"data":{"id":42,"name":"Item 42"}}`},
		{"/api/order/7", 200, `{"code":0,"data":{"id":7,"name":"Order 7"}}`},
		{"/api/order/8", 404, `"error":"not_found"`},
		{"/api/order/abc", 400, `"error":"bad_param"`},
	} {
		resp, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := strings.TrimSpace(string(b)); resp.StatusCode != tc.code || !strings.Contains(got, tc.body) {
			t.Errorf("GET %s: %d %s; want %d with %s", tc.path, resp.StatusCode, got, tc.code, tc.body)
		}
	}
	if n := order.Calls(); n != 2 {
		t.Errorf("the order team answered %d calls; want 2 (7 and 8)", n)
	}
}

// projectEnv is the environment for commands run in a generated project:
// offline module resolution, and none of this process's WINGS_ variables.
func projectEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WINGS_") && !strings.HasPrefix(kv, "GOFLAGS=") {
			env = append(env, kv)
		}
	}
	return append(append(env, "GOFLAGS=-mod=mod", "GOPROXY=off"), extra...)
}

// inProject runs name with args in dir and returns its output; it fails the
// test when the command does.
func inProject(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = projectEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// serveProject starts bin serve in dir with env and returns its base URL,
// read from its "listening" log line (server.addr is 127.0.0.1:0). The
// test's cleanup stops it.
func serveProject(t *testing.T, dir, bin string, env ...string) string {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = projectEnv(env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	addr := make(chan string, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("serve's output:\n%s%s", log.String(), stderr.String())
		}
	})
	select {
	case a := <-addr:
		return "http://" + a
	case <-exited:
		t.Fatalf("serve exited before listening:\n%s%s", log.String(), stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatal("serve logged no listening line within 60s")
	}
	return ""
}
