package wings_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/wings"
)

func TestResolvePolicy(t *testing.T) {
	cfg := &config.Config{}
	cfg.Server.RequestTimeout = 2 * time.Second
	cfg.Cache.Responses = true
	cfg.Routes = map[string]config.Route{
		"conf_ttl":  {CacheTTL: 30 * time.Second, CacheGrace: time.Minute, Timeout: 700 * time.Millisecond},
		"post_conf": {CacheTTL: 30 * time.Second},
	}
	for _, tc := range []struct {
		name string
		r    wings.Route
		want wings.RoutePolicy
	}{
		{"server default, unnamed", wings.Route{Method: http.MethodGet, Path: "/a"},
			wings.RoutePolicy{Name: "GET /a", Timeout: 2 * time.Second}},
		{"route timeout and cache", wings.Route{Method: http.MethodGet, Path: "/b", Name: "b", Timeout: time.Second, Cache: &wings.CacheOptions{TTL: 5 * time.Second, StaleIfError: time.Hour}},
			wings.RoutePolicy{Name: "b", Timeout: time.Second, CacheTTL: 5 * time.Second, CacheStaleIfError: time.Hour}},
		{"config overrides code", wings.Route{Method: http.MethodGet, Path: "/c", Name: "conf_ttl", Timeout: time.Second, Cache: &wings.CacheOptions{TTL: 5 * time.Second, Grace: time.Second}},
			wings.RoutePolicy{Name: "conf_ttl", Timeout: 700 * time.Millisecond, CacheTTL: 30 * time.Second, CacheGrace: time.Minute}},
		{"a POST is never cached (code)", wings.Route{Method: http.MethodPost, Path: "/d", Name: "d", Cache: &wings.CacheOptions{TTL: 5 * time.Second, Grace: time.Second}},
			wings.RoutePolicy{Name: "d", Timeout: 2 * time.Second, CacheDropped: true}},
		{"a POST is never cached (config)", wings.Route{Method: http.MethodPost, Path: "/e", Name: "post_conf"},
			wings.RoutePolicy{Name: "post_conf", Timeout: 2 * time.Second, CacheDropped: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := wings.ResolvePolicy(tc.r, cfg); got != tc.want {
				t.Errorf("got %+v; want %+v", got, tc.want)
			}
		})
	}
	off := *cfg
	off.Cache.Responses = false
	got := wings.ResolvePolicy(wings.Route{Method: http.MethodGet, Path: "/c", Name: "conf_ttl"}, &off)
	if got.Cached() || got.CacheGrace != 0 || got.CacheDropped {
		t.Errorf("cache.responses off: got %+v; want no cache", got)
	}
}

func TestHandleWarnsOnceAboutNonGETCache(t *testing.T) {
	cfg := testConfig()
	cfg.Cache.Responses = true
	var logs bytes.Buffer
	rt, err := wings.New(cfg, wings.Options{LogOutput: &logs})
	if err != nil {
		t.Fatal(err)
	}
	ok := func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }
	rt.Handle(
		wings.Route{Method: http.MethodPost, Path: "/p", Name: "p", Handler: ok, Cache: &wings.CacheOptions{TTL: time.Minute}},
		wings.Route{Method: http.MethodGet, Path: "/g", Name: "g", Handler: ok, Cache: &wings.CacheOptions{TTL: time.Minute}},
	)
	if n := strings.Count(logs.String(), "route cache ttl ignored"); n != 1 {
		t.Errorf("warnings = %d; want 1 (for p only)\n%s", n, logs.String())
	}
	pols := rt.Policies()
	if p := pols["p"]; p.Cached() || !p.CacheDropped {
		t.Errorf("Policies()[p] = %+v; want dropped", p)
	}
	if g := pols["g"]; g.CacheTTL != time.Minute {
		t.Errorf("Policies()[g] = %+v; want a 1m TTL", g)
	}
}
