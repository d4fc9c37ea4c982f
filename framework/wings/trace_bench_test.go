package wings_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/testkit"
	"github.com/wings-bff/wings/framework/tracing"
	"github.com/wings-bff/wings/framework/wings"
)

// BenchmarkTracingStack is one request through the whole echo middleware
// stack to a wings.JSON handler, with tracing off, at 1% and at 100%
// sampling (spans batched into a discarding exporter): the tracing
// middleware's own cost per request; scripts/bench-tracing.sh runs it.
func BenchmarkTracingStack(b *testing.B) {
	for _, bc := range testkit.TracingCases() {
		b.Run(bc.Name, func(b *testing.B) {
			cfg := &config.Config{
				Env:     "test",
				Log:     config.Log{Level: "warn", Format: "json"},
				Server:  config.Server{RequestTimeout: 3 * time.Second, ShutdownTimeout: time.Second, GzipMinBytes: 1024},
				Tracing: config.Tracing{Enabled: bc.Enabled, SampleRatio: bc.Ratio},
				Auth: config.Auth{
					Identity:   config.AuthIdentity{Provider: "static"},
					Permission: config.AuthPermission{Provider: "static"},
				},
			}
			rt, err := wings.New(cfg, wings.Options{LogOutput: io.Discard, Tracing: tracing.Options{Exporter: testkit.DiscardSpans{}}})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = rt.Tracing().Shutdown(context.Background()) })
			rt.Handle(wings.Route{Method: http.MethodGet, Path: "/json/:id", Name: "bench_json", Handler: func(c echo.Context) error {
				return wings.JSON(c, benchValue)
			}})
			serveBench(b, rt, "/json/42")
		})
	}
}
