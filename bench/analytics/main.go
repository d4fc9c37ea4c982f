// Command analytics benchmarks the dashboards' queries on a loaded
// ClickHouse: each endpoint uncached (live from the rollups), cached (from
// the precomputed payload) and the same question asked naively of the raw
// table, p50/p99 over repeated calls, in one run. scripts/bench-analytics.sh
// loads the data and runs it; it is not part of make test.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wings-bff/wings/app/dao"
	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/app/service"
	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/config"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:19300", "ClickHouse native address")
	db := flag.String("db", "wings_bench", "database")
	biz := flag.String("biz", "video", "business line (the largest)")
	n := flag.Int("n", 20, "calls per measurement (bounded)")
	tz := flag.String("tz", "Asia/Shanghai", "time zone")
	spanMinUV := flag.Uint64("span-min-uv", 10000, "analytics.span_min_uv: keys with at least this UV on the last closed day get UV spans")
	tailSpan := flag.Duration("funnel-tail", 90*time.Second, "rows after the funnel snapshot's cut: this long at the day's busiest hour's rate (the job's interval + lag + bucket)")
	flag.Parse()
	if *n < 1 || *n > 200 {
		fmt.Fprintln(os.Stderr, "-n must be in [1, 200]")
		os.Exit(2)
	}
	ch, err := chclient.New(config.ClickHouse{Addr: *addr, Database: *db, User: "default", PoolSize: 4,
		DialTimeout: time.Second, QueryTimeout: 120 * time.Second, MaxExecutionTime: 120 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer ch.Close()
	loc, _ := time.LoadLocation(*tz)
	ctx := context.Background()
	src := dao.NewAnalyticsDAO(ch, *tz)
	live := service.NewDashService(src, newMemStore(), loc, 0, nil)
	store := newMemStore()
	cached := service.NewDashService(src, store, loc, time.Hour, nil)
	must(cached.Precompute(ctx, *biz))
	today := live.Today()
	tail := placeFunnelTail(ctx, ch, src, *biz, today, *tailSpan)
	// The analytics_spans job's work, as it would have run: a first run
	// over the whole horizon, then a run with nothing to do.
	spanStart := time.Now()
	spanRun, err := src.RefreshSpans(ctx, today, *spanMinUV)
	must(err)
	spanFirst := time.Since(spanStart)
	spanStart = time.Now()
	spanAgain, err := src.RefreshSpans(ctx, today, *spanMinUV)
	must(err)
	spanNoop := time.Since(spanStart)
	states := service.NewDashService(src.WithoutSpans(), newMemStore(), loc, 0, nil)

	var rows uint64
	must(ch.Conn().QueryRow(ctx, "SELECT count() FROM events").Scan(&rows))
	var bizToday uint64
	must(ch.Conn().QueryRow(ctx, "SELECT count() FROM events WHERE business_line = ? AND event_time >= toDateTime(?)", *biz, uint32(today.Unix())).Scan(&bizToday))
	var days, merges, parts uint64
	must(ch.Conn().QueryRow(ctx, "SELECT uniqExact(toDate(event_time)) FROM events").Scan(&days))
	must(ch.Conn().QueryRow(ctx, "SELECT count() FROM system.merges WHERE database = currentDatabase()").Scan(&merges))
	must(ch.Conn().QueryRow(ctx, "SELECT count() FROM system.parts WHERE database = currentDatabase() AND active").Scan(&parts))
	fn, err := live.Funnel(ctx, *biz, today, model.FunnelSteps(), model.FunnelWindow)
	must(err)
	_, fnSource, err := src.Funnel(ctx, *biz, model.FunnelSteps(), model.FunnelWindow, today, today.AddDate(0, 0, 1))
	must(err)
	if fnSource != dao.TableFunnelState {
		must(fmt.Errorf("funnel answered from %s, not its snapshot", fnSource))
	}
	fmt.Printf("events: %d rows over %d days; %s today: %d rows; %d active parts, %d merges running; funnel from %s; %d calls per figure (ms)\n",
		rows, days, *biz, bizToday, parts, merges, fnSource, *n)
	fmt.Printf("funnel snapshot cut %s: %d rows (%d users) after it = %s at the busiest hour's %d rows/h; snapshot built in %s\n",
		tail.cut.Format("15:04:05"), tail.rows, tail.users, *tailSpan, tail.peakHour, tail.build.Round(time.Millisecond))
	steps := len(model.FunnelSteps())
	reached := make([]string, steps)
	want := make([]uint64, steps)
	dest := make([]any, steps)
	for i := range reached {
		reached[i] = fmt.Sprintf("countIf(l >= %d)", i+1)
		dest[i] = &want[i]
	}
	must(ch.Conn().QueryRow(ctx, `SELECT `+strings.Join(reached, ", ")+` FROM (
  SELECT user_id, `+rawFunnel()+` AS l
  FROM events WHERE business_line = ? AND event_time >= toDateTime(?) AND event_time < toDateTime(?) GROUP BY user_id)`,
		*biz, uint32(today.Unix()), uint32(today.AddDate(0, 0, 1).Unix())).Scan(dest...))
	got := make([]uint64, len(fn.Steps))
	for i, s := range fn.Steps {
		got[i] = s.Users
	}
	fmt.Printf("UV spans: first run %s (%d keys, %d INSERTs, %d spans), next run %s (%d INSERTs)\n",
		spanFirst.Round(time.Millisecond), spanRun.Keys, spanRun.Queries, spanRun.Spans, spanNoop.Round(time.Millisecond), spanAgain.Queries)
	q90 := service.AnalysisQuery{Biz: *biz, From: today.AddDate(0, 0, -89), To: today, Granularity: "day",
		Metrics: []string{"pv", "uv", "avg_value"}, Filters: model.Filters{Platform: "ios"}}
	withSpans, err := live.Analysis(ctx, q90)
	must(err)
	fromStates, err := states.Analysis(ctx, q90)
	must(err)
	fmt.Printf("90-day analysis: %d agg_uv_span rows used; pv and uv equal to the states' answer on every day and the totals: %v (range UV %d)\n",
		withSpans.UVSpans, sameCounts(withSpans, fromStates), *withSpans.Totals.UV)
	fmt.Printf("funnel users per step: live %v, windowFunnel(%d) on the raw rows %v (equal: %v)\n\n", got, model.FunnelWindow, want, slices.Equal(got, want))
	fmt.Println("| question | uncached p50 | uncached p99 | cached p50 | cached p99 | naive raw p50 | naive raw p99 | speed-up (p50) |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")

	from90 := q90.From
	// The longest hourly range an analysis accepts.
	fromHourly := today.AddDate(0, 0, 1-model.MaxDaysHourly)
	day := uint32(today.Unix())
	raw := func(q string, args ...any) func() error {
		return func() error {
			r, err := ch.Conn().Query(ctx, q, args...)
			if err != nil {
				return err
			}
			for r.Next() {
			}
			r.Close()
			return r.Err()
		}
	}
	type row struct {
		name          string
		uncached, hit func() error
		naive         func() error
	}
	table := []row{
		{"realtime (today hourly pv/uv/avg + day UV)",
			func() error { _, err := live.Realtime(ctx, *biz, model.HomeEvent); return err },
			func() error { _, err := cached.Realtime(ctx, *biz, model.HomeEvent); return err },
			raw("SELECT toStartOfHour(event_time) AS h, count(), count(DISTINCT user_id), avg(value) FROM events WHERE business_line = ? AND event = 'view' AND event_time >= toDateTime(?) GROUP BY h WITH TOTALS ORDER BY h", *biz, day)},
		{"ranking (top 10 items today)",
			func() error { _, err := live.Ranking(ctx, *biz, today, model.HomeEvent, 10); return err },
			func() error { _, err := cached.Ranking(ctx, *biz, today, model.HomeEvent, 10); return err },
			raw("SELECT item, count() AS c FROM events WHERE business_line = ? AND event = 'view' AND event_time >= toDateTime(?) GROUP BY item ORDER BY c DESC LIMIT 10", *biz, day)},
		{"funnel (4 steps, 1 h window, today; snapshot + tail)",
			func() error {
				_, err := live.Funnel(ctx, *biz, today, model.FunnelSteps(), model.FunnelWindow)
				return err
			},
			func() error {
				_, err := cached.Funnel(ctx, *biz, today, model.FunnelSteps(), model.FunnelWindow)
				return err
			},
			raw("SELECT level, count() FROM (SELECT user_id, "+rawFunnel()+" AS level FROM events WHERE business_line = ? AND event_time >= toDateTime(?) GROUP BY user_id) GROUP BY level", *biz, day)},
		{"funnel, previous path (merge of agg_funnel_user_day)",
			raw(fmt.Sprintf("SELECT level, count() FROM (SELECT user_id, windowFunnelMerge(%d)(funnel) AS level FROM agg_funnel_user_day WHERE business_line = ? AND day = toDate(?) GROUP BY user_id) WHERE level > 0 GROUP BY level", model.FunnelWindow), *biz, today.Format(time.DateOnly)),
			nil,
			raw("SELECT level, count() FROM (SELECT user_id, "+rawFunnel()+" AS level FROM events WHERE business_line = ? AND event_time >= toDateTime(?) GROUP BY user_id) GROUP BY level", *biz, day)},
		{"analysis 90 d daily, platform=ios, pv+uv+avg + range UV",
			func() error {
				_, err := live.Analysis(ctx, q90)
				return err
			},
			nil,
			raw("SELECT toDate(event_time) AS d, count(), count(DISTINCT user_id), avg(value) FROM events WHERE business_line = ? AND platform = 'ios' AND event_time >= toDateTime(?) GROUP BY d WITH TOTALS ORDER BY d", *biz, uint32(from90.Unix()))},
		{"the same, previous path (states of every day, no spans)",
			func() error { _, err := states.Analysis(ctx, q90); return err },
			nil,
			raw("SELECT toDate(event_time) AS d, count(), count(DISTINCT user_id), avg(value) FROM events WHERE business_line = ? AND platform = 'ios' AND event_time >= toDateTime(?) GROUP BY d WITH TOTALS ORDER BY d", *biz, uint32(from90.Unix()))},
		{fmt.Sprintf("analysis %d d hourly, ios+zhejiang+order", model.MaxDaysHourly),
			func() error {
				_, err := live.Analysis(ctx, service.AnalysisQuery{Biz: *biz, From: fromHourly, To: today, Granularity: "hour",
					Metrics: []string{"pv", "uv", "avg_value"}, Filters: model.Filters{Platform: "ios", Region: "zhejiang", Event: "order"}})
				return err
			},
			nil,
			raw("SELECT toStartOfHour(event_time) AS h, count(), count(DISTINCT user_id), avg(value) FROM events WHERE business_line = ? AND platform = 'ios' AND region = 'zhejiang' AND event = 'order' AND event_time >= toDateTime(?) GROUP BY h WITH TOTALS ORDER BY h", *biz, uint32(fromHourly.Unix()))},
	}
	for _, r := range table {
		u50, u99 := measure(*n, r.uncached)
		c := "n/a | n/a"
		if r.hit != nil {
			c50, c99 := measure(*n, r.hit)
			c = fmt.Sprintf("%.2f | %.2f", c50, c99)
		}
		naiveN := max(3, *n/4) // the naive query is slow: fewer calls
		r50, r99 := measure(naiveN, r.naive)
		fmt.Printf("| %s | %.1f | %.1f | %s | %.1f | %.1f | %.0fx |\n", r.name, u50, u99, c, r50, r99, r50/u50)
	}
}

// sameCounts reports whether two analyses have equal pv and uv in every
// bucket and in the totals (averages are float sums, whose order varies).
func sameCounts(a, b *model.Analysis) bool {
	eq := func(x, y *uint64) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	if len(a.Series) != len(b.Series) || !eq(a.Totals.PV, b.Totals.PV) || !eq(a.Totals.UV, b.Totals.UV) {
		return false
	}
	for i := range a.Series {
		if a.Series[i].Time != b.Series[i].Time || !eq(a.Series[i].PV, b.Series[i].PV) || !eq(a.Series[i].UV, b.Series[i].UV) {
			return false
		}
	}
	return true
}

// rawFunnel is the home funnel's windowFunnel over the raw rows, as a
// naive query asks it.
func rawFunnel() string {
	conds := make([]string, 0, len(model.FunnelSteps()))
	for _, s := range model.FunnelSteps() {
		conds = append(conds, "event = '"+s+"'")
	}
	return fmt.Sprintf("windowFunnel(%d)(event_time, %s)", model.FunnelWindow, strings.Join(conds, ", "))
}

// funnelTail is where the benchmark put the funnel snapshot's cut.
type funnelTail struct {
	cut         time.Time
	rows, users uint64
	peakHour    uint64
	build       time.Duration
}

// placeFunnelTail takes a funnel snapshot of biz today at the latest cut
// after which the day holds span's worth of rows at its busiest hour's
// rate: the rows a live answer reads just before the job's next run. The
// loaded data ends before now, so the job's own cut leaves no rows after
// it, which would not measure the live part at all.
func placeFunnelTail(ctx context.Context, ch *chclient.Client, src *dao.AnalyticsDAO, biz string, today time.Time, span time.Duration) funnelTail {
	var buckets []struct {
		Bucket time.Time `ch:"bucket"`
		Rows   uint64    `ch:"rows"`
	}
	must(ch.Select(ctx, &buckets, "SELECT bucket, sum(n) AS rows FROM funnel_counts WHERE business_line = ? AND day = toDate(?) GROUP BY bucket ORDER BY bucket DESC",
		biz, today.Format(time.DateOnly)))
	hours := map[int64]uint64{}
	for _, b := range buckets {
		hours[b.Bucket.Unix()/3600] += b.Rows
	}
	var t funnelTail
	for _, n := range hours {
		t.peakHour = max(t.peakHour, n)
	}
	want := uint64(float64(t.peakHour) * span.Seconds() / 3600)
	t.cut = today
	for _, b := range buckets {
		t.rows += b.Rows
		if t.rows >= want {
			t.cut = b.Bucket
			break
		}
	}
	start := time.Now()
	_, err := src.BuildFunnelState(ctx, biz, today, t.cut)
	must(err)
	t.build = time.Since(start)
	must(ch.Conn().QueryRow(ctx, "SELECT count(), uniqExact(user_id) FROM funnel_events WHERE business_line = ? AND event_time >= toDateTime(?) AND event_time < toDateTime(?)",
		biz, uint32(t.cut.Unix()), uint32(today.AddDate(0, 0, 1).Unix())).Scan(&t.rows, &t.users))
	return t
}

// measure calls f once to warm up, then n times, and returns p50 and p99
// in milliseconds.
func measure(n int, f func() error) (float64, float64) {
	must(f())
	ds := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		must(f())
		ds = append(ds, float64(time.Since(start).Microseconds())/1000)
	}
	sort.Float64s(ds)
	p := func(q float64) float64 { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return p(0.5), p(0.99)
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// memStore keeps the home payloads in memory: the benchmark runs without
// a Runtime, so without its cache.
type memStore struct {
	mu sync.Mutex
	m  map[string]memPayload
}

type memPayload struct {
	v  []byte
	at time.Time
}

func newMemStore() *memStore { return &memStore{m: map[string]memPayload{}} }

func (s *memStore) Put(_ context.Context, key string, value []byte, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = memPayload{v: value, at: time.Now()}
	return nil
}

func (s *memStore) Peek(_ context.Context, key string) ([]byte, time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.m[key]
	return p.v, p.at, ok
}
