package batch_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wings-bff/wings/framework/batch"
	"github.com/wings-bff/wings/framework/cache"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/wings"
)

// server is a Runtime with a public route, a per-business-line private one,
// a cached one, a slow one and the merge endpoint.
func server(t testing.TB, batchTimeout time.Duration) (*wings.Runtime, *atomic.Int64) {
	t.Helper()
	cfg := &config.Config{
		Env: "test",
		App: config.App{Name: "batch-test"},
		Log: config.Log{Level: "warn", Format: "json"},
		Server: config.Server{
			Addr: "127.0.0.1:0", RequestTimeout: 3 * time.Second, ReadHeaderTimeout: time.Second,
			ShutdownTimeout: 5 * time.Second, GzipMinBytes: 1024,
		},
		Cache: config.Cache{Responses: true, L1MaxEntries: 100, L1MaxBytes: 1 << 20},
		Auth: config.Auth{
			Identity:              config.AuthIdentity{Provider: "static", Cookie: "wings_session"},
			Permission:            config.AuthPermission{Provider: "static"},
			JSONPRefererAllowlist: []string{"http://dash.example"},
			Static: config.AuthStatic{Users: map[string]config.AuthStaticUser{
				"u-video": {Token: "demo-video", Grants: []string{"bizline:video"}},
			}},
		},
	}
	rt, err := wings.New(cfg, wings.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cache.New(rt); err != nil {
		t.Fatal(err)
	}
	var loads atomic.Int64
	ep := batch.New(rt, batch.Options{Self: "/api/batch"})
	rt.Handle(
		wings.Route{Method: http.MethodGet, Path: "/api/item/:id", Handler: func(c echo.Context) error {
			return wings.JSON(c, map[string]any{"id": c.Param("id"), "title": "t" + c.Param("id"), "n": 7})
		}},
		wings.Route{Method: http.MethodGet, Path: "/api/dash/:biz/stats", Auth: "bizline:{biz}", Handler: func(c echo.Context) error {
			return wings.JSON(c, map[string]string{"biz": c.Param("biz")})
		}},
		wings.Route{Method: http.MethodGet, Path: "/api/slow", Handler: func(c echo.Context) error {
			<-c.Request().Context().Done()
			return c.Request().Context().Err()
		}},
		wings.Route{Method: http.MethodGet, Path: "/api/cached", Cache: &wings.CacheOptions{TTL: time.Minute}, Handler: func(c echo.Context) error {
			return wings.JSON(c, map[string]int64{"load": loads.Add(1)})
		}},
		wings.Route{Method: http.MethodGet, Path: "/api/batch", Name: "batch", Timeout: batchTimeout, Handler: ep.Serve},
	)
	return rt, &loads
}

type answer struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
	Data struct {
		Parts []struct {
			Path   string          `json:"path"`
			Status int             `json:"status"`
			Body   json.RawMessage `json:"body"`
		} `json:"parts"`
	} `json:"data"`
}

func get(t *testing.T, h http.Handler, parts []string, extra string, header ...string) (*httptest.ResponseRecorder, answer) {
	t.Helper()
	q := url.Values{batch.Param: parts}
	req := httptest.NewRequest(http.MethodGet, "/api/batch?"+q.Encode()+extra, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var a answer
	body := w.Body.String()
	if strings.HasPrefix(body, "/**/") {
		body = body[strings.Index(body, "(")+1 : len(body)-2]
	}
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("answer %q: %v", w.Body, err)
	}
	return w, a
}

// Each part is served through the full chain with its own status and
// envelope: a 403 and a 504 beside two successes, under one deadline.
func TestPartsKeepTheirOwnStatus(t *testing.T) {
	t.Parallel()
	rt, _ := server(t, 300*time.Millisecond)
	start := time.Now()
	w, a := get(t, rt, []string{
		"/api/item/1?fields=id,title",
		"/api/dash/music/stats",
		"/api/slow",
		"/api/dash/video/stats",
		"/api/nothing",
	}, "", "Cookie", "wings_session=demo-video")
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %s; the merged deadline is 300ms", took)
	}
	if w.Code != 200 || a.Code != 0 || len(a.Data.Parts) != 5 {
		t.Fatalf("got %d %s; want 200 with 5 parts", w.Code, w.Body)
	}
	want := []struct {
		status int
		body   string
	}{
		{200, `{"code":0,"data":{"id":"1","title":"t1"}}`},
		{403, `"msg":"forbidden: no permission for bizline:music"`},
		{504, `"code":504`},
		{200, `{"code":0,"data":{"biz":"video"}}`},
		{404, `"msg":"route not found"`},
	}
	for i, p := range a.Data.Parts {
		if p.Status != want[i].status || !strings.Contains(string(p.Body), want[i].body) {
			t.Errorf("part %d (%s): %d %s; want %d with %s", i+1, p.Path, p.Status, p.Body, want[i].status, want[i].body)
		}
	}
	m := rt.Metrics().HTTPRequests
	for _, s := range []struct{ route, code string }{
		{"/api/item/:id", "200"}, {"/api/dash/:biz/stats", "403"}, {"/api/slow", "504"}, {"/api/dash/:biz/stats", "200"}, {"/api/batch", "200"},
	} {
		if got := testutil.ToFloat64(m.WithLabelValues(s.route, "GET", s.code)); got != 1 {
			t.Errorf("wings_http_requests_total{route=%s,code=%s} = %v; want 1 (each part counted as itself)", s.route, s.code, got)
		}
	}
}

// A part without the caller's credentials is a 401 of its own, and a
// cached part is answered from the cache on the second merged request.
func TestPartsUseAuthAndCache(t *testing.T) {
	t.Parallel()
	rt, loads := server(t, time.Second)
	_, a := get(t, rt, []string{"/api/dash/video/stats", "/api/cached"}, "")
	if a.Data.Parts[0].Status != 401 {
		t.Errorf("private part without a session: %d %s; want 401", a.Data.Parts[0].Status, a.Data.Parts[0].Body)
	}
	_, a = get(t, rt, []string{"/api/dash/video/stats", "/api/cached"}, "", "Authorization", "Bearer demo-video")
	if a.Data.Parts[0].Status != 200 {
		t.Errorf("private part with a bearer token: %d %s; want 200", a.Data.Parts[0].Status, a.Data.Parts[0].Body)
	}
	if n := loads.Load(); n != 1 || string(a.Data.Parts[1].Body) != `{"code":0,"data":{"load":1}}` {
		t.Errorf("cached part: %d loads, body %s; want 1 load, served from the cache", n, a.Data.Parts[1].Body)
	}
}

// JSONP on the merged request: the whole answer is wrapped; a private part
// asked from a foreign page is refused as it would be alone, the public
// part is served; from the allow-listed page both are.
func TestJSONP(t *testing.T) {
	t.Parallel()
	rt, _ := server(t, time.Second)
	parts := []string{"/api/item/2", "/api/dash/video/stats"}
	w, a := get(t, rt, parts, "&callback=jQuery1_2&_=1700000000", "Cookie", "wings_session=demo-video", "Referer", "http://evil.example/p")
	if w.Code != 200 || !strings.HasPrefix(w.Body.String(), "/**/jQuery1_2(") {
		t.Fatalf("got %d %.80s; want JSONP", w.Code, w.Body)
	}
	if p := a.Data.Parts[0]; p.Status != 200 || !strings.HasPrefix(string(p.Body), `{"code":0`) {
		t.Errorf("public part: %d %s; want 200 as JSON", p.Status, p.Body)
	}
	if p := a.Data.Parts[1]; p.Status != 400 || !strings.Contains(string(p.Body), "evil.example") {
		t.Errorf("private part from a foreign page: %d %s; want 400 naming the origin", p.Status, p.Body)
	}
	_, a = get(t, rt, parts, "&callback=cb", "Cookie", "wings_session=demo-video", "Referer", "http://dash.example/home")
	if p := a.Data.Parts[1]; p.Status != 200 || string(p.Body) != `{"code":0,"data":{"biz":"video"}}` {
		t.Errorf("private part from the allow-listed page: %d %s; want 200 as plain JSON", p.Status, p.Body)
	}
}

// Bad merged requests are 400s naming the problem.
func TestBadRequests(t *testing.T) {
	t.Parallel()
	rt, _ := server(t, time.Second)
	nine := make([]string, 9)
	for i := range nine {
		nine[i] = "/api/item/1"
	}
	tests := []struct {
		name  string
		parts []string
		msg   string
	}{
		{"none", nil, "at least one part"},
		{"too many", nine, "9 parts; at most 8"},
		{"itself", []string{"/api/batch?part=/api/item/1"}, "cannot be a part of itself"},
		{"absolute URL", []string{"http://evil.example/api/item/1"}, "must be a path"},
		{"outside the prefix", []string{"/metrics"}, "under /api/"},
		{"dot segments", []string{"/api/../metrics"}, "clean path"},
	}
	for _, tc := range tests {
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/batch?"+url.Values{batch.Param: tc.parts}.Encode(), nil))
		if w.Code != 400 || !strings.Contains(w.Body.String(), tc.msg) {
			t.Errorf("%s: %d %s; want 400 with %q", tc.name, w.Code, w.Body, tc.msg)
		}
	}
}

// FuzzParts: whatever the parts asked, the merged request answers 200 with
// one part per asked path, each with a status and a JSON body, or a 400
// naming the problem; never a 5xx or a panic.
func FuzzParts(f *testing.F) {
	for _, s := range []string{"/api/item/1", "/api/item/1?fields=id", "/api/../metrics", "//evil/api/x", "/api/batch?part=/api/item/1", "http://x/api/", "/api/%zz", "/api/item/1#f", ""} {
		f.Add(s, "/api/dash/video/stats")
	}
	rt, _ := server(f, time.Second)
	f.Fuzz(func(t *testing.T, a, b string) {
		q := url.Values{batch.Param: {a, b}}
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/batch?"+q.Encode(), nil))
		switch w.Code {
		case http.StatusBadRequest:
			return
		case http.StatusOK:
		default:
			t.Fatalf("parts %q %q: %d %s", a, b, w.Code, w.Body)
		}
		var ans answer
		if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil || len(ans.Data.Parts) != 2 {
			t.Fatalf("parts %q %q: %s", a, b, w.Body)
		}
		for _, p := range ans.Data.Parts {
			if p.Status < 200 || p.Status > 599 || !json.Valid(p.Body) {
				t.Fatalf("part %+v", p)
			}
		}
	})
}
