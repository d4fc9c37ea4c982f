package tracing

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Hold keeps the span of a failed client call open until the caller has
// decided what the failure means, so that the decision is recorded on the
// span of the call that failed: a fan-out puts a Hold in an optional or
// stale-ok call's context, the upstream client leaves its failed attempt's
// span there (EndSpan), and the fan-out releases it marked wings.degraded
// or wings.stale, or unmarked when the call failed the request or a retry
// succeeded. The span still ends at the time the attempt ended.
type Hold struct {
	mu   sync.Mutex
	span trace.Span
	end  time.Time
}

type holdKey struct{}

// WithHold returns ctx carrying a new Hold, and the Hold.
func WithHold(ctx context.Context) (context.Context, *Hold) {
	h := &Hold{}
	return context.WithValue(ctx, holdKey{}, h), h
}

// EndSpan ends span, or, when the call failed and ctx carries a Hold,
// leaves it in the Hold, ending the span held before (an earlier attempt).
func EndSpan(ctx context.Context, span trace.Span, failed bool) {
	if failed {
		if h, ok := ctx.Value(holdKey{}).(*Hold); ok {
			h.keep(span)
			return
		}
	}
	span.End()
}

func (h *Hold) keep(span trace.Span) {
	now := time.Now()
	h.mu.Lock()
	prev, prevEnd := h.span, h.end
	h.span, h.end = span, now
	h.mu.Unlock()
	if prev != nil {
		prev.End(trace.WithTimestamp(prevEnd))
	}
}

// Release ends the held span, if any, with attrs added. Later calls do
// nothing; a nil Hold does nothing.
func (h *Hold) Release(attrs ...attribute.KeyValue) {
	if h == nil {
		return
	}
	h.mu.Lock()
	span, end := h.span, h.end
	h.span = nil
	h.mu.Unlock()
	if span == nil {
		return
	}
	if len(attrs) > 0 {
		span.SetAttributes(attrs...)
	}
	span.End(trace.WithTimestamp(end))
}
