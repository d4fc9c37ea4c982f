// Package apptest runs a Wings application in-process for a test, over
// fake upstream teams (framework/testkit), and asserts on its answers and
// metrics in one line each:
//
//	video := testkit.Replay(t, "video", "testdata/upstreams/video.json")
//	app := apptest.Start(t, build, apptest.WithUpstreams(video))
//	app.Get(t, "/api/video/42").OK(t)
//	video.Fail(testkit.Down())
//	app.Get(t, "/api/video/42").Error(t, 502, "upstream_error")
//
// See docs/testing.md.
package apptest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/testkit"
	"github.com/wings-bff/wings/framework/wings"
)

// AppFunc builds an application on a Runtime and returns its routes: what
// a main does between wings.New and Run, e.g.
//
//	func(rt *wings.Runtime) ([]wings.Route, error) {
//		c, err := app.NewContainer(rt)
//		if err != nil {
//			return nil, err
//		}
//		return app.Routes(c), nil
//	}
type AppFunc func(rt *wings.Runtime) ([]wings.Route, error)

// Option adjusts what Start runs.
type Option func(*startOptions)

type startOptions struct {
	cfg       *config.Config
	configure []func(*config.Config)
	upstreams []*testkit.Upstream
	rtOpts    wings.Options
}

// WithConfig runs the app on cfg (by default, TestConfig()). Start changes
// only the base URLs of the upstreams passed to WithUpstreams.
func WithConfig(cfg *config.Config) Option { return func(o *startOptions) { o.cfg = cfg } }

// Configure edits the config before the Runtime is built, after the
// upstreams' base URLs are set.
func Configure(f func(*config.Config)) Option {
	return func(o *startOptions) { o.configure = append(o.configure, f) }
}

// WithUpstreams points upstreams.<name>.base_url at each fake; a name the
// config lacks is added with a 1s timeout and no retries.
func WithUpstreams(ups ...*testkit.Upstream) Option {
	return func(o *startOptions) { o.upstreams = append(o.upstreams, ups...) }
}

// WithRuntimeOptions passes opts to wings.New (auth providers, say). The
// log goes to the test's log unless opts.LogOutput is set.
func WithRuntimeOptions(opts wings.Options) Option { return func(o *startOptions) { o.rtOpts = opts } }

// TestConfig is the smallest config a Runtime runs with in a test: env
// test, logs at error level, a 2s request deadline, static auth, no Redis,
// ClickHouse or upstreams.
func TestConfig() *config.Config {
	return &config.Config{
		Env: "test", App: config.App{Name: "test"},
		Log:    config.Log{Level: "error", Format: "json"},
		Server: config.Server{RequestTimeout: 2 * time.Second, ShutdownTimeout: time.Second},
		Auth: config.Auth{
			Identity:   config.AuthIdentity{Provider: "static"},
			Permission: config.AuthPermission{Provider: "static"},
		},
	}
}

// App is an application running in-process on 127.0.0.1:0 for one test.
type App struct {
	// URL is the server's base URL, http://127.0.0.1:port.
	URL string
	// Runtime is the app's Runtime (its config, metrics, clients).
	Runtime *wings.Runtime
	client  *http.Client
}

// Start builds a Runtime from the config, lets app add its routes, and
// serves it on 127.0.0.1:0 until the test ends, when it shuts down as it
// would on SIGTERM. Any error fails the test.
func Start(t testing.TB, app AppFunc, opts ...Option) *App {
	t.Helper()
	o := startOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	cfg := o.cfg
	if cfg == nil {
		cfg = TestConfig()
	}
	for _, u := range o.upstreams {
		if cfg.Upstreams == nil {
			cfg.Upstreams = map[string]config.Upstream{}
		}
		uc, ok := cfg.Upstreams[u.Name()]
		if !ok {
			uc = config.Upstream{Timeout: time.Second, MaxIdleConns: 4}
		}
		uc.BaseURL = u.URL
		cfg.Upstreams[u.Name()] = uc
	}
	for _, f := range o.configure {
		f(cfg)
	}
	logs := &logBuffer{}
	if o.rtOpts.LogOutput == nil {
		o.rtOpts.LogOutput = logs
	}
	rt, err := wings.New(cfg, o.rtOpts)
	if err != nil {
		t.Fatalf("testkit: wings.New: %v", err)
	}
	routes, err := app(rt)
	if err != nil {
		t.Fatalf("testkit: app: %v", err)
	}
	rt.Handle(routes...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Serve(ctx, ln) }()
	a := &App{URL: "http://" + ln.Addr().String(), Runtime: rt, client: &http.Client{Timeout: 30 * time.Second}}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("testkit: app stopped with %v", err)
		}
		a.client.CloseIdleConnections()
		if t.Failed() && logs.Len() > 0 {
			t.Logf("app log:\n%s", logs)
		}
	})
	// Serve runs the start hooks before it serves; wait until it answers.
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := a.client.Get(a.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("testkit: app did not start: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("testkit: app not answering after 10s: %v", err)
		}
	}
	return a
}

// Get sends GET path (with its query) to the app; headers are name, value
// pairs.
func (a *App) Get(t testing.TB, path string, headers ...string) *Result {
	t.Helper()
	return a.Do(t, http.MethodGet, path, nil, headers...)
}

// Do sends method path with body (nil for none) to the app; headers are
// name, value pairs.
func (a *App) Do(t testing.TB, method, path string, body io.Reader, headers ...string) *Result {
	t.Helper()
	req, err := http.NewRequest(method, a.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if len(headers)%2 != 0 {
		t.Fatalf("testkit: headers must be name, value pairs; got %q", headers)
	}
	for i := 0; i < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return a.Send(t, req)
}

// Send sends req to the app; a req whose URL has no host goes to the app.
func (a *App) Send(t testing.TB, req *http.Request) *Result {
	t.Helper()
	if req.URL.Host == "" {
		u, err := req.URL.Parse(a.URL + req.URL.RequestURI())
		if err != nil {
			t.Fatal(err)
		}
		req.URL, req.Host = u, u.Host
	}
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.RequestURI(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL.RequestURI(), err)
	}
	return &Result{Request: req.Method + " " + req.URL.RequestURI(), Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// Metric returns the value of the app's metric name summed over the series
// whose labels include labels (name, value pairs): a counter's or gauge's
// value, a histogram's or summary's sample count. A metric with no such
// series is 0.
func (a *App) Metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	if len(labels)%2 != 0 {
		t.Fatalf("testkit: Metric(%s): labels must be name, value pairs; got %q", name, labels)
	}
	families, err := a.Runtime.Metrics().Gatherer().Gather()
	if err != nil {
		t.Fatalf("testkit: gather metrics: %v", err)
	}
	sum := 0.0
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, labels) {
				sum += value(m)
			}
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want []string) bool {
	for i := 0; i < len(want); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == want[i] && lp.GetValue() == want[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	case m.Summary != nil:
		return float64(m.Summary.GetSampleCount())
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// logBuffer keeps the Runtime's log, to show when the test fails. (The
// test's own log cannot take it: background work may log after the test.)
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *logBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Len()
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
