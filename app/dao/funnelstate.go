package dao

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/chclient"
)

// The live home funnel of a day is "the state at a cut + the rows after
// it" (migration 004):
//
//   - A state is every user's level at the cut and the windowFunnel carry:
//     the start times s1 >= s2 >= s3 of the latest chains that reached
//     steps 1, 2 and 3. windowFunnel's greedy pass over a user's sorted
//     events keeps exactly these (and the level), so going on from them
//     over later events gives the level over all events. It lives in
//     funnel_state_<id> (MergeTree) and funnel_join_<id> (a Join-engine
//     table, a hash in RAM), the latter with the carry as the events
//     view@s3, click@s3, cart@s3, view@s2, click@s2, view@s1 that recreate
//     it. funnel_snapshots says which state holds at which cut.
//   - A live answer reads the rows after the cut from funnel_events (one
//     primary-key range), looks their users up in the Join table, runs
//     windowFunnel over carry + tail per user and adds the users who
//     reached a step only now to the snapshot's counts. It first checks in
//     funnel_counts that no row arrived before the cut since the snapshot
//     was taken (else the answer comes from agg_funnel_user_day).
//   - The dash_precompute job advances the snapshot (RefreshFunnelState):
//     from the previous one over the rows since its cut, or from scratch
//     when there is none or rows arrived late.
//
// Time is scaled to 4 x (second - day start + 1) + step index, so that
// events of one second sort view, click, cart, order (as windowFunnel does
// on current ClickHouse; 18.16 keeps the order rows were read in) and the
// window becomes 4 x 3600 + 3.

// TableFunnelState names the live funnel answer: the latest row of
// funnel_snapshots (its state and counts) + the rows of funnel_events after
// its cut.
const TableFunnelState = "funnel_snapshots"

const (
	funnelScale     = 4
	funnelScaledWin = model.FunnelWindow*funnelScale + funnelScale - 1
	// funnelBucket is the granularity of funnel_counts and of cuts.
	funnelBucket = 10 * time.Second
	// funnelMinLag and funnelMaxLag bound how far behind now a cut is
	// taken: rows older than the cut arriving later invalidate the
	// snapshot, so the lag doubles each time that happens and shrinks by a
	// quarter after funnelRelaxRuns clean runs.
	funnelMinLag    = 15 * time.Second
	funnelMaxLag    = 5 * time.Minute
	funnelRelaxRuns = 60
	// funnelMaxTail is the most rows after the cut a live answer reads;
	// beyond it (a stalled job) agg_funnel_user_day answers.
	funnelMaxTail = 1_000_000
	// funnelMinRows is the size of a day below which the job takes no
	// first snapshot: merging so few per-user states (agg_funnel_user_day)
	// takes ~15 ms, less than a run costs.
	funnelMinRows = 50_000
	// funnelKeep is how long a superseded state stays (queries in flight,
	// a concurrent run going on from it); funnelOrphan how long a state no
	// snapshot uses does (a run still building it).
	funnelKeep   = 2 * time.Minute
	funnelOrphan = 30 * time.Minute
)

// funnelScaledExpr is a row's scaled time; @base is the day start - 1 s.
const funnelScaledExpr = "toUInt32((toUInt32(event_time) - @base) * 4 + step - 1)"

// funnelLastAt returns, for every position of the arrays, the value of vals
// at the last position <= it where flags is 1 (0 before the first), given
// that those values never decrease. It avoids lambdas over captured arrays
// (which ClickHouse copies per element): the gaps between consecutive
// flagged values are scattered back to their positions and summed.
func funnelLastAt(flags, vals, tag string) string {
	return fmt.Sprintf("arrayCumSum(arraySort((g, p) -> p, "+
		"arrayConcat(arrayMap((x, q) -> x - q, arrayFilter((x, b) -> b, %[2]s, %[1]s) AS g_fv%[3]s, arrayPopBack(arrayPushFront(g_fv%[3]s, 0))), "+
		"arrayMap(x -> toInt64(0), arrayFilter((i, b) -> NOT b, arrayEnumerate(%[1]s), %[1]s) AS g_np%[3]s)), "+
		"arrayConcat(arrayFilter((i, b) -> b, arrayEnumerate(%[1]s), %[1]s), g_np%[3]s)))", flags, vals, tag)
}

// funnelGreedy is windowFunnel's pass over the sorted scaled times g_a as
// array expressions: g_lv is the latest view (events_timestamp[0]) at each
// position, g_e1 and g_e2 events_timestamp[1] and [2]; a click counts when
// a view precedes it within the window, a cart when such a click does, an
// order when such a cart does. It yields g_s1..g_s3 and g_level.
var funnelGreedy = strings.Join([]string{
	"arrayMap(x -> x % 4, g_a) AS g_k",
	"arrayMap(y -> y = 0, g_k) AS g_isv",
	funnelLastAt("g_isv", "g_a", "v") + " AS g_lv",
	"arrayMap((x, y, l) -> y = 1 AND l > 0 AND x <= l + " + strconv.Itoa(funnelScaledWin) + ", g_a, g_k, g_lv) AS g_ok2",
	funnelLastAt("g_ok2", "g_lv", "c") + " AS g_e1",
	"arrayMap((x, y, e) -> y = 2 AND e > 0 AND x <= e + " + strconv.Itoa(funnelScaledWin) + ", g_a, g_k, g_e1) AS g_ok3",
	funnelLastAt("g_ok3", "g_e1", "r") + " AS g_e2",
	"arrayMap((x, y, e) -> y = 3 AND e > 0 AND x <= e + " + strconv.Itoa(funnelScaledWin) + ", g_a, g_k, g_e2) AS g_ok4",
	"toUInt32(g_lv[-1]) AS g_s1",
	"toUInt32(g_e1[-1]) AS g_s2",
	"toUInt32(g_e2[-1]) AS g_s3",
	"toUInt8(multiIf(has(g_ok4, 1), 4, g_s3 > 0, 3, g_s2 > 0, 2, g_s1 > 0, 1, 0)) AS g_level",
}, ",\n  ")

// funnelPrune keeps a carry start only while a row at or after the cut can
// still extend it (@mins is the cut's scaled time minus the window).
const funnelPrune = "if(g_s1 >= @mins, g_s1, 0), if(g_s2 >= @mins, g_s2, 0), if(g_s3 >= @mins, g_s3, 0)"

// funnelWF is windowFunnel over the scaled times a (carry + rows).
var funnelWF = "arrayReduce('windowFunnel(" + strconv.Itoa(funnelScaledWin) + ")', a, " +
	"arrayMap(x -> x % 4 = 0, a), arrayMap(x -> x % 4 = 1, a), arrayMap(x -> x % 4 = 2, a), arrayMap(x -> x % 4 = 3, a))"

// Tables of a state: named from its numeric id only.
const (
	funnelStatePrefix = "funnel_state_"
	funnelJoinPrefix  = "funnel_join_"
)

func funnelStateTable(state uint64) string { return funnelStatePrefix + strconv.FormatUint(state, 10) }
func funnelJoinTable(state uint64) string  { return funnelJoinPrefix + strconv.FormatUint(state, 10) }

// funnelSnapshot is one row of funnel_snapshots.
type funnelSnapshot struct {
	Snap       uint64    `ch:"snap"`
	State      uint64    `ch:"state"`
	Cut        time.Time `ch:"cut"`
	RowsBefore uint64    `ch:"rows_before"`
	Users1     uint64    `ch:"users1"`
	Users2     uint64    `ch:"users2"`
	Users3     uint64    `ch:"users3"`
	Users4     uint64    `ch:"users4"`
	Lag        uint32    `ch:"lag"`
	Clean      uint32    `ch:"clean"`
}

func (s *funnelSnapshot) users() [4]uint64 { return [4]uint64{s.Users1, s.Users2, s.Users3, s.Users4} }

// funnelDay is one day of one line in the configured zone.
type funnelDay struct {
	biz        string
	start, end time.Time
}

func (f funnelDay) date() string { return f.start.Format(time.DateOnly) }

// base is the scaled-time origin: rows of the day scale to >= 4, so 0
// means "none" in the carry.
func (f funnelDay) base() uint32 { return uint32(f.start.Unix() - 1) }

func (f funnelDay) scaled(t time.Time) int64 { return (t.Unix() - int64(f.base())) * funnelScale }

func (d *AnalyticsDAO) latestFunnelSnapshot(ctx context.Context, ch *chclient.Client, f funnelDay) (*funnelSnapshot, error) {
	var rows []funnelSnapshot
	const q = `SELECT snap, state, cut, rows_before, users1, users2, users3, users4, lag, clean
FROM funnel_snapshots WHERE business_line = @biz AND day = toDate(@day) ORDER BY snap DESC LIMIT 1`
	if err := ch.Select(ctx, &rows, q, clickhouse.Named("biz", f.biz), clickhouse.Named("day", f.date())); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

// funnelRows returns the rows of the day before a, before b, and in all
// (funnel_counts).
func funnelRows(ctx context.Context, ch *chclient.Client, f funnelDay, a, b time.Time) (beforeA, beforeB, total uint64, err error) {
	ctx, cancel := ch.Bound(ctx)
	defer cancel()
	const q = `SELECT sumIf(n, bucket < toDateTime(@a)), sumIf(n, bucket < toDateTime(@b)), sum(n)
FROM funnel_counts WHERE business_line = @biz AND day = toDate(@day)`
	err = ch.Conn().QueryRow(ctx, q, clickhouse.Named("biz", f.biz), clickhouse.Named("day", f.date()),
		clickhouse.Named("a", uint32(a.Unix())), clickhouse.Named("b", uint32(b.Unix()))).Scan(&beforeA, &beforeB, &total)
	return beforeA, beforeB, total, err
}

// funnelStatus is the latest snapshot of a day with the day's rows before
// its cut and in all, read in one query.
type funnelStatus struct {
	funnelSnapshot
	Before uint64 `ch:"before"`
	Total  uint64 `ch:"total"`
}

func funnelLatestStatus(ctx context.Context, ch *chclient.Client, f funnelDay) (*funnelStatus, error) {
	var rows []funnelStatus
	const q = `SELECT snap, state, cut, rows_before, users1, users2, users3, users4, lag, clean,
  sumIf(n, bucket < cut) AS before, sum(n) AS total
FROM (
  SELECT business_line, day, snap, state, cut, rows_before, users1, users2, users3, users4, lag, clean
  FROM funnel_snapshots WHERE business_line = @biz AND day = toDate(@day) ORDER BY snap DESC LIMIT 1
) ALL LEFT JOIN (
  SELECT business_line, day, bucket, n FROM funnel_counts WHERE business_line = @biz AND day = toDate(@day)
) USING business_line, day
GROUP BY snap, state, cut, rows_before, users1, users2, users3, users4, lag, clean`
	if err := ch.Select(ctx, &rows, q, clickhouse.Named("biz", f.biz), clickhouse.Named("day", f.date())); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

// funnelFromState answers the funnel of the first k home steps on the day
// from the latest snapshot and the rows after its cut. ok is false when no
// usable snapshot exists (none yet, rows arrived before its cut since, or
// too many rows after it); the caller then asks agg_funnel_user_day.
func (d *AnalyticsDAO) funnelFromState(ctx context.Context, ch *chclient.Client, f funnelDay, k int) ([]uint64, bool, error) {
	snap, err := funnelLatestStatus(ctx, ch, f)
	if err != nil || snap == nil {
		return nil, false, err
	}
	if snap.Before != snap.RowsBefore || snap.Total-snap.Before > funnelMaxTail {
		return nil, false, nil
	}
	users := snap.users()
	out := make([]uint64, k)
	copy(out, users[:k])
	if snap.Total == snap.Before {
		return out, true, nil
	}
	// Only users who can reach a step anew need windowFunnel: below step 4
	// and, unless new today, with a click, cart or order after the cut.
	q := `SELECT r, t, count() AS users FROM (
  SELECT level AS t, ` + funnelWF + ` AS r
  FROM (
    SELECT user_id, arrayConcat(syn, ts) AS a, level, deep FROM (
      SELECT user_id, groupArray(` + funnelScaledExpr + `) AS ts, max(step) > 1 AS deep
      FROM funnel_events
      WHERE business_line = @biz AND event_time >= toDateTime(@cut) AND event_time < toDateTime(@end)
      GROUP BY user_id
    ) ANY LEFT JOIN ` + funnelJoinTable(snap.State) + ` USING user_id
  ) WHERE level = 0 OR deep AND level < 4
) WHERE r > t GROUP BY r, t`
	var rows []struct {
		R     uint8  `ch:"r"`
		T     uint8  `ch:"t"`
		Users uint64 `ch:"users"`
	}
	err = ch.Select(ctx, &rows, q, clickhouse.Named("biz", f.biz), clickhouse.Named("base", f.base()),
		clickhouse.Named("cut", uint32(snap.Cut.Unix())), clickhouse.Named("end", uint32(f.end.Unix())))
	if err != nil {
		return nil, false, err
	}
	// A user counts anew for the steps between the snapshot's level t and
	// the level r over carry + tail.
	for _, r := range rows {
		for s := int(r.T); s < int(r.R) && s < k; s++ {
			out[s] += r.Users
		}
	}
	return out, true, nil
}

// RefreshFunnelState advances the live funnel state of biz on the day that
// starts at day (in the configured zone) to a cut its lag behind now (the
// day's end once that has passed). The dash_precompute job calls it for
// today and, for a while after midnight, yesterday.
func (d *AnalyticsDAO) RefreshFunnelState(ctx context.Context, biz string, day, now time.Time) (model.FunnelStateRun, error) {
	ctx = chclient.WithClass(ctx, "funnel_state")
	ch, f, err := d.funnelClient(biz, day)
	if err != nil {
		return model.FunnelStateRun{}, err
	}
	prev, err := d.latestFunnelSnapshot(ctx, ch, f)
	if err != nil {
		return model.FunnelStateRun{}, chErr(err)
	}
	lag := funnelMinLag
	if prev != nil {
		lag = time.Duration(prev.Lag) * time.Second
	}
	cut := now.Add(-lag).Truncate(funnelBucket)
	if cut.After(f.end) {
		cut = f.end
	}
	if !cut.After(f.start) {
		return model.FunnelStateRun{Mode: "none"}, nil
	}
	if prev != nil && cut.Before(prev.Cut) {
		cut = prev.Cut
	}
	if prev == nil {
		_, _, total, err := funnelRows(ctx, ch, f, cut, cut)
		if err != nil {
			return model.FunnelStateRun{}, chErr(err)
		}
		if total < funnelMinRows {
			return model.FunnelStateRun{Mode: "small"}, nil
		}
	}
	return d.buildFunnelState(ctx, ch, f, cut, prev)
}

// BuildFunnelState takes a snapshot of biz's funnel on the day starting at
// day at cut (a multiple of 10 s inside the day). The benchmark uses it to
// place the cut where the rows after it match a given tail.
func (d *AnalyticsDAO) BuildFunnelState(ctx context.Context, biz string, day, cut time.Time) (model.FunnelStateRun, error) {
	ctx = chclient.WithClass(ctx, "funnel_state")
	ch, f, err := d.funnelClient(biz, day)
	if err != nil {
		return model.FunnelStateRun{}, err
	}
	if cut.Before(f.start) || cut.After(f.end) || !cut.Equal(cut.Truncate(funnelBucket)) {
		return model.FunnelStateRun{}, fmt.Errorf("analytics: funnel cut %s outside %s or not on a %s boundary", cut, f.date(), funnelBucket)
	}
	prev, err := d.latestFunnelSnapshot(ctx, ch, f)
	if err != nil {
		return model.FunnelStateRun{}, chErr(err)
	}
	return d.buildFunnelState(ctx, ch, f, cut, prev)
}

// funnelClient returns the ClickHouse client and the funnel day of biz
// starting at day, for the snapshot builders.
func (d *AnalyticsDAO) funnelClient(biz string, day time.Time) (*chclient.Client, funnelDay, error) {
	ch, err := d.client()
	if err != nil {
		return nil, funnelDay{}, err
	}
	f, err := d.funnelDay(biz, day)
	return ch, f, err
}

func (d *AnalyticsDAO) funnelDay(biz string, day time.Time) (funnelDay, error) {
	loc, err := time.LoadLocation(d.tz)
	if err != nil {
		return funnelDay{}, err
	}
	t := day.In(loc)
	start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	return funnelDay{biz: biz, start: start, end: start.AddDate(0, 0, 1)}, nil
}

func (d *AnalyticsDAO) buildFunnelState(ctx context.Context, ch *chclient.Client, f funnelDay, cut time.Time, prev *funnelSnapshot) (model.FunnelStateRun, error) {
	run := model.FunnelStateRun{Cut: cut, Lag: funnelMinLag}
	prevCut := cut
	if prev != nil {
		prevCut = prev.Cut
	}
	// Count before reading any row: a row that lands in between shows up
	// as a difference at the next check (and costs a full run), never as a
	// silently missing row.
	beforePrev, beforeCut, _, err := funnelRows(ctx, ch, f, prevCut, cut)
	if err != nil {
		return run, chErr(err)
	}
	lag, clean := funnelMinLag, uint32(0)
	switch {
	case prev == nil || cut.Before(prev.Cut):
		run.Mode = "full"
	case beforePrev != prev.RowsBefore:
		run.Mode, run.Late = "full", true
		lag = min(2*time.Duration(prev.Lag)*time.Second, funnelMaxLag)
	default:
		lag, clean = time.Duration(prev.Lag)*time.Second, prev.Clean+1
		if clean >= funnelRelaxRuns {
			lag, clean = max(funnelMinLag, lag*3/4), 0
		}
		switch {
		case cut.Equal(prev.Cut):
			run.Mode = "none"
		case beforeCut == beforePrev:
			run.Mode = "advance"
		default:
			run.Mode = "incremental"
		}
		// The state's tables can be gone (dropped by hand, a lost disk):
		// then rebuild, the live answers fall back meanwhile.
		ok, err := funnelStateExists(ctx, ch, prev.State)
		if err != nil {
			return run, chErr(err)
		}
		if !ok {
			run.Mode = "full"
		}
	}
	run.Lag = lag
	if run.Mode == "none" {
		run.Lag = time.Duration(prev.Lag) * time.Second
		run.Users = prev.users()
		return run, nil
	}
	snap := funnelSnapshot{Cut: cut, RowsBefore: beforeCut, Lag: uint32(lag / time.Second), Clean: clean}
	if run.Mode == "advance" {
		snap.State = prev.State
		snap.Users1, snap.Users2, snap.Users3, snap.Users4 = prev.Users1, prev.Users2, prev.Users3, prev.Users4
	} else {
		snap.State = newFunnelID()
		if err := d.writeFunnelState(ctx, ch, f, cut, prev, snap.State, run.Mode); err != nil {
			return run, err
		}
		users, err := funnelStateUsers(ctx, ch, snap.State)
		if err != nil {
			return run, chErr(err)
		}
		snap.Users1, snap.Users2, snap.Users3, snap.Users4 = users[0], users[1], users[2], users[3]
	}
	snap.Snap = newFunnelID()
	if err := insertFunnelSnapshot(ctx, ch, f, &snap); err != nil {
		return run, chErr(err)
	}
	run.Users = snap.users()
	d.cleanupFunnelState(ctx, ch, f.start)
	return run, nil
}

// writeFunnelState writes the state rows of a new snapshot and its Join
// table.
func (d *AnalyticsDAO) writeFunnelState(ctx context.Context, ch *chclient.Client, f funnelDay, cut time.Time, prev *funnelSnapshot, state uint64, mode string) error {
	mins := max(f.scaled(cut)-funnelScaledWin, 0)
	args := []any{
		clickhouse.Named("biz", f.biz), clickhouse.Named("base", f.base()),
		clickhouse.Named("mins", mins), clickhouse.Named("cut", uint32(cut.Unix())),
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	table := funnelStateTable(state)
	if err := ch.Conn().Exec(ctx, "CREATE TABLE IF NOT EXISTS "+table+
		" (user_id UInt64, level UInt8, s1 UInt32, s2 UInt32, s3 UInt32) ENGINE = MergeTree ORDER BY user_id"); err != nil {
		return chErr(err)
	}
	if mode == "full" {
		if err := funnelEventsComplete(ctx, ch, f); err != nil {
			return err
		}
		recent := cut.Add(-model.FunnelWindow * time.Second)
		if recent.Before(f.start) {
			recent = f.start
		}
		q := `INSERT INTO ` + table + ` (user_id, level, s1, s2, s3)
SELECT user_id, level, ` + funnelPrune + `
FROM (
  SELECT user_id, windowFunnel(` + strconv.Itoa(funnelScaledWin) + `)(` + funnelScaledExpr + `, step = 1, step = 2, step = 3, step = 4) AS level
  FROM funnel_events
  WHERE business_line = @biz AND event_time >= toDateTime(@start) AND event_time < toDateTime(@cut)
  GROUP BY user_id
) ANY LEFT JOIN (
  SELECT user_id, g_s1, g_s2, g_s3 FROM (
    SELECT user_id, g_a,
  ` + funnelGreedy + `
    FROM (
      SELECT user_id, arraySort(groupArray(` + funnelScaledExpr + `)) AS g_a
      FROM funnel_events
      WHERE business_line = @biz AND event_time >= toDateTime(@recent) AND event_time < toDateTime(@cut)
      GROUP BY user_id
    )
  )
) USING user_id
WHERE level > 0`
		args = append(args, clickhouse.Named("start", uint32(f.start.Unix())), clickhouse.Named("recent", uint32(recent.Unix())))
		if err := ch.Conn().Exec(ctx, q, args...); err != nil {
			return chErr(err)
		}
	} else {
		// Users with rows since the previous cut go on from their carry;
		// the others keep their state (carry pruned to the new cut).
		q := `INSERT INTO ` + table + ` (user_id, level, s1, s2, s3)
SELECT user_id, greatest(level, g_level) AS lvl, ` + funnelPrune + `
FROM (
  SELECT user_id, level, g_a,
  ` + funnelGreedy + `
  FROM (
    SELECT user_id, level, arraySort(arrayConcat(syn, ts)) AS g_a FROM (
      SELECT user_id, groupArray(` + funnelScaledExpr + `) AS ts
      FROM funnel_events
      WHERE business_line = @biz AND event_time >= toDateTime(@prev) AND event_time < toDateTime(@cut)
      GROUP BY user_id
    ) ANY LEFT JOIN ` + funnelJoinTable(prev.State) + ` USING user_id
  )
)
WHERE lvl > 0`
		if err := ch.Conn().Exec(ctx, q, append(args, clickhouse.Named("prev", uint32(prev.Cut.Unix())))...); err != nil {
			return chErr(err)
		}
		q = `INSERT INTO ` + table + ` (user_id, level, s1, s2, s3)
SELECT user_id, level, if(s1 >= @mins, s1, 0), if(s2 >= @mins, s2, 0), if(s3 >= @mins, s3, 0)
FROM ` + funnelStateTable(prev.State) + `
WHERE user_id NOT IN (SELECT user_id FROM ` + table + `)`
		if err := ch.Conn().Exec(ctx, q, args...); err != nil {
			return chErr(err)
		}
	}
	// A new table per state: a Join table cannot be emptied on 18.16.
	join := funnelJoinTable(state)
	if err := ch.Conn().Exec(ctx, "CREATE TABLE IF NOT EXISTS "+join+" (user_id UInt64, level UInt8, syn Array(UInt32)) ENGINE = Join(ANY, LEFT, user_id)"); err != nil {
		return chErr(err)
	}
	q := `INSERT INTO ` + join + ` (user_id, level, syn)
SELECT user_id, level, if(level >= 4, emptyArrayUInt32(), arrayFilter(x -> x > 3, arrayMap(x -> toUInt32(x), [s3, s3 + 1, s3 + 2, s2, s2 + 1, s1])))
FROM ` + table
	if err := ch.Conn().Exec(ctx, q); err != nil {
		return chErr(err)
	}
	return nil
}

// ErrFunnelIncomplete means funnel_events holds fewer rows of a day than
// events (rows from before migration 004 not backfilled): no snapshot is
// taken and agg_funnel_user_day keeps answering.
var ErrFunnelIncomplete = errors.New("analytics: funnel_events incomplete for the day")

func funnelEventsComplete(ctx context.Context, ch *chclient.Client, f funnelDay) error {
	var want, got uint64
	err := ch.Conn().QueryRow(ctx, `SELECT countMerge(pv) FROM agg_line_day
WHERE business_line = @biz AND event IN ('view', 'click', 'cart', 'order') AND day = toDate(@day)`,
		clickhouse.Named("biz", f.biz), clickhouse.Named("day", f.date())).Scan(&want)
	if err != nil {
		return chErr(err)
	}
	err = ch.Conn().QueryRow(ctx, `SELECT count() FROM funnel_events
WHERE business_line = @biz AND event_time >= toDateTime(@start) AND event_time < toDateTime(@end)`,
		clickhouse.Named("biz", f.biz), clickhouse.Named("start", uint32(f.start.Unix())), clickhouse.Named("end", uint32(f.end.Unix()))).Scan(&got)
	if err != nil {
		return chErr(err)
	}
	if got < want {
		return fmt.Errorf("%w: %s %s: %d of %d rows", ErrFunnelIncomplete, f.biz, f.date(), got, want)
	}
	return nil
}

func funnelStateExists(ctx context.Context, ch *chclient.Client, state uint64) (bool, error) {
	var n uint64
	ctx, cancel := ch.Bound(ctx)
	defer cancel()
	err := ch.Conn().QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name IN (@state, @join)",
		clickhouse.Named("state", funnelStateTable(state)), clickhouse.Named("join", funnelJoinTable(state))).Scan(&n)
	return n == 2, err
}

func funnelStateUsers(ctx context.Context, ch *chclient.Client, state uint64) ([4]uint64, error) {
	var u [4]uint64
	ctx, cancel := ch.Bound(ctx)
	defer cancel()
	err := ch.Conn().QueryRow(ctx, `SELECT count(), countIf(level >= 2), countIf(level >= 3), countIf(level >= 4)
FROM `+funnelStateTable(state)).Scan(&u[0], &u[1], &u[2], &u[3])
	return u, err
}

func insertFunnelSnapshot(ctx context.Context, ch *chclient.Client, f funnelDay, s *funnelSnapshot) error {
	ctx, cancel := ch.Bound(ctx)
	defer cancel()
	b, err := ch.Conn().PrepareBatch(ctx, "INSERT INTO funnel_snapshots (business_line, day, snap, state, cut, rows_before, users1, users2, users3, users4, lag, clean, created_at)")
	if err != nil {
		return err
	}
	// A Date is a calendar day: pass it as UTC midnight.
	day := time.Date(f.start.Year(), f.start.Month(), f.start.Day(), 0, 0, 0, 0, time.UTC)
	if err := b.Append(f.biz, day, s.Snap, s.State, s.Cut, s.RowsBefore, s.Users1, s.Users2, s.Users3, s.Users4, s.Lag, s.Clean, time.Now()); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}

// newFunnelID returns a snapshot or state id: the creation time in
// nanoseconds with random low bits, so that ids order by creation and two
// instances never collide.
func newFunnelID() uint64 {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return uint64(time.Now().UnixNano())&^0x3ff | uint64(binary.LittleEndian.Uint16(b[:])&0x3ff)
}

func funnelIDTime(id uint64) time.Time { return time.Unix(0, int64(id)) }

// cleanupGate rate-limits cleanupFunnelState (it lists system tables):
// one per dao, shared by its copies.
type cleanupGate struct {
	mu   sync.Mutex
	last time.Time
}

// allow reports whether a cleanup may run at now, and if so records it.
func (g *cleanupGate) allow(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.last) < time.Minute {
		return false
	}
	g.last = now
	return true
}

// cleanupFunnelState drops the tables of states that no longer serve:
// superseded (not the latest snapshot of today or yesterday, nor used by a
// snapshot taken in the last funnelKeep), or never used by any snapshot
// and older than funnelOrphan (a run that died). Nothing that is read
// elsewhere is altered. Errors are ignored: the next run tries again.
func (d *AnalyticsDAO) cleanupFunnelState(ctx context.Context, ch *chclient.Client, day time.Time) {
	now := time.Now()
	if !d.cleanup.allow(now) {
		return
	}
	var refs []struct {
		State uint64 `ch:"state"`
		Live  uint8  `ch:"live"`
	}
	const q = `SELECT state, max(created_at >= toDateTime(@recent)
    OR (business_line, day, snap) IN (SELECT business_line, day, max(snap) FROM funnel_snapshots WHERE day >= toDate(@since) GROUP BY business_line, day)) AS live
FROM funnel_snapshots WHERE day >= toDate(@since) - 7 GROUP BY state`
	if err := ch.Select(ctx, &refs, q, clickhouse.Named("since", day.AddDate(0, 0, -1).Format(time.DateOnly)),
		clickhouse.Named("recent", uint32(now.Add(-funnelKeep).Unix()))); err != nil {
		return
	}
	used, live := map[uint64]bool{}, map[uint64]bool{}
	for _, r := range refs {
		used[r.State], live[r.State] = true, r.Live == 1
	}
	var tables []struct {
		Name string `ch:"name"`
	}
	const list = `SELECT name FROM system.tables WHERE database = currentDatabase()
  AND (startsWith(name, 'funnel_state_') OR startsWith(name, 'funnel_join_'))`
	if err := ch.Select(ctx, &tables, list); err != nil {
		return
	}
	for _, t := range tables {
		prefix := funnelStatePrefix
		if strings.HasPrefix(t.Name, funnelJoinPrefix) {
			prefix = funnelJoinPrefix
		}
		id, err := strconv.ParseUint(strings.TrimPrefix(t.Name, prefix), 10, 64)
		if err != nil {
			continue
		}
		if used[id] && !live[id] || !used[id] && now.Sub(funnelIDTime(id)) > funnelOrphan {
			// The name is rebuilt from the number, not taken as read.
			_ = ch.Exec(ctx, "DROP TABLE IF EXISTS "+prefix+strconv.FormatUint(id, 10))
		}
	}
}
