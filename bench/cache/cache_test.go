// Package cachebench measures the response cache of GET /api/video/:id: the
// cache-hit path (JSON, and JSONP with a changing callback and timestamp)
// next to the uncached path and a bare echo handler answering a constant
// body of the same size, in the same run, over loopback and in-process.
// scripts/bench-cache.sh runs it and prints the ratios.
package cachebench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/app"
	"github.com/wings-bff/wings/app/mockupstream"
	"github.com/wings-bff/wings/framework/cache"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/wings"
)

// ids is how many ids the loops cycle over (all cached after warm-up).
const ids = 100

type servers struct {
	bare, cached, uncached string // base URLs
	cachedRT, uncachedRT   http.Handler
	body                   []byte
}

func serve(b *testing.B, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// wingsApp is the example app over the in-process mock teams, with the
// response cache on or off and extra WINGS_* settings.
func wingsApp(b *testing.B, mock string, cached bool, extra ...string) *wings.Runtime {
	var cfg app.Config
	environ := []string{
		"WINGS_LOG__LEVEL=error", fmt.Sprintf("WINGS_CACHE__RESPONSES=%t", cached),
		"WINGS_UPSTREAMS__VIDEO__BASE_URL=" + mock, "WINGS_UPSTREAMS__ALBUM__BASE_URL=" + mock,
		"WINGS_UPSTREAMS__STAR__BASE_URL=" + mock,
	}
	environ = append(environ, extra...)
	if _, err := config.Load(config.Options{Dir: "../../conf", Env: "test", Environ: environ}, &cfg); err != nil {
		b.Fatal(err)
	}
	rt, err := wings.New(&cfg.Config, wings.Options{LogOutput: io.Discard, ResponseCache: cache.Install})
	if err != nil {
		b.Fatal(err)
	}
	c, err := app.NewContainer(rt)
	if err != nil {
		b.Fatal(err)
	}
	rt.Handle(app.Routes(c)...)
	return rt
}

func setup(b *testing.B) *servers {
	b.Helper()
	mock := httptest.NewServer(mockupstream.New(nil, nil).Handler())
	b.Cleanup(mock.Close)
	s := &servers{}
	crt, urt := wingsApp(b, mock.URL, true), wingsApp(b, mock.URL, false)
	s.cachedRT, s.uncachedRT = crt, urt
	s.cached, s.uncached = serve(b, crt), serve(b, urt)
	// Warm the cache and take a real answer as the bare handler's body.
	for id := 1; id <= ids; id++ {
		resp, err := http.Get(fmt.Sprintf("%s/api/video/%d", s.cached, id))
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("warm-up: %d %s", resp.StatusCode, body)
		}
		if id == 42 {
			s.body = body
		}
	}
	e := echo.New()
	e.GET("/api/video/:id", func(c echo.Context) error { return c.JSONBlob(http.StatusOK, s.body) })
	s.bare = serve(b, e)
	return s
}

// loop drives url (with %d for a per-request counter) over keep-alive
// loopback connections from parallel goroutines.
func loop(b *testing.B, url func(i int64) string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var n atomic.Int64
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 8192)
		for pb.Next() {
			i := n.Add(1)
			resp, err := client.Get(url(i))
			if err != nil {
				b.Error(err)
				return
			}
			for {
				if _, err := resp.Body.Read(buf); err != nil {
					break
				}
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// inproc drives h through ServeHTTP: the framework's own cost, no network.
func inproc(b *testing.B, h http.Handler, url func(i int64) string) {
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequestWithContext(context.Background(), http.MethodGet, url(i), nil))
			if w.Code != 200 {
				b.Errorf("status %d", w.Code)
				return
			}
		}
	})
}

// The URLs: a plain request, and JSONP with a new callback and timestamp
// each time (as jQuery makes them), over ids 1..ids.
func plain(base string) func(int64) string {
	return func(i int64) string { return fmt.Sprintf("%s/api/video/%d", base, i%ids+1) }
}

func jsonp(base string) func(int64) string {
	return func(i int64) string {
		return fmt.Sprintf("%s/api/video/%d?callback=jQuery_%d&_=%d", base, i%ids+1, i, 1700000000000+i)
	}
}

// BenchmarkVideoLoopback: requests over loopback HTTP/1.1 keep-alive.
func BenchmarkVideoLoopback(b *testing.B) {
	s := setup(b)
	b.Run("bare_echo", func(b *testing.B) { loop(b, plain(s.bare)) })
	b.Run("hit_json", func(b *testing.B) { loop(b, plain(s.cached)) })
	// The bare handler sent the JSONP requests' URLs (it ignores the
	// query): the like-for-like baseline of hit_jsonp, whose longer
	// request lines cost the client and net/http on both sides.
	b.Run("bare_echo_jsonp", func(b *testing.B) { loop(b, jsonp(s.bare)) })
	b.Run("hit_jsonp", func(b *testing.B) { loop(b, jsonp(s.cached)) })
	b.Run("uncached", func(b *testing.B) { loop(b, plain(s.uncached)) })
}

// BenchmarkVideoInProcess: the same through ServeHTTP.
func BenchmarkVideoInProcess(b *testing.B) {
	s := setup(b)
	e := echo.New()
	e.GET("/api/video/:id", func(c echo.Context) error { return c.JSONBlob(http.StatusOK, s.body) })
	b.Run("bare_echo", func(b *testing.B) { inproc(b, e, plain("")) })
	b.Run("hit_json", func(b *testing.B) { inproc(b, s.cachedRT, plain("")) })
	b.Run("bare_echo_jsonp", func(b *testing.B) { inproc(b, e, jsonp("")) })
	b.Run("hit_jsonp", func(b *testing.B) { inproc(b, s.cachedRT, jsonp("")) })
	b.Run("uncached", func(b *testing.B) { inproc(b, s.uncachedRT, plain("")) })
}
