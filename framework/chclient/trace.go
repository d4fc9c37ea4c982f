package chclient

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/ClickHouse/clickhouse-go/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/framework/tracing"
)

// SetTracing makes Select and Exec record a client span per query, named
// "clickhouse <class>" (ClassOf), with the statement's first word and the
// rows the server read. A disabled provider turns it off.
func (c *Client) SetTracing(p *tracing.Provider) {
	c.tr = nil
	if p.Enabled() {
		c.tr = p.Tracer("github.com/wings-bff/wings/framework/chclient")
	}
}

// startQuery starts a query's span when tracing is on; the returned
// function records the outcome and ends it. ctx asks the server for
// progress packets, whose row counts add up to the rows read.
func (c *Client) startQuery(ctx context.Context, query string) (context.Context, func(error)) {
	if c.tr == nil || tracing.Unsampled(ctx) {
		return ctx, func(error) {} // off, or under a request that is not sampled
	}
	class := ClassOf(ctx)
	op, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	ctx, span := c.tr.Start(ctx, "clickhouse "+class, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("db.system", "clickhouse"),
			attribute.String("db.operation.name", strings.ToUpper(op)),
			attribute.String("db.namespace", c.database),
			attribute.String("wings.query_class", class),
		))
	var rows atomic.Uint64
	ctx = clickhouse.Context(ctx, clickhouse.WithProgress(func(p *clickhouse.Progress) { rows.Add(p.Rows) }))
	return ctx, func(err error) {
		span.SetAttributes(attribute.Int64("db.rows_read", int64(rows.Load())))
		if err != nil {
			span.SetStatus(codes.Error, "query failed")
		}
		span.End()
	}
}
