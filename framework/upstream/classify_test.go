package upstream_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/logging"
	"github.com/wings-bff/wings/framework/metrics"
	"github.com/wings-bff/wings/framework/testkit"
	"github.com/wings-bff/wings/framework/upstream"
)

var json9007 = json.Number("9007199254740993")

// plainClient is a client without retries, breaker or coalescing, so each
// GetJSON is exactly one request.
func plainClient(t *testing.T, base string, timeout time.Duration, headers map[string]string) (*upstream.Client, *metrics.Registry) {
	t.Helper()
	m := metrics.New("test", "")
	c := upstream.New("video", config.Upstream{
		BaseURL: base, Timeout: timeout, MaxIdleConns: 4, Headers: headers,
	}, m, logging.Discard())
	t.Cleanup(c.Close)
	return c, m
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

func outcomes(m *metrics.Registry, name string) map[string]float64 {
	out := map[string]float64{}
	for _, o := range []string{
		upstream.OutcomeOK, upstream.OutcomeTimeout, upstream.OutcomeRefused, upstream.OutcomeBadStatus,
		upstream.OutcomeBadJSON, upstream.OutcomeNotFound, upstream.OutcomeCanceled, upstream.OutcomeError,
	} {
		if v := testutil.ToFloat64(m.UpstreamRequests.WithLabelValues(name, o)); v != 0 {
			out[o] = v
		}
	}
	return out
}

func TestGetJSONClassifies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		kind     apperr.Kind
		outcome  string
		inCause  string
		decodeOK bool
	}{
		{"ok", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"code":"A00000","data":{"qipuId":9007199254740993}}`))
		}, apperr.KindInternal, upstream.OutcomeOK, "", true},
		{"404 is not found", func(w http.ResponseWriter, r *http.Request) {
			http.NotFound(w, r)
		}, apperr.KindNotFound, upstream.OutcomeNotFound, "answered 404", false},
		{"500 is an upstream error", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error":"boom"}`))
		}, apperr.KindUpstream, upstream.OutcomeBadStatus, "status 500", false},
		{"400 is an upstream error", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
		}, apperr.KindUpstream, upstream.OutcomeBadStatus, "status 400", false},
		{"bad JSON", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"code":"A00000","data":{"qipuId":`))
		}, apperr.KindUpstream, upstream.OutcomeBadJSON, "bad JSON", false},
		{"HTML error page", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`<html>oops</html>`))
		}, apperr.KindUpstream, upstream.OutcomeBadJSON, "bad JSON", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := serve(t, tc.handler)
			c, m := plainClient(t, ts.URL, 2*time.Second, nil)
			var out struct {
				Code string         `json:"code"`
				Data map[string]any `json:"data"`
			}
			err := c.GetJSON(context.Background(), "/video/info", url.Values{"id": {"1"}}, &out)
			if tc.decodeOK {
				if err != nil {
					t.Fatalf("GetJSON: %v", err)
				}
				if got := out.Data["qipuId"]; got != any(json9007) {
					t.Errorf("qipuId = %#v; want json.Number 9007199254740993 (no float rounding)", got)
				}
			} else {
				var ae *apperr.Error
				if !errors.As(err, &ae) {
					t.Fatalf("err = %#v; want *apperr.Error", err)
				}
				if ae.Kind != tc.kind || ae.Upstream != "video" {
					t.Errorf("kind, upstream = %s, %q; want %s, video", ae.Kind, ae.Upstream, tc.kind)
				}
				if !strings.Contains(err.Error(), tc.inCause) {
					t.Errorf("err = %v; want it to contain %q", err, tc.inCause)
				}
			}
			if got := outcomes(m, "video"); len(got) != 1 || got[tc.outcome] != 1 {
				t.Errorf("outcomes = %v; want one %s", got, tc.outcome)
			}
			if n := testutil.CollectAndCount(m.UpstreamDuration); n != 1 {
				t.Errorf("duration series = %d; want 1", n)
			}
		})
	}
}

func TestGetJSONTimeout(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c, m := plainClient(t, ts.URL, 50*time.Millisecond, nil)
	err := c.GetJSON(context.Background(), "/slow", nil, nil)
	if k := apperr.KindOf(err); k != apperr.KindUpstreamTimeout {
		t.Fatalf("kind = %s (%v); want upstream_timeout", k, err)
	}
	if got := outcomes(m, "video"); got[upstream.OutcomeTimeout] != 1 {
		t.Errorf("outcomes = %v; want one timeout", got)
	}
}

func TestGetJSONCallerDeadline(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c, _ := plainClient(t, ts.URL, 10*time.Second, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.GetJSON(ctx, "/slow", nil, nil)
	if k := apperr.KindOf(err); k != apperr.KindUpstreamTimeout {
		t.Fatalf("kind = %s (%v); want upstream_timeout", k, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s; the caller's 50ms deadline must rule", d)
	}
}

func TestGetJSONCanceled(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	c, m := plainClient(t, ts.URL, 10*time.Second, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	err := c.GetJSON(ctx, "/x", nil, nil)
	if k := apperr.KindOf(err); k != apperr.KindUpstream || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v (%s); want an upstream error caused by cancellation", err, k)
	}
	if got := outcomes(m, "video"); got[upstream.OutcomeCanceled] != 1 {
		t.Errorf("outcomes = %v; want one canceled", got)
	}
}

func TestGetJSONRefused(t *testing.T) {
	t.Parallel()
	addr := testkit.ClosedAddr(t)
	c, m := plainClient(t, "http://"+addr, time.Second, nil)
	err := c.GetJSON(context.Background(), "/video/info", nil, nil)
	if k := apperr.KindOf(err); k != apperr.KindUpstream {
		t.Fatalf("kind = %s (%v); want upstream_error", k, err)
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v; want it to say connection refused", err)
	}
	if got := outcomes(m, "video"); got[upstream.OutcomeRefused] != 1 {
		t.Errorf("outcomes = %v; want one refused", got)
	}
}

func TestGetJSONSendsRequestIDAndHeaders(t *testing.T) {
	t.Parallel()
	type seen struct{ id, token, query, path, agent string }
	got := make(chan seen, 1)
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("X-Request-Id"), r.Header.Get("X-App-Token"), r.URL.RawQuery, r.URL.Path, r.Header.Get("User-Agent")}
		_, _ = w.Write([]byte(`{}`))
	})
	c, _ := plainClient(t, ts.URL, time.Second, map[string]string{"X-App-Token": "t0k"})
	ctx := logging.WithRequestID(context.Background(), "req-42")
	if err := c.GetJSON(ctx, "/stars", url.Values{"video_id": {"7"}}, nil); err != nil {
		t.Fatal(err)
	}
	s := <-got
	// resty's default User-Agent, as resty would set it per request.
	want := seen{"req-42", "t0k", "video_id=7", "/stars", "go-resty/" + resty.Version + " (https://github.com/go-resty/resty)"}
	if s != want {
		t.Errorf("upstream saw %+v; want %+v", s, want)
	}
	// Without a request id in the context no header is sent.
	if err := c.GetJSON(context.Background(), "/stars", nil, nil); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s.id != "" {
		t.Errorf("X-Request-Id = %q; want none", s.id)
	}
	// A configured User-Agent replaces resty's.
	c, _ = plainClient(t, ts.URL, time.Second, map[string]string{"User-Agent": "wings-test"})
	if err := c.GetJSON(context.Background(), "/stars", nil, nil); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s.agent != "wings-test" {
		t.Errorf("User-Agent = %q; want the configured wings-test", s.agent)
	}
}

func TestGetJSONDecodeMismatch(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"ok":"yes"}`)) })
	c, _ := plainClient(t, ts.URL, time.Second, nil)
	var out struct {
		OK bool `json:"ok"`
	}
	err := c.GetJSON(context.Background(), "/stars", nil, &out)
	if k := apperr.KindOf(err); k != apperr.KindUpstream {
		t.Fatalf("kind = %s (%v); want upstream_error for a body of the wrong shape", k, err)
	}
}

func TestSchema(t *testing.T) {
	t.Parallel()
	err := upstream.Schema("album", "/album: status %d", 3)
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindUpstream || ae.Upstream != "album" {
		t.Fatalf("Schema = %#v; want an upstream error of album", err)
	}
	if !strings.Contains(err.Error(), "schema: /album: status 3") {
		t.Errorf("err = %v", err)
	}
}

func TestAccessors(t *testing.T) {
	t.Parallel()
	c, _ := plainClient(t, "http://127.0.0.1:1", 300*time.Millisecond, nil)
	if c.Name() != "video" || c.Timeout() != 300*time.Millisecond || c.BaseURL() != "http://127.0.0.1:1" {
		t.Errorf("Name, Timeout, BaseURL = %q, %s, %q", c.Name(), c.Timeout(), c.BaseURL())
	}
}

// TestNoCookiesAcrossCalls: an upstream's Set-Cookie on one call is never
// sent on a later one — the client serves every user, so a cookie jar would
// leak one user's upstream session to the next.
func TestNoCookiesAcrossCalls(t *testing.T) {
	var sawCookie atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Cookie") != "" {
			sawCookie.Store(true)
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "user-a", Path: "/"})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer ts.Close()
	c := upstream.New("team", config.Upstream{BaseURL: ts.URL, Timeout: time.Second, MaxIdleConns: 2}, metrics.New("t", "t"), logging.Discard())
	for i := 0; i < 2; i++ {
		if err := c.GetJSON(context.Background(), "/x", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if sawCookie.Load() {
		t.Error("the second call carried the first call's Set-Cookie")
	}
}

// TestBodyLimit: an answer beyond MaxBodyBytes is an upstream error, not an
// unbounded read.
func TestBodyLimit(t *testing.T) {
	chunk := []byte(strings.Repeat(" ", 1<<20))
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for i := 0; i <= upstream.MaxBodyBytes>>20; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer ts.Close()
	// A generous timeout: reading 33 MiB under -race on a loaded machine
	// can take seconds, and a timeout would hide what the test checks.
	c := upstream.New("team", config.Upstream{BaseURL: ts.URL, Timeout: 2 * time.Minute, MaxIdleConns: 2}, metrics.New("t", "t"), logging.Discard())
	err := c.GetJSON(context.Background(), "/big", nil, nil)
	if apperr.KindOf(err) != apperr.KindUpstream {
		t.Fatalf("GetJSON of a %d MiB answer = %v; want an upstream error", upstream.MaxBodyBytes>>20+1, err)
	}
}

// R gives daos resty's request building for calls GetJSON does not make
// (here a POST with a JSON body and result), on the same base URL,
// headers and request id.
func TestRequestForOtherCalls(t *testing.T) {
	t.Parallel()
	type seen struct{ method, path, id, token, ctype, body string }
	got := make(chan seen, 1)
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, r.Header.Get("X-Request-Id"), r.Header.Get("X-App-Token"), r.Header.Get("Content-Type"), string(b)}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	c, _ := plainClient(t, ts.URL, time.Second, map[string]string{"X-App-Token": "t0k"})
	ctx := logging.WithRequestID(context.Background(), "req-7")
	var out struct {
		OK bool `json:"ok"`
	}
	resp, err := c.R(ctx).SetBody(map[string]int{"n": 1}).SetResult(&out).Post("/likes")
	if err != nil || resp.StatusCode() != 200 || !out.OK {
		t.Fatalf("POST: %v, %v, %+v", err, resp, out)
	}
	want := seen{"POST", "/likes", "req-7", "t0k", "application/json", `{"n":1}`}
	if s := <-got; s != want {
		t.Errorf("upstream saw %+v; want %+v", s, want)
	}
	// The request carries ctx: a cancelled one does not reach the upstream.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.R(cctx).Get("/likes"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v; want context.Canceled", err)
	}
}
