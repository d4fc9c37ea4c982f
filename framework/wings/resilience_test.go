package wings_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/fanout"
	"github.com/wings-bff/wings/framework/render"
	"github.com/wings-bff/wings/framework/wings"
)

// TestRouteShedding: beyond routes.<name>.max_in_flight a request is 503
// unavailable with Retry-After, counted in wings_shed_total.
func TestRouteShedding(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	rt, _ := newRuntime(t, func(c *config.Config) {
		c.Routes = map[string]config.Route{"slow": {MaxInFlight: 1}}
	}, wings.Route{Method: http.MethodGet, Path: "/slow", Name: "slow", Handler: func(c echo.Context) error {
		entered <- struct{}{}
		<-release
		return wings.JSON(c, "done")
	}})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); do(rt, http.MethodGet, "/slow") }()
	<-entered
	w := do(rt, http.MethodGet, "/slow")
	close(release)
	wg.Wait()
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d Retry-After %q body %s; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if got := testutil.ToFloat64(rt.Metrics().Shed.WithLabelValues("/slow", wings.ShedRouteInFlight)); got != 1 {
		t.Errorf("wings_shed_total = %g; want 1", got)
	}
}

// TestRouteRateLimit: routes.<name>.rate_limit answers 429 rate_limited
// with Retry-After past the burst.
func TestRouteRateLimit(t *testing.T) {
	t.Parallel()
	rt, _ := newRuntime(t, func(c *config.Config) {
		c.Routes = map[string]config.Route{"r": {RateLimit: config.RateLimit{RPS: 1, Burst: 2}}}
	}, wings.Route{Method: http.MethodGet, Path: "/r", Name: "r", Handler: func(c echo.Context) error { return wings.JSON(c, 1) }})
	codes := []int{}
	for range 3 {
		codes = append(codes, do(rt, http.MethodGet, "/r").Code)
	}
	w := do(rt, http.MethodGet, "/r")
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 || w.Header().Get("Retry-After") != "1" {
		t.Errorf("codes %v, Retry-After %q; want 200 200 429 and 1", codes, w.Header().Get("Retry-After"))
	}
}

// TestDegradedEnvelopeAndMetric: an optional fan-out call that fails is
// listed in the envelope and counted per route and source.
func TestDegradedEnvelopeAndMetric(t *testing.T) {
	t.Parallel()
	var rt *wings.Runtime
	rt, _ = newRuntime(t, nil, wings.Route{Method: http.MethodGet, Path: "/v/:id", Name: "v", Handler: func(c echo.Context) error {
		g := fanout.New(c.Request().Context())
		title := fanout.Go(g, "title", func(context.Context) (string, error) { return "t", nil })
		stars := fanout.Go(g, "stars", func(context.Context) ([]string, error) { return nil, errors.New("down") }, fanout.Optional())
		album := fanout.Go(g, "album", func(context.Context) (string, error) { return "", errors.New("down") },
			fanout.StaleOK(rt.StaleStore(), "album:"+c.Param("id")))
		if err := g.Wait(); err != nil {
			return err
		}
		stars.Value()
		return wings.JSONMeta(c, map[string]any{"title": title.Value(), "album": album.Value()},
			render.Meta{Degraded: g.Degraded(), Stale: g.Stale()})
	}})
	rt.StaleStore().Set(context.Background(), "album:1", []byte(`"last good"`))
	w := do(rt, http.MethodGet, "/v/1")
	want := `{"code":0,"data":{"album":"last good","title":"t"},"degraded":["stars"],"stale":["album"]}`
	if w.Code != 200 || w.Body.String() != want {
		t.Fatalf("got %d %s; want 200 %s", w.Code, w.Body, want)
	}
	m := rt.Metrics()
	if d, s := testutil.ToFloat64(m.Degraded.WithLabelValues("/v/:id", "stars")), testutil.ToFloat64(m.Stale.WithLabelValues("/v/:id", "album")); d != 1 || s != 1 {
		t.Errorf("wings_degraded_total %g, wings_stale_total %g; want 1, 1", d, s)
	}
	// Without a kept value a stale-ok failure fails the request.
	if w := do(rt, http.MethodGet, "/v/2"); w.Code != http.StatusInternalServerError {
		t.Errorf("no stale value: status %d; want the failure (500 for an untyped error)", w.Code)
	}
}
