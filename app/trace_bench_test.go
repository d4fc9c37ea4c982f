package app_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wings-bff/wings/app"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/testkit"
	"github.com/wings-bff/wings/framework/testkit/apptest"
	"github.com/wings-bff/wings/framework/tracing"
	"github.com/wings-bff/wings/framework/wings"
)

// BenchmarkVideoDetailTracing serves /api/video/42 (three upstream calls
// over loopback) with tracing off, at 1% and at 100% sampling, in one run;
// scripts/bench-tracing.sh reports the ratios.
func BenchmarkVideoDetailTracing(b *testing.B) {
	for _, bc := range testkit.TracingCases() {
		b.Run(bc.Name, func(b *testing.B) {
			var cfg app.Config
			if _, err := config.Load(config.Options{Dir: "../conf", Env: "test", Environ: []string{}}, &cfg); err != nil {
				b.Fatal(err)
			}
			cfg.Log.Level = "error"
			cfg.Tracing = config.Tracing{Enabled: bc.Enabled, SampleRatio: bc.Ratio}
			var ups []*testkit.Upstream
			for _, name := range []string{"video", "album", "star"} {
				ups = append(ups, testkit.Replay(b, name, "testdata/upstreams/"+name+".json"))
			}
			a := apptest.Start(b, func(rt *wings.Runtime) ([]wings.Route, error) {
				c, err := app.NewContainer(rt, app.WithAnalytics(cfg.Analytics))
				if err != nil {
					return nil, err
				}
				return app.Routes(c), nil
			}, apptest.WithConfig(&cfg.Config), apptest.WithUpstreams(ups...),
				apptest.WithRuntimeOptions(wings.Options{Tracing: tracing.Options{Exporter: testkit.DiscardSpans{}}}))
			req := httptest.NewRequest(http.MethodGet, "/api/video/42", nil)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				w := httptest.NewRecorder()
				a.Runtime.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
