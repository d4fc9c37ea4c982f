package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/spf13/cobra"

	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/cli"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/wings"
)

// appConfig is an application's config type: the framework's sections and
// one of the app's own.
type appConfig struct {
	config.Config `mapstructure:",squash"`
	Greeting      string `mapstructure:"greeting"`
}

// confDir writes a config directory whose default file holds yaml.
func confDir(t *testing.T, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.default.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// baseYAML is a whole config: the framework's sections, then the app's.
const baseYAML = `app:
  name: hello
server:
  addr: 127.0.0.1:0
  request_timeout: 3s
  read_header_timeout: 5s
  read_timeout: 10s
  write_timeout: 15s
  shutdown_timeout: 10s
log:
  level: info
  format: json
cache:
  l1_max_entries: 100
  l1_max_bytes: 1048576
  refresh_concurrency: 2
auth:
  identity:
    provider: static
  permission:
    provider: static
greeting: hi
`

// newApp is a one-route application whose answer is the app's own config
// key; its log goes to logs.
func newApp(logs io.Writer, migrations bool) cli.App[appConfig] {
	routes := func(greeting string) []wings.Route {
		return []wings.Route{{Method: http.MethodGet, Path: "/api/hello", Name: "hello",
			Handler: func(c echo.Context) error { return wings.JSON(c, map[string]string{"greeting": greeting}) }}}
	}
	a := cli.App[appConfig]{
		Name:   "hello",
		Build:  wings.BuildInfo{Version: "1.2.3", Commit: "abc", BuildTime: "then"},
		Serve:  func(_ *wings.Runtime, cfg *appConfig) ([]wings.Route, error) { return routes(cfg.Greeting), nil },
		Routes: func(cfg *appConfig) []wings.Route { return routes(cfg.Greeting) },
		TestRoutes: func() []wings.Route {
			return []wings.Route{{Method: http.MethodGet, Path: "/_test/ping", Name: "test_ping",
				Handler: func(c echo.Context) error { return wings.JSON(c, "pong") }}}
		},
		Runtime: wings.Options{LogOutput: logs},
	}
	if migrations {
		a.Migrations = func(*appConfig) ([]chclient.Migration, error) { return nil, nil }
	}
	return a
}

func execute(t *testing.T, root *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestCommands(t *testing.T) {
	t.Setenv(config.EnvVar, "")
	dir := confDir(t, baseYAML)
	root := cli.New(newApp(io.Discard, false))
	var names []string
	for _, c := range root.Commands() {
		names = append(names, c.Name())
	}
	if got, want := strings.Join(names, " "), "cache gen routes serve version"; got != want {
		t.Errorf("commands without migrations: %s; want %s", got, want)
	}
	if _, _, err := cli.New(newApp(io.Discard, true)).Find([]string{"migrate"}); err != nil {
		t.Errorf("with migrations: %v; want a migrate command", err)
	}

	out, err := execute(t, root, "version")
	if err != nil || out != "hello 1.2.3 (commit abc, built then)\n" {
		t.Errorf("version: %q, %v", out, err)
	}
	out, err = execute(t, cli.New(newApp(io.Discard, false)), "routes", "--conf", dir)
	if err != nil || !strings.Contains(out, "GET     /api/hello  hello") {
		t.Errorf("routes: %v\n%s", err, out)
	}
	_, err = execute(t, cli.New(newApp(io.Discard, false)), "routes", "--conf", confDir(t, baseYAML+"nonsense: 1\n"))
	if err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Errorf("routes with an unknown key: %v; want an error naming it", err)
	}
	_, err = execute(t, cli.New(newApp(io.Discard, false)), "cache", "purge", "--conf", dir, "/api/hello")
	if err == nil || !strings.Contains(err.Error(), "WINGS_ADMIN__TOKEN") {
		t.Errorf("cache purge without a token: %v; want an error naming WINGS_ADMIN__TOKEN", err)
	}
}

func TestLoadConfig(t *testing.T) {
	t.Setenv(config.EnvVar, "")
	t.Setenv("WINGS_GREETING", "hello from env")
	cfg, res, err := cli.LoadConfig[appConfig](confDir(t, baseYAML))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Greeting != "hello from env" || cfg.App.Name != "hello" || cfg.Base() != &cfg.Config {
		t.Errorf("config: greeting %q, app.name %q", cfg.Greeting, cfg.App.Name)
	}
	if res.Env != "local" {
		t.Errorf("env %q; want local", res.Env)
	}
}

// TestServe runs serve in-process on 127.0.0.1:0, reading the address from
// its "listening" log line: the app gets its typed config, and the test
// routes are served only under WINGS_ENV=test.
func TestServe(t *testing.T) {
	for _, env := range []string{"local", "test"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(config.EnvVar, env)
			dir := confDir(t, baseYAML)
			pr, pw := io.Pipe()
			addr := make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(pr)
				for sc.Scan() {
					var line struct{ Msg, Addr string }
					if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
						addr <- line.Addr
					}
				}
			}()
			root := cli.New(newApp(pw, false))
			root.SetArgs([]string{"serve", "--conf", dir})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- root.ExecuteContext(ctx) }()
			t.Cleanup(func() { _ = pw.Close() })

			var base string
			select {
			case a := <-addr:
				base = "http://" + a
			case err := <-done:
				t.Fatalf("serve returned before listening: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatal("serve logged no listening line within 30s")
			}
			get := func(path string) (int, string) {
				resp, err := http.Get(base + path)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, strings.TrimSpace(string(b))
			}
			if code, body := get("/api/hello"); code != 200 || body != `{"code":0,"data":{"greeting":"hi"}}` {
				t.Errorf("GET /api/hello: %d %s", code, body)
			}
			wantPing := http.StatusNotFound
			if env == "test" {
				wantPing = http.StatusOK
			}
			if code, body := get("/_test/ping"); code != wantPing {
				t.Errorf("GET /_test/ping under %s: %d %s; want %d", env, code, body, wantPing)
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve after cancel: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("serve did not stop within 30s of its context ending")
			}
		})
	}
}
