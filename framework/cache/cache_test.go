package cache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/cache"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/reqctx"
	"github.com/wings-bff/wings/framework/testkit"
	"github.com/wings-bff/wings/framework/wings"
)

// redisPort is this package's own redis-server, started by TestMain through
// scripts/svc.sh and stopped after the tests.
const redisPort = "6395"

var redisAddr = "127.0.0.1:" + redisPort

func TestMain(m *testing.M) {
	svc := func(cmd string) error {
		c := exec.Command("../../scripts/svc.sh", cmd, "redis", redisPort)
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		return c.Run()
	}
	if err := svc("start"); err != nil {
		fmt.Fprintln(os.Stderr, "cannot start redis-server:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = svc("stop")
	os.Exit(code)
}

type env struct {
	rt    *wings.Runtime
	cache *cache.Cache
	calls atomic.Int64
	fail  atomic.Value // error the handler returns, if any
	boom  atomic.Bool  // the handler panics
	delay time.Duration
}

// newEnv builds a Runtime (with Redis at addr unless empty) whose app name
// (so Redis namespace) is ns, a Cache, and the routes:
//
//	GET /v/:id      public, TTL ttl, reads the query parameters a and b
//	GET /p/:id      Private; X-Scope sets the scope like an auth middleware
//	GET /open/:id   public, not cached
//	GET /q/:id      public, TTL ttl, reads event; answers the query it saw
func newEnv(t *testing.T, ns, addr string, p cache.Policy, mut ...func(*config.Config)) *env {
	t.Helper()
	cfg := &config.Config{
		Env:    "test",
		App:    config.App{Name: ns},
		Log:    config.Log{Level: "error", Format: "json"},
		Server: config.Server{RequestTimeout: 2 * time.Second, ShutdownTimeout: time.Second},
		Cache:  config.Cache{Responses: true, L1MaxEntries: 1000, L1MaxBytes: 1 << 20, IgnoreParams: []string{"utm_*", "spm"}},
		Admin:  config.Admin{Token: "s3cret"},
	}
	cfg.Auth.Identity.Provider, cfg.Auth.Permission.Provider = "static", "static"
	if addr != "" {
		cfg.Redis = config.Redis{Addr: addr, DialTimeout: 200 * time.Millisecond, ReadTimeout: 100 * time.Millisecond,
			WriteTimeout: 100 * time.Millisecond, PoolSize: 16}
	}
	for _, f := range mut {
		f(cfg)
	}
	rt, err := wings.New(cfg, wings.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(rt)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{rt: rt, cache: c}
	h := func(ec echo.Context) error {
		n := e.calls.Add(1)
		if e.delay > 0 {
			time.Sleep(e.delay)
		}
		if err, _ := e.fail.Load().(error); err != nil {
			return err
		}
		if e.boom.Load() {
			panic("handler bug")
		}
		return wings.JSON(ec, map[string]any{"id": ec.Param("id"), "n": n, "scope": reqctx.Scope(ec.Request().Context())})
	}
	opts := &wings.CacheOptions{TTL: p.TTL, Grace: p.Grace, StaleIfError: p.StaleIfError}
	scope := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			if s := ec.Request().Header.Get("X-Scope"); s != "" {
				ec.SetRequest(ec.Request().WithContext(reqctx.WithScope(ec.Request().Context(), s)))
			}
			return next(ec)
		}
	}
	seen := func(ec echo.Context) error {
		e.calls.Add(1)
		return wings.JSON(ec, map[string]any{"event": ec.QueryParam("event"), "query": ec.QueryParams().Encode()})
	}
	rt.Handle(
		wings.Route{Method: http.MethodGet, Path: "/v/:id", Name: "v", Handler: h, Query: []string{"a", "b"}, Cache: opts},
		wings.Route{Method: http.MethodGet, Path: "/q/:id", Name: "q", Handler: seen, Query: []string{"event"}, Cache: opts},
		wings.Route{Method: http.MethodGet, Path: "/p/:id", Name: "p", Handler: h, Middleware: []echo.MiddlewareFunc{scope},
			Cache: &wings.CacheOptions{TTL: p.TTL, Private: true}},
		wings.Route{Method: http.MethodGet, Path: "/open/:id", Name: "open", Handler: h},
	)
	// Serve on a listener so that cleanup runs the stop hooks (closing Redis
	// and ending the cache's background work).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = rt.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (e *env) get(t testing.TB, url string, headers ...string) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	e.rt.ServeHTTP(w, req)
	return answer{w.Code, w.Header(), w.Body.String()}
}

func (e *env) counter(layer, result string) float64 {
	mfs, _ := e.rt.Metrics().Gatherer().Gather()
	for _, mf := range mfs {
		if mf.GetName() != "wings_cache_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var l, r string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "layer":
					l = lp.GetValue()
				case "result":
					r = lp.GetValue()
				}
			}
			if l == layer && r == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func uniq(t *testing.T) string {
	return strings.NewReplacer("/", "-", " ", "_").Replace(t.Name()) + fmt.Sprint(time.Now().UnixNano())
}

func TestJSONPAndTimestampHitThePlainJSONEntry(t *testing.T) {
	e := newEnv(t, uniq(t), redisAddr, cache.Policy{TTL: time.Minute})
	a := e.get(t, "/v/42")
	if a.status != 200 || a.header.Get("X-Cache") != "MISS" || a.header.Get("Age") != "0" {
		t.Fatalf("first: %d %q age %q %s", a.status, a.header.Get("X-Cache"), a.header.Get("Age"), a.body)
	}
	want := `{"code":0,"data":{"id":"42","n":1,"scope":""}}`
	if a.body != want {
		t.Fatalf("body %s; want %s", a.body, want)
	}
	for i, u := range []string{
		"/v/42?callback=jQuery123&_=1700000000",
		"/v/42?callback=cb2&_=1700000001",
		"/v/42?_callback=x.y&t=5&timestamp=6&utm_source=z",
	} {
		a := e.get(t, u)
		cb := []string{"jQuery123", "cb2", "x.y"}[i]
		if a.header.Get("X-Cache") != "HIT" {
			t.Errorf("%s: X-Cache %q; want HIT", u, a.header.Get("X-Cache"))
		}
		if w := "/**/" + cb + "(" + want + ");"; a.body != w {
			t.Errorf("%s: body %s; want %s", u, a.body, w)
		}
		if ct := a.header.Get("Content-Type"); ct != "application/javascript; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", u, ct)
		}
	}
	// fields is applied per request to the cached data.
	a = e.get(t, "/v/42?fields=id&callback=f")
	if a.body != `/**/f({"code":0,"data":{"id":"42"}});` || a.header.Get("X-Cache") != "HIT" {
		t.Errorf("fields: %q %s", a.header.Get("X-Cache"), a.body)
	}
	// Declared parameters and other paths are other entries; order does
	// not matter, and undeclared parameters do not count.
	if a := e.get(t, "/v/42?b=2&a=1"); a.header.Get("X-Cache") != "MISS" {
		t.Errorf("new params: %q", a.header.Get("X-Cache"))
	}
	if a := e.get(t, "/v/42?a=1&b=2&_=9&x=random"); a.header.Get("X-Cache") != "HIT" {
		t.Errorf("reordered params: %q", a.header.Get("X-Cache"))
	}
	if a := e.get(t, "/v/43"); a.header.Get("X-Cache") != "MISS" || !strings.Contains(a.body, `"id":"43"`) {
		t.Errorf("other id: %q %s", a.header.Get("X-Cache"), a.body)
	}
	if n := e.calls.Load(); n != 3 {
		t.Errorf("handler calls = %d; want 3", n)
	}
	// Uncached routes carry no X-Cache.
	if a := e.get(t, "/open/1"); a.header.Get("X-Cache") != "" {
		t.Errorf("uncached route has X-Cache %q", a.header.Get("X-Cache"))
	}
}

// TestKeysHoldOnlyDeclaredParams: undeclared parameters neither make
// entries nor reach the handler, and a declared one is keyed by its first
// value, the one c.QueryParam reads. cache.ignore_params cannot drop a
// declared parameter (it used to drop the dashboards' from).
func TestKeysHoldOnlyDeclaredParams(t *testing.T) {
	e := newEnv(t, uniq(t), redisAddr, cache.Policy{TTL: time.Minute}, func(c *config.Config) {
		c.Cache.IgnoreParams = append(c.Cache.IgnoreParams, "event")
	})
	a := e.get(t, "/q/1?x=1")
	if want := `{"code":0,"data":{"event":"","query":""}}`; a.status != 200 || a.body != want || a.header.Get("X-Cache") != "MISS" {
		t.Fatalf("first: %d %q %s; want MISS %s", a.status, a.header.Get("X-Cache"), a.body, want)
	}
	for i := range 20 {
		u := fmt.Sprintf("/q/1?x=%d&utm_source=%d&_=%d", i+2, i, i)
		if a := e.get(t, u); a.header.Get("X-Cache") != "HIT" {
			t.Fatalf("%s: X-Cache %q; want HIT", u, a.header.Get("X-Cache"))
		}
	}
	tests := []struct{ url, cache, body string }{
		{"/q/1?event=order&event=view&x=1", "MISS", `{"event":"order","query":"event=order"}`},
		{"/q/1?event=view&event=order", "MISS", `{"event":"view","query":"event=view"}`},
		{"/q/1?y=2&event=order", "HIT", `{"event":"order","query":"event=order"}`},
		{"/q/1?event=&event=view", "HIT", `{"event":"","query":""}`},
		{"/q/1?event=a;b&event=view", "HIT", `{"event":"view","query":"event=view"}`},
	}
	for _, tc := range tests {
		a := e.get(t, tc.url)
		if want := `{"code":0,"data":` + tc.body + `}`; a.body != want || a.header.Get("X-Cache") != tc.cache {
			t.Errorf("%s: %q %s; want %s %s", tc.url, a.header.Get("X-Cache"), a.body, tc.cache, want)
		}
	}
	if n := e.calls.Load(); n != 3 {
		t.Errorf("handler calls = %d; want 3", n)
	}
}

func TestPrivateAnswersNeverCrossScopes(t *testing.T) {
	e := newEnv(t, uniq(t), redisAddr, cache.Policy{TTL: time.Minute})
	x := e.get(t, "/p/1", "X-Scope", "bizline:x")
	y := e.get(t, "/p/1", "X-Scope", "bizline:y")
	if !strings.Contains(x.body, `"scope":"bizline:x"`) || !strings.Contains(y.body, `"scope":"bizline:y"`) {
		t.Fatalf("x=%s y=%s", x.body, y.body)
	}
	if y.header.Get("X-Cache") != "MISS" {
		t.Errorf("scope y got %q: would be x's answer", y.header.Get("X-Cache"))
	}
	for range 3 {
		for _, s := range []string{"bizline:x", "bizline:y"} {
			a := e.get(t, "/p/1?_=1", "X-Scope", s)
			if !strings.Contains(a.body, `"scope":"`+s+`"`) || a.header.Get("X-Cache") != "HIT" {
				t.Fatalf("scope %s got %q %s", s, a.header.Get("X-Cache"), a.body)
			}
		}
	}
	// No scope on a private route: never cached, never served from cache.
	before := e.calls.Load()
	for range 2 {
		a := e.get(t, "/p/1")
		if a.header.Get("X-Cache") != "" || !strings.Contains(a.body, `"scope":""`) {
			t.Fatalf("no scope: %q %s", a.header.Get("X-Cache"), a.body)
		}
	}
	if e.calls.Load()-before != 2 {
		t.Errorf("no-scope requests reached the handler %d times; want 2", e.calls.Load()-before)
	}
	// A public route still keys by scope when the context carries one.
	e.get(t, "/v/7", "X-Scope", "bizline:x") // no scope middleware there: plain public entry
	if a := e.get(t, "/v/7"); a.header.Get("X-Cache") != "HIT" {
		t.Errorf("public route: %q", a.header.Get("X-Cache"))
	}
}

func TestConcurrentMissesMakeOneCall(t *testing.T) {
	e := newEnv(t, uniq(t), redisAddr, cache.Policy{TTL: time.Minute})
	e.delay = 100 * time.Millisecond
	var wg sync.WaitGroup
	var bad atomic.Int64
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := e.get(t, fmt.Sprintf("/v/5?callback=cb%d&_=%d", i, i))
			if a.status != 200 || !strings.HasPrefix(a.body, fmt.Sprintf("/**/cb%d(", i)) {
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := e.calls.Load(); n != 1 {
		t.Errorf("handler calls = %d; want 1", n)
	}
	if bad.Load() != 0 {
		t.Errorf("%d answers were wrong", bad.Load())
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	e := newEnv(t, uniq(t), redisAddr, cache.Policy{TTL: 50 * time.Millisecond, Grace: 5 * time.Second})
	e.get(t, "/v/1")
	time.Sleep(80 * time.Millisecond)
	e.delay = 100 * time.Millisecond
	start := time.Now()
	a := e.get(t, "/v/1")
	if a.header.Get("X-Cache") != "STALE" || !strings.Contains(a.body, `"n":1`) {
		t.Fatalf("in grace: %q %s", a.header.Get("X-Cache"), a.body)
	}
	if d := time.Since(start); d > 80*time.Millisecond {
		t.Errorf("stale answer waited for the refresh (%s)", d)
	}
	for range 5 { // more stale reads during the refresh start no other refresh
		e.get(t, "/v/1")
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		a = e.get(t, "/v/1")
		if a.header.Get("X-Cache") == "HIT" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background refresh never landed: %q %s", a.header.Get("X-Cache"), a.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(a.body, `"n":2`) || e.calls.Load() != 2 {
		t.Errorf("after refresh: %s, calls %d; want n=2 from exactly one refresh", a.body, e.calls.Load())
	}
}

func TestStaleIfError(t *testing.T) {
	e := newEnv(t, uniq(t), redisAddr, cache.Policy{TTL: 30 * time.Millisecond, StaleIfError: time.Minute})
	e.get(t, "/v/1")
	time.Sleep(50 * time.Millisecond)
	e.fail.Store(apperr.Upstream("video", errors.New("boom")))
	a := e.get(t, "/v/1?callback=cb")
	if a.status != 200 || a.header.Get("X-Cache") != "STALE" || !strings.HasPrefix(a.body, `/**/cb({"code":0,"data":{"id":"1","n":1`) {
		t.Fatalf("stale-if-error: %d %q %s", a.status, a.header.Get("X-Cache"), a.body)
	}
	// A caller error is not hidden by a stale entry.
	e.fail.Store(apperr.NotFound("video 1 not found"))
	if a := e.get(t, "/v/1"); a.status != 404 {
		t.Errorf("not_found: %d %s", a.status, a.body)
	}
	// Nothing cached: the error goes through.
	e.fail.Store(apperr.Upstream("video", errors.New("boom")))
	if a := e.get(t, "/v/2"); a.status != 502 {
		t.Errorf("no entry: %d %s", a.status, a.body)
	}
	if e.counter("origin", "stale") != 1 {
		t.Errorf("origin stale = %v; want 1", e.counter("origin", "stale"))
	}
}

func TestRedisSharedAcrossInstancesAndPurge(t *testing.T) {
	ns := uniq(t)
	a := newEnv(t, ns, redisAddr, cache.Policy{TTL: time.Minute})
	b := newEnv(t, ns, redisAddr, cache.Policy{TTL: time.Minute})
	if r := a.get(t, "/v/42"); r.header.Get("X-Cache") != "MISS" {
		t.Fatalf("a: %q", r.header.Get("X-Cache"))
	}
	r := b.get(t, "/v/42?callback=cb")
	if r.header.Get("X-Cache") != "HIT" || !strings.Contains(r.body, `"n":1`) || b.calls.Load() != 0 {
		t.Fatalf("b should hit a's entry in redis: %q %s calls %d", r.header.Get("X-Cache"), r.body, b.calls.Load())
	}
	if b.counter("redis", "hit") != 1 {
		t.Errorf("redis hit = %v", b.counter("redis", "hit"))
	}
	a.get(t, "/v/42?a=1")
	a.get(t, "/v/420")
	b.get(t, "/v/420") // b's L1 now holds /v/42 and /v/420

	// Exact path: every variant of /v/42 goes, /v/420 stays, on both instances.
	res, err := a.cache.Purge(context.Background(), "/v/42")
	if err != nil || res.Redis != 2 {
		t.Fatalf("purge /v/42: %+v %v; want 2 redis keys", res, err)
	}
	waitFor(t, func() bool { return b.get(t, "/v/42").header.Get("X-Cache") == "MISS" })
	if r := b.get(t, "/v/420"); r.header.Get("X-Cache") != "HIT" {
		t.Errorf("/v/420 purged with /v/42: %q", r.header.Get("X-Cache"))
	}
	// Prefix through the admin endpoint: token required.
	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer nope", 401}, {"Bearer s3cret", 200}} {
		req := httptest.NewRequest(http.MethodPost, "/admin/cache/purge", strings.NewReader(`{"target":"/v/"}`))
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		a.rt.ServeHTTP(w, req)
		if w.Code != tc.want {
			t.Errorf("purge with %q: %d %s; want %d", tc.auth, w.Code, w.Body, tc.want)
		}
	}
	waitFor(t, func() bool { return b.get(t, "/v/420").header.Get("X-Cache") == "MISS" })
}

func TestAdminRefusesWithoutToken(t *testing.T) {
	e := newEnv(t, uniq(t), "", cache.Policy{TTL: time.Minute}, func(c *config.Config) { c.Admin.Token = "" })
	req := httptest.NewRequest(http.MethodPost, "/admin/cache/purge?target=/v/", nil)
	req.Header.Set("Authorization", "Bearer ")
	w := httptest.NewRecorder()
	e.rt.ServeHTTP(w, req)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "WINGS_ADMIN__TOKEN") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

func TestRedisUnreachableCostsNothing(t *testing.T) {
	dead := testkit.ClosedAddr(t)
	e := newEnv(t, uniq(t), dead, cache.Policy{TTL: time.Minute})
	start := time.Now()
	for i := range 50 {
		a := e.get(t, fmt.Sprintf("/v/%d", i%5))
		if a.status != 200 {
			t.Fatalf("%d %s", a.status, a.body)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("50 requests took %s with redis down", d)
	}
	if e.calls.Load() != 5 {
		t.Errorf("L1 should still cache: calls %d; want 5", e.calls.Load())
	}
	if e.counter("redis", "error") == 0 {
		t.Error("no redis error counted")
	}
}

func TestL1IsBounded(t *testing.T) {
	e := newEnv(t, uniq(t), "", cache.Policy{TTL: time.Minute}, func(c *config.Config) {
		c.Cache.L1MaxEntries, c.Cache.L1MaxBytes = 20, 8<<10
	})
	for i := range 200 {
		e.get(t, fmt.Sprintf("/v/%d", i))
	}
	entries := e.gauge("wings_cache_l1_entries")
	size := e.gauge("wings_cache_l1_bytes")
	if entries < 1 || entries > 20 || size > 8<<10 || size <= 0 {
		t.Errorf("entries %v bytes %v; want <= 20 and <= 8192", entries, size)
	}
	if a := e.get(t, "/v/199"); a.header.Get("X-Cache") != "HIT" {
		t.Errorf("most recent entry evicted: %q", a.header.Get("X-Cache"))
	}
}

func (e *env) gauge(name string) float64 {
	mfs, _ := e.rt.Metrics().Gatherer().Gather()
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 3s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type overview struct {
	Biz   string `json:"biz"`
	Total int    `json:"total"`
}

func TestGetOrLoadJSON(t *testing.T) {
	e := newEnv(t, uniq(t), redisAddr, cache.Policy{})
	var loads atomic.Int64
	load := func(ctx context.Context) (*overview, error) {
		loads.Add(1)
		time.Sleep(30 * time.Millisecond)
		return &overview{Biz: "video", Total: int(loads.Load())}, nil
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := cache.GetOrLoadJSON(context.Background(), e.cache, "dash:overview:video", 50*time.Millisecond, load)
			if err != nil || v.Total != 1 {
				t.Errorf("got %+v %v", v, err)
			}
		}()
	}
	wg.Wait()
	if loads.Load() != 1 {
		t.Fatalf("loads = %d; want 1", loads.Load())
	}
	// Past its TTL the loader fails: the last value is returned.
	time.Sleep(60 * time.Millisecond)
	v, err := cache.GetOrLoadJSON(context.Background(), e.cache, "dash:overview:video", 50*time.Millisecond,
		func(context.Context) (*overview, error) { return nil, errors.New("clickhouse down") })
	if err != nil || v.Total != 1 {
		t.Errorf("stale-if-error: %+v %v", v, err)
	}
	// Delete: the next call loads again.
	if err := e.cache.Delete(context.Background(), "dash:overview:video"); err != nil {
		t.Fatal(err)
	}
	v, err = cache.GetOrLoadJSON(context.Background(), e.cache, "dash:overview:video", time.Minute, load)
	if err != nil || v.Total != 2 {
		t.Errorf("after delete: %+v %v", v, err)
	}
	raw, _ := json.Marshal(v)
	if string(raw) != `{"biz":"video","total":2}` {
		t.Errorf("%s", raw)
	}
}

// panics is wings_panics_total{where}.
func (e *env) panics(where string) float64 {
	mfs, _ := e.rt.Metrics().Gatherer().Gather()
	for _, mf := range mfs {
		if mf.GetName() != "wings_panics_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == where {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// A handler panicking on a miss runs inside the cache's singleflight, out of
// the Recover middleware's reach: it must fail its request, not the process.
func TestPanicOnMissIsInternalError(t *testing.T) {
	e := newEnv(t, uniq(t), "", cache.Policy{TTL: time.Minute})
	e.boom.Store(true)
	a := e.get(t, "/v/1")
	if a.status != 500 || !strings.Contains(a.body, `"error":"internal"`) || strings.Contains(a.body, "handler bug") {
		t.Fatalf("panic on a miss: got %d %s; want 500 internal, no panic text", a.status, a.body)
	}
	if n := e.panics("cache_load"); n != 1 {
		t.Errorf("wings_panics_total{where=cache_load} = %v; want 1", n)
	}
	e.boom.Store(false)
	if a := e.get(t, "/v/1"); a.status != 200 || a.header.Get("X-Cache") != "MISS" {
		t.Errorf("next request: got %d %q %s; want 200 MISS (a panic is never cached)", a.status, a.header.Get("X-Cache"), a.body)
	}
}

// A panic in a background refresh (nobody waits for it) is logged and
// counted; the stale entry keeps being served and a later refresh lands.
func TestPanicInBackgroundRefresh(t *testing.T) {
	e := newEnv(t, uniq(t), "", cache.Policy{TTL: 30 * time.Millisecond, Grace: time.Minute})
	e.get(t, "/v/1")
	time.Sleep(50 * time.Millisecond)
	e.boom.Store(true)
	if a := e.get(t, "/v/1"); a.status != 200 || a.header.Get("X-Cache") != "STALE" || !strings.Contains(a.body, `"n":1`) {
		t.Fatalf("in grace: got %d %q %s; want the stale entry", a.status, a.header.Get("X-Cache"), a.body)
	}
	waitFor(t, func() bool { return e.panics("cache_refresh") == 1 })
	e.boom.Store(false)
	waitFor(t, func() bool { return e.get(t, "/v/1").header.Get("X-Cache") == "HIT" })
}
