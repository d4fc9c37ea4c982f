package wings_test

import (
	"strings"
	"testing"
	"time"

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
