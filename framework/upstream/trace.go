package upstream

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/framework/tracing"
)

// tracer is a client's tracing: nil when tracing is off, so an untraced
// call costs one nil check.
type tracer struct {
	tr   trace.Tracer
	prop propagation.TextMapPropagator
}

// SetTracing makes the client record a client span per attempt and send
// the W3C traceparent/tracestate of the caller's span to the upstream.
// Call it before the client is used; a disabled provider turns it off.
func (c *Client) SetTracing(p *tracing.Provider) {
	if !p.Enabled() {
		c.trace = nil
		return
	}
	c.trace = &tracer{tr: p.Tracer("github.com/wings-bff/wings/framework/upstream"), prop: p.Propagator()}
}

var breakerStates = [...]string{BreakerClosed: "closed", BreakerHalfOpen: "half_open", BreakerOpen: "open"}

// startAttempt starts the client span of one attempt, named
// "GET <upstream>" (bounded, unlike the path).
func (c *Client) startAttempt(ctx context.Context, path string, attempt int) (context.Context, trace.Span) {
	return c.trace.tr.Start(ctx, "GET "+c.name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("wings.upstream", c.name),
			attribute.String("url.path", path),
			attribute.Int("wings.attempt", attempt+1),
			attribute.Bool("wings.retry", attempt > 0),
			attribute.String("wings.breaker", breakerStates[c.BreakerState()]),
			attribute.Bool("wings.coalesced", false),
		))
}

// endAttempt records the attempt's outcome and ends its span.
func endAttempt(span trace.Span, status int, outcome string, err error) {
	if status != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	span.SetAttributes(attribute.String("wings.outcome", outcome))
	if err != nil && outcome != OutcomeNotFound {
		span.SetStatus(codes.Error, outcome)
	}
	span.End()
}

// markCoalesced records, on a span of its own, that a caller shared an
// identical call in flight instead of making one.
func (c *Client) markCoalesced(ctx context.Context, path string) {
	_, span := c.trace.tr.Start(ctx, "GET "+c.name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("wings.upstream", c.name),
			attribute.String("url.path", path),
			attribute.Bool("wings.coalesced", true),
		))
	span.End()
}

// inject writes ctx's trace context into h.
func (c *Client) inject(ctx context.Context, h http.Header) {
	if c.trace != nil {
		c.trace.prop.Inject(ctx, propagation.HeaderCarrier(h))
	}
}
