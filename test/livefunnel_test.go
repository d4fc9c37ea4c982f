package test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/olap"
)

const liveFunnelCHPort = "19560"

// checkoutFunnel is a team's live funnel declared with framework/olap
// alone (no app code): three checkout steps within 30 minutes, per shop.
var checkoutFunnel = olap.LiveFunnel{
	Events: "checkout_events", Counts: "checkout_counts", Snapshots: "checkout_snapshots",
	Key: "shop", Time: "at", User: "uid", Step: "step", Steps: 3, Window: 1800,
	StatePrefix: "checkout_state_", JoinPrefix: "checkout_join_",
}

var checkoutSchema = []string{
	`CREATE TABLE checkout_events (shop String, at DateTime, uid UInt64, step UInt8)
ENGINE = MergeTree ORDER BY (shop, at)`,
	`CREATE TABLE checkout_counts (shop String, day Date, bucket DateTime, n UInt64)
ENGINE = SummingMergeTree(n) ORDER BY (shop, day, bucket)`,
	`CREATE TABLE checkout_snapshots (shop String, day Date, snap UInt64, state UInt64, cut DateTime,
  rows_before UInt64, users1 UInt64, users2 UInt64, users3 UInt64, lag UInt32, clean UInt32, created_at DateTime)
ENGINE = MergeTree ORDER BY (shop, day, snap)`,
}

// TestLiveFunnelStore runs olap's funnel snapshot + tail on a real
// ClickHouse for a declaration of its own: after a full snapshot, an
// incremental one, and a full one forced by rows that arrived late, the
// live answer equals windowFunnel over the raw rows, for every prefix of
// the steps.
func TestLiveFunnelStore(t *testing.T) {
	addr := startClickHouse(t, liveFunnelCHPort)
	db := fmt.Sprintf("wings_livefunnel_%d", time.Now().UnixNano()%1e9)
	boot := chConn(t, addr, "default")
	ctx := context.Background()
	if err := boot.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = boot.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	conn := chConn(t, addr, db)
	for _, st := range checkoutSchema {
		if err := conn.Exec(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	ch, err := chclient.New(config.ClickHouse{Addr: addr, Database: db, User: "default", PoolSize: 2,
		DialTimeout: time.Second, QueryTimeout: time.Minute, MaxExecutionTime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	store, err := olap.NewFunnelStore(checkoutFunnel, ch)
	if err != nil {
		t.Fatal(err)
	}

	// A fixed day, so the test passes on any date; the store is never
	// asked for "now" except to stamp ids.
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	day := olap.NewFunnelDay("acme", time.Date(2026, 3, 5, 12, 0, 0, 0, loc), loc)
	r := rand.New(rand.NewPCG(14, 15))
	// Users' steps at distinct seconds: windowFunnel on the raw rows is then
	// the reference, whatever order ClickHouse reads ties in.
	insertRows := func(from, to time.Time, users, base int) {
		t.Helper()
		b, err := conn.PrepareBatch(ctx, "INSERT INTO checkout_events (shop, at, uid, step)")
		if err != nil {
			t.Fatal(err)
		}
		span := int(to.Sub(from) / time.Second)
		for u := 0; u < users; u++ {
			uid := uint64(base + r.IntN(users*2))
			at := from.Add(time.Duration(r.IntN(span)) * time.Second)
			for s := 1; s <= 3 && at.Before(to); s++ {
				if err := b.Append("acme", at, uid, uint8(s)); err != nil {
					t.Fatal(err)
				}
				if r.Float64() < 0.3 {
					break
				}
				at = at.Add(time.Duration(1+r.IntN(2400)) * time.Second)
			}
		}
		// Another shop's rows never count.
		if err := b.Append("other", from, uint64(1), uint8(1)); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
		if err := conn.Exec(ctx, `INSERT INTO checkout_counts (shop, day, bucket, n)
SELECT shop, toDate(at, 'Asia/Shanghai'), toDateTime(intDiv(toUInt32(at), 10) * 10), count() FROM checkout_events
WHERE at >= toDateTime(?) AND at < toDateTime(?) GROUP BY shop, toDate(at, 'Asia/Shanghai'), toDateTime(intDiv(toUInt32(at), 10) * 10)`,
			uint32(from.Unix()), uint32(to.Unix())); err != nil {
			t.Fatal(err)
		}
	}
	want := func(k int) []uint64 {
		t.Helper()
		var rows []struct {
			Level uint8  `ch:"level"`
			Users uint64 `ch:"users"`
		}
		conds := []string{"step = 1", "step = 2", "step = 3"}[:k]
		q := fmt.Sprintf(`SELECT level, count() AS users FROM (
  SELECT uid, windowFunnel(1800)(at, %s) AS level FROM checkout_events
  WHERE shop = 'acme' AND at >= toDateTime(?) AND at < toDateTime(?) GROUP BY uid
) WHERE level > 0 GROUP BY level`, strings.Join(conds, ", "))
		if err := conn.Select(ctx, &rows, q, uint32(day.Start.Unix()), uint32(day.End.Unix())); err != nil {
			t.Fatal(err)
		}
		levels := map[uint8]uint64{}
		for _, r := range rows {
			levels[r.Level] = r.Users
		}
		return olap.Count(k, levels)
	}
	check := func(stage string) {
		t.Helper()
		for k := 1; k <= 3; k++ {
			got, ok, err := store.Answer(ctx, day, k)
			if err != nil || !ok {
				t.Fatalf("%s: Answer(%d) = %v, %v, %v", stage, k, got, ok, err)
			}
			if w := want(k); !slices.Equal(got, w) {
				t.Errorf("%s: %d steps: live %v; windowFunnel on the raw rows %v", stage, k, got, w)
			}
		}
	}

	h := func(x float64) time.Time { return day.Start.Add(time.Duration(x * float64(time.Hour))) }
	insertRows(h(0), h(10), 3000, 0)
	if _, ok, err := store.Answer(ctx, day, 3); ok || err != nil {
		t.Fatalf("answer before any snapshot: ok %v, %v; want not ok", ok, err)
	}
	run, err := store.Build(ctx, day, h(8))
	if err != nil || run.Mode != "full" {
		t.Fatalf("first snapshot: %+v, %v; want full", run, err)
	}
	check("full snapshot at 08:00 + tail")

	insertRows(h(10), h(16), 2000, 1000)
	if run, err = store.Build(ctx, day, h(12.5)); err != nil || run.Mode != "incremental" {
		t.Fatalf("second snapshot: %+v, %v; want incremental", run, err)
	}
	check("incremental snapshot at 12:30 + tail")
	if run, err = store.Build(ctx, day, h(16)); err != nil || run.Mode != "incremental" {
		t.Fatalf("third snapshot: %+v, %v; want incremental", run, err)
	}
	if w := want(3); !slices.Equal(run.Users, w) {
		t.Errorf("snapshot at 16:00 with no tail: users %v; want %v", run.Users, w)
	}
	check("incremental snapshot at 16:00, no tail")

	// Rows before the cut arriving after it: the snapshot no longer
	// answers, the next run starts over.
	insertRows(h(11), h(15), 300, 4000)
	if _, ok, err := store.Answer(ctx, day, 3); ok || err != nil {
		t.Fatalf("answer after late rows: ok %v, %v; want not ok", ok, err)
	}
	if run, err = store.Build(ctx, day, h(16)); err != nil || run.Mode != "full" || !run.Late {
		t.Fatalf("snapshot after late rows: %+v, %v; want full, late", run, err)
	}
	check("full snapshot after late rows")

	// A cut off the 10 s grid or outside the day is refused.
	for _, cut := range []time.Time{h(9).Add(time.Second), h(25)} {
		if _, err := store.Build(ctx, day, cut); err == nil {
			t.Errorf("Build at %s: no error", cut)
		}
	}
}
