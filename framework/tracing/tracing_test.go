package tracing_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/tracing"
)

// TestUnreachableCollectorDropsAndCounts exports to a collector that
// closes every connection (a held port, so no other process takes it): the
// spans are dropped and counted, and ending them never blocks.
func TestUnreachableCollectorDropsAndCounts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accept and close at once: the exporter's request fails
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	reg := prometheus.NewRegistry()
	p, err := tracing.New(config.Tracing{Enabled: true, Endpoint: ln.Addr().String(), SampleRatio: 1},
		tracing.Options{Service: "t", Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, s := p.Tracer("t").Start(context.Background(), "x")
		s.End()
	}
	_ = p.ForceFlush(context.Background()) // the export fails; the spans are dropped
	if got := testutil.ToFloat64(mustCounter(t, reg, "wings_tracing_spans_dropped_total")); got != 3 {
		t.Errorf("dropped = %v; want 3", got)
	}
	_ = p.Shutdown(context.Background())
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: name})
			c.Add(mf.GetMetric()[0].GetCounter().GetValue())
			return c
		}
	}
	t.Fatalf("%s not registered", name)
	return nil
}

// TestSampleRatioReload: a new ratio applies to the next root spans; a
// sampled caller is continued whatever the ratio.
func TestSampleRatioReload(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	reg := prometheus.NewRegistry()
	p, err := tracing.New(config.Tracing{Enabled: true, SampleRatio: 0}, tracing.Options{Exporter: exp, Syncer: true, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	tr := p.Tracer("t")
	start := func(ctx context.Context) bool {
		_, s := tr.Start(ctx, "x")
		defer s.End()
		return s.SpanContext().IsSampled()
	}
	for range 100 {
		if start(context.Background()) {
			t.Fatal("a root span was sampled at ratio 0")
		}
	}
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: [16]byte{1}, SpanID: [8]byte{1}, TraceFlags: trace.FlagsSampled, Remote: true})
	if !start(trace.ContextWithRemoteSpanContext(context.Background(), parent)) {
		t.Error("a sampled caller was not continued at ratio 0")
	}
	p.SetRatio(1)
	if p.Ratio() != 1 {
		t.Errorf("Ratio() = %v; want 1", p.Ratio())
	}
	for range 100 {
		if !start(context.Background()) {
			t.Fatal("a root span was dropped at ratio 1")
		}
	}
	if got, want := len(exp.GetSpans()), 101; got != want {
		t.Errorf("exported %d spans; want %d", got, want)
	}
	if got := testutil.ToFloat64(mustCounter(t, reg, "wings_tracing_spans_exported_total")); got != 101 {
		t.Errorf("exported counter = %v; want 101", got)
	}
}

// TestTransportPropagates: a client through Transport sends the caller's
// traceparent; with tracing off, nothing is added.
func TestTransportPropagates(t *testing.T) {
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Get("traceparent") }))
	defer srv.Close()
	on, _ := tracing.New(config.Tracing{Enabled: true, SampleRatio: 1}, tracing.Options{Exporter: tracetest.NewInMemoryExporter(), Syncer: true})
	off, _ := tracing.New(config.Tracing{}, tracing.Options{})
	for _, tc := range []struct {
		p    *tracing.Provider
		want bool
	}{{on, true}, {off, false}} {
		ctx, span := tc.p.Tracer("t").Start(context.Background(), "x")
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := (&http.Client{Transport: tc.p.Transport(nil)}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		span.End()
		h := <-got
		want := ""
		if tc.want {
			want = "00-" + span.SpanContext().TraceID().String() + "-" + span.SpanContext().SpanID().String() + "-01"
		}
		if h != want {
			t.Errorf("enabled=%v: traceparent = %q; want %q", tc.p.Enabled(), h, want)
		}
	}
}
