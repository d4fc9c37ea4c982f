package testkit

import (
	"context"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wings-bff/wings/framework/config"
)

// DiscardSpans is a span exporter that takes every batch and keeps
// nothing: for benchmarks that measure the cost of making and batching
// spans, not a collector's.
type DiscardSpans struct{}

// ExportSpans drops spans.
func (DiscardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }

// Shutdown does nothing.
func (DiscardSpans) Shutdown(context.Context) error { return nil }

// TracingCase is one setting a tracing benchmark compares.
type TracingCase struct {
	Name    string // the sub-benchmark's name: off, ratio=0.01, ratio=1
	Tracing config.Tracing
}

// TracingCases are tracing off, on at 1% and on at 100% sampling, in the
// order and under the names scripts/bench-tracing.sh reads.
func TracingCases() []TracingCase {
	return []TracingCase{
		{"off", config.Tracing{}},
		{"ratio=0.01", config.Tracing{Enabled: true, SampleRatio: 0.01}},
		{"ratio=1", config.Tracing{Enabled: true, SampleRatio: 1}},
	}
}
