// Command cluster compares the dashboards' questions on a 2-shard
// ClickHouse cluster against one node holding the same events: p50 and
// p99 of each question on both (calls interleaved, so both see the same
// machine), and, from system.query_log on every server, the rows each
// shard read and the rows each shard sent to the initiator.
// scripts/bench-cluster.sh starts both, loads the same events into both and
// runs it; it is not part of make test.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/wings-bff/wings/app/dao"
	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/app/service"
	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/testkit"
)

func main() {
	single := flag.String("single", "127.0.0.1:19600", "native address of the single node")
	addrs := flag.String("cluster", "127.0.0.1:30100,127.0.0.1:30110,127.0.0.1:30120,127.0.0.1:30130", "native addresses of the cluster's servers, initiator first")
	name := flag.String("cluster-name", "wings_cluster", "remote_servers cluster name")
	db := flag.String("db", "wings", "database")
	biz := flag.String("biz", "video", "business line (the largest)")
	n := flag.Int("n", 40, "calls per question and target (bounded)")
	budget := flag.Duration("max-time", 60*time.Second, "time bound of one question's calls on both targets")
	tz := flag.String("tz", "Asia/Shanghai", "analytics.timezone")
	spanMinUV := flag.Uint64("span-min-uv", 1000, "analytics.span_min_uv for the spans job run before measuring")
	flag.Parse()
	if *n < 3 || *n > 500 {
		fail(fmt.Errorf("-n must be in [3, 500]"))
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	servers := strings.Split(*addrs, ",")
	one := open(config.ClickHouse{Addr: *single, Database: *db})
	defer one.Close()
	many := open(config.ClickHouse{Addrs: servers, Cluster: *name, Database: *db})
	defer many.Close()
	logs := make([]*chclient.Client, len(servers))
	for i, a := range servers {
		logs[i] = open(config.ClickHouse{Addr: a, Database: *db})
		defer logs[i].Close()
	}
	shardOf := shards(ctx, many, *name, servers)

	must(settle(ctx, append([]*chclient.Client{one}, logs...), 3*time.Minute))
	var rowsOne, rowsMany uint64
	must(one.Conn().QueryRow(ctx, "SELECT count() FROM events").Scan(&rowsOne))
	must(many.Conn().QueryRow(ctx, "SELECT count() FROM events").Scan(&rowsMany))
	if rowsOne != rowsMany {
		fail(fmt.Errorf("events differ: %d rows on the single node, %d on the cluster", rowsOne, rowsMany))
	}
	perShard := map[int]uint64{}
	for i, c := range logs {
		if shardOf[i] == 0 || perShard[shardOf[i]] > 0 {
			continue
		}
		var r uint64
		must(c.Conn().QueryRow(ctx, "SELECT count() FROM "+dao.TableEvents+"_local").Scan(&r))
		perShard[shardOf[i]] = r
	}

	targets := []*target{
		newTarget("single", one, *tz, loc),
		newTarget("cluster", many, *tz, loc),
	}
	today := targets[0].svc.Today()
	fmt.Printf("events: %d rows on both (cluster: %s); %s; %d calls per figure at most, %s per question at most\n",
		rowsOne, shardSplit(perShard), *biz, *n, *budget)
	// The analytics_spans job's run, as it would have run before the
	// question is asked. Where it fails on either target, both answer the
	// analysis from the day states, so both take the same path.
	var spanErr error
	for _, t := range targets {
		start := time.Now()
		run, err := t.src.RefreshSpans(ctx, today, *spanMinUV)
		if err != nil {
			spanErr = fmt.Errorf("%s: %w", t.name, err)
			fmt.Printf("UV spans job on %s failed: %s\n", t.name, strings.SplitN(err.Error(), "\n", 2)[0])
			continue
		}
		fmt.Printf("UV spans job on %s: %s (%d keys, %d INSERTs)\n", t.name, time.Since(start).Round(time.Millisecond), run.Keys, run.Queries)
	}
	if spanErr != nil {
		fmt.Println("the analysis reads the day states on both targets (no UV spans)")
		for _, t := range targets {
			t.svc = service.NewDashService(t.src.WithoutSpans(), noStore{}, loc, 0, nil)
		}
	}

	questions := []question{
		{"analysis", "analysis 90 d daily, platform=ios, pv+uv+avg + range UV", func(ctx context.Context, s *service.DashService) (any, error) {
			return s.Analysis(ctx, service.AnalysisQuery{Biz: *biz, From: today.AddDate(0, 0, -89), To: today, Granularity: "day",
				Metrics: []string{"pv", "uv", "avg_value"}, Filters: model.Filters{Platform: "ios"}})
		}},
		{"funnel", "funnel 4 steps, 1 h window, today (no snapshot: agg_funnel_user_day)", func(ctx context.Context, s *service.DashService) (any, error) {
			v, err := s.Funnel(ctx, *biz, today, model.FunnelSteps(), model.FunnelWindow)
			if v != nil {
				v.Freshness = model.Freshness{}
			}
			return v, err
		}},
		{"funnel_raw", "custom funnel 4 steps, 30 min window, today (raw events)", func(ctx context.Context, s *service.DashService) (any, error) {
			v, err := s.Funnel(ctx, *biz, today, model.FunnelSteps(), 1800)
			if v != nil {
				v.Freshness = model.Freshness{}
			}
			return v, err
		}},
		{"realtime", "realtime: today hourly pv/uv/avg + day totals", func(ctx context.Context, s *service.DashService) (any, error) {
			v, err := s.Realtime(ctx, *biz, model.HomeEvent)
			if v != nil {
				v.Freshness = model.Freshness{}
			}
			return v, err
		}},
	}
	var results []result
	for _, q := range questions {
		r := result{q: q}
		var answers [2]any
		for j, t := range targets { // the first call warms caches: not counted
			v, err := q.ask(ctx, t.svc)
			must(err)
			answers[j] = v
		}
		r.same = sameJSON(answers[0], answers[1])
		// query_log times are whole seconds: the measured calls start in a
		// second of their own and the next question in the one after.
		r.from = nextSecond()
		deadline := r.from.Add(*budget)
		for i := 0; i < *n && time.Now().Before(deadline); i++ {
			for j, t := range targets {
				start := time.Now()
				_, err := q.ask(ctx, t.svc)
				must(err)
				r.ms[j] = append(r.ms[j], float64(time.Since(start).Microseconds())/1000)
			}
		}
		r.to = time.Now()
		nextSecond()
		results = append(results, r)
	}

	flush(ctx, logs)
	flush(ctx, []*chclient.Client{one})
	for i := range results {
		r := &results[i]
		r.calls = uint64(len(r.ms[0]))
		r.single = queryLog(ctx, one, r.from, r.to)
		var stats []serverStats
		for _, c := range logs {
			stats = append(stats, queryLog(ctx, c, r.from, r.to))
		}
		r.shards = shardWork(stats, shardOf)
		for _, st := range stats {
			r.initiatorMs += st.initialMs
		}
	}
	printTable(results)
}

// question is one dashboard question, asked through the service as the
// HTTP handler does (live: no precomputed payload, no result cache).
type question struct {
	key, title string
	ask        func(ctx context.Context, s *service.DashService) (any, error)
}

type target struct {
	name string
	src  *dao.AnalyticsDAO
	svc  *service.DashService
}

func newTarget(name string, ch *chclient.Client, tz string, loc *time.Location) *target {
	src := dao.NewAnalyticsDAO(ch, tz)
	return &target{name: name, src: src, svc: service.NewDashService(src, noStore{}, loc, 0, nil)}
}

// noStore holds no precomputed payloads: every answer is live.
type noStore struct{}

func (noStore) Put(context.Context, string, []byte, time.Duration) error { return nil }
func (noStore) Peek(context.Context, string) ([]byte, time.Time, bool) {
	return nil, time.Time{}, false
}

func open(cfg config.ClickHouse) *chclient.Client {
	cfg.User, cfg.PoolSize = "default", 4
	cfg.DialTimeout, cfg.QueryTimeout, cfg.MaxExecutionTime = time.Second, 120*time.Second, 120*time.Second
	c, err := chclient.New(cfg)
	must(err)
	must(c.Ping(context.Background()))
	return c
}

// shards returns the shard number of each server (by position), from the
// cluster's system.clusters.
func shards(ctx context.Context, ch *chclient.Client, cluster string, servers []string) []int {
	var rows []struct {
		Shard uint32 `ch:"shard_num"`
		Host  string `ch:"host_address"`
		Port  uint16 `ch:"port"`
	}
	must(ch.Select(ctx, &rows, "SELECT shard_num, host_address, port FROM system.clusters WHERE cluster = ?", cluster))
	out := make([]int, len(servers))
	for i, s := range servers {
		for _, r := range rows {
			if fmt.Sprintf("%s:%d", r.Host, r.Port) == s {
				out[i] = int(r.Shard)
			}
		}
		if out[i] == 0 {
			fail(fmt.Errorf("%s is not a server of cluster %s", s, cluster))
		}
	}
	return out
}

// settle waits, at most max, until no server runs a merge: the parts the
// load left are merged as they would be between two inserts of a steady
// stream, and the measurement does not race the merges.
func settle(ctx context.Context, cs []*chclient.Client, max time.Duration) error {
	deadline := time.Now().Add(max)
	for _, c := range cs {
		for {
			var m uint64
			if err := c.Conn().QueryRow(ctx, "SELECT count() FROM system.merges").Scan(&m); err != nil {
				return err
			}
			if m == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
	}
	return nil
}

func flush(ctx context.Context, cs []*chclient.Client) {
	for _, c := range cs {
		must(c.Conn().Exec(ctx, "SYSTEM FLUSH LOGS"))
	}
}

// serverStats is what one server's query_log says about one question's
// measured calls: the queries the client sent it (initial) and the
// queries another server sent it on their behalf (secondary).
type serverStats struct {
	initialQueries, initialRead, initialMs uint64
	secondaryQueries, secondaryRead        uint64
	secondarySent, secondaryElapsedMs      uint64
	secondarySentBytes                     uint64
}

// queryLog sums the queries that started in [from, to] on one server.
// Only the benchmark queries the servers then: every Wings instance of
// the cluster is stopped before it runs.
func queryLog(ctx context.Context, c *chclient.Client, from, to time.Time) serverStats {
	var rows []struct {
		Initial uint8  `ch:"is_initial_query"`
		Queries uint64 `ch:"queries"`
		Read    uint64 `ch:"read"`
		Sent    uint64 `ch:"sent"`
		Bytes   uint64 `ch:"bytes"`
		Ms      uint64 `ch:"ms"`
	}
	// type 2 is QueryFinish (UInt8 on 18.16, Enum8 later).
	must(c.Select(ctx, &rows, `SELECT is_initial_query, count() AS queries, sum(read_rows) AS read, sum(result_rows) AS sent, sum(result_bytes) AS bytes, sum(query_duration_ms) AS ms
FROM system.query_log WHERE type = 2 AND query_start_time >= toDateTime(?) AND query_start_time <= toDateTime(?)
GROUP BY is_initial_query`, uint32(from.Unix()), uint32(to.Unix())))
	var s serverStats
	for _, r := range rows {
		if r.Initial == 1 {
			s.initialQueries, s.initialRead, s.initialMs = r.Queries, r.Read, r.Ms
		} else {
			s.secondaryQueries, s.secondaryRead, s.secondarySent, s.secondaryElapsedMs = r.Queries, r.Read, r.Sent, r.Ms
			s.secondarySentBytes = r.Bytes
		}
	}
	return s
}

// shardStats is one shard's part of a question's calls.
type shardStats struct {
	shard int
	read  uint64 // rows the shard read
	// sent and elapsedMs come from the shard's secondary queries only: a
	// shard the initiator reads in its own process (prefer_localhost_replica)
	// logs no query of its own.
	sent, sentBytes, elapsedMs, queries uint64
}

// shardWork splits the rows read among the shards. The initiator's logged
// read_rows counts every shard's rows (remote progress included), so the
// rows its own shard read are its total less what the secondary queries
// on every server read.
func shardWork(stats []serverStats, shardOf []int) []shardStats {
	by := map[int]*shardStats{}
	var initial, secondary uint64
	initiator := -1
	for i, s := range stats {
		ss := by[shardOf[i]]
		if ss == nil {
			ss = &shardStats{shard: shardOf[i]}
			by[shardOf[i]] = ss
		}
		ss.read += s.secondaryRead
		ss.sent += s.secondarySent
		ss.sentBytes += s.secondarySentBytes
		ss.elapsedMs += s.secondaryElapsedMs
		ss.queries += s.secondaryQueries
		secondary += s.secondaryRead
		if s.initialQueries > 0 {
			initial += s.initialRead
			initiator = shardOf[i]
		}
	}
	if initiator > 0 && initial > secondary {
		by[initiator].read += initial - secondary
	}
	out := make([]shardStats, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].shard < out[j].shard })
	return out
}

type result struct {
	q        question
	from, to time.Time // when the measured calls ran
	ms       [2][]float64
	same     bool
	calls    uint64
	single   serverStats
	shards   []shardStats
	// initiatorMs is the initial queries' server time on the cluster,
	// all calls.
	initiatorMs uint64
}

func printTable(results []result) {
	fmt.Println()
	fmt.Println("| question | calls | 1 node p50 ms | 1 node p99 ms | 2 shards p50 ms | 2 shards p99 ms | p50 2 shards/1 node | p99 2 shards/1 node | same answer |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range results {
		s50, s99 := percentiles(r.ms[0])
		c50, c99 := percentiles(r.ms[1])
		fmt.Printf("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.2fx | %.2fx | %v |\n",
			r.q.title, r.calls, s50, s99, c50, c99, c50/s50, c99/s99, r.same)
	}
	fmt.Println()
	fmt.Println("per call, from system.query_log: rows each shard read; rows a shard sent the initiator and its server time (secondary queries);")
	fmt.Println("server time of the call's queries on the single node and on the initiator (which waits for the shards and merges)")
	fmt.Println()
	fmt.Println("| question | 1 node read | shard | shard read | share of 1 node | sent to initiator (rows, bytes) | shard ms | 1 node ms | initiator ms |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		per := func(v uint64) uint64 { return v / max(1, r.calls) }
		for _, s := range r.shards {
			sent, ms := "(in the initiator)", "-"
			if s.queries > 0 {
				sent = fmt.Sprintf("%d, %d", per(s.sent), per(s.sentBytes))
				ms = fmt.Sprintf("%.1f", float64(s.elapsedMs)/float64(s.queries))
			}
			fmt.Printf("| %s | %d | %02d | %d | %.2f | %s | %s | %.1f | %.1f |\n", r.q.key, per(r.single.initialRead), s.shard, per(s.read),
				float64(s.read)/float64(max(1, r.single.initialRead)), sent, ms,
				float64(r.single.initialMs)/float64(max(1, r.calls)), float64(r.initiatorMs)/float64(max(1, r.calls)))
		}
	}
}

// nextSecond sleeps until the next whole second and returns it.
func nextSecond() time.Time {
	t := time.Now().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(t))
	return t
}

// percentiles returns the p50 and p99 of ds (milliseconds).
func percentiles(ds []float64) (float64, float64) {
	if len(ds) == 0 {
		return math.NaN(), math.NaN()
	}
	s := append([]float64(nil), ds...)
	sort.Float64s(s)
	p := func(q float64) float64 { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return p(0.5), p(0.99)
}

// sameJSON reports whether a and b marshal to the same JSON, numbers with
// a fraction compared to 1e-9 relative: averages are float sums whose
// order differs between one node and two shards.
func sameJSON(a, b any) bool {
	var x, y any
	for _, p := range []struct {
		v   any
		out *any
	}{{a, &x}, {b, &y}} {
		raw, err := json.Marshal(p.v)
		if err != nil || json.Unmarshal(raw, p.out) != nil {
			return false
		}
	}
	return testkit.SameJSON(x, y, 1e-9)
}

// shardSplit prints rows per shard as "01: n, 02: m".
func shardSplit(m map[int]uint64) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("shard %02d %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func must(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench-cluster:", err)
	os.Exit(1)
}
