package dao

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/logging"
	"github.com/wings-bff/wings/framework/olap"
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
	// funnel runs the live home funnel's snapshots; copies share it.
	funnel    *olap.FunnelStore
	funnelErr error
}

// NewAnalyticsDAO returns a dao over ch (which may be nil) that buckets
// hours in the time zone tz.
func NewAnalyticsDAO(ch *chclient.Client, tz string) *AnalyticsDAO {
	d := &AnalyticsDAO{ch: ch, tz: tz, spans: true}
	if ch != nil {
		d.funnel, d.funnelErr = olap.NewFunnelStore(liveHomeFunnel, ch)
	}
	return d
}

// WithoutSpans returns a copy of d that answers UV from the rollups'
// states alone (tests and benchmarks compare the two).
func (d *AnalyticsDAO) WithoutSpans() *AnalyticsDAO {
	c := *d
	c.spans = false
	return &c
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
	tableItemDay      = "agg_item_day"
	eventsColumnList  = "event_time, business_line, event, user_id, item, platform, region, value"
	insertEventsQuery = "INSERT INTO events (" + eventsColumnList + ")"
)

// The dimensions of the events and rollups.
const (
	dimEvent    = "event"
	dimPlatform = "platform"
	dimRegion   = "region"
)

// dashSchema declares the events table and its rollups (migrations 001 and
// 002). Dimension filters on hours read the raw rows, whose sort key makes
// them cheap; the event-less day rollups keep one state per day, not one
// per step.
var dashSchema = olap.Schema{
	Events: TableEvents,
	Dims:   []string{dimEvent, dimPlatform, dimRegion},
	Rollups: []olap.Rollup{
		{Table: TableLineHour, Granularity: olap.Hour, Dims: []string{dimEvent}},
		{Table: TableLineDay, Granularity: olap.Day, Dims: []string{dimEvent}},
		{Table: TablePlatformAny, Granularity: olap.Day, Dims: []string{dimPlatform}},
		{Table: TablePlatformDay, Granularity: olap.Day, Dims: []string{dimEvent, dimPlatform}},
		{Table: TableRegionAny, Granularity: olap.Day, Dims: []string{dimRegion}},
		{Table: TableRegionDay, Granularity: olap.Day, Dims: []string{dimEvent, dimRegion}},
		{Table: TableDimsDay, Granularity: olap.Day, Dims: []string{dimEvent, dimPlatform, dimRegion}},
	},
}

// The metrics the rollups keep as states.
var (
	metricPV    = olap.Metric{Name: "pv", Func: "count", State: "pv"}
	metricUV    = olap.Metric{Name: "uv", Func: "uniqCombined(17)", Arg: "user_id", State: "uv"}
	metricValue = olap.Metric{Name: "value_sum", Func: "sum", Arg: "value", State: "value_sum"}
)

// homeFunnel is the funnel agg_funnel_user_day keeps (migration 003).
var homeFunnel = olap.Funnel{Table: TableFunnelUser, Steps: model.FunnelSteps(), Window: model.FunnelWindow}

// filterDims names the dimensions f filters by.
func filterDims(f model.Filters) []string {
	var dims []string
	for _, d := range []struct{ name, v string }{{dimEvent, f.Event}, {dimPlatform, f.Platform}, {dimRegion, f.Region}} {
		if d.v != "" {
			dims = append(dims, d.name)
		}
	}
	return dims
}

// Route returns the smallest table that answers a query of granularity
// ("hour" or "day") with the given filters.
func Route(granularity string, f model.Filters) string {
	return dashSchema.Route(olap.Granularity(granularity), filterDims(f)).Table
}

// SeriesSource returns the source that answers a series of granularity
// with the given filters.
func (d *AnalyticsDAO) SeriesSource(granularity string, f model.Filters) model.Source {
	src := dashSchema.Route(olap.Granularity(granularity), filterDims(f))
	return model.Source{Name: src.Table, Raw: src.Raw}
}

// RankingSource returns the source that answers rankings.
func (d *AnalyticsDAO) RankingSource() model.Source { return model.Source{Name: tableItemDay} }

// FunnelSource returns the source that answers a funnel of steps within
// window over one whole day.
func (d *AnalyticsDAO) FunnelSource(steps []string, window int) model.Source {
	t := FunnelTable(steps, window)
	return model.Source{Name: t, Raw: t == TableEvents}
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
		case 279, 210, 209, 285: // a shard of a cluster has no live replica
			// (ALL_CONNECTION_TRIES_FAILED, NETWORK_ERROR, SOCKET_TIMEOUT,
			// TOO_FEW_LIVE_REPLICAS): no answer rather than a partial sum.
			return apperr.Wrap(apperr.KindUnavailable, err, "analytics store unavailable: a shard has no live replica; retry later")
		}
		return apperr.Wrap(apperr.KindInternal, err, "internal error")
	}
	return apperr.Upstream("clickhouse", err)
}

// Series returns per-bucket pv, uv (when withUV) and value sums of biz over
// [from, to) from table (Route's), plus the range totals (UV merged over the range).
// A day query with UV reads closed days from the UV spans when its key has
// them (spans.go): the same numbers, fewer merges.
func (d *AnalyticsDAO) Series(ctx context.Context, table, biz string, from, to time.Time, f model.Filters, withUV bool) ([]model.Bucket, model.Bucket, error) {
	ctx = chclient.WithClass(ctx, "dash_series")
	ch, err := d.client()
	if err != nil {
		return nil, model.Bucket{}, err
	}
	if withUV && d.spans && dayTable(table) && (f.Event == "" || (table != TablePlatformAny && table != TableRegionAny)) {
		rows, tot, ok, err := d.spanSeries(ctx, ch, table, biz, from, to, f)
		var ex *clickhouse.Exception
		switch {
		case err == nil && ok:
			return rows, tot, nil
		case err != nil && !(errors.As(err, &ex) && ex.Code == codeUnknownTable):
			return nil, model.Bucket{}, chErr(err)
		}
		// No spans for this key, or no migration 005 yet: the states.
	}
	return d.stateSeries(ctx, ch, table, biz, from, to, f, withUV)
}

// codeUnknownTable is ClickHouse's UNKNOWN_TABLE.
const codeUnknownTable = 60

// dayTable reports whether table is one of the day rollups.
func dayTable(table string) bool {
	r, ok := dashSchema.Lookup(table)
	return ok && r.Granularity == olap.Day
}

// stateSeries is Series from the rollup's states (or the raw rows) alone.
func (d *AnalyticsDAO) stateSeries(ctx context.Context, ch *chclient.Client, table, biz string, from, to time.Time, f model.Filters, withUV bool) ([]model.Bucket, model.Bucket, error) {
	var sel, where string
	args := []any{clickhouse.Named("biz", biz)}
	uv := "toUInt64(0)"
	switch table {
	case TableLineHour:
		if withUV {
			uv = metricUV.Merge()
		}
		sel = "SELECT hour AS t, " + metricPV.Merge() + " AS pv_n, " + uv + " AS uv_n, " + metricValue.Merge() + " AS value_total FROM " + TableLineHour
		where = " WHERE business_line = @biz AND hour >= toDateTime(@from) AND hour < toDateTime(@to)"
		args = append(args, clickhouse.Named("from", uint32(from.Unix())), clickhouse.Named("to", uint32(to.Unix())))
	case TablePlatformAny, TableRegionAny:
		if f.Event != "" {
			return nil, model.Bucket{}, fmt.Errorf("analytics: %s has no event column", table)
		}
		fallthrough
	case TableLineDay, TablePlatformDay, TableRegionDay, TableDimsDay:
		if withUV {
			uv = metricUV.Merge()
		}
		sel = "SELECT day AS t, " + metricPV.Merge() + " AS pv_n, " + uv + " AS uv_n, " + metricValue.Merge() + " AS value_total FROM " + table
		where = " WHERE business_line = @biz AND day >= toDate(@from) AND day < toDate(@to)"
		args = append(args, clickhouse.Named("from", from.Format(time.DateOnly)), clickhouse.Named("to", to.Format(time.DateOnly)))
	case TableEvents:
		if withUV {
			uv = metricUV.Raw()
		}
		sel = "SELECT toStartOfHour(event_time, @tz) AS t, " + metricPV.Raw() + " AS pv_n, " + uv + " AS uv_n, " + metricValue.Raw() + " AS value_total FROM " + TableEvents
		where = " WHERE business_line = @biz AND event_time >= toDateTime(@from) AND event_time < toDateTime(@to)"
		args = append(args, clickhouse.Named("tz", d.tz), clickhouse.Named("from", uint32(from.Unix())), clickhouse.Named("to", uint32(to.Unix())))
	default:
		return nil, model.Bucket{}, fmt.Errorf("analytics: unknown table %q", table)
	}
	where, args = filterWhere(where, args, f)
	query := sel + where + " GROUP BY t WITH TOTALS ORDER BY t"
	return d.series(ctx, ch, query, args)
}

func (d *AnalyticsDAO) series(ctx context.Context, ch *chclient.Client, query string, args []any) ([]model.Bucket, model.Bucket, error) {
	ctx, cancel := ch.Bound(ctx)
	defer cancel()
	rows, err := ch.Conn().Query(ctx, query, args...)
	if err != nil {
		return nil, model.Bucket{}, chErr(err)
	}
	defer rows.Close()
	var out []model.Bucket
	for rows.Next() {
		var b model.Bucket
		if err := rows.Scan(&b.Time, &b.PV, &b.UV, &b.ValueSum); err != nil {
			return nil, model.Bucket{}, chErr(err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, model.Bucket{}, chErr(err)
	}
	var tot model.Bucket
	if len(out) > 0 {
		if err := rows.Totals(&tot.Time, &tot.PV, &tot.UV, &tot.ValueSum); err != nil {
			return nil, model.Bucket{}, chErr(err)
		}
	}
	return out, tot, nil
}

// Ranking returns the top limit items of biz by pv of event on day, best
// first.
func (d *AnalyticsDAO) Ranking(ctx context.Context, biz, event string, day time.Time, limit int) ([]model.ItemViews, error) {
	ctx = chclient.WithClass(ctx, "dash_ranking")
	ch, err := d.client()
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Item  string `ch:"item"`
		Views uint64 `ch:"views"`
	}
	const q = `SELECT item, sum(pv) AS views FROM ` + tableItemDay + `
WHERE business_line = @biz AND event = @event AND day = toDate(@day)
GROUP BY item ORDER BY views DESC, item ASC LIMIT @limit`
	err = ch.Select(ctx, &rows, q, clickhouse.Named("biz", biz), clickhouse.Named("event", event),
		clickhouse.Named("day", day.Format(time.DateOnly)), clickhouse.Named("limit", limit))
	if err != nil {
		return nil, chErr(err)
	}
	out := make([]model.ItemViews, len(rows))
	for i, r := range rows {
		out[i] = model.ItemViews{Item: r.Item, PV: r.Views}
	}
	return out, nil
}

// funnelConds are the windowFunnel conditions for 1..4 steps; the step
// names are bound parameters.
var funnelConds = []string{"event = @s0", "event = @s1", "event = @s2", "event = @s3"}

// FunnelTable returns the table that answers a funnel of steps within
// window over one whole day: TableFunnelUser (with its snapshots) for a
// prefix of the home funnel's steps with its window, else TableEvents,
// the day's raw rows.
func FunnelTable(steps []string, window int) string {
	if homeFunnel.Prefix(steps, window) {
		return TableFunnelUser
	}
	return TableEvents
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
	day, ok := olap.WholeDay(from, to, loc)
	if !ok {
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
// On a cluster the per-user step runs on each shard (olap.PerShard): the
// events and the per-user states are sharded by user.
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
		st, f, err := d.funnelFor(biz, from)
		if err != nil {
			return nil, "", err
		}
		out, ok, err := st.Answer(ctx, f, len(steps))
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
  SELECT user_id, windowFunnelMerge(` + strconv.Itoa(model.FunnelWindow) + `)(funnel) AS level
  FROM ` + TableFunnelUser + `
  WHERE business_line = @biz AND day = toDate(@day)
  GROUP BY user_id
) WHERE level > 0 GROUP BY level` + olap.PerShard(ch.Cluster())
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
) WHERE level > 0 GROUP BY level` + olap.PerShard(ch.Cluster())
	}
	var rows []struct {
		Level uint8  `ch:"level"`
		Users uint64 `ch:"users"`
	}
	if err := ch.Select(ctx, &rows, q, args...); err != nil {
		return nil, "", chErr(err)
	}
	levels := make(map[uint8]uint64, len(rows))
	for _, r := range rows {
		levels[r.Level] += r.Users
	}
	return olap.Count(len(steps), levels), table, nil
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
