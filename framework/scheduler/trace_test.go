package scheduler

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/tracing"
)

// TestJobSpans: with tracing on, each run is a root span "job <name>" with
// wings.job and wings.job.result (status error unless ok), the job's own
// work (here a child span started from the job's context) is under it, and
// a tick that skips (the lease is held) records nothing.
func TestJobSpans(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	p, err := tracing.New(config.Tracing{Enabled: true, SampleRatio: 1}, tracing.Options{Exporter: exp, Syncer: true})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := newTest(t)
	s.SetTracing(p)
	ok := Job{Name: "rollup", Interval: time.Hour, Run: func(ctx context.Context) error {
		_, span := p.Tracer("test").Start(ctx, "query")
		span.End()
		return nil
	}}
	bad := Job{Name: "purge", Interval: time.Hour, Run: func(context.Context) error { return errors.New("boom") }}
	for _, j := range []Job{ok, bad, ok} { // the second "rollup" tick skips
		s.Tick(context.Background(), j)
	}
	byName := map[string][]tracetest.SpanStub{}
	for _, sp := range exp.GetSpans() {
		byName[sp.Name] = append(byName[sp.Name], sp)
	}
	if len(byName["job rollup"]) != 1 || len(byName["job purge"]) != 1 || len(byName["query"]) != 1 || len(exp.GetSpans()) != 3 {
		t.Fatalf("spans %v; want one job rollup (with its query), one job purge, none for the skipped tick", byName)
	}
	for _, tc := range []struct {
		name, result string
		code         codes.Code
	}{{"job rollup", ResultOK, codes.Unset}, {"job purge", ResultError, codes.Error}} {
		sp := byName[tc.name][0]
		if sp.Parent.IsValid() {
			t.Errorf("%s: parent %s; want a root span", tc.name, sp.Parent.SpanID())
		}
		got := map[string]string{}
		for _, kv := range sp.Attributes {
			got[string(kv.Key)] = kv.Value.String()
		}
		if got["wings.job.result"] != tc.result || got["wings.job"] != tc.name[len("job "):] || sp.Status.Code != tc.code {
			t.Errorf("%s: attributes %v status %v; want result %s, status %v", tc.name, got, sp.Status.Code, tc.result, tc.code)
		}
	}
	if q := byName["query"][0]; q.Parent.SpanID() != byName["job rollup"][0].SpanContext.SpanID() {
		t.Errorf("the job's query span has parent %s; want the job span", q.Parent.SpanID())
	}
}
