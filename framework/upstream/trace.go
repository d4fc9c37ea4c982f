package upstream

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/framework/tracing"
)

// tracer is a client's tracing: nil when tracing is off, so an untraced
// call costs one nil check.
type tracer struct {
	tr   trace.Tracer
	name string // the spans' name, "GET <upstream>" (bounded, unlike the path)
}

// SetTracing makes the client record a client span per attempt and send
// the W3C traceparent/tracestate of the caller's span to the upstream.
// Call it before the client is used; a disabled provider turns it off.
func (c *Client) SetTracing(p *tracing.Provider) {
	if !p.Enabled() {
		c.trace = nil
		return
	}
	c.trace = &tracer{tr: p.Tracer("github.com/wings-bff/wings/framework/upstream"), name: "GET " + c.name}
}

// clientKind is the spans' kind option, made once: an option is an allocation.
var clientKind = trace.WithSpanKind(trace.SpanKindClient)

var breakerStates = [...]string{BreakerClosed: "closed", BreakerHalfOpen: "half_open", BreakerOpen: "open"}

// attemptSpan is the client span of one attempt. Its attributes are set
// once, when it ends: each SetAttributes call grows the span's list.
type attemptSpan struct {
	span    trace.Span
	path    string
	attempt int
	breaker string
}

// startAttempt starts the client span of one attempt, under a request
// span that is recording (attempt starts none under one that is not
// sampled: the upstream gets the request's own traceparent, not sampled
// either).
func (c *Client) startAttempt(ctx context.Context, path string, attempt int) (context.Context, attemptSpan) {
	ctx, span := c.trace.tr.Start(ctx, c.trace.name, clientKind)
	return ctx, attemptSpan{span: span, path: path, attempt: attempt, breaker: breakerStates[c.BreakerState()]}
}

// endAttempt records the attempt's outcome and ends its span, or leaves a
// failed attempt's span to the fan-out call that made it (tracing.Hold).
func (c *Client) endAttempt(ctx context.Context, a attemptSpan, status int, outcome string, err error) {
	failed := err != nil && outcome != OutcomeNotFound
	if a.span.IsRecording() { // not sampled: no attributes to build
		attrs := tracing.NewAttrs()
		attrs.Add(
			attribute.String("wings.upstream", c.name),
			attribute.String("url.path", a.path),
			attribute.Int("wings.attempt", a.attempt+1),
			attribute.Bool("wings.retry", a.attempt > 0),
			attribute.String("wings.breaker", a.breaker),
			attribute.Bool("wings.coalesced", false),
			attribute.String("wings.outcome", outcome),
		)
		if status != 0 {
			attrs.Add(attribute.Int("http.response.status_code", status))
		}
		attrs.SetOn(a.span)
		if failed {
			a.span.SetStatus(codes.Error, outcome)
		}
	}
	tracing.EndSpan(ctx, a.span, failed)
}

// markCoalesced records, on a span of its own, that a caller shared an
// identical call in flight instead of making one, and the shared call's
// failure, if it failed.
func (c *Client) markCoalesced(ctx context.Context, path string, err error) {
	if tracing.Unsampled(ctx) {
		return
	}
	_, span := c.trace.tr.Start(ctx, c.trace.name, clientKind,
		trace.WithAttributes(
			attribute.String("wings.upstream", c.name),
			attribute.String("url.path", path),
			attribute.Bool("wings.coalesced", true),
		))
	if err != nil {
		span.SetStatus(codes.Error, "shared call failed")
	}
	tracing.EndSpan(ctx, span, err != nil)
}

// inject writes the W3C trace context of sc (the attempt's span, or the
// request's when it starts none) and ctx's baggage into h.
func (c *Client) inject(ctx context.Context, sc trace.SpanContext, h http.Header) {
	if c.trace != nil {
		tracing.Inject(ctx, sc, h)
	}
}
