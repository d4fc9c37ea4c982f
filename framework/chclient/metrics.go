package chclient

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

// Metrics are the ClickHouse query metrics, labelled by the query class
// (ClassOf: a bounded name set with WithClass at the call site) and, for
// errors, by the server's error code.
type Metrics struct {
	duration *prometheus.HistogramVec // class
	errors   *prometheus.CounterVec   // class, code
	rows     *prometheus.CounterVec   // class
}

// queryBuckets cover 1 ms to 60 s: dashboard reads and background jobs.
var queryBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// NewMetrics registers the ClickHouse metrics on reg:
// wings_clickhouse_query_duration_seconds{class},
// wings_clickhouse_query_errors_total{class,code} and
// wings_clickhouse_rows_read_total{class}.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "wings", Name: "clickhouse_query_duration_seconds",
			Help: "ClickHouse query latency (until the last row is read), by query class.", Buckets: queryBuckets,
		}, []string{"class"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "wings", Name: "clickhouse_query_errors_total",
			Help: "Failed ClickHouse queries, by query class and code: the server's error code (241, 159, ...), timeout, canceled or client.",
		}, []string{"class", "code"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "wings", Name: "clickhouse_rows_read_total",
			Help: "Rows the server read for ClickHouse queries (its progress reports), by query class.",
		}, []string{"class"}),
	}
	reg.MustRegister(m.duration, m.errors, m.rows)
	return m
}

// Instrument makes every query through c, including those made through
// Conn() (Select, Exec, Query, QueryRow and batch inserts), count into m.
// Call it before c is used.
func (c *Client) Instrument(m *Metrics) {
	c.m = m
	c.instrument()
}

// instrument puts the wrapper that counts and traces queries over the
// driver's connection, or takes it away when there is nothing to do. One
// wrapper does both: a query has one progress callback, so the rows it
// read reach both the metric and the span.
func (c *Client) instrument() {
	if c.m == nil && c.tr == nil {
		c.conn = c.raw
		return
	}
	c.conn = &instrumentedConn{Conn: c.raw, m: c.m, tr: c.tr, database: c.database}
}

// ErrorCode is the metrics code of a query error: the ClickHouse exception
// code, "timeout", "canceled", or "client" for anything else (a network
// or driver error).
func ErrorCode(err error) string {
	var ex *clickhouse.Exception
	switch {
	case errors.As(err, &ex):
		return strconv.Itoa(int(ex.Code))
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	default:
		return "client"
	}
}

// query is one query in flight: its class, start, the rows read so far
// and its span (nil when not traced).
type query struct {
	m     *Metrics // nil: not counted
	class string
	start time.Time
	rows  atomic.Uint64
	span  trace.Span
}

func (c *instrumentedConn) begin(ctx context.Context, stmt string) (context.Context, *query) {
	q := &query{m: c.m, class: ClassOf(ctx), start: time.Now()}
	ctx, q.span = c.startSpan(ctx, q.class, stmt)
	ctx = clickhouse.Context(ctx, clickhouse.WithProgress(func(p *clickhouse.Progress) {
		q.rows.Add(p.Rows)
	}))
	return ctx, q
}

// end records the query once, with its outcome.
func (q *query) end(err error) {
	if q.span != nil {
		endSpan(q.span, q.rows.Load(), err)
	}
	if q.m == nil {
		return
	}
	q.m.duration.WithLabelValues(q.class).Observe(time.Since(q.start).Seconds())
	if n := q.rows.Load(); n > 0 {
		q.m.rows.WithLabelValues(q.class).Add(float64(n))
	}
	if err != nil {
		q.m.errors.WithLabelValues(q.class, ErrorCode(err)).Inc()
	}
}

type instrumentedConn struct {
	driver.Conn
	m        *Metrics     // nil: not counted
	tr       trace.Tracer // nil: not traced
	database string
}

func (c *instrumentedConn) Select(ctx context.Context, dest any, query string, args ...any) error {
	ctx, q := c.begin(ctx, query)
	err := c.Conn.Select(ctx, dest, query, args...)
	q.end(err)
	return err
}

func (c *instrumentedConn) Exec(ctx context.Context, query string, args ...any) error {
	ctx, q := c.begin(ctx, query)
	err := c.Conn.Exec(ctx, query, args...)
	q.end(err)
	return err
}

func (c *instrumentedConn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	ctx, q := c.begin(ctx, query)
	row := c.Conn.QueryRow(ctx, query, args...)
	q.end(row.Err())
	return row
}

func (c *instrumentedConn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	ctx, q := c.begin(ctx, query)
	rows, err := c.Conn.Query(ctx, query, args...)
	if err != nil {
		q.end(err)
		return nil, err
	}
	return &instrumentedRows{Rows: rows, q: q}, nil
}

func (c *instrumentedConn) PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	ctx, q := c.begin(ctx, query)
	b, err := c.Conn.PrepareBatch(ctx, query, opts...)
	if err != nil {
		q.end(err)
		return nil, err
	}
	return &instrumentedBatch{Batch: b, q: q}, nil
}

// instrumentedRows records the query when the rows are closed: its
// duration covers reading them.
type instrumentedRows struct {
	driver.Rows
	q    *query
	done atomic.Bool
}

func (r *instrumentedRows) Close() error {
	err := r.Rows.Close()
	if r.done.CompareAndSwap(false, true) {
		qerr := r.Rows.Err()
		if qerr == nil {
			qerr = err
		}
		r.q.end(qerr)
	}
	return err
}

// instrumentedBatch records the insert when it is sent or aborted.
type instrumentedBatch struct {
	driver.Batch
	q    *query
	done atomic.Bool
}

func (b *instrumentedBatch) Send() error {
	err := b.Batch.Send()
	if b.done.CompareAndSwap(false, true) {
		b.q.end(err)
	}
	return err
}

func (b *instrumentedBatch) Abort() error {
	err := b.Batch.Abort()
	if b.done.CompareAndSwap(false, true) {
		b.q.end(nil)
	}
	return err
}

func (b *instrumentedBatch) Close() error {
	err := b.Batch.Close()
	if b.done.CompareAndSwap(false, true) {
		b.q.end(nil)
	}
	return err
}
