package wings_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/wings"
)

func newRequest(method, target string) *http.Request { return httptest.NewRequest(method, target, nil) }

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// randomIP is a random public-looking IPv4 address (100.64.0.0/10) for a spoofed
// X-Forwarded-For.
func randomIP(t *testing.T) string {
	t.Helper()
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("100.%d.%d.%d", b[0]&63|64, b[1], b[2])
}

// TestRateLimitForwardedFor: with routes.video_detail.rate_limit.rps=5, 30
// quick requests from one client are mostly refused (429) even when each
// carries a different X-Forwarded-For, unless they come through a trusted
// proxy, where X-Forwarded-For names the client and distinct clients get
// distinct buckets.
func TestRateLimitForwardedFor(t *testing.T) {
	t.Parallel()
	const nginx, client = "10.0.0.11", "198.51.100.7"
	tests := []struct {
		name    string
		trusted []string
		peer    string
		xff     func() string
		want429 func(n int) bool
		explain string
	}{
		{"untrusted peer, random XFF each", nil, client, func() string { return randomIP(t) }, func(n int) bool { return n >= 15 }, ">= 15 (one bucket: the peer; 25 when the loop takes no time)"},
		{"loopback trusted, peer elsewhere, random XFF", []string{"127.0.0.1/32", "::1/128"}, client, func() string { return randomIP(t) }, func(n int) bool { return n >= 15 }, ">= 15"},
		{"trusted proxy, one client", []string{"10.0.0.0/8"}, nginx, func() string { return client }, func(n int) bool { return n >= 15 }, ">= 15"},
		{"trusted proxy, spoofed hop before the client", []string{"10.0.0.0/8"}, nginx, func() string { return randomIP(t) + ", " + client }, func(n int) bool { return n >= 15 }, ">= 15 (the client is the nearest untrusted hop)"},
		{"trusted proxy, distinct clients", []string{"10.0.0.0/8"}, nginx, func() string { return randomIP(t) }, func(n int) bool { return n == 0 }, "0 (a bucket each)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rt, _ := newRuntime(t, func(c *config.Config) {
				c.Server.TrustedProxies = tc.trusted
				c.Routes = map[string]config.Route{"video_detail": {RateLimit: config.RateLimit{RPS: 5}}}
			}, wings.Route{Method: http.MethodGet, Path: "/api/video/:id", Name: "video_detail", Handler: func(c echo.Context) error { return wings.JSON(c, 1) }})
			n429 := 0
			for range 30 {
				req := newRequest(http.MethodGet, "/api/video/42")
				req.RemoteAddr = tc.peer + ":40000"
				req.Header.Set("X-Forwarded-For", tc.xff())
				w := serve(rt, req)
				switch w.Code {
				case http.StatusTooManyRequests:
					n429++
				case http.StatusOK:
				default:
					t.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			if !tc.want429(n429) {
				t.Errorf("%d of 30 answers 429; want %s", n429, tc.explain)
			}
		})
	}
}

// TestRealIP: the client address every consumer of c.RealIP sees.
func TestRealIP(t *testing.T) {
	t.Parallel()
	rt, _ := newRuntime(t, func(c *config.Config) { c.Server.TrustedProxies = []string{"10.0.0.0/8", "127.0.0.1/32"} },
		wings.Route{Method: http.MethodGet, Path: "/ip", Handler: func(c echo.Context) error { return c.String(http.StatusOK, c.RealIP()) }})
	tests := []struct{ peer, xff, realIP, want string }{
		{"203.0.113.5:1", "", "", "203.0.113.5"},
		{"203.0.113.5:1", "1.2.3.4", "1.2.3.4", "203.0.113.5"},
		{"10.0.0.11:1", "", "", "10.0.0.11"},
		{"10.0.0.11:1", "198.51.100.7", "", "198.51.100.7"},
		{"10.0.0.11:1", "1.2.3.4, 198.51.100.7", "", "198.51.100.7"},
		{"127.0.0.1:1", "1.2.3.4, 198.51.100.7, 10.0.0.12", "", "198.51.100.7"},
		{"10.0.0.11:1", "not-an-ip", "", "10.0.0.11"},
		{"10.0.0.11:1", "", "1.2.3.4", "10.0.0.11"}, // X-Real-IP is not read
	}
	for _, tc := range tests {
		req := newRequest(http.MethodGet, "/ip")
		req.RemoteAddr = tc.peer
		if tc.xff != "" {
			req.Header.Set("X-Forwarded-For", tc.xff)
		}
		if tc.realIP != "" {
			req.Header.Set("X-Real-IP", tc.realIP)
		}
		if got := serve(rt, req).Body.String(); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q, X-Real-IP %q: RealIP = %q; want %q", tc.peer, tc.xff, tc.realIP, got, tc.want)
		}
	}
}

// TestPrivateAnswersNoStore: every answer of a login-required route, a
// refusal included, says Cache-Control: private, no-store; public ones do
// not.
func TestPrivateAnswersNoStore(t *testing.T) {
	t.Parallel()
	rt, _ := newRuntime(t, func(c *config.Config) {
		c.Auth.Static.Users = map[string]config.AuthStaticUser{"u1": {Token: "tok-1", Grants: []string{"bizline:video"}}}
	},
		wings.Route{Method: http.MethodGet, Path: "/dash/:biz", Auth: "bizline:{biz}", Handler: func(c echo.Context) error { return wings.JSON(c, 1) }},
		wings.Route{Method: http.MethodGet, Path: "/public", Handler: func(c echo.Context) error { return wings.JSON(c, 1) }},
	)
	tests := []struct {
		target, token string
		code          int
		cacheControl  string
	}{
		{"/dash/video", "tok-1", 200, "private, no-store"},
		{"/dash/video?callback=cb", "tok-1", 400, "private, no-store"},
		{"/dash/music", "tok-1", 403, "private, no-store"},
		{"/dash/video", "", 401, "private, no-store"},
		{"/public", "tok-1", 200, ""},
	}
	for _, tc := range tests {
		var h []string
		if tc.token != "" {
			h = []string{"Authorization", "Bearer " + tc.token}
		}
		w := do(rt, http.MethodGet, tc.target, h...)
		if w.Code != tc.code || w.Header().Get("Cache-Control") != tc.cacheControl {
			t.Errorf("GET %s: %d, Cache-Control %q; want %d, %q", tc.target, w.Code, w.Header().Get("Cache-Control"), tc.code, tc.cacheControl)
		}
	}
}

// TestReadyzHidesCauses: /readyz names the failing dependency and keeps
// the cause (host names, addresses, dial errors) for the log.
func TestReadyzHidesCauses(t *testing.T) {
	t.Parallel()
	rt, logs := newRuntime(t, func(c *config.Config) {
		// Port 0 is never listened on: the dial is refused.
		c.Upstreams = map[string]config.Upstream{"video": {BaseURL: "http://127.0.0.1:0", Timeout: time.Second, MaxIdleConns: 1}}
	})
	rt.AddCheck(wings.Check{Name: "redis", Critical: true, Fn: func(context.Context) error {
		return errors.New("dial tcp redis-7.internal.example:6379: connect: connection refused")
	}})
	w := do(rt, http.MethodGet, "/readyz")
	body := w.Body.String()
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz: %d; want 503", w.Code)
	}
	for _, want := range []string{`"redis":{"ok":false,"critical":true,"error":"unavailable"}`, `"upstreams":{"ok":false,"critical":false,"error":"upstream video unavailable"}`} {
		if !strings.Contains(body, want) {
			t.Errorf("/readyz body %s; want it to contain %s", body, want)
		}
	}
	for _, leak := range []string{"redis-7.internal", "6379", "127.0.0.1", "dial", "refused"} {
		if strings.Contains(body, leak) {
			t.Errorf("/readyz body %s leaks %q", body, leak)
		}
	}
	if got := logs.lines(t, "readiness check failed"); len(got) != 2 || !strings.Contains(logs.String(), "redis-7.internal.example:6379") {
		t.Errorf("logged %d readiness failures (%s); want both, with their causes", len(got), logs)
	}
}

// startServe serves rt on a listener the test holds, until the test ends.
func startServe(t *testing.T, rt *wings.Runtime) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- rt.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// TestOversizedRequest: server.max_header_bytes bounds the request line and
// headers: a long URL gets a JSON 414, long headers a JSON 431, and far
// beyond the bound net/http refuses (431) before reading it all.
func TestOversizedRequest(t *testing.T) {
	t.Parallel()
	rt, _ := newRuntime(t, func(c *config.Config) { c.Server.MaxHeaderBytes = 8 << 10 },
		wings.Route{Method: http.MethodGet, Path: "/echo", Handler: func(c echo.Context) error { return wings.JSON(c, len(c.QueryParam("q"))) }})
	base := startServe(t, rt)
	hc := &http.Client{Timeout: 10 * time.Second}
	get := func(target string, header ...string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %.40s...: %v", target, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/echo?q=" + strings.Repeat("a", 4<<10)); code != 200 {
		t.Errorf("4 KiB URL: %d %s; want 200", code, body)
	}
	if code, body := get("/echo?q=" + strings.Repeat("a", 10<<10)); code != http.StatusRequestURITooLong || !strings.Contains(body, `"msg":"request URI longer than 8192 bytes"`) {
		t.Errorf("10 KiB URL: %d %s; want a JSON 414", code, body)
	}
	if code, body := get("/echo", "X-Big", strings.Repeat("b", 10<<10)); code != http.StatusRequestHeaderFieldsTooLarge || !strings.Contains(body, `"msg":"request line and headers larger than 8192 bytes"`) {
		t.Errorf("10 KiB header: %d %s; want a JSON 431", code, body)
	}
	if code, _ := get("/echo", "X-Big", strings.Repeat("b", 200<<10)); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("200 KiB header: %d; want 431", code)
	}
}

// TestServeRunsStartChecks: Serve is held to Run's start-up: a route table
// with an auth problem or a failing start hook refuses to serve (and the
// listener is closed), and start hooks run before the first request.
func TestServeRunsStartChecks(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel() // a successful Serve returns at once

	serveOnce := func(rt *wings.Runtime) (net.Listener, error) {
		t.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln, rt.Serve(cancelled, ln)
	}
	listenerClosed := func(ln net.Listener) bool {
		_, err := ln.Accept()
		return errors.Is(err, net.ErrClosed)
	}

	bad, _ := newRuntime(t, nil, wings.Route{Method: http.MethodGet, Path: "/dash/:biz", Auth: "bizline:{bizline}", Handler: func(c echo.Context) error { return nil }})
	ln, err := serveOnce(bad)
	if err == nil || !strings.Contains(err.Error(), "uses {bizline}, which is not a path parameter") {
		t.Errorf("Serve with a bad route auth: %v; want the route table refused", err)
	}
	if err != nil && !listenerClosed(ln) {
		t.Error("the listener of a refused Serve is still open")
	}

	failing, _ := newRuntime(t, nil)
	failing.OnStart(func(context.Context) error { return errors.New("warm-up failed") })
	if _, err := serveOnce(failing); err == nil || !strings.Contains(err.Error(), "start: warm-up failed") {
		t.Errorf("Serve with a failing start hook: %v; want it refused", err)
	}

	good, _ := newRuntime(t, nil)
	ran := false
	good.OnStart(func(context.Context) error { ran = true; return nil })
	if _, err := serveOnce(good); err != nil || !ran {
		t.Errorf("Serve: %v, start hook ran: %v; want nil, true", err, ran)
	}
}
