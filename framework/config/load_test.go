package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// minimalDefault is a config.default.yaml for tests that fail before
// validation (unknown keys, secrets in files).
const minimalDefault = `
app:
  name: test-app
server:
  addr: 127.0.0.1:8080
upstreams:
  video:
    base_url: http://127.0.0.1:9090
    timeout: 800ms
`

// confDir writes files (name -> content) into a fresh directory.
func confDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// frameworkDefault returns the repository's conf/config.default.yaml with
// the sections that belong to applications (top-level keys Config does not
// know) left out, so tests that need a complete, valid configuration follow
// the framework's sections as they grow.
func frameworkDefault(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../conf/config.default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tree map[string]any
	if err := yaml.Unmarshal(b, &tree); err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	ct := reflect.TypeOf(Config{})
	for i := 0; i < ct.NumField(); i++ {
		name, _, _ := strings.Cut(ct.Field(i).Tag.Get("mapstructure"), ",")
		known[name] = true
	}
	for k := range tree {
		if !known[k] {
			delete(tree, k)
		}
	}
	out, err := yaml.Marshal(tree)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func load(t *testing.T, dir string, environ ...string) (*Config, *Result, error) {
	t.Helper()
	var cfg Config
	if environ == nil {
		environ = []string{} // never the real process environment
	}
	res, err := Load(Options{Dir: dir, Environ: environ}, &cfg)
	return &cfg, res, err
}

func TestLoadLayers(t *testing.T) {
	t.Parallel()
	dir := confDir(t, map[string]string{
		"config.default.yaml": frameworkDefault(t),
		"config.stage.yaml":   "server:\n  addr: 0.0.0.0:8081\nlog:\n  level: warn\nauth:\n  allow_static_identity: true\n",
		"config.prod.yaml":    "server:\n  addr: 0.0.0.0:9999\n",
	})
	def, _, err := load(t, dir)
	if err != nil {
		t.Fatalf("Load of the default alone: %v", err)
	}
	tests := []struct {
		name      string
		environ   []string
		wantEnv   string
		wantAddr  string
		wantLevel string
		wantFiles int
	}{
		{"default only (local has no file here)", nil, "local", def.Server.Addr, def.Log.Level, 1},
		{"env file overlays default", []string{"WINGS_ENV=stage"}, "stage", "0.0.0.0:8081", "warn", 2},
		{"variable overrides env file", []string{"WINGS_ENV=stage", "WINGS_SERVER__ADDR=10.0.0.1:1"}, "stage", "10.0.0.1:1", "warn", 2},
		{"variable overrides default", []string{"WINGS_LOG__LEVEL=debug"}, "local", def.Server.Addr, "debug", 1},
		{"other env file not read", []string{"WINGS_ENV=test"}, "test", def.Server.Addr, def.Log.Level, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, res, err := load(t, dir, tc.environ...)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Env != tc.wantEnv || res.Env != tc.wantEnv {
				t.Errorf("env = %q/%q; want %q", cfg.Env, res.Env, tc.wantEnv)
			}
			if cfg.Server.Addr != tc.wantAddr {
				t.Errorf("server.addr = %q; want %q", cfg.Server.Addr, tc.wantAddr)
			}
			if cfg.Log.Level != tc.wantLevel {
				t.Errorf("log.level = %q; want %q", cfg.Log.Level, tc.wantLevel)
			}
			if len(res.Files) != tc.wantFiles {
				t.Errorf("files = %v; want %d of them", res.Files, tc.wantFiles)
			}
			// Keys beside an overridden one survive the merge.
			if cfg.Server.RequestTimeout != def.Server.RequestTimeout || cfg.Server.RequestTimeout <= 0 {
				t.Errorf("server.request_timeout = %s; want the default %s", cfg.Server.RequestTimeout, def.Server.RequestTimeout)
			}
		})
	}
}

func TestOptionsEnvWinsOverVariable(t *testing.T) {
	t.Parallel()
	dir := confDir(t, map[string]string{"config.default.yaml": frameworkDefault(t)})
	var cfg Config
	res, err := Load(Options{Dir: dir, Env: "test", Environ: []string{"WINGS_ENV=stage"}}, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Env != "test" {
		t.Errorf("env = %q; want test", res.Env)
	}
}

func TestEnvNameKeyPath(t *testing.T) {
	t.Parallel()
	tests := []struct{ path, env string }{
		{"server.addr", "WINGS_SERVER__ADDR"},
		{"upstreams.video.base_url", "WINGS_UPSTREAMS__VIDEO__BASE_URL"},
		{"redis.password", "WINGS_REDIS__PASSWORD"},
		{"server.cors.allow_origins", "WINGS_SERVER__CORS__ALLOW_ORIGINS"},
	}
	for _, tc := range tests {
		if got := EnvName(tc.path); got != tc.env {
			t.Errorf("EnvName(%q) = %q; want %q", tc.path, got, tc.env)
		}
		if got := KeyPath(tc.env); got != tc.path {
			t.Errorf("KeyPath(%q) = %q; want %q", tc.env, got, tc.path)
		}
		if got := KeyPath(EnvName(tc.path)); got != tc.path {
			t.Errorf("KeyPath(EnvName(%q)) = %q", tc.path, got)
		}
	}
	if got := KeyPath("HOME"); got != "" {
		t.Errorf("KeyPath(HOME) = %q; want empty", got)
	}
}

func TestEnvTypes(t *testing.T) {
	t.Parallel()
	dir := confDir(t, map[string]string{"config.default.yaml": frameworkDefault(t)})
	cfg, res, err := load(t, dir,
		"WINGS_UPSTREAMS__VIDEO__BASE_URL=http://10.1.2.3:7000",
		"WINGS_UPSTREAMS__VIDEO__TIMEOUT=1500ms",
		"WINGS_UPSTREAMS__VIDEO__MAX_IDLE_CONNS=7",
		"WINGS_SERVER__CORS__ALLOW_ORIGINS=https://a.example,https://b.example",
		"WINGS_SERVER__CORS__ALLOW_CREDENTIALS=true",
		"WINGS_ROUTES__VIDEO_DETAIL__TIMEOUT=250ms",
		"PATH=/usr/bin", // not ours: ignored
	)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	v := cfg.Upstreams["video"]
	if v.BaseURL != "http://10.1.2.3:7000" || v.Timeout != 1500*time.Millisecond || v.MaxIdleConns != 7 {
		t.Errorf("upstreams.video = %+v; want base_url, 1.5s, 7 from the environment", v)
	}
	if got, want := cfg.Server.CORS.AllowOrigins, []string{"https://a.example", "https://b.example"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("allow_origins = %q; want %q", got, want)
	}
	if !cfg.Server.CORS.AllowCredentials {
		t.Error("allow_credentials = false; want true")
	}
	if got := cfg.Routes["video_detail"].Timeout; got != 250*time.Millisecond {
		t.Errorf("routes.video_detail.timeout = %s; want 250ms", got)
	}
	wantKeys := []string{
		"routes.video_detail.timeout",
		"server.cors.allow_credentials", "server.cors.allow_origins",
		"upstreams.video.base_url", "upstreams.video.max_idle_conns", "upstreams.video.timeout",
	}
	if fmt.Sprint(res.EnvKeys) != fmt.Sprint(wantKeys) {
		t.Errorf("EnvKeys = %v; want %v", res.EnvKeys, wantKeys)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings = %v; want none", res.Warnings)
	}
}

func TestBadEnvValueNamesKey(t *testing.T) {
	t.Parallel()
	dir := confDir(t, map[string]string{"config.default.yaml": minimalDefault})
	_, _, err := load(t, dir, "WINGS_UPSTREAMS__VIDEO__TIMEOUT=soon")
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("err = %v; want an error naming the timeout key", err)
	}
}

func TestUnknownFileKeyIsError(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, yaml, want string }{
		{"top level", "colour: blue\n", "colour: unknown key"},
		{"nested", "server:\n  adr: x\n", "server.adr: unknown key"},
		{"inside a map", "upstreams:\n  video:\n    timout: 1s\n", "upstreams.video.timout: unknown key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := confDir(t, map[string]string{
				"config.default.yaml": minimalDefault,
				"config.test.yaml":    tc.yaml,
			})
			_, _, err := load(t, dir, "WINGS_ENV=test")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestUnmatchedVariableIsWarning(t *testing.T) {
	t.Parallel()
	dir := confDir(t, map[string]string{"config.default.yaml": frameworkDefault(t)})
	_, res, err := load(t, dir, "WINGS_SERVR__ADDR=x", "WINGS_UPSTREAMS__VIDEO__TIMOUT=1s", "WINGS_TEST_REDIS_ADDR=127.0.0.1:1")
	if err != nil {
		t.Fatalf("Load: %v; want warnings only", err)
	}
	want := []string{
		"WINGS_SERVR matches no config key",
		"WINGS_TEST_REDIS_ADDR matches no config key",
		"WINGS_UPSTREAMS__VIDEO__TIMOUT matches no config key",
	}
	if fmt.Sprint(res.Warnings) != fmt.Sprint(want) {
		t.Errorf("warnings = %q; want %q", res.Warnings, want)
	}
}

// An inert key still loads, with a warning saying it does nothing.
func TestInertKeyIsWarning(t *testing.T) {
	t.Parallel()
	dir := confDir(t, map[string]string{"config.default.yaml": frameworkDefault(t)})
	_, res, err := load(t, dir, "WINGS_CACHE__IGNORE_PARAMS=utm_source,spm")
	if err != nil {
		t.Fatalf("Load: %v; want a warning only", err)
	}
	want := []string{"cache.ignore_params has no effect: cache keys hold only the query parameters a route declares (Route.Query)"}
	if fmt.Sprint(res.Warnings) != fmt.Sprint(want) {
		t.Errorf("warnings = %q; want %q", res.Warnings, want)
	}
}

func TestValidationNamesKeys(t *testing.T) {
	t.Parallel()
	dir := confDir(t, map[string]string{"config.default.yaml": frameworkDefault(t)})
	_, _, err := load(t, dir,
		"WINGS_UPSTREAMS__VIDEO__TIMEOUT=0s",
		"WINGS_UPSTREAMS__VIDEO__BASE_URL=ftp://x",
		"WINGS_LOG__FORMAT=xml",
		"WINGS_SERVER__ADDR=",
	)
	if err == nil {
		t.Fatal("Load succeeded; want validation errors")
	}
	for _, want := range []string{
		"upstreams.video.timeout: must be > 0",
		`upstreams.video.base_url: must be an http(s) URL, got "ftp://x"`,
		"log.format: must be json or text",
		"server.addr: must be set",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to contain %q", err, want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	dir := confDir(t, map[string]string{"config.default.yaml": frameworkDefault(t)})
	valid := func() Config {
		c, _, err := load(t, dir)
		if err != nil {
			t.Fatalf("valid config: %v", err)
		}
		c.Server.RequestTimeout, c.Server.WriteTimeout = time.Second, 2*time.Second
		c.Upstreams = map[string]Upstream{"video": c.Upstreams["video"]}
		return *c
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"upstream timeout", func(c *Config) { u := c.Upstreams["video"]; u.Timeout = 0; c.Upstreams["video"] = u }, "upstreams.video.timeout: must be > 0"},
		{"upstream pool", func(c *Config) { u := c.Upstreams["video"]; u.MaxIdleConns = 0; c.Upstreams["video"] = u }, "upstreams.video.max_idle_conns: must be > 0"},
		{"write timeout", func(c *Config) { c.Server.WriteTimeout = time.Second }, "server.write_timeout: must be > server.request_timeout"},
		{"request timeout", func(c *Config) { c.Server.RequestTimeout = 0; c.Server.WriteTimeout = 0 }, "server.request_timeout: must be > 0"},
		{"log level", func(c *Config) { c.Log.Level = "loud" }, "log.level: must be one of"},
		{"route timeout", func(c *Config) { c.Routes = map[string]Route{"r": {Timeout: -1}} }, "routes.r.timeout: must be >= 0"},
		{"redis addr", func(c *Config) { c.Redis.Addr = "nohost" }, `redis.addr: must be host:port, got "nohost"`},
		{"redis timeouts", func(c *Config) { c.Redis.Addr, c.Redis.DialTimeout = "h:1", 0 }, "redis.dial_timeout: must be > 0"},
		{"pprof public", func(c *Config) { c.Server.PprofAddr = "0.0.0.0:6061" }, "server.pprof_addr: must be a loopback host:port"},
		{"pprof no port", func(c *Config) { c.Server.PprofAddr = "127.0.0.1" }, "server.pprof_addr: must be a loopback host:port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v; want it to contain %q", err, tc.want)
			}
		})
	}
	for _, ok := range []string{"", "127.0.0.1:6061", "localhost:0", "[::1]:6061"} {
		c := valid()
		c.Server.PprofAddr = ok
		if err := c.Validate(); err != nil {
			t.Errorf("server.pprof_addr %q: %v", ok, err)
		}
	}
	// Several problems come back together, one per line.
	c := valid()
	c.App.Name, c.Log.Format = "", "xml"
	err := c.Validate()
	if err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Fatalf("Validate() = %q; want two problems on two lines", err)
	}
}

type secretConfig struct {
	Config `mapstructure:",squash"`
	Extra  struct {
		Tokens map[string]Secret `mapstructure:"tokens"`
	} `mapstructure:"extra"`
}

func TestSecretOnlyFromEnvironment(t *testing.T) {
	t.Parallel()
	t.Run("file is rejected", func(t *testing.T) {
		t.Parallel()
		dir := confDir(t, map[string]string{
			"config.default.yaml": minimalDefault + "redis:\n  password: hunter2\n",
		})
		_, _, err := load(t, dir)
		if err == nil || !strings.Contains(err.Error(), "redis.password: secrets may only come from the environment (WINGS_REDIS__PASSWORD)") {
			t.Fatalf("err = %v; want the secret rejected, naming the key and its variable", err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error %q leaks the secret", err)
		}
	})
	t.Run("file secret inside a map is rejected", func(t *testing.T) {
		t.Parallel()
		dir := confDir(t, map[string]string{
			"config.default.yaml": minimalDefault + "extra:\n  tokens:\n    ci: hunter2\n",
		})
		var cfg secretConfig
		_, err := Load(Options{Dir: dir, Environ: []string{}}, &cfg)
		if err == nil || !strings.Contains(err.Error(), "extra.tokens.ci: secrets may only come from the environment") {
			t.Fatalf("err = %v; want the map secret rejected", err)
		}
	})
	t.Run("environment is accepted and never printed", func(t *testing.T) {
		t.Parallel()
		dir := confDir(t, map[string]string{"config.default.yaml": frameworkDefault(t)})
		cfg, res, err := load(t, dir, "WINGS_REDIS__PASSWORD=hunter2")
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Redis.Password.Reveal(); got != "hunter2" {
			t.Fatalf("Reveal() = %q; want hunter2", got)
		}
		j, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		outputs := map[string]string{
			"%v":  fmt.Sprintf("%v", cfg),
			"%+v": fmt.Sprintf("%+v", cfg),
			//lint:ignore S1025 the point is what fmt's %s verb prints
			"%s":   fmt.Sprintf("%s", cfg.Redis.Password),
			"%#v":  fmt.Sprintf("%#v", cfg),
			"%q":   fmt.Sprintf("%q", cfg.Redis.Password),
			"json": string(j),
			"res":  fmt.Sprintf("%+v", res),
		}
		for name, out := range outputs {
			if strings.Contains(out, "hunter2") {
				t.Errorf("%s prints the secret: %s", name, out)
			}
		}
		if !strings.Contains(outputs["json"], `"Password":"[REDACTED]"`) {
			t.Errorf("json = %s; want the password redacted", outputs["json"])
		}
	})
}

func TestSecretEmptyPrintsEmpty(t *testing.T) {
	t.Parallel()
	if got := fmt.Sprint(Secret("")); got != "" {
		t.Errorf("empty secret prints %q; want empty", got)
	}
}

func TestBadEnvironment(t *testing.T) {
	t.Parallel()
	dir := confDir(t, map[string]string{"config.default.yaml": minimalDefault})
	_, _, err := load(t, dir, "WINGS_ENV=dev")
	if err == nil || !strings.Contains(err.Error(), `WINGS_ENV="dev": must be one of local, test, stage, prod`) {
		t.Fatalf("err = %v; want WINGS_ENV rejected", err)
	}
}

func TestMissingDefaultFile(t *testing.T) {
	t.Parallel()
	_, _, err := load(t, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "config.default.yaml") {
		t.Fatalf("err = %v; want the missing default file named", err)
	}
}

func TestMalformedYAMLNamesFile(t *testing.T) {
	t.Parallel()
	dir := confDir(t, map[string]string{
		"config.default.yaml": minimalDefault,
		"config.test.yaml":    "server: [unclosed\n",
	})
	_, _, err := load(t, dir, "WINGS_ENV=test")
	if err == nil || !strings.Contains(err.Error(), "config.test.yaml") {
		t.Fatalf("err = %v; want the malformed file named", err)
	}
}

// appConfig stands for an application's config: the framework's sections
// plus its own, which app/ tests check strictly.
type appConfig struct {
	Config `mapstructure:",squash"`
	App    map[string]any `mapstructure:",remain"`
}

// deployEnv is what a deployment sets in the environment, as conf/ says:
// stage and prod name the company SSO and permission APIs and the secret.
var deployEnv = map[string][]string{
	"local": {},
	"test":  {},
	"stage": {"WINGS_AUTH__IDENTITY__SSO_URL=https://sso.internal", "WINGS_AUTH__PERMISSION__PERM_URL=https://perm.internal", "WINGS_AUTH__APP_SECRET=s3cret"},
	"prod":  {"WINGS_AUTH__IDENTITY__SSO_URL=https://sso.internal", "WINGS_AUTH__PERMISSION__PERM_URL=https://perm.internal", "WINGS_AUTH__APP_SECRET=s3cret"},
}

// TestRealConfigFiles loads the repository's conf/ for every environment.
func TestRealConfigFiles(t *testing.T) {
	t.Parallel()
	for _, env := range Environments {
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			var cfg appConfig
			res, err := Load(Options{Dir: "../../conf", Env: env, Environ: deployEnv[env]}, &cfg)
			if err != nil {
				t.Fatalf("conf/ for %s: %v", env, err)
			}
			if len(res.Warnings) != 0 {
				t.Errorf("warnings = %v", res.Warnings)
			}
			if cfg.Env != env {
				t.Errorf("env = %q; want %q", cfg.Env, env)
			}
			for _, name := range []string{"video", "album", "star"} {
				if _, ok := cfg.Upstreams[name]; !ok {
					t.Errorf("upstreams.%s missing", name)
				}
			}
		})
	}
}

func TestShapeConflictingVariableIsWarning(t *testing.T) {
	t.Parallel()
	dir := confDir(t, map[string]string{"config.default.yaml": frameworkDefault(t)})
	def, _, err := load(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, res, err := load(t, dir, "WINGS_SERVER=x", "WINGS_SERVER__ADDR__PORT=1", "WINGS_LOG__LEVEL__X=debug")
	if err != nil {
		t.Fatalf("Load: %v; want warnings only", err)
	}
	want := []string{
		"WINGS_LOG__LEVEL__X matches no config key",
		"WINGS_SERVER matches no config key",
		"WINGS_SERVER__ADDR__PORT matches no config key",
	}
	if fmt.Sprint(res.Warnings) != fmt.Sprint(want) {
		t.Errorf("warnings = %q; want %q", res.Warnings, want)
	}
	if cfg.Server.Addr != def.Server.Addr || cfg.Log.Level != def.Log.Level {
		t.Errorf("server.addr, log.level = %q, %q; want the file's", cfg.Server.Addr, cfg.Log.Level)
	}
}
