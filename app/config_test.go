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
