package tracing

import (
	"context"
	"encoding/hex"
	"net/http"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

// Inject writes into h what the provider's propagator writes (W3C
// traceparent and tracestate for sc, and ctx's baggage), for a caller that
// has sc at hand: the propagator looks the span context up in ctx again,
// a walk up the request's context chain on every upstream call, and builds
// the traceparent in a strings.Builder. An invalid sc writes no trace
// context, as the propagator does for a context without a span.
func Inject(ctx context.Context, sc trace.SpanContext, h http.Header) {
	if sc.IsValid() {
		if ts := sc.TraceState(); ts.Len() > 0 {
			h["Tracestate"] = []string{ts.String()}
		}
		h["Traceparent"] = []string{Traceparent(sc)}
	}
	if b := baggage.FromContext(ctx); b.Len() > 0 {
		h["Baggage"] = []string{b.String()}
	}
}

// Traceparent is the W3C traceparent header value of sc, version 00:
// "00-<trace id>-<span id>-<flags>", of which only the flags the spec
// defines (sampled and random) are passed on.
func Traceparent(sc trace.SpanContext) string {
	var b [55]byte
	tid, sid := sc.TraceID(), sc.SpanID()
	b[0], b[1], b[2], b[35], b[52] = '0', '0', '-', '-', '-'
	hex.Encode(b[3:35], tid[:])
	hex.Encode(b[36:52], sid[:])
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom))})
	return string(b[:])
}
