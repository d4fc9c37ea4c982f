package wings_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/logging"
	"github.com/wings-bff/wings/framework/wings"
)

// syncBuffer is a log output that is safe to read while servers write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the JSON log lines with the given msg.
func (s *syncBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testConfig() *config.Config {
	return &config.Config{
		Env: "test",
		App: config.App{Name: "wings-test"},
		Log: config.Log{Level: "info", Format: "json"},
		Server: config.Server{
			Addr: "127.0.0.1:0", RequestTimeout: 3 * time.Second, ReadHeaderTimeout: time.Second,
			ShutdownTimeout: 5 * time.Second, GzipMinBytes: 1024,
		},
		Auth: config.Auth{
			Identity:   config.AuthIdentity{Provider: "static"},
			Permission: config.AuthPermission{Provider: "static"},
		},
	}
}

func newRuntime(t *testing.T, mod func(*config.Config), routes ...wings.Route) (*wings.Runtime, *syncBuffer) {
	t.Helper()
	cfg := testConfig()
	if mod != nil {
		mod(cfg)
	}
	logs := &syncBuffer{}
	rt, err := wings.New(cfg, wings.Options{
		Build:     wings.BuildInfo{Version: "1.2.3", Commit: "abc123", BuildTime: "2026-01-02T03:04:05Z"},
		LogOutput: logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	rt.Handle(routes...)
	return rt, logs
}

func do(rt http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, req)
	return w
}

type failure struct {
	Code      int    `json:"code"`
	Msg       string `json:"msg"`
	Error     string `json:"error"`
	RequestID string `json:"request_id"`
}

func decodeFailure(t *testing.T, w *httptest.ResponseRecorder) failure {
	t.Helper()
	var f failure
	if err := json.Unmarshal(w.Body.Bytes(), &f); err != nil {
		t.Fatalf("body %q is not a failure envelope: %v", w.Body, err)
	}
	return f
}

func failWith(err error) echo.HandlerFunc { return func(echo.Context) error { return err } }

func TestErrorKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind       apperr.Kind
		status     int
		retryAfter bool
	}{
		{apperr.KindInternal, 500, false},
		{apperr.KindBadParam, 400, false},
		{apperr.KindUnauthorized, 401, false},
		{apperr.KindForbidden, 403, false},
		{apperr.KindNotFound, 404, false},
		{apperr.KindUpstream, 502, false},
		{apperr.KindUpstreamTimeout, 504, false},
		{apperr.KindUnavailable, 503, true},
		{apperr.KindRateLimited, 429, true},
	}
	var routes []wings.Route
	for _, tc := range tests {
		routes = append(routes, wings.Route{
			Method: http.MethodGet, Path: "/k/" + tc.kind.String(),
			Handler: failWith(apperr.Wrap(tc.kind, errors.New("cause with secret 3f9a"), "reason for "+tc.kind.String())),
		})
	}
	rt, logs := newRuntime(t, nil, routes...)
	for _, tc := range tests {
		t.Run(tc.kind.String(), func(t *testing.T) {
			w := do(rt, http.MethodGet, "/k/"+tc.kind.String())
			if w.Code != tc.status {
				t.Fatalf("status = %d; want %d", w.Code, tc.status)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			f := decodeFailure(t, w)
			want := failure{Code: tc.status, Msg: "reason for " + tc.kind.String(), Error: tc.kind.String(), RequestID: w.Header().Get("X-Request-Id")}
			if f != want || f.RequestID == "" {
				t.Errorf("body = %+v; want %+v", f, want)
			}
			if strings.Contains(w.Body.String(), "3f9a") {
				t.Errorf("body %s leaks the cause", w.Body)
			}
			if got := w.Header().Get("Retry-After") != ""; got != tc.retryAfter {
				t.Errorf("Retry-After present = %v; want %v", got, tc.retryAfter)
			}
		})
	}
	// The cause of a 5xx is logged once, in the access log line.
	for _, l := range logs.lines(t, "request") {
		_, hasErr := l["error"]
		if status := int(l["status"].(float64)); (status >= 500) != hasErr {
			t.Errorf("access log for %v: error present = %v", status, hasErr)
		}
	}
}

func TestPlainErrorIsInternal(t *testing.T) {
	t.Parallel()
	rt, logs := newRuntime(t, nil, wings.Route{Method: http.MethodGet, Path: "/x",
		Handler: failWith(errors.New("dial tcp 10.0.0.7:3306: password=hunter2"))})
	w := do(rt, http.MethodGet, "/x")
	f := decodeFailure(t, w)
	if w.Code != 500 || f.Msg != "internal error" || f.Error != "internal" {
		t.Errorf("got %d %+v; want 500 internal error", w.Code, f)
	}
	if strings.Contains(w.Body.String(), "hunter2") || strings.Contains(w.Body.String(), "10.0.0.7") {
		t.Errorf("body %s leaks internals", w.Body)
	}
	if !strings.Contains(logs.String(), "hunter2") {
		t.Error("the cause is not logged")
	}
}

func TestEchoRoutingErrors(t *testing.T) {
	t.Parallel()
	rt, _ := newRuntime(t, nil, wings.Route{Method: http.MethodGet, Path: "/api/video/:id", Handler: func(c echo.Context) error {
		return wings.JSON(c, c.Param("id"))
	}})
	w := do(rt, http.MethodGet, "/nope/at/all")
	if f := decodeFailure(t, w); w.Code != 404 || f.Msg != "route not found" || f.Error != "not_found" {
		t.Errorf("unknown path: %d %+v; want 404 route not found", w.Code, f)
	}
	w = do(rt, http.MethodPost, "/api/video/1")
	if f := decodeFailure(t, w); w.Code != 405 || f.Msg != "method not allowed" {
		t.Errorf("wrong method: %d %+v; want 405 method not allowed", w.Code, f)
	}
	// HEAD errors carry no body.
	w = do(rt, http.MethodHead, "/nope")
	if w.Code != 404 || w.Body.Len() != 0 {
		t.Errorf("HEAD unknown: %d %q; want 404 with no body", w.Code, w.Body)
	}
}

func TestDeadlineIs504(t *testing.T) {
	t.Parallel()
	rt, _ := newRuntime(t, nil, wings.Route{Method: http.MethodGet, Path: "/slow", Timeout: 20 * time.Millisecond,
		Handler: func(c echo.Context) error {
			<-c.Request().Context().Done()
			return c.Request().Context().Err()
		}})
	w := do(rt, http.MethodGet, "/slow")
	if f := decodeFailure(t, w); w.Code != 504 || f.Error != "upstream_timeout" || f.Msg != "request timed out" {
		t.Errorf("got %d %+v; want 504 upstream_timeout", w.Code, f)
	}
}

func TestPanicIs500(t *testing.T) {
	t.Parallel()
	rt, logs := newRuntime(t, nil, wings.Route{Method: http.MethodGet, Path: "/boom", Handler: func(echo.Context) error {
		var m map[string]int
		//lint:ignore SA5000 the runtime panic is the point of this handler
		m["secret-key-7"] = 1 // nil map write
		return nil
	}}, wings.Route{Method: http.MethodGet, Path: "/boom2", Handler: func(echo.Context) error {
		panic("token=s3cr3t")
	}})
	for _, path := range []string{"/boom", "/boom2"} {
		w := do(rt, http.MethodGet, path, "X-Request-Id", "trace-"+path[1:])
		f := decodeFailure(t, w)
		want := failure{Code: 500, Msg: "internal error", Error: "internal", RequestID: "trace-" + path[1:]}
		if w.Code != 500 || f != want {
			t.Errorf("%s: %d %+v; want %+v", path, w.Code, f, want)
		}
		for _, leak := range []string{"secret-key-7", "s3cr3t", "panic", "goroutine", ".go:"} {
			if strings.Contains(w.Body.String(), leak) {
				t.Errorf("%s: body %s leaks %q", path, w.Body, leak)
			}
		}
	}
	panics := logs.lines(t, "panic recovered")
	if len(panics) != 2 {
		t.Fatalf("%d panic log lines; want 2", len(panics))
	}
	if stack, _ := panics[1]["stack"].(string); !strings.Contains(stack, "runtime_test.go") || panics[1]["request_id"] != "trace-boom2" {
		t.Errorf("panic line = %v; want the stack and the request id", panics[1])
	}
}

func TestJSONP(t *testing.T) {
	t.Parallel()
	rt, _ := newRuntime(t, nil,
		wings.Route{Method: http.MethodGet, Path: "/ok", Handler: func(c echo.Context) error {
			return wings.JSON(c, map[string]string{"t": "a\u2028b"})
		}},
		wings.Route{Method: http.MethodGet, Path: "/missing", Handler: failWith(apperr.NotFound("video 9 not found"))},
	)
	tests := []struct {
		name, target string
		status       int
		body         string
	}{
		{"callback", "/ok?callback=cb", 200, `/**/cb({"code":0,"data":{"t":"a\u2028b"}});`},
		{"_callback", "/ok?_callback=jQuery.fn_1", 200, `/**/jQuery.fn_1({"code":0,"data":{"t":"a\u2028b"}});`},
		{"callback wins over _callback", "/ok?_callback=b&callback=a", 200, `/**/a({"code":0,"data":{"t":"a\u2028b"}});`},
		// A browser runs no script fetched with an error status: JSONP
		// failures go out as 200 with the status in the envelope.
		{"error as JSONP", "/missing?callback=cb", 200, `/**/cb({"code":404,"msg":"video 9 not found","error":"not_found","request_id":"rid"});`},
		{"unknown route as JSONP", "/nope?callback=cb", 200, `/**/cb({"code":404,"msg":"route not found","error":"not_found","request_id":"rid"});`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := do(rt, http.MethodGet, tc.target, "X-Request-Id", "rid")
			if w.Code != tc.status || w.Body.String() != tc.body {
				t.Errorf("got %d %s; want %d %s", w.Code, w.Body, tc.status, tc.body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/javascript; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if w.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Error("X-Content-Type-Options: nosniff missing")
			}
		})
	}
	for _, cb := range []string{"alert(1)", "a b", "1x", strings.Repeat("a", 65), "%E5%9B%9E"} {
		w := do(rt, http.MethodGet, "/ok?callback="+strings.ReplaceAll(cb, " ", "%20"))
		f := decodeFailure(t, w)
		if w.Code != 400 || f.Error != "bad_param" || !strings.HasPrefix(f.Msg, "callback:") {
			t.Errorf("callback %q: %d %+v; want 400 naming callback, as plain JSON", cb, w.Code, f)
		}
	}
}

// TestJSONPErrorCountsRealStatus: a JSONP failure is sent as 200, but the
// metrics, the access log and so the alerts count its real status; JSON
// failures keep their status on the wire.
func TestJSONPErrorCountsRealStatus(t *testing.T) {
	t.Parallel()
	rt, logs := newRuntime(t, nil,
		wings.Route{Method: http.MethodGet, Path: "/v/:id", Handler: func(c echo.Context) error {
			switch c.Param("id") {
			case "bad":
				return apperr.BadParam("id: must be a positive integer")
			case "404":
				return apperr.NotFound("video 404 not found")
			case "down":
				return apperr.Upstream("video", errors.New("connection refused"))
			}
			return wings.JSON(c, map[string]int{"id": 1})
		}},
	)
	tests := []struct {
		id     string
		status int
		kind   string
	}{
		{"bad", 400, "bad_param"},
		{"404", 404, "not_found"},
		{"down", 502, "upstream_error"},
	}
	for _, tc := range tests {
		w := do(rt, http.MethodGet, "/v/"+tc.id+"?callback=jQuery1_2&_=1700000000", "X-Request-Id", "jp-"+tc.id)
		want := fmt.Sprintf(`/**/jQuery1_2({"code":%d,`, tc.status)
		if w.Code != 200 || !strings.HasPrefix(w.Body.String(), want) || !strings.Contains(w.Body.String(), `"error":"`+tc.kind+`"`) {
			t.Errorf("JSONP %s: %d %s; want 200 and %s...", tc.id, w.Code, w.Body, want)
		}
		if w := do(rt, http.MethodGet, "/v/"+tc.id); w.Code != tc.status {
			t.Errorf("JSON %s: status %d; want %d", tc.id, w.Code, tc.status)
		}
		if got := testutil.ToFloat64(rt.Metrics().HTTPRequests.WithLabelValues("/v/:id", "GET", strconv.Itoa(tc.status))); got != 2 {
			t.Errorf("wings_http_requests_total{code=%d} = %v; want 2 (JSONP and JSON)", tc.status, got)
		}
	}
	if got := testutil.ToFloat64(rt.Metrics().HTTPRequests.WithLabelValues("/v/:id", "GET", "200")); got != 0 {
		t.Errorf("wings_http_requests_total{code=200} = %v; want 0: no request succeeded", got)
	}
	lines := map[string]map[string]any{}
	for _, l := range logs.lines(t, "request") {
		lines[l["request_id"].(string)] = l
	}
	for _, tc := range tests {
		if l := lines["jp-"+tc.id]; l == nil || l["status"] != float64(tc.status) || l["error_kind"] != tc.kind {
			t.Errorf("access log of JSONP %s: %v; want status %d, error_kind %s", tc.id, l, tc.status, tc.kind)
		}
	}
}

func TestFieldsAndRaw(t *testing.T) {
	t.Parallel()
	type album struct {
		ID    int    `json:"id"`
		Title string `json:"title"`
	}
	data := map[string]any{"id": 1, "title": "T", "album": album{2, "A"}}
	rt, _ := newRuntime(t, nil,
		wings.Route{Method: http.MethodGet, Path: "/v", Handler: func(c echo.Context) error { return wings.JSON(c, data) }},
		wings.Route{Method: http.MethodGet, Path: "/raw", Raw: true, Handler: func(c echo.Context) error { return wings.JSON(c, data) }},
	)
	tests := []struct{ target, body string }{
		{"/v?fields=title", `{"code":0,"data":{"title":"T"}}`},
		{"/v?fields=album.title,nope", `{"code":0,"data":{"album":{"title":"A"}}}`},
		{"/v?fields=album", `{"code":0,"data":{"album":{"id":2,"title":"A"}}}`},
		{"/raw", `{"album":{"id":2,"title":"A"},"id":1,"title":"T"}`},
		{"/raw?fields=id", `{"id":1}`},
	}
	for _, tc := range tests {
		w := do(rt, http.MethodGet, tc.target)
		if w.Code != 200 || w.Body.String() != tc.body {
			t.Errorf("%s: %d %s; want %s", tc.target, w.Code, w.Body, tc.body)
		}
	}
	w := do(rt, http.MethodGet, "/v?fields=a..b")
	if f := decodeFailure(t, w); w.Code != 400 || !strings.HasPrefix(f.Msg, "fields:") {
		t.Errorf("bad fields: %d %+v; want 400 naming fields", w.Code, f)
	}
}

func TestGzip(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("wings ", 400)
	rt, _ := newRuntime(t, nil,
		wings.Route{Method: http.MethodGet, Path: "/big", Handler: func(c echo.Context) error { return wings.JSON(c, big) }},
		wings.Route{Method: http.MethodGet, Path: "/small", Handler: func(c echo.Context) error { return wings.JSON(c, "s") }},
	)
	w := do(rt, http.MethodGet, "/big", "Accept-Encoding", "gzip")
	if w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("big body not gzipped: %v", w.Header())
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if want := `{"code":0,"data":"` + big + `"}`; string(plain) != want {
		t.Errorf("gunzipped body differs: %.60s", plain)
	}
	w = do(rt, http.MethodGet, "/small", "Accept-Encoding", "gzip")
	if w.Header().Get("Content-Encoding") != "" || w.Body.String() != `{"code":0,"data":"s"}` {
		t.Errorf("small body: %v %s; want it plain", w.Header(), w.Body)
	}
	w = do(rt, http.MethodGet, "/big")
	if w.Header().Get("Content-Encoding") != "" {
		t.Error("gzipped for a client that did not ask")
	}
}

func TestRouteTimeoutPrecedence(t *testing.T) {
	t.Parallel()
	remaining := func(c echo.Context) error {
		dl, ok := c.Request().Context().Deadline()
		if !ok {
			return wings.JSON(c, -1)
		}
		return wings.JSON(c, time.Until(dl).Milliseconds())
	}
	rt, _ := newRuntime(t, func(c *config.Config) {
		c.Server.RequestTimeout = 9 * time.Second
		c.Routes = map[string]config.Route{"configured": {Timeout: 5 * time.Second}}
	},
		wings.Route{Method: http.MethodGet, Path: "/configured", Name: "configured", Timeout: 2 * time.Second, Handler: remaining},
		wings.Route{Method: http.MethodGet, Path: "/coded", Name: "coded", Timeout: 2 * time.Second, Handler: remaining},
		wings.Route{Method: http.MethodGet, Path: "/default", Name: "default", Handler: remaining},
	)
	tests := []struct {
		path string
		want time.Duration
	}{
		{"/configured", 5 * time.Second}, // routes.<name>.timeout wins over Route.Timeout
		{"/coded", 2 * time.Second},      // then Route.Timeout
		{"/default", 9 * time.Second},    // then server.request_timeout
	}
	for _, tc := range tests {
		w := do(rt, http.MethodGet, tc.path)
		var env struct {
			Data int64 `json:"data"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
			t.Fatal(err)
		}
		got := time.Duration(env.Data) * time.Millisecond
		if got > tc.want || got < tc.want-time.Second {
			t.Errorf("%s: deadline in %s; want about %s", tc.path, got, tc.want)
		}
	}
	for _, r := range rt.Routes() {
		want := map[string]time.Duration{"configured": 5 * time.Second, "coded": 2 * time.Second, "default": 9 * time.Second}[r.Name]
		if got := rt.EffectiveTimeout(r); got != want {
			t.Errorf("EffectiveTimeout(%s) = %s; want %s", r.Name, got, want)
		}
	}
}

func TestHealthEndpoints(t *testing.T) {
	t.Parallel()
	rt, _ := newRuntime(t, nil)
	if w := do(rt, http.MethodGet, "/healthz"); w.Code != 200 || w.Body.String() != `{"status":"ok"}`+"\n" {
		t.Errorf("/healthz: %d %q", w.Code, w.Body)
	}
	w := do(rt, http.MethodGet, "/version")
	var v map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &v)
	if w.Code != 200 || v["version"] != "1.2.3" || v["commit"] != "abc123" || v["build_time"] != "2026-01-02T03:04:05Z" || v["go"] == "" {
		t.Errorf("/version: %d %s", w.Code, w.Body)
	}

	if w := do(rt, http.MethodGet, "/readyz"); w.Code != 200 || !strings.Contains(w.Body.String(), `"status":"ready"`) {
		t.Errorf("/readyz: %d %s; want 200 ready", w.Code, w.Body)
	}
	rt.AddCheck(wings.Check{Name: "cache", Fn: func(context.Context) error { return errors.New("redis down") }})
	w = do(rt, http.MethodGet, "/readyz")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"cache":{"ok":false,"critical":false,"error":"unavailable"}`) {
		t.Errorf("/readyz with a failing optional check: %d %s; want 200 listing it", w.Code, w.Body)
	}
	rt.AddCheck(wings.Check{Name: "db", Critical: true, Fn: func(context.Context) error { return errors.New("db down") }})
	w = do(rt, http.MethodGet, "/readyz")
	if w.Code != 503 || !strings.Contains(w.Body.String(), `"status":"unready"`) || !strings.Contains(w.Body.String(), `"db":{"ok":false,"critical":true,"error":"unavailable"}`) {
		t.Errorf("/readyz with a failing critical check: %d %s; want 503", w.Code, w.Body)
	}
	if w := do(rt, http.MethodGet, "/metrics"); w.Code != 200 || !strings.Contains(w.Body.String(), "wings_build_info") {
		t.Errorf("/metrics: %d", w.Code)
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	rt, logs := newRuntime(t, nil, wings.Route{Method: http.MethodGet, Path: "/x", Handler: func(c echo.Context) error {
		return wings.JSON(c, "ok")
	}})
	w := do(rt, http.MethodGet, "/x", "X-Request-Id", "abc-123_XYZ.9")
	if got := w.Header().Get("X-Request-Id"); got != "abc-123_XYZ.9" {
		t.Errorf("valid id replaced by %q", got)
	}
	seen := map[string]bool{}
	for _, bad := range []string{"", "has space", `quo"te`, `back\slash`, "tab\there", strings.Repeat("a", 129), "caf\u00e9"} {
		w := do(rt, http.MethodGet, "/x", "X-Request-Id", bad)
		got := w.Header().Get("X-Request-Id")
		if got == bad || got == "" || strings.ContainsAny(got, " \"\\\t") || seen[got] {
			t.Errorf("incoming %q: answered id %q; want a fresh generated one", bad, got)
		}
		seen[got] = true
	}
	for _, l := range logs.lines(t, "request") {
		if id, _ := l["request_id"].(string); id == "" || strings.Contains(id, " ") {
			t.Errorf("access log request_id = %q", id)
		}
	}
}

func TestAccessLogLine(t *testing.T) {
	t.Parallel()
	rt, logs := newRuntime(t, nil,
		wings.Route{Method: http.MethodGet, Path: "/api/video/:id", Handler: func(c echo.Context) error {
			if c.Param("id") == "0" {
				return apperr.BadParam("id: must be a positive integer")
			}
			if c.Param("id") == "5" {
				return apperr.Upstream("video", errors.New("status 500"))
			}
			return wings.JSON(c, "ok")
		}})
	do(rt, http.MethodGet, "/api/video/7", "X-Request-Id", "r-ok")
	do(rt, http.MethodGet, "/api/video/0", "X-Request-Id", "r-bad")
	do(rt, http.MethodGet, "/api/video/5", "X-Request-Id", "r-up")
	do(rt, http.MethodGet, "/secret/path/123", "X-Request-Id", "r-404")
	got := map[string]map[string]any{}
	for _, l := range logs.lines(t, "request") {
		got[l["request_id"].(string)] = l
	}
	tests := []struct {
		id, route, kind, level string
		status                 float64
		hasError               bool
	}{
		{"r-ok", "/api/video/:id", "", "info", 200, false},
		{"r-bad", "/api/video/:id", "bad_param", "info", 400, false},
		{"r-up", "/api/video/:id", "upstream_error", "error", 502, true},
		{"r-404", "unmatched", "not_found", "info", 404, false},
	}
	for _, tc := range tests {
		l := got[tc.id]
		if l == nil {
			t.Errorf("%s: no access log line", tc.id)
			continue
		}
		if l["method"] != "GET" || l["route"] != tc.route || l["status"] != tc.status || l["level"] != tc.level {
			t.Errorf("%s: line %v; want route %s status %v level %s", tc.id, l, tc.route, tc.status, tc.level)
		}
		if k, _ := l["error_kind"].(string); k != tc.kind {
			t.Errorf("%s: error_kind = %q; want %q", tc.id, k, tc.kind)
		}
		if _, ok := l["error"]; ok != tc.hasError {
			t.Errorf("%s: error present = %v; want %v (only for 5xx)", tc.id, ok, tc.hasError)
		}
		if _, ok := l["latency_ms"].(float64); !ok {
			t.Errorf("%s: latency_ms missing", tc.id)
		}
		if b, ok := l["bytes"].(float64); !ok || b <= 0 {
			t.Errorf("%s: bytes = %v", tc.id, l["bytes"])
		}
	}
	if strings.Contains(logs.String(), "/secret/path/123") {
		t.Error("the raw path of an unmatched request is logged as its route")
	}
}

func TestMetricsLabels(t *testing.T) {
	t.Parallel()
	rt, _ := newRuntime(t, nil, wings.Route{Method: http.MethodGet, Path: "/api/video/:id", Handler: func(c echo.Context) error {
		return wings.JSON(c, c.Param("id"))
	}})
	for _, p := range []string{"/api/video/1", "/api/video/2", "/x/1", "/x/2"} {
		do(rt, http.MethodGet, p)
	}
	m := rt.Metrics()
	if got := testutil.ToFloat64(m.HTTPRequests.WithLabelValues("/api/video/:id", "GET", "200")); got != 2 {
		t.Errorf("requests{route=/api/video/:id,code=200} = %v; want 2", got)
	}
	if got := testutil.ToFloat64(m.HTTPRequests.WithLabelValues("unmatched", "GET", "404")); got != 2 {
		t.Errorf("requests{route=unmatched,code=404} = %v; want 2", got)
	}
	if n := testutil.CollectAndCount(m.HTTPRequests); n != 2 {
		t.Errorf("%d request series; want 2 (no raw paths)", n)
	}
	if n := testutil.CollectAndCount(m.HTTPDuration); n != 2 {
		t.Errorf("%d duration series; want 2", n)
	}
	// Unknown methods share one label.
	do(rt, "BREW", "/api/video/1")
	var found bool
	for _, code := range []string{"404", "405"} {
		if testutil.ToFloat64(m.HTTPRequests.WithLabelValues("unmatched", "OTHER", code))+
			testutil.ToFloat64(m.HTTPRequests.WithLabelValues("/api/video/:id", "OTHER", code)) > 0 {
			found = true
		}
	}
	if !found {
		t.Error("BREW request not counted under method OTHER")
	}
}

// Middleware is composed once, at registration: a route middleware's
// factory runs once however many requests follow, and each request runs
// the middleware itself once. Inside, the request's facts (id, route,
// a logger carrying the id) come from the one request record.
func TestMiddlewareComposedOnce(t *testing.T) {
	t.Parallel()
	var factories, runs int
	var seenID, seenRoute string
	mw := func(next echo.HandlerFunc) echo.HandlerFunc {
		factories++
		return func(c echo.Context) error {
			runs++
			return next(c)
		}
	}
	rt, logs := newRuntime(t, nil, wings.Route{Method: http.MethodGet, Path: "/once/:id", Name: "once", Middleware: []echo.MiddlewareFunc{mw},
		Handler: func(c echo.Context) error {
			ctx := c.Request().Context()
			seenID = logging.RequestID(ctx)
			if r := wings.RouteOf(c); r != nil {
				seenRoute = r.Name
			}
			logging.FromContext(ctx).Warn("from the handler")
			return wings.JSON(c, "ok")
		}})
	for i := 0; i < 3; i++ {
		if w := do(rt, http.MethodGet, "/once/1", "X-Request-Id", fmt.Sprintf("req-%d", i)); w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	if factories != 1 || runs != 3 {
		t.Fatalf("route middleware factory ran %d times, middleware %d times; want 1 and 3", factories, runs)
	}
	if seenID != "req-2" || seenRoute != "once" {
		t.Fatalf("handler saw request id %q, route %q; want req-2, once", seenID, seenRoute)
	}
	var ids []string
	for _, l := range logs.lines(t, "from the handler") {
		id, _ := l["request_id"].(string)
		ids = append(ids, id)
	}
	if strings.Join(ids, ",") != "req-0,req-1,req-2" {
		t.Fatalf("handler log lines carry request ids %v; want req-0..req-2", ids)
	}
}

// The callback and fields parameters are read as url.ParseQuery reads
// them: first value, escapes decoded, pairs with ';' in the key skipped.
func TestQueryParamLikeParseQuery(t *testing.T) {
	t.Parallel()
	rt, _ := newRuntime(t, nil, wings.Route{Method: http.MethodGet, Path: "/q", Handler: func(c echo.Context) error {
		return wings.JSON(c, map[string]any{"a": 1, "b": map[string]any{"c": 2}})
	}})
	for _, tc := range []struct{ query, want string }{
		{"callback=cb1&callback=cb2", "/**/cb1("},
		{"_callback=u&callback=c", "/**/c("},
		{"c%61llback=esc", "/**/esc("},
		{"callback=a%2Eb", "/**/a.b("},
		{"x;callback=bad&callback=ok", "/**/ok("},
		{"callback=%zz&_callback=second", "/**/second("},
		{"fields=b.c&callback=f", `/**/f({"code":0,"data":{"b":{"c":2}}});`},
		{"fields=b%2Ec", `{"code":0,"data":{"b":{"c":2}}}`},
		{"", `{"code":0,"data":{"a":1,"b":{"c":2}}}`},
	} {
		w := do(rt, http.MethodGet, "/q?"+tc.query)
		if w.Code != 200 || !strings.HasPrefix(w.Body.String(), tc.want) {
			t.Errorf("?%s: %d %s; want prefix %s", tc.query, w.Code, w.Body, tc.want)
		}
	}
}

// TestRetryAfterFromError: a shed request's Retry-After is the error's own
// RetryAfter rounded up to whole seconds, else 1.
func TestRetryAfterFromError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		err  error
		want string
	}{
		{"/user", apperr.RateLimited("too many of yours", 2500*time.Millisecond), "3"},
		{"/class", &apperr.Error{Kind: apperr.KindUnavailable, Message: "at capacity", RetryAfter: 4 * time.Second}, "4"},
		{"/plain", apperr.Unavailable("down"), "1"},
	}
	var routes []wings.Route
	for _, tc := range tests {
		routes = append(routes, wings.Route{Method: http.MethodGet, Path: tc.path, Handler: failWith(fmt.Errorf("wrapped: %w", tc.err))})
	}
	rt, _ := newRuntime(t, nil, routes...)
	for _, tc := range tests {
		w := do(rt, http.MethodGet, tc.path)
		if got := w.Header().Get("Retry-After"); got != tc.want {
			t.Errorf("%s: Retry-After = %q; want %q", tc.path, got, tc.want)
		}
	}
}
