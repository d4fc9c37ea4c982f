package app_test

import (
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/app"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/testkit"
	"github.com/wings-bff/wings/framework/testkit/apptest"
	"github.com/wings-bff/wings/framework/tracing"
	"github.com/wings-bff/wings/framework/wings"
)

// TestVideoDetailSpanTree serves a real /api/video/:id with tracing on
// (the SDK's in-memory exporter) and checks the trace: the server span
// named by the route template continues the caller's traceparent, and
// under it one client span per team, video and stars side by side, album
// after video.
func TestVideoDetailSpanTree(t *testing.T) {
	t.Parallel()
	var cfg app.Config
	if _, err := config.Load(config.Options{Dir: "../conf", Env: "test", Environ: []string{}}, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Tracing = config.Tracing{Enabled: true, SampleRatio: 0} // only the sampled caller's trace is recorded
	var ups []*testkit.Upstream
	for _, name := range []string{"video", "album", "star"} {
		ups = append(ups, testkit.Replay(t, name, "testdata/upstreams/"+name+".json"))
	}
	// Video and stars answer after 100 ms each: called side by side their
	// spans overlap however the goroutines are scheduled; one after the
	// other they cannot.
	ups[0].Fail(testkit.Slow(100 * time.Millisecond))
	ups[2].Fail(testkit.Slow(100 * time.Millisecond))
	exp := tracetest.NewInMemoryExporter()
	a := apptest.Start(t, func(rt *wings.Runtime) ([]wings.Route, error) {
		c, err := app.NewContainer(rt, app.WithAnalytics(cfg.Analytics))
		if err != nil {
			return nil, err
		}
		return app.Routes(c), nil
	}, apptest.WithConfig(&cfg.Config), apptest.WithUpstreams(ups...),
		apptest.WithRuntimeOptions(wings.Options{Tracing: tracing.Options{Exporter: exp, Syncer: true}}))

	a.Get(t, "/api/video/42").OK(t) // not sampled: ratio 0 and no caller
	const caller = "4bf92f3577b34da6a3ce929d0e0e4736"
	a.Get(t, "/api/video/42", "traceparent", "00-"+caller+"-00f067aa0ba902b7-01").OK(t)
	if err := a.Runtime.Tracing().ForceFlush(t.Context()); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	byName := map[string][]tracetest.SpanStub{}
	for _, s := range spans {
		if s.SpanContext.TraceID().String() != caller {
			t.Errorf("span %q in trace %s; want only the sampled caller's trace %s", s.Name, s.SpanContext.TraceID(), caller)
		}
		byName[s.Name] = append(byName[s.Name], s)
	}
	server := one(t, byName, "GET /api/video/:id")
	if server.SpanKind != trace.SpanKindServer || server.Parent.SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("server span kind %v parent %s; want server under the caller's span 00f067aa0ba902b7", server.SpanKind, server.Parent.SpanID())
	}
	if got := attr(server, "http.response.status_code"); got != "200" {
		t.Errorf("server span status = %s; want 200", got)
	}
	video, star, album := one(t, byName, "GET video"), one(t, byName, "GET star"), one(t, byName, "GET album")
	for _, s := range []tracetest.SpanStub{video, star, album} {
		if s.Parent.SpanID() != server.SpanContext.SpanID() || s.SpanKind != trace.SpanKindClient {
			t.Errorf("%s: parent %s kind %v; want a client span under the server span %s", s.Name, s.Parent.SpanID(), s.SpanKind, server.SpanContext.SpanID())
		}
		for k, want := range map[string]string{"wings.attempt": "1", "wings.retry": "false", "wings.outcome": "ok", "wings.breaker": "closed", "wings.coalesced": "false"} {
			if got := attr(s, k); got != want {
				t.Errorf("%s: %s = %q; want %q", s.Name, k, got, want)
			}
		}
	}
	if !video.StartTime.Before(star.EndTime) || !star.StartTime.Before(video.EndTime) {
		t.Errorf("video [%v, %v] and star [%v, %v] do not overlap; want them side by side",
			video.StartTime, video.EndTime, star.StartTime, star.EndTime)
	}
	if album.StartTime.Before(video.EndTime) {
		t.Errorf("album starts at %v, before video ends at %v; want it after", album.StartTime, video.EndTime)
	}
	om := a.Get(t, "/metrics", "Accept", "application/openmetrics-text; version=1.0.0")
	if !strings.Contains(string(om.Body), `wings_http_request_duration_seconds_bucket{method="GET",route="/api/video/:id",le=`) ||
		!strings.Contains(string(om.Body), `# {trace_id="`+caller+`"}`) {
		t.Errorf("/metrics (OpenMetrics) has no latency exemplar of trace %s", caller)
	}
	if !strings.Contains(attr(album, "url.path"), "1042") {
		t.Errorf("album url.path = %q; want the album id of video 42", attr(album, "url.path"))
	}
}

func one(t *testing.T, byName map[string][]tracetest.SpanStub, name string) tracetest.SpanStub {
	t.Helper()
	if len(byName[name]) != 1 {
		names := []string{}
		for n, s := range byName {
			names = append(names, n+"×"+string(rune('0'+len(s))))
		}
		t.Fatalf("spans named %q: %d; want 1 (spans: %v)", name, len(byName[name]), names)
	}
	return byName[name][0]
}

func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == attribute.Key(key) {
			return kv.Value.String()
		}
	}
	return ""
}

var _ sdktrace.SpanExporter = (*tracetest.InMemoryExporter)(nil)
