package dao

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/logging"
)

// ErrNoClickHouse is returned when clickhouse.addr is not configured.
var ErrNoClickHouse = errors.New("clickhouse not configured")

// AnalyticsDAO reads the dashboards' numbers from ClickHouse. Every method
// runs one fixed SQL template: table names and expressions come from the
// allow-lists below, values only as bound parameters.
type AnalyticsDAO struct {
	ch    *chclient.Client // nil without ClickHouse
	tz    string
	spans bool // read UV from agg_uv_span where it has the key
}

// NewAnalyticsDAO returns a dao over ch (which may be nil) that buckets
// hours in the time zone tz.
func NewAnalyticsDAO(ch *chclient.Client, tz string) *AnalyticsDAO {
	return &AnalyticsDAO{ch: ch, tz: tz, spans: true}
}

// WithoutSpans returns a copy of d that answers UV from the rollups'
// states alone (tests and benchmarks compare the two).
func (d *AnalyticsDAO) WithoutSpans() *AnalyticsDAO {
	c := *d
	c.spans = false
	return &c
}

// Bucket is one aggregated time bucket.
type Bucket struct {
	Time     time.Time
	PV       uint64
	UV       uint64
	ValueSum float64
	// Spans, on a range's totals, is how many agg_uv_span rows (pre-merged
	// spans and finished days) the UVs came from.
	Spans int
}

// Filters are the optional dimension filters of an analysis.
type Filters struct {
	Event, Platform, Region string
}

// Table names the rollups; the router picks the smallest covering one.
const (
	TableLineHour     = "agg_line_hour"
	TableLineDay      = "agg_line_day"
	TablePlatformDay  = "agg_platform_day"
	TableRegionDay    = "agg_region_day"
	TableDimsDay      = "agg_dims_day"
	TablePlatformAny  = "agg_platform_any_day"
	TableRegionAny    = "agg_region_any_day"
	TableFunnelUser   = "agg_funnel_user_day"
	TableEvents       = "events"
	granularityHour   = "hour"
	granularityDay    = "day"
	uvStateExpr       = "uniqCombinedMerge(17)(uv)"
	uvRawExpr         = "uniqCombined(17)(user_id)"
	eventsColumnList  = "event_time, business_line, event, user_id, item, platform, region, value"
	insertEventsQuery = "INSERT INTO events (" + eventsColumnList + ")"
)

// Route returns the smallest table that answers a query of granularity
// ("hour" or "day") with the given filters. Event is in every key.
func Route(granularity string, f Filters) string {
	if granularity == granularityHour {
		if f.Platform == "" && f.Region == "" {
			return TableLineHour
		}
		return TableEvents // the raw sort key makes dimension filters cheap
	}
	switch {
	case f.Platform != "" && f.Region != "":
		return TableDimsDay
	case f.Platform != "" && f.Event == "":
		return TablePlatformAny // one state per day, not one per step
	case f.Platform != "":
		return TablePlatformDay
	case f.Region != "" && f.Event == "":
		return TableRegionAny
	case f.Region != "":
		return TableRegionDay
	}
	return TableLineDay
}

func (d *AnalyticsDAO) client() (*chclient.Client, error) {
	if d.ch == nil {
		return nil, apperr.Wrap(apperr.KindUnavailable, ErrNoClickHouse, "analytics store unavailable")
	}
	return d.ch, nil
}

// overLimit names the ClickHouse errors of a query stopped by one of its
// limits (chclient.Limits), in words a client may read.
var overLimit = map[int32]string{
	158: "too many rows to read",  // TOO_MANY_ROWS (max_rows_to_read)
	307: "too many bytes to read", // TOO_MANY_BYTES
	241: "memory limit exceeded",  // MEMORY_LIMIT_EXCEEDED (max_memory_usage)
	159: "time limit exceeded",    // TIMEOUT_EXCEEDED (max_execution_time)
	160: "estimated too slow",     // TOO_SLOW
}

// chErr classifies a ClickHouse failure: a query stopped by its limits is
// unavailable (503, naming the limit); cancellations, too many queries,
// deadlines and connection failures mean ClickHouse is unavailable
// (upstream); any other exception the server raised about the query
// itself is our bug (internal).
func chErr(err error) error {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		if what, ok := overLimit[ex.Code]; ok {
			return apperr.Wrap(apperr.KindUnavailable, err,
				"analytics query stopped by its limits ("+what+"); narrow the query or retry later")
		}
		switch ex.Code {
		case 394, 202: // query cancelled, too many simultaneous queries
			return apperr.Upstream("clickhouse", err)
		}
		return apperr.Wrap(apperr.KindInternal, err, "internal error")
	}
	return apperr.Upstream("clickhouse", err)
}

// Series returns per-bucket pv, uv (when withUV) and value sums of biz over
// [from, to) from table, plus the range totals (UV merged over the range).
// A day query with UV reads closed days from the UV spans when its key has
// them (spans.go): the same numbers, fewer merges.
func (d *AnalyticsDAO) Series(ctx context.Context, table, biz string, from, to time.Time, f Filters, withUV bool) ([]Bucket, Bucket, error) {
	ctx = chclient.WithClass(ctx, "dash_series")
	ch, err := d.client()
	if err != nil {
		return nil, Bucket{}, err
	}
	if withUV && d.spans && dayTable(table) && (f.Event == "" || (table != TablePlatformAny && table != TableRegionAny)) {
		rows, tot, ok, err := d.spanSeries(ctx, ch, table, biz, from, to, f)
		var ex *clickhouse.Exception
		switch {
		case err == nil && ok:
			return rows, tot, nil
		case err != nil && !(errors.As(err, &ex) && ex.Code == codeUnknownTable):
			return nil, Bucket{}, chErr(err)
		}
		// No spans for this key, or no migration 005 yet: the states.
	}
	return d.stateSeries(ctx, ch, table, biz, from, to, f, withUV)
}

// codeUnknownTable is ClickHouse's UNKNOWN_TABLE.
const codeUnknownTable = 60

// dayTable reports whether table is one of the day rollups.
func dayTable(table string) bool {
	switch table {
	case TableLineDay, TablePlatformDay, TableRegionDay, TableDimsDay, TablePlatformAny, TableRegionAny:
		return true
	}
	return false
}

// stateSeries is Series from the rollup's states (or the raw rows) alone.
func (d *AnalyticsDAO) stateSeries(ctx context.Context, ch *chclient.Client, table, biz string, from, to time.Time, f Filters, withUV bool) ([]Bucket, Bucket, error) {
	var sel, where string
	args := []any{clickhouse.Named("biz", biz)}
	uv := "toUInt64(0)"
	switch table {
	case TableLineHour:
		if withUV {
			uv = uvStateExpr
		}
		sel = "SELECT hour AS t, countMerge(pv) AS pv_n, " + uv + " AS uv_n, sumMerge(value_sum) AS value_total FROM " + TableLineHour
		where = " WHERE business_line = @biz AND hour >= toDateTime(@from) AND hour < toDateTime(@to)"
		args = append(args, clickhouse.Named("from", uint32(from.Unix())), clickhouse.Named("to", uint32(to.Unix())))
	case TablePlatformAny, TableRegionAny:
		if f.Event != "" {
			return nil, Bucket{}, fmt.Errorf("analytics: %s has no event column", table)
		}
		fallthrough
	case TableLineDay, TablePlatformDay, TableRegionDay, TableDimsDay:
		if withUV {
			uv = uvStateExpr
		}
		sel = "SELECT day AS t, countMerge(pv) AS pv_n, " + uv + " AS uv_n, sumMerge(value_sum) AS value_total FROM " + table
		where = " WHERE business_line = @biz AND day >= toDate(@from) AND day < toDate(@to)"
		args = append(args, clickhouse.Named("from", from.Format(time.DateOnly)), clickhouse.Named("to", to.Format(time.DateOnly)))
	case TableEvents:
		if withUV {
			uv = uvRawExpr
		}
		sel = "SELECT toStartOfHour(event_time, @tz) AS t, count() AS pv_n, " + uv + " AS uv_n, sum(value) AS value_total FROM " + TableEvents
		where = " WHERE business_line = @biz AND event_time >= toDateTime(@from) AND event_time < toDateTime(@to)"
		args = append(args, clickhouse.Named("tz", d.tz), clickhouse.Named("from", uint32(from.Unix())), clickhouse.Named("to", uint32(to.Unix())))
	default:
		return nil, Bucket{}, fmt.Errorf("analytics: unknown table %q", table)
	}
	where, args = filterWhere(where, args, f)
	query := sel + where + " GROUP BY t WITH TOTALS ORDER BY t"
	return d.series(ctx, ch, query, args)
}

func (d *AnalyticsDAO) series(ctx context.Context, ch *chclient.Client, query string, args []any) ([]Bucket, Bucket, error) {
	ctx, cancel := ch.Bound(ctx)
	defer cancel()
	rows, err := ch.Conn().Query(ctx, query, args...)
	if err != nil {
		return nil, Bucket{}, chErr(err)
	}
	defer rows.Close()
	var out []Bucket
	for rows.Next() {
		var b Bucket
		if err := rows.Scan(&b.Time, &b.PV, &b.UV, &b.ValueSum); err != nil {
			return nil, Bucket{}, chErr(err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, Bucket{}, chErr(err)
	}
	var tot Bucket
	if len(out) > 0 {
		if err := rows.Totals(&tot.Time, &tot.PV, &tot.UV, &tot.ValueSum); err != nil {
			return nil, Bucket{}, chErr(err)
		}
	}
	return out, tot, nil
}

// Ranking returns the top limit items of biz by pv of event on day.
func (d *AnalyticsDAO) Ranking(ctx context.Context, biz, event string, day time.Time, limit int) ([]model.RankItem, error) {
	ctx = chclient.WithClass(ctx, "dash_ranking")
	ch, err := d.client()
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Item  string `ch:"item"`
		Views uint64 `ch:"views"`
	}
	const q = `SELECT item, sum(pv) AS views FROM agg_item_day
WHERE business_line = @biz AND event = @event AND day = toDate(@day)
GROUP BY item ORDER BY views DESC, item ASC LIMIT @limit`
	err = ch.Select(ctx, &rows, q, clickhouse.Named("biz", biz), clickhouse.Named("event", event),
		clickhouse.Named("day", day.Format(time.DateOnly)), clickhouse.Named("limit", limit))
	if err != nil {
		return nil, chErr(err)
	}
	out := make([]model.RankItem, len(rows))
	for i, r := range rows {
		out[i] = model.RankItem{Rank: i + 1, Item: r.Item, PV: r.Views}
	}
	return out, nil
}

// funnelConds are the windowFunnel conditions for 1..4 steps; the step
// names are bound parameters.
var funnelConds = []string{"event = @s0", "event = @s1", "event = @s2", "event = @s3"}

// FunnelRollupSteps and FunnelRollupWindow are the funnel that
// agg_funnel_user_day holds (migration 003): any prefix of these steps with
// this window on one whole day is answered from it.
var FunnelRollupSteps = []string{"view", "click", "cart", "order"}

// FunnelRollupWindow is the window in seconds of agg_funnel_user_day.
const FunnelRollupWindow = 3600

// FunnelTable returns the table that answers a funnel of steps within
// window over one whole day: TableFunnelUser (with its snapshots) for a
// prefix of FunnelRollupSteps with FunnelRollupWindow, else TableEvents,
// the day's raw rows.
func FunnelTable(steps []string, window int) string {
	if window != FunnelRollupWindow || len(steps) == 0 || len(steps) > len(FunnelRollupSteps) {
		return TableEvents
	}
	for i, s := range steps {
		if s != FunnelRollupSteps[i] {
			return TableEvents
		}
	}
	return TableFunnelUser
}

// funnelRollupDay returns the day (YYYY-MM-DD) and true when the funnel of
// steps within window over [from, to) is exactly what agg_funnel_user_day
// holds: a prefix of its steps, its window, and one whole day in the
// configured zone. A prefix is exact because windowFunnel's chain for the
// first k steps never depends on the later conditions.
func (d *AnalyticsDAO) funnelRollupDay(steps []string, window int, from, to time.Time) (string, bool) {
	if FunnelTable(steps, window) != TableFunnelUser {
		return "", false
	}
	loc, err := time.LoadLocation(d.tz)
	if err != nil {
		return "", false
	}
	f := from.In(loc)
	day := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc)
	if !f.Equal(day) || !to.Equal(day.AddDate(0, 0, 1)) {
		return "", false
	}
	return day.Format(time.DateOnly), true
}

// Funnel returns, for each step, the users of biz who reached it in order
// within window seconds, among events in [from, to), and the table that
// answered. When the funnel is the home one (see funnelRollupDay): the
// day's latest snapshot plus the rows after its cut (funnel_snapshots,
// funnelstate.go) if one is usable, else the per-user windowFunnel states
// of agg_funnel_user_day; any other funnel: the raw events. All are exact.
func (d *AnalyticsDAO) Funnel(ctx context.Context, biz string, steps []string, window int, from, to time.Time) ([]uint64, string, error) {
	ctx = chclient.WithClass(ctx, "dash_funnel")
	ch, err := d.client()
	if err != nil {
		return nil, "", err
	}
	if len(steps) < 1 || len(steps) > len(funnelConds) {
		return nil, "", fmt.Errorf("analytics: %d funnel steps", len(steps))
	}
	var q, table string
	var args []any
	if day, ok := d.funnelRollupDay(steps, window, from, to); ok {
		f, err := d.funnelDay(biz, from)
		if err != nil {
			return nil, "", err
		}
		out, ok, err := d.funnelFromState(ctx, ch, f, len(steps))
		if err == nil && ok {
			return out, TableFunnelState, nil
		}
		if err != nil && ctx.Err() != nil {
			return nil, "", chErr(err)
		}
		if err != nil {
			// The answer stays exact from the states; the snapshot needs
			// a look (the next precompute run takes a new one).
			logging.FromContext(ctx).WithError(err).WithField("operation", "funnel_snapshot").
				Warn("funnel snapshot unusable; answering from agg_funnel_user_day")
		}
		// No usable snapshot (or its tables are gone): the states.
		table = TableFunnelUser
		args = []any{clickhouse.Named("biz", biz), clickhouse.Named("day", day)}
		q = `SELECT level, count() AS users FROM (
  SELECT user_id, windowFunnelMerge(3600)(funnel) AS level
  FROM ` + TableFunnelUser + `
  WHERE business_line = @biz AND day = toDate(@day)
  GROUP BY user_id
) WHERE level > 0 GROUP BY level`
	} else {
		table = TableEvents
		set := make([]any, len(steps))
		args = []any{
			clickhouse.Named("biz", biz), clickhouse.Named("window", window),
			clickhouse.Named("from", uint32(from.Unix())), clickhouse.Named("to", uint32(to.Unix())),
		}
		for i, s := range steps {
			set[i] = s
			args = append(args, clickhouse.Named(fmt.Sprintf("s%d", i), s))
		}
		args = append(args, clickhouse.Named("steps", clickhouse.GroupSet{Value: set}))
		q = `SELECT level, count() AS users FROM (
  SELECT user_id, windowFunnel(@window)(event_time, ` + strings.Join(funnelConds[:len(steps)], ", ") + `) AS level
  FROM events
  WHERE business_line = @biz AND event IN @steps AND event_time >= toDateTime(@from) AND event_time < toDateTime(@to)
  GROUP BY user_id
) WHERE level > 0 GROUP BY level`
	}
	var rows []struct {
		Level uint8  `ch:"level"`
		Users uint64 `ch:"users"`
	}
	if err := ch.Select(ctx, &rows, q, args...); err != nil {
		return nil, "", chErr(err)
	}
	out := make([]uint64, len(steps))
	for _, r := range rows {
		// A 4-step level l counts for the first min(l, len(steps)) steps.
		for k := 0; k < int(r.Level) && k < len(out); k++ {
			out[k] += r.Users
		}
	}
	return out, table, nil
}

// InsertEvents writes one batch (ideally inside one day partition) with an
// explicit column list, column by column.
func (d *AnalyticsDAO) InsertEvents(ctx context.Context, c *model.EventColumns) error {
	ctx = chclient.WithClass(ctx, "insert_events")
	ch, err := d.client()
	if err != nil {
		return err
	}
	if c.Len() == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	batch, err := ch.Conn().PrepareBatch(ctx, insertEventsQuery)
	if err != nil {
		return chErr(err)
	}
	cols := []any{c.Time, c.Line, c.Event, c.User, c.Item, c.Platform, c.Region, c.Value}
	for i, col := range cols {
		if err := batch.Column(i).Append(col); err != nil {
			_ = batch.Abort()
			return chErr(err)
		}
	}
	if err := batch.Send(); err != nil {
		return chErr(err)
	}
	return nil
}

// Count returns the number of raw events (for seeding decisions).
func (d *AnalyticsDAO) Count(ctx context.Context) (uint64, error) {
	ch, err := d.client()
	if err != nil {
		return 0, err
	}
	var n uint64
	ctx, cancel := ch.Bound(ctx)
	defer cancel()
	if err := ch.Conn().QueryRow(ctx, "SELECT count() FROM events").Scan(&n); err != nil {
		return 0, chErr(err)
	}
	return n, nil
}
