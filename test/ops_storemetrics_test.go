package test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/redisclient"
)

// Ports of this file's services (svc.sh scheme).
const (
	storeMetricsCHPort    = "19520"
	storeMetricsRedisPort = "6414"
)

// storeSample finds the metric name{labels...} in reg: its counter value or its
// histogram's sample count; ok is false when there is no such series.
func storeSample(t testing.TB, reg *prometheus.Registry, name string, labels ...string) (float64, bool) {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			return metricNumber(m), true
		}
	}
	return 0, false
}

func metricNumber(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// TestClickHouseQueryMetrics runs queries of named classes through an
// instrumented client against a real ClickHouse: each path (Select, Exec,
// Query, QueryRow) is timed by class, rows read are counted from the
// server's progress, and a failed query is counted with its error code.
func TestClickHouseQueryMetrics(t *testing.T) {
	addr := startClickHouse(t, storeMetricsCHPort)
	reg := prometheus.NewRegistry()
	ch, err := chclient.New(config.ClickHouse{Addr: addr, Database: "default", PoolSize: 2,
		DialTimeout: 2 * time.Second, QueryTimeout: 10 * time.Second, MaxExecutionTime: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ch.Instrument(chclient.NewMetrics(reg))
	ctx := context.Background()

	var rows []struct {
		N uint64 `ch:"n"`
	}
	if err := ch.Select(chclient.WithClass(ctx, "t_select"), &rows, "SELECT number AS n FROM system.numbers LIMIT 100000"); err != nil {
		t.Fatal(err)
	}
	if err := ch.Exec(chclient.WithClass(ctx, "t_exec"), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	r, err := ch.Conn().Query(chclient.WithClass(ctx, "t_query"), "SELECT number FROM system.numbers LIMIT 10")
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
	}
	_ = r.Close()
	var n uint64
	if err := ch.Conn().QueryRow(ctx, "SELECT count() FROM system.one").Scan(&n); err != nil {
		t.Fatal(err)
	}
	err = ch.Select(chclient.WithClass(ctx, "t_missing"), &rows, "SELECT n FROM wings_no_such_table")
	if err == nil {
		t.Fatal("a query of a missing table succeeded")
	}

	for _, class := range []string{"t_select", "t_exec", "t_query", "other", "t_missing"} {
		if got, ok := storeSample(t, reg, "wings_clickhouse_query_duration_seconds", "class", class); !ok || got != 1 {
			t.Errorf("query_duration_seconds{class=%s} count = %v (%v); want 1", class, got, ok)
		}
	}
	if got, _ := storeSample(t, reg, "wings_clickhouse_rows_read_total", "class", "t_select"); got < 100000 {
		t.Errorf("rows_read_total{class=t_select} = %v; want at least 100000", got)
	}
	// 60 is UNKNOWN_TABLE, in 18.16 and today.
	if got, _ := storeSample(t, reg, "wings_clickhouse_query_errors_total", "class", "t_missing", "code", "60"); got != 1 {
		t.Errorf("query_errors_total{class=t_missing,code=60} = %v; want 1", got)
	}
	if got, ok := storeSample(t, reg, "wings_clickhouse_query_errors_total", "class", "t_select"); ok {
		t.Errorf("query_errors_total{class=t_select} = %v; want no series", got)
	}
}

// TestRedisCommandMetrics sends commands through a hooked client to a real
// Redis: each is timed under its command name, a missing key is not an
// error, a wrong-type command is, unknown commands fold into "other", and a
// pipeline is one "pipeline" observation.
func TestRedisCommandMetrics(t *testing.T) {
	cacheSvc(t, "start", "redis", storeMetricsRedisPort)
	t.Cleanup(func() { cacheSvc(t, "stop", "redis", storeMetricsRedisPort) })
	reg := prometheus.NewRegistry()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + storeMetricsRedisPort, PoolSize: 1})
	defer rdb.Close()
	rdb.AddHook(redisclient.NewHook(reg))
	ctx := context.Background()
	key := "wings:test:storemetrics:" + strings.ReplaceAll(t.Name(), "/", "_")
	t.Cleanup(func() { rdb.Del(context.Background(), key, key+":list") })

	if err := rdb.Set(ctx, key, "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Get(ctx, key+":absent").Err(); err != redis.Nil {
		t.Fatalf("get of an absent key: %v; want redis.Nil", err)
	}
	if err := rdb.LPush(ctx, key, "x").Err(); err == nil {
		t.Fatal("lpush onto a string succeeded")
	}
	_ = rdb.Do(ctx, "object", "encoding", key).Err()
	// A new connection's setup is a pipeline too: count ours from here.
	pipelines, _ := storeSample(t, reg, "wings_redis_command_duration_seconds", "cmd", "pipeline")
	pipe := rdb.Pipeline()
	pipe.Get(ctx, key)
	pipe.LLen(ctx, key) // wrong type: fails inside the pipeline
	_, _ = pipe.Exec(ctx)

	// go-redis may run a pipeline through the hook more than once per Exec
	// (the pipeline and its connection's setup): at least ours is there.
	if got, _ := storeSample(t, reg, "wings_redis_command_duration_seconds", "cmd", "pipeline"); got <= pipelines {
		t.Errorf("redis_command_duration_seconds{cmd=pipeline} = %v after a pipeline; want more than %v", got, pipelines)
	}
	for _, tc := range []struct {
		metric, cmd string
		want        float64
	}{
		{"wings_redis_command_duration_seconds", "set", 1},
		{"wings_redis_command_duration_seconds", "get", 1},
		{"wings_redis_command_duration_seconds", "lpush", 1},
		{"wings_redis_command_duration_seconds", "other", 1},
		{"wings_redis_errors_total", "lpush", 1},
		{"wings_redis_errors_total", "llen", 1},
		{"wings_redis_errors_total", "get", 0},
		{"wings_redis_errors_total", "set", 0},
		{"wings_redis_errors_total", "client", 0},
	} {
		if got, _ := storeSample(t, reg, tc.metric, "cmd", tc.cmd); got != tc.want {
			t.Errorf("%s{cmd=%s} = %v; want %v", tc.metric, tc.cmd, got, tc.want)
		}
	}
}
