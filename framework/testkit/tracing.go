package testkit

import (
	"context"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// DiscardSpans is a span exporter that takes every batch and keeps
// nothing: for benchmarks that measure the cost of making and batching
// spans, not a collector's.
type DiscardSpans struct{}

// ExportSpans drops spans.
func (DiscardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }

// Shutdown does nothing.
func (DiscardSpans) Shutdown(context.Context) error { return nil }

// TracingCase is one setting a tracing benchmark compares: the values of
// tracing.enabled and tracing.sample_ratio. (Plain fields: framework/config's
// own tests use testkit.)
type TracingCase struct {
	Name    string // the sub-benchmark's name: off, ratio=0.01, ratio=1
	Enabled bool
	Ratio   float64
}

// TracingCases are tracing off, on at 1% and on at 100% sampling, in the
// order and under the names scripts/bench-tracing.sh reads.
func TracingCases() []TracingCase {
	return []TracingCase{
		{"off", false, 0},
		{"ratio=0.01", true, 0.01},
		{"ratio=1", true, 1},
	}
}
