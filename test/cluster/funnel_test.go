package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wings-bff/wings/app/dao"
	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/config"
)

// refFunnel is the funnel of steps within window on biz's day [from, to)
// computed as one node computes it: windowFunnel over the raw rows, read
// through the Distributed table with every user's rows merged on the
// initiator (no per-shard shortcut).
func refFunnel(t *testing.T, biz string, steps []string, window int, from, to time.Time) []uint64 {
	t.Helper()
	conds := make([]string, len(steps))
	reached := make([]string, len(steps))
	for i, s := range steps {
		conds[i] = "event = '" + s + "'"
		reached[i] = fmt.Sprintf("countIf(l >= %d)", i+1)
	}
	q := fmt.Sprintf(`SELECT %s FROM (SELECT user_id, windowFunnel(%d)(event_time, %s) AS l FROM wings.events
WHERE business_line = '%s' AND event_time >= toDateTime(%d) AND event_time < toDateTime(%d) GROUP BY user_id)`,
		strings.Join(reached, ", "), window, strings.Join(conds, ", "), biz, from.Unix(), to.Unix())
	var out []uint64
	for _, f := range strings.Fields(chCount(t, "29100", q)) {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			t.Fatalf("reference funnel: %q", f)
		}
		out = append(out, n)
	}
	return out
}

// funnelUsers asks Wings, through nginx, for a funnel and returns the users
// per step.
func (e env) funnelUsers(t *testing.T, biz, date string, steps []string, window int) []uint64 {
	t.Helper()
	r := e.get(&http.Client{Timeout: 30 * time.Second},
		fmt.Sprintf("/api/dash/%s/funnel?date=%s&steps=%s&window=%d", biz, date, strings.Join(steps, ","), window))
	if r.err != nil || r.status != 200 {
		t.Fatalf("funnel %v: %d %v %s", steps, r.status, r.err, r.body)
	}
	var env struct {
		Data struct {
			Steps []struct {
				Users uint64 `json:"users"`
			} `json:"steps"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, s := range env.Data.Steps {
		out = append(out, s.Users)
	}
	return out
}

// TestFunnelOnCluster (issue 15, item 1 for the funnel): on a day of the
// demo events, the funnel through nginx equals windowFunnel over the same
// raw rows merged on one server, on every path: the raw events (a window
// of its own), the per-user states of agg_funnel_user_day, and a snapshot
// plus the rows after its cut, full and then incremental, whose state
// tables are created ON CLUSTER on every server.
func TestFunnelOnCluster(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	ch, err := chclient.New(config.ClickHouse{
		Addrs: []string{"127.0.0.1:29100", "127.0.0.1:29120"}, Cluster: "wings_cluster", Database: "wings", User: "default",
		PoolSize: 2, DialTimeout: time.Second, QueryTimeout: time.Minute, MaxExecutionTime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	const tz, biz = "Asia/Shanghai", "video"
	d := dao.NewAnalyticsDAO(ch, tz)
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	// Two days ago: a whole day of the demo events whatever the hour.
	now := time.Now().In(loc)
	from := time.Date(now.Year(), now.Month(), now.Day()-2, 0, 0, 0, 0, loc)
	to := from.AddDate(0, 0, 1)
	date := from.Format(time.DateOnly)
	home := model.FunnelSteps()

	check := func(stage string, steps []string, window int) {
		t.Helper()
		want := refFunnel(t, biz, steps, window, from, to)
		got := e.funnelUsers(t, biz, date, steps, window)
		t.Logf("%s: %v through nginx, %v on the raw rows", stage, got, want)
		if !slices.Equal(got, want) {
			t.Errorf("%s %v window %d: %v through nginx; want %v", stage, steps, window, got, want)
		}
		if want[0] == 0 {
			t.Errorf("%s: no users on %s: the demo events did not load", stage, date)
		}
	}
	check("raw events", home, 600)
	check("agg_funnel_user_day", home[:3], model.FunnelWindow)

	// Snapshots at 15:00 (full) and 20:00 (going on from it): each answer
	// is the state plus the rows after the cut.
	for i, cut := range []time.Time{from.Add(15 * time.Hour), from.Add(20 * time.Hour)} {
		mode := []string{"full", "incremental"}[i]
		run, err := d.BuildFunnelState(ctx, biz, from, cut)
		if err != nil || run.Mode != mode {
			t.Fatalf("snapshot at %s: %+v, %v; want %s", cut.Format("15:04"), run, err, mode)
		}
		for _, k := range []int{2, 4} {
			got, source, err := d.Funnel(ctx, biz, home[:k], model.FunnelWindow, from, to)
			want := refFunnel(t, biz, home[:k], model.FunnelWindow, from, to)
			if err != nil || source != dao.TableFunnelState || !slices.Equal(got, want) {
				t.Errorf("%s snapshot, %d steps: %v from %s (%v); want %v from %s", mode, k, got, source, err, want, dao.TableFunnelState)
			}
		}
	}
	check("snapshot + tail", home, model.FunnelWindow)
	check("snapshot + tail", home[:2], model.FunnelWindow)

	// The shards ran the per-user part of the tail themselves, joining
	// their own part of the state: the second shard's first replica
	// received it from the initiator.
	chCount(t, "29120", "SYSTEM FLUSH LOGS")
	if n := chCount(t, "29120", `SELECT count() FROM system.query_log WHERE type = 2 AND is_initial_query = 0
  AND query LIKE '%ANY LEFT JOIN%' AND query LIKE '%FROM wings.funnel_state_%_local%' AND query LIKE '%GROUP BY user_id%'`); n == "0" {
		t.Errorf("shard 02 ran no per-user join with its local funnel state")
	}
	if n := chCount(t, "29120", `SELECT count() FROM system.query_log WHERE type = 2 AND is_initial_query = 0
  AND query LIKE '%windowFunnel(%' AND query LIKE '%funnel_events_local%'`); n == "0" {
		t.Errorf("shard 02 ran no per-user windowFunnel over its funnel events")
	}

	// Every server has the state tables: each shard's part, replicated.
	for _, port := range []string{"29100", "29110", "29120", "29130"} {
		n := chCount(t, port, "SELECT count() FROM system.tables WHERE database = 'wings' AND name LIKE 'funnel_state_%_local'")
		if n == "0" {
			t.Errorf("server %s has no funnel state table", port)
		}
	}
}
