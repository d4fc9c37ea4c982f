package wings_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wings-bff/wings/framework/auth"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/tracing"
	"github.com/wings-bff/wings/framework/wings"
)

// TestSSOCallCarriesTraceparent: with tracing on, the session check a
// login-only route makes reaches a loopback SSO with the W3C traceparent
// of the request's trace (the caller's trace id, a span of this server as
// parent), and tracestate passed on.
func TestSSOCallCarriesTraceparent(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []http.Header
	sso := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(auth.SessionResponse{Valid: true, User: &auth.User{ID: "u-1", Name: "One"}})
	}))
	defer sso.Close()
	cfg := &config.Config{
		Env:     "test",
		Log:     config.Log{Level: "warn", Format: "json"},
		Server:  config.Server{RequestTimeout: 3 * time.Second, ShutdownTimeout: time.Second},
		Tracing: config.Tracing{Enabled: true, SampleRatio: 0},
		Auth: config.Auth{
			AppKey: "wings", AppSecret: "s3cret",
			Identity:   config.AuthIdentity{Provider: "sso_http", SSOURL: sso.URL, Timeout: time.Second, CacheTTL: time.Minute, NegativeTTL: time.Second, CacheSize: 16},
			Permission: config.AuthPermission{Provider: "static"},
		},
	}
	exp := tracetest.NewInMemoryExporter()
	rt, err := wings.New(cfg, wings.Options{LogOutput: io.Discard, Tracing: tracing.Options{Exporter: exp, Syncer: true}})
	if err != nil {
		t.Fatal(err)
	}
	rt.Handle(wings.Route{Method: http.MethodGet, Path: "/me", Name: "me", Handler: wings.Me, Auth: auth.LoginOnly})

	const caller = "4bf92f3577b34da6a3ce929d0e0e4736"
	req := httptest.NewRequest(http.MethodGet, "/me", nil)
	req.Header.Set("Authorization", "Bearer tok-1")
	req.Header.Set("traceparent", "00-"+caller+"-00f067aa0ba902b7-01")
	req.Header.Set("tracestate", "vendor=x")
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, req)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"u-1"`) {
		t.Fatalf("GET /me: %d %s; want 200 with the SSO's user", w.Code, w.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 {
		t.Fatalf("SSO calls: %d; want 1", len(seen))
	}
	tp := strings.Split(seen[0].Get("traceparent"), "-")
	if len(tp) != 4 || tp[1] != caller || tp[3] != "01" {
		t.Fatalf("SSO traceparent %q; want version-%s-<span>-01", seen[0].Get("traceparent"), caller)
	}
	var server string
	for _, s := range exp.GetSpans() {
		if s.Name == "GET /me" {
			server = s.SpanContext.SpanID().String()
		}
	}
	if tp[2] != server {
		t.Errorf("SSO traceparent parent span %s; want the server span %s", tp[2], server)
	}
	if got := seen[0].Get("tracestate"); got != "vendor=x" {
		t.Errorf("SSO tracestate %q; want vendor=x", got)
	}
}
