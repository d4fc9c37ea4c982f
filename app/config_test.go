package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wings-bff/wings/app"
	"github.com/wings-bff/wings/framework/config"
)

// deployEnv is what a deployment sets in the environment, as conf/ says:
// stage and prod name the company SSO and permission APIs and the secret.
var deployEnv = []string{
	"WINGS_AUTH__IDENTITY__SSO_URL=https://sso.internal",
	"WINGS_AUTH__PERMISSION__PERM_URL=https://perm.internal",
	"WINGS_AUTH__APP_SECRET=s3cret",
}

// TestConfFiles loads the repository's conf/ for every environment into the
// application's config, strictly: no unknown key, no warning, valid.
func TestConfFiles(t *testing.T) {
	t.Parallel()
	for _, env := range config.Environments {
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			environ := []string{}
			if env == "stage" || env == "prod" {
				environ = deployEnv
			}
			var cfg app.Config
			res, err := config.Load(config.Options{Dir: "../conf", Env: env, Environ: environ}, &cfg)
			if err != nil {
				t.Fatalf("conf/ for %s: %v", env, err)
			}
			if len(res.Warnings) != 0 {
				t.Errorf("warnings = %v", res.Warnings)
			}
			if cfg.Env != env || cfg.App.Name == "" {
				t.Errorf("env, app.name = %q, %q", cfg.Env, cfg.App.Name)
			}
			for _, name := range []string{"video", "album", "star"} {
				if u, ok := cfg.Upstreams[name]; !ok || u.BaseURL == "" {
					t.Errorf("upstreams.%s missing", name)
				}
			}
			if cfg.Routes["video_detail"].Timeout <= 0 {
				t.Errorf("routes.video_detail.timeout = %s", cfg.Routes["video_detail"].Timeout)
			}
		})
	}
}

// TestAnalyticsSpanKeys checks the spans job's keys: defaults from conf/,
// their WINGS_ variables, and the refusal of a sub-second interval.
func TestAnalyticsSpanKeys(t *testing.T) {
	t.Parallel()
	var cfg app.Config
	if _, err := config.Load(config.Options{Dir: "../conf", Env: "local"}, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Analytics.SpanInterval != 10*time.Minute || cfg.Analytics.SpanMinUV != 10000 {
		t.Errorf("defaults: span_interval %s, span_min_uv %d", cfg.Analytics.SpanInterval, cfg.Analytics.SpanMinUV)
	}
	var off app.Config
	if _, err := config.Load(config.Options{Dir: "../conf", Env: "local",
		Environ: []string{"WINGS_ANALYTICS__SPAN_INTERVAL=0s", "WINGS_ANALYTICS__SPAN_MIN_UV=500"}}, &off); err != nil {
		t.Fatal(err)
	}
	if off.Analytics.SpanInterval != 0 || off.Analytics.SpanMinUV != 500 {
		t.Errorf("from the environment: %s, %d", off.Analytics.SpanInterval, off.Analytics.SpanMinUV)
	}
	var bad app.Config
	_, err := config.Load(config.Options{Dir: "../conf", Env: "local", Environ: []string{"WINGS_ANALYTICS__SPAN_INTERVAL=10ms"}}, &bad)
	if err == nil || !strings.Contains(err.Error(), "analytics.span_interval: must be 0 (off) or >= 1s") {
		t.Errorf("span_interval 10ms: %v", err)
	}
}

// TestAnalyticsClockOffset: the dashboards' clock can be shifted in test
// and local, never in stage or prod.
func TestAnalyticsClockOffset(t *testing.T) {
	t.Parallel()
	var cfg app.Config
	if _, err := config.Load(config.Options{Dir: "../conf", Env: "test", Environ: []string{"WINGS_ANALYTICS__CLOCK_OFFSET=-240h"}}, &cfg); err != nil {
		t.Fatal(err)
	}
	if got := time.Until(cfg.Analytics.Now()()); got > -239*time.Hour || got < -241*time.Hour {
		t.Errorf("clock 240h back reads %s from now", got)
	}
	if cfg.Analytics.ClockOffset = 0; time.Since(cfg.Analytics.Now()()) > time.Minute {
		t.Error("no offset: not the wall clock")
	}
	for _, env := range []string{"stage", "prod"} {
		var bad app.Config
		_, err := config.Load(config.Options{Dir: "../conf", Env: env, Environ: []string{"WINGS_ANALYTICS__CLOCK_OFFSET=1h"}}, &bad)
		if err == nil || !strings.Contains(err.Error(), "analytics.clock_offset: only the local and test environments") {
			t.Errorf("%s with clock_offset: %v", env, err)
		}
	}
}

// TestAnalyticsClassKeys checks the query classes' budgets: defaults from
// conf/ equal DefaultAnalytics, WINGS_ variables override them, and bad
// values are refused naming the key.
func TestAnalyticsClassKeys(t *testing.T) {
	t.Parallel()
	var cfg app.Config
	if _, err := config.Load(config.Options{Dir: "../conf", Env: "local"}, &cfg); err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Analytics.Classes, app.DefaultAnalytics().Classes; got != want {
		t.Errorf("conf/ classes = %+v; want DefaultAnalytics' %+v", got, want)
	}
	if cfg.Analytics.PrecomputeParallelism != 2 || cfg.Analytics.PrecomputeLineTimeout != 20*time.Second {
		t.Errorf("precompute: %d, %s", cfg.Analytics.PrecomputeParallelism, cfg.Analytics.PrecomputeLineTimeout)
	}
	var env app.Config
	if _, err := config.Load(config.Options{Dir: "../conf", Env: "local", Environ: []string{
		"WINGS_ANALYTICS__CLASSES__RAW__PER_USER=2", "WINGS_ANALYTICS__CLASSES__RAW__MAX_ROWS_TO_READ=10",
		"WINGS_ANALYTICS__CLASSES__RAW__CACHE_TTL=5s", "WINGS_ANALYTICS__CLASSES__ROLLUP__WAIT=0s",
	}}, &env); err != nil {
		t.Fatal(err)
	}
	raw, rollup := env.Analytics.Classes.Raw, env.Analytics.Classes.Rollup
	if raw.PerUser != 2 || raw.MaxRowsToRead != 10 || raw.CacheTTL != 5*time.Second || rollup.Wait != 0 {
		t.Errorf("from the environment: raw %+v, rollup %+v", raw, rollup)
	}
	for _, tc := range []struct{ env, want string }{
		{"WINGS_ANALYTICS__CLASSES__RAW__PER_USER=0", "analytics.classes.raw.per_user: must be in [1, concurrency]"},
		{"WINGS_ANALYTICS__CLASSES__RAW__PER_USER=3", "analytics.classes.raw.per_user: must be in [1, concurrency]"},
		{"WINGS_ANALYTICS__CLASSES__ROLLUP__CONCURRENCY=0", "analytics.classes.rollup.concurrency"},
		{"WINGS_ANALYTICS__CLASSES__RAW__MAX_EXECUTION_TIME=500ms", "analytics.classes.raw.max_execution_time"},
		{"WINGS_ANALYTICS__CLASSES__RAW__CACHE_TTL=1h", "analytics.classes.raw.cache_ttl"},
		{"WINGS_ANALYTICS__CLASSES__RAW__WAIT=-1s", "analytics.classes.raw.wait"},
		{"WINGS_ANALYTICS__PRECOMPUTE_PARALLELISM=0", "analytics.precompute_parallelism"},
		{"WINGS_ANALYTICS__PRECOMPUTE_LINE_TIMEOUT=1ms", "analytics.precompute_line_timeout"},
	} {
		var bad app.Config
		_, err := config.Load(config.Options{Dir: "../conf", Env: "local", Environ: []string{tc.env}}, &bad)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error naming %q", tc.env, err, tc.want)
		}
	}
}
