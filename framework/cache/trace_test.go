package cache_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/framework/cache"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/tracing"
	"github.com/wings-bff/wings/framework/wings"
)

// TestLookupAndRedisSpans serves a cached route with tracing on (in-memory
// exporter) and the package's real Redis as the shared layer: each
// request's trace has a "cache response" span under the server span with
// the lookup's result, miss, then hit, then stale (past the TTL, within
// grace), and the miss's Redis commands as client spans of go-redis's
// OpenTelemetry hook, named by command, without their arguments.
func TestLookupAndRedisSpans(t *testing.T) {
	cfg := &config.Config{
		Env:     "test",
		App:     config.App{Name: uniq(t)},
		Log:     config.Log{Level: "error", Format: "json"},
		Server:  config.Server{RequestTimeout: 2 * time.Second, ShutdownTimeout: time.Second},
		Cache:   config.Cache{Responses: true, L1MaxEntries: 1000, L1MaxBytes: 1 << 20},
		Tracing: config.Tracing{Enabled: true, SampleRatio: 1},
		Redis: config.Redis{Addr: redisAddr, DialTimeout: 200 * time.Millisecond, ReadTimeout: 100 * time.Millisecond,
			WriteTimeout: 100 * time.Millisecond, PoolSize: 4},
	}
	cfg.Auth.Identity.Provider, cfg.Auth.Permission.Provider = "static", "static"
	exp := tracetest.NewInMemoryExporter()
	rt, err := wings.New(cfg, wings.Options{Tracing: tracing.Options{Exporter: exp, Syncer: true}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cache.New(rt); err != nil {
		t.Fatal(err)
	}
	rt.Handle(wings.Route{Method: http.MethodGet, Path: "/v/:id", Name: "v", Cache: &wings.CacheOptions{TTL: 50 * time.Millisecond, Grace: 5 * time.Second},
		Handler: func(c echo.Context) error { return wings.JSON(c, map[string]string{"id": c.Param("id")}) }})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = rt.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	get := func(want string) []tracetest.SpanStub {
		t.Helper()
		exp.Reset()
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v/1", nil))
		if w.Code != http.StatusOK || w.Header().Get("X-Cache") != want {
			t.Fatalf("GET /v/1: %d X-Cache %q; want 200 %s", w.Code, w.Header().Get("X-Cache"), want)
		}
		return exp.GetSpans()
	}
	for _, step := range []struct {
		xcache, result string
		sleep          time.Duration // before the request: past the TTL
	}{{"MISS", "miss", 0}, {"HIT", "hit", 0}, {"STALE", "stale", 80 * time.Millisecond}} {
		time.Sleep(step.sleep)
		spans := get(step.xcache)
		var server, lookup *tracetest.SpanStub
		var redis []tracetest.SpanStub
		for i, s := range spans {
			switch {
			case s.Name == "GET /v/:id":
				server = &spans[i]
			case s.Name == "cache response":
				lookup = &spans[i]
			case value(s.Attributes, "db.system") == "redis" || value(s.Attributes, "db.system.name") == "redis":
				redis = append(redis, s)
			}
		}
		if server == nil || lookup == nil {
			t.Fatalf("%s: spans %v; want the server span and a cache response span", step.xcache, names(spans))
		}
		if lookup.Parent.SpanID() != server.SpanContext.SpanID() {
			t.Errorf("%s: the lookup's parent is %s; want the server span", step.xcache, lookup.Parent.SpanID())
		}
		if got := value(lookup.Attributes, "wings.cache.result"); got != step.result {
			t.Errorf("%s: wings.cache.result = %q; want %q", step.xcache, got, step.result)
		}
		if step.result != "miss" {
			continue
		}
		// A miss reads Redis (the shared layer) before loading, and writes
		// the loaded answer there.
		// (Connection set-up, "redis.dial" and the handshake, is traced
		// on its own, outside any request.)
		var inTrace []string
		for _, s := range redis {
			if s.SpanContext.TraceID() != server.SpanContext.TraceID() {
				continue
			}
			inTrace = append(inTrace, s.Name)
			if s.SpanKind != trace.SpanKindClient {
				t.Errorf("redis span %q: kind %v; want client", s.Name, s.SpanKind)
			}
			if st := value(s.Attributes, "db.statement"); st != "" {
				t.Errorf("redis span %q carries its statement %q; want none", s.Name, st)
			}
		}
		if !slices.Contains(inTrace, "get") || !slices.ContainsFunc(inTrace, func(n string) bool { return strings.Contains(n, "set") }) {
			t.Errorf("miss: Redis spans in the request's trace %v; want the read and the write (all spans: %v)", inTrace, names(spans))
		}
		t.Logf("miss: Redis spans %v", inTrace)
	}
}

func value(kvs []attribute.KeyValue, key string) string {
	for _, kv := range kvs {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

func names(spans []tracetest.SpanStub) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
