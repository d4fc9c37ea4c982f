package dao

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/wings-bff/wings/framework/chclient"
)

// UV spans (migration 005): a day-granularity range with UV merges every
// day's uniqCombined(17) state of its rollup key, and on 18.16 each merge
// of a large state costs ~1 ms and each day's estimate about as much: 90
// days of a big line took ~0.5 s. The spans job (RefreshSpans) stores, for
// the keys whose states are large, every closed day's finished numbers and
// the states pre-merged over aligned spans of 1, 2, 4, ... 64 days. A range
// query then reads its closed days' UV and merges at most ~2 x log2(n)
// spans, plus the states of the days no valid span holds (today, late
// rows). A span is valid while its pv equals the live rollup's pv over its
// days, checked on every query, so spans never change an answer: merging
// uniqCombined states is a union, the same estimate in any grouping.

const (
	// TableUVSpan holds the spans.
	TableUVSpan = "agg_uv_span"
	// SpanHorizonDays is how many closed days before today the job keeps
	// spans for: the longest day-granularity analysis.
	SpanHorizonDays = 92
	// minSpanDays and maxSpanDays bound the spans that hold states. A
	// closed day has a row too, with its finished UV and no state: the
	// rollup already holds the day's states, and a copy would double the
	// table for the few edge days a range merges (at most 2 x 3).
	minSpanDays = 4
	maxSpanDays = 64
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

// spanVariants are the key shapes Route can pick for a day query.
var spanVariants = []spanVariant{
	{TableLineDay, true, false, false},
	{TableLineDay, false, false, false},
	{TablePlatformAny, false, true, false},
	{TablePlatformDay, true, true, false},
	{TableRegionAny, false, false, true},
	{TableRegionDay, true, false, true},
	{TableDimsDay, true, true, true},
	{TableDimsDay, false, true, true},
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

// dayNumber is the day number (days since 1970-01-01, ClickHouse's Date)
// of the calendar date of t in its own location.
func dayNumber(t time.Time) int {
	return int(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// dayDate is the Date literal of day number n.
func dayDate(n int) string {
	return time.Unix(int64(n)*86400, 0).UTC().Format(time.DateOnly)
}

// spanRow is one stored span: days from start (day numbers), its pv, its
// finished UV and its tag.
type spanRow struct {
	start, days int
	pv, uv, tag uint64
}

// spanPlan is how a range query reads its UV: the spans in the merge, the days whose rollup states join them (edge days no span
// covers), the finished UV of each day with a valid one-day row, and the
// days (with events) without one, whose UV is estimated from the states.
type spanPlan struct {
	spans     []spanRow
	rangeDays []int
	dayUV     map[int]uint64
	missing   []int
}

// planSpans plans the range [from, to) (day numbers) given the live pv of
// each day with events and the stored rows. A row is valid when its pv
// equals the live pv over its days; the range is cut into the largest
// aligned spans, and an invalid or missing span is split in halves down
// to minSpanDays, below which days come from the rollup's states.
func planSpans(from, to int, live map[int]uint64, rows []spanRow) spanPlan {
	sum := func(start, days int) uint64 {
		var n uint64
		for d := start; d < start+days; d++ {
			n += live[d]
		}
		return n
	}
	valid := make(map[[2]int]spanRow, len(rows))
	for _, r := range rows {
		if r.days >= 1 && r.start >= from && r.start+r.days <= to && r.pv > 0 && r.pv == sum(r.start, r.days) {
			valid[[2]int{r.start, r.days}] = r
		}
	}
	p := spanPlan{dayUV: map[int]uint64{}}
	var cover func(start, days int)
	cover = func(start, days int) {
		switch r, ok := valid[[2]int{start, days}]; {
		case sum(start, days) == 0:
		case days >= minSpanDays && ok:
			p.spans = append(p.spans, r)
		case days > 1:
			cover(start, days/2)
			cover(start+days/2, days/2)
		default:
			p.rangeDays = append(p.rangeDays, start)
		}
	}
	for a := from; a < to; {
		k := 1
		for k < maxSpanDays && a%(2*k) == 0 && a+2*k <= to {
			k *= 2
		}
		cover(a, k)
		a += k
	}
	for d := from; d < to; d++ {
		if live[d] == 0 {
			continue
		}
		if r, ok := valid[[2]int{d, 1}]; ok {
			p.dayUV[d] = r.uv
		} else {
			p.missing = append(p.missing, d)
		}
	}
	return p
}

// spanKeyWhere selects one key's spans; the arguments are spanKeyArgs.
const spanKeyWhere = "source = @rollup AND business_line = @biz AND event = @event AND platform = @platform AND region = @region"

func spanKeyArgs(table, biz string, f Filters) []any {
	return []any{clickhouse.Named("rollup", table), clickhouse.Named("biz", biz),
		clickhouse.Named("event", f.Event), clickhouse.Named("platform", f.Platform), clickhouse.Named("region", f.Region)}
}

// filterWhere appends the filters of f to a rollup query.
func filterWhere(where string, args []any, f Filters) (string, []any) {
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
func (d *AnalyticsDAO) spanSeries(ctx context.Context, ch *chclient.Client, table, biz string, from, to time.Time, f Filters) ([]Bucket, Bucket, bool, error) {
	fromN, toN := dayNumber(from), dayNumber(to)
	var cat []struct {
		Days  uint16    `ch:"days"`
		Start time.Time `ch:"start"`
		PV    uint64    `ch:"pv"`
		UV    uint64    `ch:"uv_n"`
		Tag   uint64    `ch:"tag"`
	}
	args := append(spanKeyArgs(table, biz, f), clickhouse.Named("from", dayDate(fromN)), clickhouse.Named("to", dayDate(toN)))
	err := ch.Select(ctx, &cat, "SELECT days, start, pv, uv_n, tag FROM "+TableUVSpan+" WHERE "+spanKeyWhere+
		" AND start >= toDate(@from) AND start < toDate(@to)", args...)
	if err != nil || len(cat) == 0 {
		return nil, Bucket{}, false, err
	}
	rows, tot, err := d.stateSeries(ctx, ch, table, biz, from, to, f, false)
	if err != nil {
		return nil, Bucket{}, false, err
	}
	live := make(map[int]uint64, len(rows))
	for _, b := range rows {
		live[dayNumber(b.Time)] = b.PV
	}
	stored := make([]spanRow, len(cat))
	for i, c := range cat {
		stored[i] = spanRow{start: dayNumber(c.Start), days: int(c.Days), pv: c.PV, uv: c.UV, tag: c.Tag}
	}
	p := planSpans(fromN, toN, live, stored)
	tot.Spans = len(p.spans) + len(p.dayUV) // rows read: spans merged, days' finished UVs

	var parts []string
	args = spanKeyArgs(table, biz, f)
	if len(p.spans) > 0 {
		// The tags pick the rows; lengths and starts narrow the primary-key
		// range, so only their granules' states are read. t is
		// materialized: 18.16 refuses a UNION ALL whose column is constant
		// in one branch only.
		tags := make([]any, len(p.spans))
		var lengths []any
		lo, hi := p.spans[0].start, p.spans[0].start
		for i, r := range p.spans {
			tags[i] = r.tag
			if !slices.Contains(lengths, any(r.days)) {
				lengths = append(lengths, r.days)
			}
			lo, hi = min(lo, r.start), max(hi, r.start)
		}
		parts = append(parts, "SELECT materialize(toDate('1970-01-01')) AS t, uv FROM "+TableUVSpan+" WHERE "+spanKeyWhere+
			" AND days IN @lengths AND start >= toDate(@lo) AND start <= toDate(@hi) AND tag IN @tags")
		args = append(args, clickhouse.Named("tags", clickhouse.GroupSet{Value: tags}), clickhouse.Named("lengths", clickhouse.GroupSet{Value: lengths}),
			clickhouse.Named("lo", dayDate(lo)), clickhouse.Named("hi", dayDate(hi)))
	}
	if len(p.rangeDays)+len(p.missing) > 0 {
		// The edge days join the range merge; the days without a finished
		// UV also get their own estimate (t), the others share the tags'.
		days := make([]any, 0, len(p.rangeDays)+len(p.missing))
		for _, n := range slices.Concat(p.rangeDays, p.missing) {
			days = append(days, dayDate(n))
		}
		missing := make([]any, 0, len(p.missing)+1)
		missing = append(missing, "1970-01-01") // never empty: IN () is a syntax error
		for _, n := range p.missing {
			missing = append(missing, dayDate(n))
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
			return nil, Bucket{}, false, err
		}
		tot.UV = total
		for _, n := range p.missing {
			p.dayUV[n] = est[n]
		}
	}
	for i := range rows {
		rows[i].UV = p.dayUV[dayNumber(rows[i].Time)]
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
		out[dayNumber(t)] = u
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
	todayN := dayNumber(today)
	horizon := todayN - SpanHorizonDays
	ver := uint64(time.Now().UnixNano())
	var run SpanRun
	var errs []error
	for _, v := range spanVariants {
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
	// first, cheap: UV <= pv).
	var big []struct {
		K uint64 `ch:"k"`
	}
	key := "cityHash64(" + v.keyExpr() + ")"
	err := ch.Select(ctx, &big, "SELECT "+key+" AS k FROM "+v.table+" WHERE day = toDate(@day) AND k IN (SELECT "+key+
		" FROM "+v.table+" WHERE day = toDate(@day) GROUP BY "+v.groupBy()+" HAVING countMerge(pv) >= @min)"+
		" GROUP BY "+v.groupBy()+" HAVING uniqCombinedMerge(17)(uv) >= @min",
		clickhouse.Named("day", dayDate(todayN-1)), clickhouse.Named("min", minUV))
	if err != nil || len(big) == 0 {
		return err
	}
	run.Keys += len(big)
	keys := make([]any, len(big))
	keyNs := make([]uint64, len(big))
	for i, b := range big {
		keys[i], keyNs[i] = b.K, b.K
	}
	rangeArgs := []any{clickhouse.Named("from", dayDate(horizon)), clickhouse.Named("to", dayDate(todayN)),
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
		live[r.K][dayNumber(r.Day)] = r.PV
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
		stored[[3]uint64{r.K, uint64(dayNumber(r.Start)), uint64(r.Days)}] = r.PV
	}

	// Level by level: the rows whose stored pv differs from the live pv
	// over their days (late rows, or never built) are rebuilt in one
	// statement per level, for the stale keys x the stale starts.
	for _, lvl := range staleSpans(horizon, todayN, keyNs, live, stored) {
		days, starts := lvl.days, lvl.starts
		staleKeys := make([]any, len(lvl.keys))
		for i, k := range lvl.keys {
			staleKeys[i] = k
		}
		// Statements that read the rollup cover at most spanChunkDays days
		// each, so a first run over the horizon is a series of bounded
		// statements rather than one that outgrows its timeout as data
		// grows; longer spans merge their halves in agg_uv_span, small.
		size := len(starts)
		if days <= minSpanDays {
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

// spanLengths are the lengths of the rows the job keeps: finished days,
// then the spans of minSpanDays..maxSpanDays days that hold states.
func spanLengths() []int {
	lengths := []int{1}
	for days := minSpanDays; days <= maxSpanDays; days *= 2 {
		lengths = append(lengths, days)
	}
	return lengths
}

// spanStarts are the starts of the aligned rows of length days that lie
// wholly inside [horizon, today): a start is a multiple of days.
func spanStarts(days, horizon, today int) []int {
	var starts []int
	for start := (horizon + days - 1) / days * days; start+days <= today; start += days {
		starts = append(starts, start)
	}
	return starts
}

// spanLevel is the job's work at one row length: the starts to build and
// the keys stale at any of them.
type spanLevel struct {
	days   int
	starts []int
	keys   []uint64
}

// staleSpans plans a run of the job: level by level, the aligned rows in
// [horizon, today) whose stored pv (by key, start, days) differs from the
// live pv over their days, which are the rows never built and the rows a
// late event made stale. Days without events need no row. It depends on
// day numbers only, so it behaves the same on every day of the year.
func staleSpans(horizon, today int, keys []uint64, live map[uint64]map[int]uint64, stored map[[3]uint64]uint64) []spanLevel {
	var levels []spanLevel
	for _, days := range spanLengths() {
		lvl := spanLevel{days: days}
		seen := map[uint64]bool{}
		for _, start := range spanStarts(days, horizon, today) {
			stale := false
			for _, k := range keys {
				var want uint64
				for dn := start; dn < start+days; dn++ {
					want += live[k][dn]
				}
				if want > 0 && stored[[3]uint64{k, uint64(start), uint64(days)}] != want {
					stale = true
					if !seen[k] {
						seen[k] = true
						lvl.keys = append(lvl.keys, k)
					}
				}
			}
			if stale {
				lvl.starts = append(lvl.starts, start)
			}
		}
		if len(lvl.starts) > 0 {
			levels = append(levels, lvl)
		}
	}
	return levels
}

// buildSpans writes the rows of length days at starts for keys: a day's
// pv and finished UV from the rollup; a minSpanDays span's pv and state
// from the rollup; a longer one's from the latest versions of its halves.
func (d *AnalyticsDAO) buildSpans(ctx context.Context, ch *chclient.Client, v spanVariant, days int, startNs []int, keys []any, ver uint64) error {
	starts := make([]any, len(startNs))
	for i, n := range startNs {
		starts[i] = dayDate(n)
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
	case days == minSpanDays:
		q = into + "uv, ver) SELECT @rollup, " + v.keyExpr() + ", @days, day - (toUInt32(day) % @days) AS s, countMerge(pv), uniqCombinedMergeState(17)(uv), @ver FROM " + v.table +
			" WHERE day >= toDate(@from) AND day < toDate(@to) AND s IN @starts AND " + key + " GROUP BY " + v.groupBy() + ", s"
		args = append(args, clickhouse.Named("from", dayDate(startNs[0])), clickhouse.Named("to", dayDate(startNs[len(startNs)-1]+days)))
	default:
		q = into + "uv, ver) SELECT source, business_line, event, platform, region, @days, start - (toUInt32(start) % @days) AS s, sum(pv), uniqCombinedMergeState(17)(uv), @ver FROM " +
			TableUVSpan + " FINAL WHERE source = @rollup AND days = @half AND s IN @starts" +
			" AND cityHash64(business_line, event, platform, region) IN @keys GROUP BY source, business_line, event, platform, region, s"
		args = append(args, clickhouse.Named("half", days/2))
	}
	return ch.Exec(ctx, q, args...)
}

// pruneSpans drops the months of spans that all start before horizon.
func (d *AnalyticsDAO) pruneSpans(ctx context.Context, ch *chclient.Client, horizon int) error {
	var parts []struct {
		P string `ch:"partition"`
	}
	err := ch.Select(ctx, &parts, "SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() AND table = @table AND active",
		clickhouse.Named("table", TableUVSpan))
	if err != nil {
		return fmt.Errorf("spans: list partitions: %w", err)
	}
	h := time.Unix(int64(horizon)*86400, 0).UTC()
	keep := fmt.Sprintf("%04d%02d", h.Year(), int(h.Month()))
	var old []string
	for _, p := range parts {
		if len(p.P) == 6 && strings.Trim(p.P, "0123456789") == "" && p.P < keep {
			old = append(old, p.P)
		}
	}
	slices.Sort(old)
	for _, p := range old {
		if err := ch.Exec(ctx, "ALTER TABLE "+TableUVSpan+" DROP PARTITION ID @p", clickhouse.Named("p", p)); err != nil {
			return fmt.Errorf("spans: drop partition %s: %w", p, err)
		}
	}
	return nil
}
