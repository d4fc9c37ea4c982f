package wings_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/tracing"
	"github.com/wings-bff/wings/framework/wings"
)

// TestTracingOffRecordsNothing serves a request that calls an upstream,
// from a caller whose traceparent says it sampled the trace: with tracing
// on, the upstream sees a traceparent and spans are recorded; with tracing
// off, the exporter gets no span and the upstream no trace header.
func TestTracingOffRecordsNothing(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		got := make(chan string, 1)
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got <- r.Header.Get("traceparent")
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":1}`))
		}))
		rt, exp := upstreamRoute(t, up.URL, config.Tracing{Enabled: on, SampleRatio: 1})
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, req)
		up.Close()
		if w.Code != http.StatusOK {
			t.Fatalf("tracing %v: %d %s", on, w.Code, w.Body)
		}
		header, spans := <-got, len(exp.GetSpans())
		if on && (header == "" || spans != 2) {
			t.Errorf("tracing on: upstream traceparent %q, %d spans; want a traceparent and 2 spans (server, attempt)", header, spans)
		}
		if !on && (header != "" || spans != 0) {
			t.Errorf("tracing off: upstream traceparent %q, %d spans; want none", header, spans)
		}
	}
}

// upstreamRoute is a Runtime with tracing as given, recording its spans
// in memory as they end, and one route, GET /x, that answers what GET /x
// of the upstream at upURL answers.
func upstreamRoute(t *testing.T, upURL string, tc config.Tracing) (*wings.Runtime, *tracetest.InMemoryExporter) {
	t.Helper()
	cfg := &config.Config{
		Env:       "test",
		Log:       config.Log{Level: "warn", Format: "json"},
		Server:    config.Server{RequestTimeout: 3 * time.Second, ShutdownTimeout: time.Second},
		Tracing:   tc,
		Upstreams: map[string]config.Upstream{"team": {BaseURL: upURL, Timeout: time.Second, MaxIdleConns: 2}},
		Auth: config.Auth{
			Identity:   config.AuthIdentity{Provider: "static"},
			Permission: config.AuthPermission{Provider: "static"},
		},
	}
	exp := tracetest.NewInMemoryExporter()
	rt, err := wings.New(cfg, wings.Options{LogOutput: io.Discard, Tracing: tracing.Options{Exporter: exp, Syncer: true}})
	if err != nil {
		t.Fatal(err)
	}
	team, err := rt.Upstream("team")
	if err != nil {
		t.Fatal(err)
	}
	rt.Handle(wings.Route{Method: http.MethodGet, Path: "/x", Name: "x", Handler: func(c echo.Context) error {
		var out map[string]int
		if err := team.GetJSON(c.Request().Context(), "/x", nil, &out); err != nil {
			return err
		}
		return wings.JSON(c, out)
	}})
	return rt, exp
}
