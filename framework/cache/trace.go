package cache

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/framework/tracing"
	"github.com/wings-bff/wings/framework/wings"
)

// tracer is the cache's tracer, or nil when tracing is off.
func tracer(rt *wings.Runtime) trace.Tracer {
	if !rt.Tracing().Enabled() {
		return nil
	}
	return rt.Tracing().Tracer("github.com/wings-bff/wings/framework/cache")
}

// startLookup starts the span of one lookup, named "cache response" or
// "cache data" after the kind of key (the key itself is unbounded), and
// returns the function that records its result (hit, stale, miss, error)
// and ends it.
func (c *Cache) startLookup(ctx context.Context, ikey string) (context.Context, func(Result, error)) {
	if tracing.Unsampled(ctx) {
		return ctx, func(Result, error) {} // under a request that is not sampled
	}
	ns := "data"
	if strings.HasPrefix(ikey, "r:") {
		ns = "response"
	}
	ctx, span := c.tr.Start(ctx, "cache "+ns, trace.WithAttributes(attribute.String("wings.cache.namespace", ns)))
	return ctx, func(r Result, err error) {
		result := strings.ToLower(string(r.Status))
		if err != nil {
			result = "error"
			span.SetStatus(codes.Error, "load failed")
		}
		span.SetAttributes(attribute.String("wings.cache.result", result))
		span.End()
	}
}
