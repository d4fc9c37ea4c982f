package middleware

import (
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/framework/reqctx"
	"github.com/wings-bff/wings/framework/tracing"
)

// Trace starts the request's server span, named "METHOD route-template",
// continuing the caller's trace when the request carries a W3C
// traceparent (and tracestate). The span's context goes into the request
// context, so upstream calls, cache lookups and queries become its
// children, and the trace id into the request record, so every log line of
// the request carries trace_id. The Runtime installs it only when tracing
// is on, right after RequestID.
func Trace(p *tracing.Provider) echo.MiddlewareFunc {
	tr := p.Tracer("github.com/wings-bff/wings/framework/middleware")
	prop := p.Propagator()
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			route := Route(c)
			ctx := prop.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
			ctx, span := tr.Start(ctx, req.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer))
			defer span.End()
			in := reqctx.From(ctx)
			if in != nil {
				if sc := span.SpanContext(); sc.HasTraceID() {
					in.TraceID = sc.TraceID().String()
				}
			}
			c.SetRequest(req.WithContext(ctx))
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			if !span.IsRecording() {
				return nil // not sampled: no attributes to build
			}
			span.SetAttributes(
				attribute.String("http.request.method", req.Method),
				attribute.String("http.route", route),
				attribute.String("url.path", req.URL.Path),
			)
			if in != nil {
				span.SetAttributes(attribute.String("wings.request_id", in.ID))
			}
			status := Status(c)
			span.SetAttributes(attribute.Int("http.response.status_code", status))
			if k, ok := c.Get(KeyErrorKind).(string); ok {
				span.SetAttributes(attribute.String("wings.error_kind", k))
			}
			if status >= 500 {
				span.SetStatus(codes.Error, strconv.Itoa(status))
			}
			return nil
		}
	}
}

// observe records v, with the request's trace id as the exemplar when its
// trace is sampled (so a latency bucket links to a trace that exists).
func observe(c echo.Context, o prometheus.Observer, v float64) {
	if sc := trace.SpanContextFromContext(c.Request().Context()); sc.IsSampled() {
		if eo, ok := o.(prometheus.ExemplarObserver); ok {
			eo.ObserveWithExemplar(v, prometheus.Labels{"trace_id": sc.TraceID().String()})
			return
		}
	}
	o.Observe(v)
}
