package dao

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/olap"
)

// UV spans (migration 005): the spans job (RefreshSpans) keeps, for the
// keys whose UV states are large, every closed day's finished numbers and
// the states pre-merged over aligned spans (framework/olap's planner says
// which to read and which to rebuild), in agg_uv_span.

const (
	// TableUVSpan holds the spans.
	TableUVSpan = "agg_uv_span"
	// SpanHorizonDays is how many closed days before today the job keeps
	// spans for: the longest day-granularity analysis.
	SpanHorizonDays = model.MaxDaysDaily
	// spanStatementTimeout bounds each of the job's statements, and
	// spanChunkDays the days of the rollup one statement reads.
	spanStatementTimeout = 2 * time.Minute
	spanChunkDays        = 16
)

// spanVariant is one rollup key shape: a day rollup and which filter
// columns the key has (the others are ” in agg_uv_span). Event-less
// variants of tables with an event column merge every event's states.
type spanVariant struct {
	table                   string
	event, platform, region bool
}

// spanVariants returns the key shapes Route can pick for a day query.
func spanVariants() []spanVariant {
	var out []spanVariant
	for _, k := range dashSchema.KeyShapes(olap.Day) {
		out = append(out, spanVariant{table: k.Rollup.Table, event: slices.Contains(k.Dims, dimEvent),
			platform: slices.Contains(k.Dims, dimPlatform), region: slices.Contains(k.Dims, dimRegion)})
	}
	return out
}

func (v spanVariant) col(has bool, name string) string {
	if has {
		return name
	}
	return "''"
}

// keyExpr is the variant's key (business_line, event, platform, region)
// as four expressions of the rollup's columns.
func (v spanVariant) keyExpr() string {
	return "business_line, " + v.col(v.event, "event") + ", " + v.col(v.platform, "platform") + ", " + v.col(v.region, "region")
}

// groupBy is the rollup's key columns.
func (v spanVariant) groupBy() string {
	cols := []string{"business_line"}
	for _, c := range []struct {
		has  bool
		name string
	}{{v.event, "event"}, {v.platform, "platform"}, {v.region, "region"}} {
		if c.has {
			cols = append(cols, c.name)
		}
	}
	return strings.Join(cols, ", ")
}

// spanKeyWhere selects one key's spans; the arguments are spanKeyArgs.
const spanKeyWhere = "source = @rollup AND business_line = @biz AND event = @event AND platform = @platform AND region = @region"

func spanKeyArgs(table, biz string, f model.Filters) []any {
	return []any{clickhouse.Named("rollup", table), clickhouse.Named("biz", biz),
		clickhouse.Named("event", f.Event), clickhouse.Named("platform", f.Platform), clickhouse.Named("region", f.Region)}
}

// filterWhere appends the filters of f to a rollup query.
func filterWhere(where string, args []any, f model.Filters) (string, []any) {
	if f.Event != "" {
		where += " AND event = @event"
		args = append(args, clickhouse.Named("event", f.Event))
	}
	if f.Platform != "" {
		where += " AND platform = @platform"
		args = append(args, clickhouse.Named("platform", f.Platform))
	}
	if f.Region != "" {
		where += " AND region = @region"
		args = append(args, clickhouse.Named("region", f.Region))
	}
	return where, args
}

// spanSeries answers a day query with UV from the spans: false when the
// key has none (the caller merges the states as before).
func (d *AnalyticsDAO) spanSeries(ctx context.Context, ch *chclient.Client, table, biz string, from, to time.Time, f model.Filters) ([]model.Bucket, model.Bucket, bool, error) {
	fromN, toN := olap.DayNumber(from), olap.DayNumber(to)
	var cat []struct {
		Days  uint16    `ch:"days"`
		Start time.Time `ch:"start"`
		PV    uint64    `ch:"pv"`
		UV    uint64    `ch:"uv_n"`
		Tag   uint64    `ch:"tag"`
	}
	args := append(spanKeyArgs(table, biz, f), clickhouse.Named("from", olap.DayDate(fromN)), clickhouse.Named("to", olap.DayDate(toN)))
	err := ch.Select(ctx, &cat, "SELECT days, start, pv, uv_n, tag FROM "+TableUVSpan+" WHERE "+spanKeyWhere+
		" AND start >= toDate(@from) AND start < toDate(@to)", args...)
	if err != nil || len(cat) == 0 {
		return nil, model.Bucket{}, false, err
	}
	rows, tot, err := d.stateSeries(ctx, ch, table, biz, from, to, f, false)
	if err != nil {
		return nil, model.Bucket{}, false, err
	}
	live := make(map[int]uint64, len(rows))
	for _, b := range rows {
		live[olap.DayNumber(b.Time)] = b.PV
	}
	stored := make([]olap.SpanRow, len(cat))
	for i, c := range cat {
		stored[i] = olap.SpanRow{Start: olap.DayNumber(c.Start), Days: int(c.Days), PV: c.PV, UV: c.UV, Tag: c.Tag}
	}
	p := olap.PlanSpans(fromN, toN, live, stored)
	tot.Spans = len(p.Spans) + len(p.DayUV) // rows read: spans merged, days' finished UVs

	var parts []string
	args = spanKeyArgs(table, biz, f)
	if len(p.Spans) > 0 {
		// The tags pick the rows; lengths and starts narrow the primary-key
		// range, so only their granules' states are read. t is
		// materialized: 18.16 refuses a UNION ALL whose column is constant
		// in one branch only.
		tags := make([]any, len(p.Spans))
		var lengths []any
		lo, hi := p.Spans[0].Start, p.Spans[0].Start
		for i, r := range p.Spans {
			tags[i] = r.Tag
			if !slices.Contains(lengths, any(r.Days)) {
				lengths = append(lengths, r.Days)
			}
			lo, hi = min(lo, r.Start), max(hi, r.Start)
		}
		parts = append(parts, "SELECT materialize(toDate('1970-01-01')) AS t, uv FROM "+TableUVSpan+" WHERE "+spanKeyWhere+
			" AND days IN @lengths AND start >= toDate(@lo) AND start <= toDate(@hi) AND tag IN @tags")
		args = append(args, clickhouse.Named("tags", clickhouse.GroupSet{Value: tags}), clickhouse.Named("lengths", clickhouse.GroupSet{Value: lengths}),
			clickhouse.Named("lo", olap.DayDate(lo)), clickhouse.Named("hi", olap.DayDate(hi)))
	}
	if len(p.RangeDays)+len(p.Missing) > 0 {
		// The edge days join the range merge; the days without a finished
		// UV also get their own estimate (t), the others share the tags'.
		days := make([]any, 0, len(p.RangeDays)+len(p.Missing))
		for _, n := range slices.Concat(p.RangeDays, p.Missing) {
			days = append(days, olap.DayDate(n))
		}
		missing := make([]any, 0, len(p.Missing)+1)
		missing = append(missing, "1970-01-01") // never empty: IN () is a syntax error
		for _, n := range p.Missing {
			missing = append(missing, olap.DayDate(n))
		}
		// The rollup's filters use the same names as spanKeyArgs: bound once.
		where, _ := filterWhere(" WHERE business_line = @biz AND day IN @days", nil, f)
		parts = append(parts, "SELECT if(day IN @missing, day, toDate('1970-01-01')) AS t, uv FROM "+table+where)
		args = append(args, clickhouse.Named("days", clickhouse.GroupSet{Value: days}), clickhouse.Named("missing", clickhouse.GroupSet{Value: missing}))
	}
	if len(parts) > 0 {
		q := "SELECT t, uniqCombinedMerge(17)(uv) AS u FROM (" + strings.Join(parts, " UNION ALL ") + ") GROUP BY t WITH TOTALS"
		est, total, err := d.uvGroups(ctx, ch, q, args)
		if err != nil {
			return nil, model.Bucket{}, false, err
		}
		tot.UV = total
		for _, n := range p.Missing {
			p.DayUV[n] = est[n]
		}
	}
	for i := range rows {
		rows[i].UV = p.DayUV[olap.DayNumber(rows[i].Time)]
	}
	return rows, tot, true, nil
}

// uvGroups runs a "t, u ... WITH TOTALS" query: UV per day number and the
// total.
func (d *AnalyticsDAO) uvGroups(ctx context.Context, ch *chclient.Client, q string, args []any) (map[int]uint64, uint64, error) {
	ctx, cancel := ch.Bound(ctx)
	defer cancel()
	rows, err := ch.Conn().Query(ctx, q, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := map[int]uint64{}
	for rows.Next() {
		var t time.Time
		var u uint64
		if err := rows.Scan(&t, &u); err != nil {
			return nil, 0, err
		}
		out[olap.DayNumber(t)] = u
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	var t time.Time
	var total uint64
	if err := rows.Totals(&t, &total); err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// SpanRun reports one RefreshSpans run.
type SpanRun struct {
	Keys    int // keys with spans (UV on the last closed day >= minUV)
	Queries int // INSERTs run
	Spans   int // spans (re)built, counted as stale starts x stale keys
}

// RefreshSpans brings the spans of every key whose UV on the last closed
// day before today is at least minUV up to date over the SpanHorizonDays
// closed days before today: spans missing or stale (pv changed: late
// rows) are rebuilt, one-day spans from the rollup, longer ones from
// their halves. Spans older than the horizon are dropped by month.
// today is the start of today in the configured zone.
func (d *AnalyticsDAO) RefreshSpans(ctx context.Context, today time.Time, minUV uint64) (SpanRun, error) {
	ch, err := d.client()
	if err != nil {
		return SpanRun{}, err
	}
	// A first run merges every day of the horizon: far more than a request.
	ch = ch.WithTimeout(max(ch.Timeout(), spanStatementTimeout))
	todayN := olap.DayNumber(today)
	horizon := todayN - SpanHorizonDays
	ver := uint64(time.Now().UnixNano())
	var run SpanRun
	var errs []error
	for _, v := range spanVariants() {
		if err := d.refreshVariant(ctx, ch, v, horizon, todayN, minUV, ver, &run); err != nil {
			errs = append(errs, fmt.Errorf("spans of %s (%s): %w", v.table, v.groupBy(), err))
			if ctx.Err() != nil {
				break
			}
		}
	}
	if err := d.pruneSpans(ctx, ch, horizon); err != nil {
		errs = append(errs, err)
	}
	return run, errors.Join(errs...)
}

func (d *AnalyticsDAO) refreshVariant(ctx context.Context, ch *chclient.Client, v spanVariant, horizon, todayN int, minUV, ver uint64, run *SpanRun) error {
	// The keys with large states: UV >= minUV on the last closed day (pv
	// first, cheap: UV <= pv). On a cluster the pv filter is a GLOBAL IN:
	// a key's rollup rows are on every shard, so only the merge of all of
	// them says whether its pv passes.
	var big []struct {
		K uint64 `ch:"k"`
	}
	key := "cityHash64(" + v.keyExpr() + ")"
	err := ch.Select(ctx, &big, "SELECT "+key+" AS k FROM "+v.table+" WHERE day = toDate(@day) AND k "+ch.GlobalIn()+" (SELECT "+key+
		" FROM "+v.table+" WHERE day = toDate(@day) GROUP BY "+v.groupBy()+" HAVING countMerge(pv) >= @min)"+
		" GROUP BY "+v.groupBy()+" HAVING uniqCombinedMerge(17)(uv) >= @min",
		clickhouse.Named("day", olap.DayDate(todayN-1)), clickhouse.Named("min", minUV))
	if err != nil || len(big) == 0 {
		return err
	}
	run.Keys += len(big)
	keys := make([]any, len(big))
	keyNs := make([]uint64, len(big))
	for i, b := range big {
		keys[i], keyNs[i] = b.K, b.K
	}
	rangeArgs := []any{clickhouse.Named("from", olap.DayDate(horizon)), clickhouse.Named("to", olap.DayDate(todayN)),
		clickhouse.Named("keys", clickhouse.GroupSet{Value: keys})}

	var liveRows []struct {
		K   uint64    `ch:"k"`
		Day time.Time `ch:"day"`
		PV  uint64    `ch:"n"`
	}
	err = ch.Select(ctx, &liveRows, "SELECT "+key+" AS k, day, countMerge(pv) AS n FROM "+v.table+
		" WHERE day >= toDate(@from) AND day < toDate(@to) AND k IN @keys GROUP BY "+v.groupBy()+", day", rangeArgs...)
	if err != nil {
		return err
	}
	live := map[uint64]map[int]uint64{}
	for _, r := range liveRows {
		if live[r.K] == nil {
			live[r.K] = map[int]uint64{}
		}
		live[r.K][olap.DayNumber(r.Day)] = r.PV
	}
	var storedRows []struct {
		K     uint64    `ch:"k"`
		Days  uint16    `ch:"days"`
		Start time.Time `ch:"start"`
		PV    uint64    `ch:"n"`
	}
	err = ch.Select(ctx, &storedRows, "SELECT cityHash64(business_line, event, platform, region) AS k, days, start, argMax(pv, ver) AS n FROM "+TableUVSpan+
		" WHERE source = @rollup AND start >= toDate(@from) AND start < toDate(@to) AND k IN @keys"+
		" GROUP BY business_line, event, platform, region, days, start",
		append(rangeArgs, clickhouse.Named("rollup", v.table))...)
	if err != nil {
		return err
	}
	stored := map[[3]uint64]uint64{} // (key, start, days) -> pv of the latest version
	for _, r := range storedRows {
		stored[[3]uint64{r.K, uint64(olap.DayNumber(r.Start)), uint64(r.Days)}] = r.PV
	}

	// Level by level: the rows whose stored pv differs from the live pv
	// over their days (late rows, or never built) are rebuilt in one
	// statement per level, for the stale keys x the stale starts.
	for _, lvl := range olap.StaleSpans(horizon, todayN, keyNs, live, stored) {
		days, starts := lvl.Days, lvl.Starts
		staleKeys := make([]any, len(lvl.Keys))
		for i, k := range lvl.Keys {
			staleKeys[i] = k
		}
		// Statements that read the rollup cover at most spanChunkDays days
		// each, so a first run over the horizon is a series of bounded
		// statements rather than one that outgrows its timeout as data
		// grows; longer spans merge their halves in agg_uv_span, small.
		size := len(starts)
		if days <= olap.MinSpanDays {
			size = max(1, spanChunkDays/days)
		}
		for chunk := range slices.Chunk(starts, size) {
			if err := d.buildSpans(ctx, ch, v, days, chunk, staleKeys, ver); err != nil {
				return err
			}
			run.Queries++
			run.Spans += len(chunk) * len(staleKeys)
		}
	}
	return nil
}

// buildSpans writes the rows of length days at starts for keys: a day's
// pv and finished UV from the rollup; a olap.MinSpanDays span's pv and state
// from the rollup; a longer one's from the latest versions of its halves.
func (d *AnalyticsDAO) buildSpans(ctx context.Context, ch *chclient.Client, v spanVariant, days int, startNs []int, keys []any, ver uint64) error {
	starts := make([]any, len(startNs))
	for i, n := range startNs {
		starts[i] = olap.DayDate(n)
	}
	const into = "INSERT INTO " + TableUVSpan + " (source, business_line, event, platform, region, days, start, pv, "
	args := []any{clickhouse.Named("rollup", v.table), clickhouse.Named("days", days), clickhouse.Named("starts", clickhouse.GroupSet{Value: starts}),
		clickhouse.Named("keys", clickhouse.GroupSet{Value: keys}), clickhouse.Named("ver", ver)}
	key := "cityHash64(" + v.keyExpr() + ") IN @keys"
	var q string
	switch {
	case days == 1:
		q = into + "uv_n, ver) SELECT @rollup, " + v.keyExpr() + ", 1, day, countMerge(pv), uniqCombinedMerge(17)(uv), @ver FROM " + v.table +
			" WHERE day IN @starts AND " + key + " GROUP BY " + v.groupBy() + ", day"
	case days == olap.MinSpanDays:
		q = into + "uv, ver) SELECT @rollup, " + v.keyExpr() + ", @days, day - (toUInt32(day) % @days) AS s, countMerge(pv), uniqCombinedMergeState(17)(uv), @ver FROM " + v.table +
			" WHERE day >= toDate(@from) AND day < toDate(@to) AND s IN @starts AND " + key + " GROUP BY " + v.groupBy() + ", s"
		args = append(args, clickhouse.Named("from", olap.DayDate(startNs[0])), clickhouse.Named("to", olap.DayDate(startNs[len(startNs)-1]+days)))
	default:
		q = into + "uv, ver) SELECT source, business_line, event, platform, region, @days, start - (toUInt32(start) % @days) AS s, sum(pv), uniqCombinedMergeState(17)(uv), @ver FROM " +
			TableUVSpan + " FINAL WHERE source = @rollup AND days = @half AND s IN @starts" +
			" AND cityHash64(business_line, event, platform, region) IN @keys GROUP BY source, business_line, event, platform, region, s"
		args = append(args, clickhouse.Named("half", days/2))
	}
	return ch.Exec(ctx, q, args...)
}

// pruneSpans drops the months of spans that all start before horizon. On
// a cluster the months are those of any shard (read through the
// Distributed table: system.parts shows one server's), and each is dropped
// from the local table of one replica per shard (a Distributed table has
// no partitions; replication drops it from the other replicas).
func (d *AnalyticsDAO) pruneSpans(ctx context.Context, ch *chclient.Client, horizon int) error {
	h := time.Unix(int64(horizon)*86400, 0).UTC()
	keep := fmt.Sprintf("%04d%02d", h.Year(), int(h.Month()))
	var parts []struct {
		P string `ch:"partition"`
	}
	var err error
	if ch.Cluster() == "" {
		err = ch.Select(ctx, &parts, "SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() AND table = @table AND active",
			clickhouse.Named("table", TableUVSpan))
	} else {
		err = ch.Select(ctx, &parts, "SELECT DISTINCT toString(toYYYYMM(start)) AS partition FROM "+TableUVSpan+" WHERE start < toDate(@h)",
			clickhouse.Named("h", olap.DayDate(horizon)))
	}
	if err != nil {
		return fmt.Errorf("spans: list partitions: %w", err)
	}
	var old []string
	for _, p := range parts {
		if len(p.P) == 6 && strings.Trim(p.P, "0123456789") == "" && p.P < keep {
			old = append(old, p.P)
		}
	}
	slices.Sort(old)
	for _, p := range old {
		if err := ch.ExecOnEachShard(ctx, "ALTER TABLE "+ch.LocalTable(TableUVSpan)+" DROP PARTITION ID @p", clickhouse.Named("p", p)); err != nil {
			return fmt.Errorf("spans: drop partition %s: %w", p, err)
		}
	}
	return nil
}
