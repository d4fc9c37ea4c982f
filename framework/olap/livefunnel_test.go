package olap

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// checkout is a team's live funnel declared without app code: a
// three-step checkout within 30 minutes.
var checkout = LiveFunnel{
	Events: "checkout_events", Counts: "checkout_counts", Snapshots: "checkout_snapshots",
	Key: "shop", Time: "at", User: "uid", Step: "step", Steps: 3, Window: 1800,
	StatePrefix: "checkout_state_", JoinPrefix: "checkout_join_",
}

// home is the example app's home funnel: four steps within an hour.
var home = LiveFunnel{
	Events: "funnel_events", Counts: "funnel_counts", Snapshots: "funnel_snapshots",
	Key: "business_line", Time: "event_time", User: "user_id", Step: "step", Steps: 4, Window: 3600,
	StatePrefix: "funnel_state_", JoinPrefix: "funnel_join_",
}

// allSQL renders every statement f generates for state 7 (previous state
// 5), one block each.
func allSQL(f LiveFunnel) string {
	var b strings.Builder
	add := func(name string, sql ...string) {
		for _, s := range sql {
			b.WriteString("-- " + name + "\n" + s + ";\n\n")
		}
	}
	add("create state", f.CreateStateSQL(7)...)
	add("full", f.FullSQL(7))
	add("incremental", f.IncrementalSQL(7, 5))
	add("carry", f.CarrySQL(7, 5))
	add("create join", f.CreateJoinSQL(7)...)
	add("users", f.UsersSQL(7))
	add("tail", f.TailSQL(7))
	for _, t := range f.StateTables(5) {
		add("drop", f.DropSQL(t))
	}
	return b.String()
}

func TestLiveFunnelGolden(t *testing.T) {
	for _, tc := range []struct {
		file string
		f    LiveFunnel
	}{
		{"livefunnel_single.sql", home},
		{"livefunnel_cluster.sql", home.OnCluster("wings_cluster", "wings")},
		{"livefunnel_checkout_single.sql", checkout},
		{"livefunnel_checkout_cluster.sql", checkout.OnCluster("shops", "shopdb")},
	} {
		t.Run(tc.file, func(t *testing.T) {
			if err := tc.f.Validate(); err != nil {
				t.Fatal(err)
			}
			got := allSQL(tc.f)
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("SQL differs from %s (go test -run TestLiveFunnelGolden -update ./framework/olap/):\n%s", path, got)
			}
		})
	}
}

// TestLiveFunnelShape checks the parts of the SQL that carry the
// technique, independently of the goldens.
func TestLiveFunnelShape(t *testing.T) {
	single, cluster := home, home.OnCluster("c", "db")
	if got, want := home.ScaledWindow(), 3600*4+3; got != want {
		t.Errorf("ScaledWindow = %d; want %d", got, want)
	}
	if got, want := home.syn(), "if(level >= 4, emptyArrayUInt32(), arrayFilter(x -> x > 3, arrayMap(x -> toUInt32(x), [s3, s3 + 1, s3 + 2, s2, s2 + 1, s1])))"; got != want {
		t.Errorf("syn = %s; want %s", got, want)
	}
	if got, want := checkout.syn(), "if(level >= 3, emptyArrayUInt32(), arrayFilter(x -> x > 2, arrayMap(x -> toUInt32(x), [s2, s2 + 1, s1])))"; got != want {
		t.Errorf("checkout syn = %s; want %s", got, want)
	}
	if got := checkout.scaled(); got != "toUInt32((toUInt32(at) - @base) * 3 + step - 1)" {
		t.Errorf("checkout scaled = %s", got)
	}
	for _, q := range []string{single.FullSQL(1), single.IncrementalSQL(2, 1), single.TailSQL(1), single.CarrySQL(2, 1)} {
		if strings.Contains(q, "SETTINGS") || strings.Contains(q, "_local") || strings.Contains(q, "ON CLUSTER") {
			t.Errorf("single-node SQL names cluster parts:\n%s", q)
		}
	}
	if q := cluster.TailSQL(1); !strings.HasSuffix(q, "\nSETTINGS distributed_group_by_no_merge = 1") {
		t.Errorf("cluster tail does not run per shard:\n%s", q)
	}
	if got := single.WriteSettings(2); got != nil {
		t.Errorf("single-node write settings: %v; want none", got)
	}
	if got := cluster.WriteSettings(2); len(got) != 2 || got["distributed_group_by_no_merge"] != 1 || got["insert_quorum"] != 2 {
		t.Errorf("cluster write settings (2 replicas): %v", got)
	}
	if got := cluster.WriteSettings(1); len(got) != 1 || got["distributed_group_by_no_merge"] != 1 {
		t.Errorf("cluster write settings (1 replica): %v; want no quorum", got)
	}
	// The state a shard joins is its own local part, never the
	// Distributed table (which would read every shard from each shard).
	if q := cluster.TailSQL(9); !strings.Contains(q, "FROM db.funnel_state_9_local\n)") || strings.Contains(q, "funnel_join_") {
		t.Errorf("cluster tail does not join the shard's local state:\n%s", q)
	}
	if q := cluster.CarrySQL(2, 1); !strings.Contains(q, "NOT IN (SELECT user_id FROM db.funnel_state_2_local)") {
		t.Errorf("cluster carry compares with the Distributed table:\n%s", q)
	}
	if got := cluster.CreateJoinSQL(1); got != nil {
		t.Errorf("cluster Join tables: %v; want none", got)
	}
	ddl := cluster.CreateStateSQL(3)
	if len(ddl) != 2 || !strings.Contains(ddl[0], "ReplicatedMergeTree('/clickhouse/tables/{shard}/db/funnel_state_3_local', '{replica}')") ||
		!strings.Contains(ddl[1], "ENGINE = Distributed(c, db, funnel_state_3_local, cityHash64(user_id))") {
		t.Errorf("cluster state DDL:\n%s", strings.Join(ddl, "\n"))
	}
}

func TestLiveFunnelValidate(t *testing.T) {
	for i, tc := range []struct {
		edit func(*LiveFunnel)
		want string
	}{
		{func(f *LiveFunnel) { f.Steps = 1 }, "1 steps"},
		{func(f *LiveFunnel) { f.Steps = 9 }, "9 steps"},
		{func(f *LiveFunnel) { f.Window = 0 }, "window 0"},
		{func(f *LiveFunnel) { f.Events = "x; DROP TABLE y" }, "events table"},
		{func(f *LiveFunnel) { f.User = "" }, "user column"},
		{func(f *LiveFunnel) { f.Time = "ts" }, `column "ts"`},
		{func(f *LiveFunnel) { f.User = "level" }, `column "level"`},
		{func(f *LiveFunnel) { f.Step = "s2" }, `column "s2"`},
		{func(f *LiveFunnel) { f.Key = "g_k" }, `column "g_k"`},
		{func(f *LiveFunnel) { f.Cluster, f.Database = "c", "" }, "cluster"},
		{func(f *LiveFunnel) { f.Cluster, f.Database = "c d", "db" }, "cluster"},
	} {
		f := home
		tc.edit(&f)
		if err := f.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Test %d: Validate() = %v; want an error naming %q", i, err, tc.want)
		}
	}
	if err := home.Validate(); err != nil {
		t.Errorf("home: %v", err)
	}
}

func TestFunnelDay(t *testing.T) {
	loc := time.FixedZone("UTC+8", 8*3600)
	d := NewFunnelDay("video", time.Date(2026, 3, 4, 20, 30, 0, 0, time.UTC), loc)
	if want := time.Date(2026, 3, 5, 0, 0, 0, 0, loc); !d.Start.Equal(want) || !d.End.Equal(want.AddDate(0, 0, 1)) {
		t.Errorf("day = [%s, %s); want the day starting %s", d.Start, d.End, want)
	}
	if got, want := d.date(), "2026-03-05"; got != want {
		t.Errorf("date = %s; want %s", got, want)
	}
	if got, want := d.base(), uint32(d.Start.Unix()-1); got != want {
		t.Errorf("base = %d; want %d", got, want)
	}
}

func TestCleanupGate(t *testing.T) {
	var g cleanupGate
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, tc := range []struct {
		at   time.Duration
		want bool
	}{{0, true}, {30 * time.Second, false}, {time.Minute, true}, {90 * time.Second, false}} {
		if got := g.allow(t0.Add(tc.at)); got != tc.want {
			t.Errorf("Test %d: allow(+%s) = %v; want %v", i, tc.at, got, tc.want)
		}
	}
}

func TestFunnelID(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := newFunnelID(now), newFunnelID(now.Add(time.Millisecond))
	if a >= b {
		t.Errorf("ids do not order by time: %d then %d", a, b)
	}
	if d := funnelIDTime(a).Sub(now); d < 0 || d >= time.Microsecond {
		t.Errorf("id time off by %s", d)
	}
}

func TestPerShard(t *testing.T) {
	if got := PerShard(""); got != "" {
		t.Errorf("PerShard on one node = %q; want none", got)
	}
	if got, want := PerShard("c"), "\nSETTINGS distributed_group_by_no_merge = 1"; got != want {
		t.Errorf("PerShard on a cluster = %q; want %q", got, want)
	}
}

// TestFunnelStoreRetry: a write that failed for a replication reason is
// tried again, up to funnelAttempts; any other error is returned at once.
func TestFunnelStoreRetry(t *testing.T) {
	s := &FunnelStore{backoff: time.Millisecond}
	reset := errors.New("read: connection reset")
	quorum := &clickhouse.Exception{Code: 319, Message: "Replica become inactive while waiting for quorum"}
	syntax := &clickhouse.Exception{Code: 62, Message: "Syntax error"}
	for _, tc := range []struct {
		name  string
		errs  []error
		calls int
		want  error
	}{
		{"transient then ok", []error{quorum, fmt.Errorf("wrapped: %w", &clickhouse.Exception{Code: 286}), nil}, 3, nil},
		{"not transient", []error{syntax, nil}, 1, syntax},
		{"network error", []error{reset, nil}, 1, reset},
		{"always transient", []error{quorum, quorum, quorum, quorum, quorum}, funnelAttempts, quorum},
	} {
		calls := 0
		err := s.retry(context.Background(), func() error {
			calls++
			return tc.errs[calls-1]
		})
		if calls != tc.calls {
			t.Errorf("%s: %d calls; want %d", tc.name, calls, tc.calls)
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v; want %v", tc.name, err, tc.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	if err := s.retry(ctx, func() error { calls++; return quorum }); !errors.Is(err, quorum) || calls != 1 {
		t.Errorf("canceled: %d calls, %v; want 1 call and the quorum error", calls, err)
	}
}
