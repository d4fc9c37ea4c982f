package test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestVideoEndpoint drives GET /api/video/:id through the real binary and the
// mock teams: the composed answer, JSONP, fields, every error class.
func TestVideoEndpoint(t *testing.T) {
	s := newStack(t, nil)

	t.Run("composed answer", func(t *testing.T) {
		r := get(t, s.Server+"/api/video/42")
		if r.Status != http.StatusOK {
			t.Fatalf("status = %d; want 200: %s", r.Status, r.Body)
		}
		want := `{"code":0,"data":{"id":42,"title":"Video 42","duration":2530,"cover":"https://img.example/v/42.jpg","playCount":332599,"album":{"id":1042,"title":"Album 1042","episodes":40,"cover":"https://img.example/a/1042.jpg"},"stars":[{"id":43,"name":"Star 43","avatar":"https://img.example/s/43.jpg"},{"id":93,"name":"Star 93","avatar":"https://img.example/s/93.jpg"},{"id":143,"name":"Star 143","avatar":"https://img.example/s/143.jpg"}]}}`
		if string(r.Body) != want {
			t.Errorf("body =\n%s\nwant\n%s", r.Body, want)
		}
		if got := r.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type = %q", got)
		}
		if r.Header.Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id")
		}
	})

	t.Run("request id propagates", func(t *testing.T) {
		r := get(t, s.Server+"/api/video/7", "X-Request-Id", "trace-abc-123")
		if got := r.Header.Get("X-Request-Id"); got != "trace-abc-123" {
			t.Errorf("X-Request-Id = %q; want the caller's", got)
		}
	})

	t.Run("jsonp with fields", func(t *testing.T) {
		r := get(t, s.Server+"/api/video/42?callback=jQuery123_456&_=1700000000&fields=id,album.title")
		want := `/**/jQuery123_456({"code":0,"data":{"id":42,"album":{"title":"Album 1042"}}});`
		if string(r.Body) != want {
			t.Errorf("body = %s; want %s", r.Body, want)
		}
		if got := r.Header.Get("Content-Type"); got != "application/javascript; charset=utf-8" {
			t.Errorf("Content-Type = %q", got)
		}
		if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("X-Content-Type-Options = %q", got)
		}
	})

	t.Run("_callback works too", func(t *testing.T) {
		r := get(t, s.Server+"/api/video/42?_callback=cb&fields=title")
		if want := `/**/cb({"code":0,"data":{"title":"Video 42"}});`; string(r.Body) != want {
			t.Errorf("body = %s; want %s", r.Body, want)
		}
	})

	t.Run("gzip when accepted and worth it", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, s.Server+"/api/video/42", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// the answer is ~500 bytes, below gzip_min_bytes (1024): not worth it
		if resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("small body was compressed")
		}
	})

	errorCases := []struct {
		name, path string
		status     int
		kind, msg  string
	}{
		{"not numeric", "/api/video/abc", 400, "bad_param", "id: must be a positive integer"},
		{"zero", "/api/video/0", 400, "bad_param", "id: must be a positive integer"},
		{"negative", "/api/video/-3", 400, "bad_param", "id: must be a positive integer"},
		{"overflow", "/api/video/99999999999999999999", 400, "bad_param", "id: must be a positive integer"},
		{"unknown to team A", "/api/video/404", 404, "not_found", "video 404 not found"},
		{"bad callback", "/api/video/1?callback=alert(1)", 400, "bad_param", "callback"},
		{"callback too long", "/api/video/1?callback=" + strings.Repeat("a", 65), 400, "bad_param", "callback"},
		{"unknown route", "/api/nothing", 404, "not_found", "route not found"},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, s.Server+tc.path)
			if r.Status != tc.status {
				t.Fatalf("status = %d; want %d: %s", r.Status, tc.status, r.Body)
			}
			var env struct {
				Code      int    `json:"code"`
				Msg       string `json:"msg"`
				Error     string `json:"error"`
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal(r.Body, &env); err != nil {
				t.Fatalf("not a JSON envelope: %s", r.Body)
			}
			if env.Code != tc.status || env.Error != tc.kind || !strings.Contains(env.Msg, tc.msg) || env.RequestID == "" {
				t.Errorf("envelope = %+v; want code %d, error %s, msg containing %q, a request id", env, tc.status, tc.kind, tc.msg)
			}
		})
	}

	t.Run("error as jsonp", func(t *testing.T) {
		// Sent as 200 (a browser runs no script fetched with an error
		// status), counted as the 404 it is.
		before := metricValue(t, s.Server, "wings_http_requests_total", `route="/api/video/:id"`, `code="404"`)
		r := get(t, s.Server+"/api/video/404?callback=cb")
		if r.Status != 200 || !strings.HasPrefix(string(r.Body), `/**/cb({"code":404,`) {
			t.Errorf("status %d body %s; want a 404 envelope wrapped in cb, sent as 200", r.Status, r.Body)
		}
		if after := metricValue(t, s.Server, "wings_http_requests_total", `route="/api/video/:id"`, `code="404"`); after != before+1 {
			t.Errorf("wings_http_requests_total{code=404}: %v then %v; want one more", before, after)
		}
	})

	t.Run("metrics label by route template", func(t *testing.T) {
		if v := metricValue(t, s.Server, "wings_http_requests_total", `route="/api/video/:id"`, `code="200"`); v < 1 {
			t.Errorf("wings_http_requests_total{route=/api/video/:id,code=200} = %v", v)
		}
		if v := metricValue(t, s.Server, "wings_http_requests_total", `route="/api/video/42"`); v != 0 {
			t.Errorf("raw path used as a label")
		}
		if v := metricValue(t, s.Server, "wings_upstream_requests_total", `upstream="album"`, `outcome="ok"`); v < 1 {
			t.Errorf("no ok album upstream call counted")
		}
	})
}

// TestUpstreamFailures: a failing upstream is 502, a slow one 504.
func TestUpstreamFailures(t *testing.T) {
	s := newStack(t, nil, "WINGS_UPSTREAMS__ALBUM__TIMEOUT=300ms")

	post(t, s.Mock+"/_mock/faults", `{"video":{"error_rate":1}}`)
	if r := get(t, s.Server+"/api/video/5"); r.Status != http.StatusBadGateway || r.JSON(t)["error"] != "upstream_error" {
		t.Errorf("team A 500s: status %d body %s; want 502 upstream_error", r.Status, r.Body)
	}
	post(t, s.Mock+"/_mock/faults", `{"video":{"malformed_rate":1}}`)
	if r := get(t, s.Server+"/api/video/5"); r.Status != http.StatusBadGateway {
		t.Errorf("team A bad JSON: status %d; want 502", r.Status)
	}
	post(t, s.Mock+"/_mock/faults", `{"video":{},"album":{"latency":"1s"}}`)
	if r := get(t, s.Server+"/api/video/5"); r.Status != http.StatusGatewayTimeout || r.JSON(t)["error"] != "upstream_timeout" {
		t.Errorf("slow album: status %d body %s; want 504 upstream_timeout", r.Status, r.Body)
	}
	if v := metricValue(t, s.Server, "wings_upstream_requests_total", `upstream="album"`, `outcome="timeout"`); v < 1 {
		t.Errorf("album timeout not counted")
	}
	if v := metricValue(t, s.Server, "wings_upstream_requests_total", `upstream="video"`, `outcome="bad_json"`); v < 1 {
		t.Errorf("video bad_json not counted")
	}
}
