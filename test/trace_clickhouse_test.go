package test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/tracing"
)

// traceCHPort is this file's ClickHouse (svc.sh port scheme).
const traceCHPort = "19560"

// TestClickHouseQuerySpans runs queries on a real ClickHouse with tracing on
// (in-memory exporter): each is a client span "clickhouse <class>" under
// the caller's span, with the query class, the statement's operation and
// the rows the server read (from its progress reports); a failing query's
// span has status error. The query metrics are on too, as in a served
// Wings: both see the rows read (one progress callback feeds both), and a
// query through Conn() is traced as well.
func TestClickHouseQuerySpans(t *testing.T) {
	addr := startClickHouse(t, traceCHPort)
	exp := tracetest.NewInMemoryExporter()
	p, err := tracing.New(config.Tracing{Enabled: true, SampleRatio: 1}, tracing.Options{Exporter: exp, Syncer: true})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := chclient.New(config.ClickHouse{Addr: addr, Database: "default", User: "default", PoolSize: 2,
		DialTimeout: 5 * time.Second, QueryTimeout: 30 * time.Second, MaxExecutionTime: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	reg := prometheus.NewRegistry()
	ch.Instrument(chclient.NewMetrics(reg))
	ch.SetTracing(p)
	ctx, root := p.Tracer("test").Start(context.Background(), "request")
	var rows []struct {
		N uint64 `ch:"n"`
	}
	if err := ch.Select(chclient.WithClass(ctx, "dash_series"), &rows, "SELECT count() AS n FROM numbers(100000)"); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].N != 100000 {
		t.Fatalf("count = %v; want 100000", rows)
	}
	if err := ch.Exec(ctx, "SELECT * FROM no_such_table_for_tracing"); err == nil {
		t.Fatal("query of a missing table succeeded")
	}
	var one uint8
	if err := ch.Conn().QueryRow(chclient.WithClass(ctx, "t_conn"), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("QueryRow through Conn(): %v, %d", err, one)
	}
	root.End()
	if got, _ := storeSample(t, reg, "wings_clickhouse_rows_read_total", "class", "dash_series"); got < 100000 {
		t.Errorf("rows_read_total{class=dash_series} = %v; want at least 100000 (the span's rows too)", got)
	}

	byName := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		byName[s.Name] = s
	}
	for _, tc := range []struct {
		name, class string
		rows        int64 // at least this many read (whole blocks: 18.16 reads 131072 for 100000); -1: not checked
		code        codes.Code
	}{{"clickhouse dash_series", "dash_series", 100000, codes.Unset}, {"clickhouse other", "other", -1, codes.Error}, {"clickhouse t_conn", "t_conn", -1, codes.Unset}} {
		s, ok := byName[tc.name]
		if !ok {
			t.Fatalf("no span %q among %v", tc.name, byName)
		}
		got := map[string]string{}
		var rowsRead int64
		for _, kv := range s.Attributes {
			got[string(kv.Key)] = kv.Value.String()
			if kv.Key == "db.rows_read" {
				rowsRead = kv.Value.AsInt64()
			}
		}
		if s.SpanKind != trace.SpanKindClient || s.Parent.SpanID() != root.SpanContext().SpanID() {
			t.Errorf("%s: kind %v parent %s; want a client span under the caller's", tc.name, s.SpanKind, s.Parent.SpanID())
		}
		if got["wings.query_class"] != tc.class || got["db.system"] != "clickhouse" || got["db.operation.name"] != "SELECT" {
			t.Errorf("%s: attributes %v; want class %s, db.system clickhouse, operation SELECT", tc.name, got, tc.class)
		}
		if tc.rows >= 0 && (rowsRead < tc.rows || rowsRead > 2*tc.rows) {
			t.Errorf("%s: db.rows_read = %d; want %d to %d", tc.name, rowsRead, tc.rows, 2*tc.rows)
		}
		if s.Status.Code != tc.code {
			t.Errorf("%s: status %v; want %v", tc.name, s.Status.Code, tc.code)
		}
	}
}
