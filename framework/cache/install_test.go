package cache_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/cache"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/wings"
)

// TestInstallAppliesConfiguredRouteCache builds the cache with the Runtime
// (no app code calls New): a GET route cached only by routes.<name>.cache_ttl
// is served from the cache; the same key on a POST route is not applied.
func TestInstallAppliesConfiguredRouteCache(t *testing.T) {
	cfg := &config.Config{
		Env:    "test",
		App:    config.App{Name: uniq(t)},
		Log:    config.Log{Level: "error", Format: "json"},
		Server: config.Server{RequestTimeout: 2 * time.Second, ShutdownTimeout: time.Second},
		Cache:  config.Cache{Responses: true, L1MaxEntries: 100, L1MaxBytes: 1 << 20},
		Routes: map[string]config.Route{"g": {CacheTTL: time.Minute}, "p": {CacheTTL: time.Minute}},
	}
	cfg.Auth.Identity.Provider, cfg.Auth.Permission.Provider = "static", "static"
	rt, err := wings.New(cfg, wings.Options{ResponseCache: cache.Install})
	if err != nil {
		t.Fatal(err)
	}
	if cache.Of(rt) == nil {
		t.Fatal("cache.Of(rt) = nil after Options.ResponseCache")
	}
	if _, err := cache.New(rt); err == nil {
		t.Error("a second cache.New on the runtime: got no error")
	}
	calls := map[string]int{}
	h := func(c echo.Context) error {
		calls[c.Request().Method]++
		return wings.JSON(c, map[string]int{"n": calls[c.Request().Method]})
	}
	rt.Handle(
		wings.Route{Method: http.MethodGet, Path: "/g", Name: "g", Handler: h},
		wings.Route{Method: http.MethodPost, Path: "/p", Name: "p", Handler: h},
	)
	for i, want := range []string{"MISS", "HIT"} {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/g", nil))
		if got := rec.Header().Get("X-Cache"); rec.Code != http.StatusOK || got != want {
			t.Errorf("GET %d: status %d, X-Cache %q; want 200, %q", i, rec.Code, got, want)
		}
	}
	if calls[http.MethodGet] != 1 {
		t.Errorf("GET handler calls = %d; want 1", calls[http.MethodGet])
	}
	for range 2 {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/p", nil))
		if got := rec.Header().Get("X-Cache"); got != "" {
			t.Errorf("POST: X-Cache %q; want none", got)
		}
	}
	if calls[http.MethodPost] != 2 {
		t.Errorf("POST handler calls = %d; want 2 (never cached)", calls[http.MethodPost])
	}
}
