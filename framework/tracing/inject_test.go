package tracing_test

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/tracing"
)

// injectCases are the contexts an upstream call can carry: no trace, a
// sampled and an unsampled span, a caller's tracestate, baggage with and
// without a span.
func injectCases(t testing.TB) map[string]context.Context {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ts, err := trace.ParseTraceState("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
	if err != nil {
		t.Fatal(err)
	}
	member, err := baggage.NewMember("tenant", "video")
	if err != nil {
		t.Fatal(err)
	}
	bag, err := baggage.New(member)
	if err != nil {
		t.Fatal(err)
	}
	span := func(flags trace.TraceFlags, state trace.TraceState) context.Context {
		return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: tid, SpanID: sid, TraceFlags: flags, TraceState: state, Remote: true,
		}))
	}
	return map[string]context.Context{
		"no trace":           context.Background(),
		"sampled":            span(trace.FlagsSampled, trace.TraceState{}),
		"unsampled":          span(0, trace.TraceState{}),
		"unknown flag bits":  span(0xff, trace.TraceState{}),
		"tracestate":         span(trace.FlagsSampled, ts),
		"baggage and a span": baggage.ContextWithBaggage(span(trace.FlagsSampled, ts), bag),
		"baggage only":       baggage.ContextWithBaggage(context.Background(), bag),
	}
}

// TestInjectMatchesPropagator: Inject writes the same headers as the
// provider's propagator (W3C trace context and baggage), under the
// canonical keys net/http sends.
func TestInjectMatchesPropagator(t *testing.T) {
	p, err := tracing.New(config.Tracing{}, tracing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	prop := p.Propagator()
	for name, ctx := range injectCases(t) {
		want := http.Header{}
		prop.Inject(ctx, propagation.HeaderCarrier(want))
		got := http.Header{}
		tracing.Inject(ctx, trace.SpanContextFromContext(ctx), got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Inject wrote %v; the propagator %v", name, got, want)
		}
	}
	if got := tracing.Traceparent(trace.SpanContextFromContext(injectCases(t)["sampled"])); got != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("Traceparent = %q", got)
	}
}

// BenchmarkInject is the trace context of an upstream call written by the
// propagator (into a carrier that sets the W3C keys without canonicalising
// them, as the upstream client did before Inject) and by Inject, under a
// context chain as deep as a request's.
func BenchmarkInject(b *testing.B) {
	ctx := injectCases(b)["unsampled"]
	type key int
	for i := range 8 { // the request record, deadline, hold, fan-out...
		ctx = context.WithValue(ctx, key(i), i)
	}
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	h := make(http.Header, 2)
	b.Run("propagator", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			clear(h)
			prop.Inject(ctx, canonicalCarrier(h))
		}
	})
	sc := trace.SpanContextFromContext(ctx)
	b.Run("inject", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			clear(h)
			tracing.Inject(ctx, sc, h)
		}
	})
}

// canonicalCarrier sets the W3C keys under their canonical names directly.
type canonicalCarrier http.Header

func (h canonicalCarrier) Get(key string) string { return http.Header(h).Get(key) }

func (h canonicalCarrier) Set(key, value string) {
	switch key {
	case "traceparent":
		key = "Traceparent"
	case "tracestate":
		key = "Tracestate"
	case "baggage":
		key = "Baggage"
	default:
		key = http.CanonicalHeaderKey(key)
	}
	h[key] = []string{value}
}

func (h canonicalCarrier) Keys() []string { return propagation.HeaderCarrier(h).Keys() }
