package chclient

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/framework/tracing"
)

// SetTracing makes every query through c, including those made through
// Conn(), record a client span, named "clickhouse <class>" (ClassOf), with
// the statement's first word and the rows the server read. A disabled
// provider turns it off. Call it before c is used.
func (c *Client) SetTracing(p *tracing.Provider) {
	c.tr = nil
	if p.Enabled() {
		c.tr = p.Tracer("github.com/wings-bff/wings/framework/chclient")
	}
	c.instrument()
}

// startSpan starts a query's span, or returns nil when tracing is off or
// the request is traced but not sampled.
func (c *instrumentedConn) startSpan(ctx context.Context, class, query string) (context.Context, trace.Span) {
	if c.tr == nil || tracing.Unsampled(ctx) {
		return ctx, nil
	}
	op, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	return c.tr.Start(ctx, "clickhouse "+class, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("db.system", "clickhouse"),
			attribute.String("db.operation.name", strings.ToUpper(op)),
			attribute.String("db.namespace", c.database),
			attribute.String("wings.query_class", class),
		))
}

// endSpan records the rows read and the outcome on span and ends it.
func endSpan(span trace.Span, rows uint64, err error) {
	span.SetAttributes(attribute.Int64("db.rows_read", int64(rows)))
	if err != nil {
		span.SetStatus(codes.Error, "query failed")
	}
	span.End()
}
