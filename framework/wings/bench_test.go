package wings_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/render"
	"github.com/wings-bff/wings/framework/wings"
)

type benchAlbum struct {
	ID       int64  `json:"id"`
	Title    string `json:"title"`
	Episodes int    `json:"episodes"`
	Cover    string `json:"cover"`
}

type benchStar struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Avatar string `json:"avatar"`
}

// benchVideo has the shape of the example app's GET /api/video/:id answer.
type benchVideo struct {
	ID        int64       `json:"id"`
	Title     string      `json:"title"`
	Duration  int64       `json:"duration"`
	Cover     string      `json:"cover"`
	PlayCount int64       `json:"playCount"`
	Album     *benchAlbum `json:"album"`
	Stars     []benchStar `json:"stars"`
}

var benchValue = &benchVideo{
	ID: 42, Title: "Video 42", Duration: 2530, Cover: "https://img.example/v/42.jpg", PlayCount: 332599,
	Album: &benchAlbum{ID: 1042, Title: "Album 1042", Episodes: 40, Cover: "https://img.example/a/1042.jpg"},
	Stars: []benchStar{
		{ID: 43, Name: "Star 43", Avatar: "https://img.example/s/43.jpg"},
		{ID: 93, Name: "Star 93", Avatar: "https://img.example/s/93.jpg"},
		{ID: 143, Name: "Star 143", Avatar: "https://img.example/s/143.jpg"},
	},
}

// benchRuntime is a Runtime with the full middleware stack (request id,
// metrics, access log at level, recover, gzip, callback guard, deadline)
// and two routes answering benchValue through JSON and Data.
func benchRuntime(b *testing.B, level string) *wings.Runtime {
	b.Helper()
	cfg := &config.Config{
		Env:    "test",
		Log:    config.Log{Level: level, Format: "json"},
		Server: config.Server{RequestTimeout: 3 * time.Second, ShutdownTimeout: time.Second, GzipMinBytes: 1024},
		Auth: config.Auth{
			Identity:   config.AuthIdentity{Provider: "static"},
			Permission: config.AuthPermission{Provider: "static"},
		},
	}
	rt, err := wings.New(cfg, wings.Options{LogOutput: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	rt.Handle(
		wings.Route{Method: http.MethodGet, Path: "/json/:id", Name: "bench_json", Handler: func(c echo.Context) error {
			return wings.JSON(c, benchValue)
		}},
		wings.Route{Method: http.MethodGet, Path: "/data/:id", Name: "bench_data", Handler: func(c echo.Context) error {
			return wings.Data(c, benchBytes, render.Meta{})
		}},
	)
	return rt
}

var benchBytes = []byte(`{"id":42,"title":"Video 42","duration":2530,"cover":"https://img.example/v/42.jpg","playCount":332599,` +
	`"album":{"id":1042,"title":"Album 1042","episodes":40,"cover":"https://img.example/a/1042.jpg"},` +
	`"stars":[{"id":43,"name":"Star 43","avatar":"https://img.example/s/43.jpg"},{"id":93,"name":"Star 93","avatar":"https://img.example/s/93.jpg"},` +
	`{"id":143,"name":"Star 143","avatar":"https://img.example/s/143.jpg"}]}`)

// serveBench drives rt with target through httptest, checking the status.
func serveBench(b *testing.B, rt *wings.Runtime, target string, header ...string) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", target, w.Code, w.Body)
		}
	}
}

// BenchmarkWingsJSON is a handler's wings.JSON through the whole echo
// middleware stack: marshal, envelope, headers, metrics, access log.
func BenchmarkWingsJSON(b *testing.B) {
	b.Run("log=warn", func(b *testing.B) { serveBench(b, benchRuntime(b, "warn"), "/json/42") })
	b.Run("log=info", func(b *testing.B) { serveBench(b, benchRuntime(b, "info"), "/json/42") })
	b.Run("fields", func(b *testing.B) {
		serveBench(b, benchRuntime(b, "warn"), "/json/42?fields=id,title,album.title,stars.name")
	})
	b.Run("jsonp", func(b *testing.B) { serveBench(b, benchRuntime(b, "warn"), "/json/42?callback=jQuery123_456") })
	b.Run("gzip", func(b *testing.B) {
		serveBench(b, benchRuntime(b, "warn"), "/json/42", "Accept-Encoding", "gzip")
	})
}

// BenchmarkWingsData is wings.Data (already-marshalled data, as the response
// cache serves it) through the whole stack.
func BenchmarkWingsData(b *testing.B) {
	b.Run("envelope", func(b *testing.B) { serveBench(b, benchRuntime(b, "warn"), "/data/42") })
	b.Run("fields+jsonp", func(b *testing.B) {
		serveBench(b, benchRuntime(b, "warn"), "/data/42?fields=id,album.title&_callback=cb")
	})
}
