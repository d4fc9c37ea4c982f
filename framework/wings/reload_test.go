package wings_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/wings"
)

func TestReloaderAppliesHotKeysOnly(t *testing.T) {
	up := config.Upstream{BaseURL: "http://127.0.0.1:1", Timeout: 800 * time.Millisecond, MaxIdleConns: 4, Retries: 1}
	rt, logs := newRuntime(t, func(c *config.Config) { c.Upstreams = map[string]config.Upstream{"video": up} })
	r := wings.NewReloader(rt)

	next := testConfig()
	next.Log.Level = "debug"
	next.Server.GzipMinBytes = 4096
	up2 := up
	up2.Timeout, up2.Retries = 50*time.Millisecond, 3
	next.Upstreams = map[string]config.Upstream{"video": up2}

	applied, restart := r.Apply("test", next)
	if got, want := strings.Join(applied, " "), "log.level upstreams.video.retries upstreams.video.timeout"; got != want {
		t.Errorf("applied = %q; want %q", got, want)
	}
	if got, want := strings.Join(restart, " "), "server.gzip_min_bytes"; got != want {
		t.Errorf("restart = %q; want %q", got, want)
	}
	c, err := rt.Upstream("video")
	if err != nil {
		t.Fatal(err)
	}
	if c.Timeout() != 50*time.Millisecond {
		t.Errorf("video timeout = %s; want 50ms", c.Timeout())
	}
	if rt.Logger().GetLevel() != logrus.DebugLevel {
		t.Errorf("log level = %s; want debug", rt.Logger().GetLevel())
	}
	if len(logs.lines(t, "config reloaded")) != 1 {
		t.Error("want one \"config reloaded\" log line")
	}
	if got := reloads(t, rt, "applied"); got != 1 {
		t.Errorf("reloads{applied} = %v; want 1", got)
	}

	// The same config again changes nothing hot; the restart key is still
	// reported, as it is still not in force.
	applied, restart = r.Apply("test", next)
	if len(applied) != 0 || strings.Join(restart, " ") != "server.gzip_min_bytes" {
		t.Errorf("second apply: applied %q, restart %q; want none, server.gzip_min_bytes", applied, restart)
	}

	// A bad level is rejected as a whole.
	bad := testConfig()
	bad.Log.Level = "loud"
	bad.Upstreams = map[string]config.Upstream{"video": up}
	if applied, _ := r.Apply("test", bad); len(applied) != 0 || c.Timeout() != 50*time.Millisecond {
		t.Errorf("a bad log level applied %q (timeout %s); want nothing", applied, c.Timeout())
	}
}

// reloads reads wings_config_reloads_total{result} from rt's registry.
func reloads(t *testing.T, rt *wings.Runtime, result string) float64 {
	t.Helper()
	mfs, err := rt.Metrics().Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "wings_config_reloads_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no wings_config_reloads_total{result=%q}", result)
	return 0
}

// TestReloadLimitsBreakerFeatures: route rate limits, route and server
// in-flight bounds, breaker settings and feature flags change in the
// running Runtime through the Reloader.
func TestReloadLimitsBreakerFeatures(t *testing.T) {
	up := config.Upstream{BaseURL: "http://127.0.0.1:1", Timeout: time.Second, MaxIdleConns: 4}
	entered, release := make(chan struct{}), make(chan struct{})
	routes := []wings.Route{
		{Method: http.MethodGet, Path: "/r", Name: "r", Handler: func(c echo.Context) error { return wings.JSON(c, 1) }},
		{Method: http.MethodGet, Path: "/slow", Name: "slow", Handler: func(c echo.Context) error {
			entered <- struct{}{}
			<-release
			return wings.JSON(c, "done")
		}},
	}
	base := func(c *config.Config) {
		c.Upstreams = map[string]config.Upstream{"video": up}
		c.Features = map[string]bool{"old_player": true}
		c.Routes = map[string]config.Route{"r": {}, "slow": {}}
	}
	rt, _ := newRuntime(t, base, routes...)
	r := wings.NewReloader(rt)
	if !rt.Feature("old_player") || rt.Feature("new_player") {
		t.Fatalf("features at start: old_player %v, new_player %v; want true, false", rt.Feature("old_player"), rt.Feature("new_player"))
	}
	for range 5 {
		if w := do(rt, http.MethodGet, "/r"); w.Code != http.StatusOK {
			t.Fatalf("no rate limit: %d", w.Code)
		}
	}

	next := testConfig()
	base(next)
	next.Features = map[string]bool{"new_player": true}
	next.Routes = map[string]config.Route{"r": {RateLimit: config.RateLimit{RPS: 0.1, Burst: 2}}, "slow": {MaxInFlight: 1}}
	b := config.Breaker{FailureRatio: 0.5, MinRequests: 5, Interval: time.Minute, OpenTimeout: time.Minute, HalfOpenRequests: 1}
	u := next.Upstreams["video"]
	u.Breaker = b
	next.Upstreams = map[string]config.Upstream{"video": u}
	applied, restart := r.Apply("test", next)
	want := "features.new_player features.old_player routes.r.rate_limit.burst routes.r.rate_limit.rps routes.slow.max_in_flight " +
		"upstreams.video.breaker.failure_ratio upstreams.video.breaker.half_open_requests upstreams.video.breaker.interval " +
		"upstreams.video.breaker.min_requests upstreams.video.breaker.open_timeout"
	if got := strings.Join(applied, " "); got != want || len(restart) != 0 {
		t.Fatalf("applied %q, restart %q; want %q and none", got, restart, want)
	}

	if rt.Feature("old_player") || !rt.Feature("new_player") {
		t.Errorf("features after reload: old_player %v, new_player %v; want false, true", rt.Feature("old_player"), rt.Feature("new_player"))
	}
	c, err := rt.Upstream("video")
	if err != nil {
		t.Fatal(err)
	}
	if c.Breaker() != b {
		t.Errorf("video breaker = %+v; want %+v", c.Breaker(), b)
	}
	codes := []int{}
	for range 3 {
		codes = append(codes, do(rt, http.MethodGet, "/r").Code)
	}
	if fmt.Sprint(codes) != "[200 200 429]" {
		t.Errorf("rate limit 0.1/s burst 2: codes %v; want [200 200 429]", codes)
	}

	// routes.slow.max_in_flight 1: a second concurrent request is shed.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); do(rt, http.MethodGet, "/slow") }()
	<-entered
	shed := do(rt, http.MethodGet, "/slow").Code

	release <- struct{}{}
	wg.Wait()
	if shed != http.StatusServiceUnavailable {
		t.Errorf("route bound 1, second request: %d; want 503", shed)
	}

	// server.max_in_flight 1 (route bounds lifted): /r is shed while /slow
	// runs. (Requests admitted before a bound is set are not counted.)
	next2 := testConfig()
	base(next2)
	next2.Features, next2.Upstreams = next.Features, next.Upstreams
	next2.Server.MaxInFlight = 1
	if applied, _ := r.Apply("test", next2); strings.Join(applied, " ") != "routes.r.rate_limit.burst routes.r.rate_limit.rps routes.slow.max_in_flight server.max_in_flight" {
		t.Errorf("second reload applied %q", applied)
	}
	wg.Add(1)
	go func() { defer wg.Done(); do(rt, http.MethodGet, "/slow") }()
	<-entered
	serverShed := do(rt, http.MethodGet, "/r").Code
	close(release)
	wg.Wait()
	if serverShed != http.StatusServiceUnavailable {
		t.Errorf("server bound 1, /r while /slow runs: %d; want 503", serverShed)
	}
	if got := testutil.ToFloat64(rt.Metrics().Shed.WithLabelValues("/r", wings.ShedServerInFlight)); got != 1 {
		t.Errorf("wings_shed_total{/r,server_in_flight} = %g; want 1", got)
	}
	// Nothing in flight now: the server bound admits again, and the lifted
	// rate limit lets every request through.
	for range 5 {
		if w := do(rt, http.MethodGet, "/r"); w.Code != http.StatusOK {
			t.Fatalf("after the slow request ended: %d; want 200", w.Code)
		}
	}
}
