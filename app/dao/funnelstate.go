package dao

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/olap"
)

// TableFunnelState names the live funnel answer: the latest row of
// funnel_snapshots (its state and counts) + the rows of funnel_events after
// its cut.
const TableFunnelState = "funnel_snapshots"

// liveHomeFunnel declares the home funnel's live answer (migration 004):
// snapshots of every user's state at a cut plus the rows after it
// (framework/olap's LiveFunnel). funnel_events holds the step number of
// each funnel event, in the order of model.FunnelSteps.
var liveHomeFunnel = olap.LiveFunnel{
	Events:      "funnel_events",
	Counts:      "funnel_counts",
	Snapshots:   TableFunnelState,
	Key:         "business_line",
	Time:        "event_time",
	User:        "user_id",
	Step:        "step",
	Steps:       len(model.FunnelSteps()),
	Window:      model.FunnelWindow,
	StatePrefix: "funnel_state_",
	JoinPrefix:  "funnel_join_",
	// Rows from before migration 004 not backfilled: no snapshot, the
	// states of agg_funnel_user_day keep answering.
	Expected: `SELECT countMerge(pv) FROM ` + TableLineDay + `
WHERE business_line = @key AND event IN ('` + strings.Join(model.FunnelSteps(), "', '") + `') AND day = toDate(@day)`,
}

// funnelStore returns the live funnel's store on the dao's client.
func (d *AnalyticsDAO) funnelStore() (*olap.FunnelStore, error) {
	if _, err := d.client(); err != nil {
		return nil, err
	}
	return d.funnel, d.funnelErr
}

func (d *AnalyticsDAO) funnelDay(biz string, day time.Time) (olap.FunnelDay, error) {
	loc, err := time.LoadLocation(d.tz)
	if err != nil {
		return olap.FunnelDay{}, err
	}
	return olap.NewFunnelDay(biz, day, loc), nil
}

// RefreshFunnelState advances the live funnel state of biz on the day that
// starts at day (in the configured zone) to a cut its lag behind now (the
// day's end once that has passed). The dash_precompute job calls it for
// today and, for a while after midnight, yesterday.
func (d *AnalyticsDAO) RefreshFunnelState(ctx context.Context, biz string, day, now time.Time) (model.FunnelStateRun, error) {
	ctx = chclient.WithClass(ctx, "funnel_state")
	st, f, err := d.funnelFor(biz, day)
	if err != nil {
		return model.FunnelStateRun{}, err
	}
	run, err := st.Refresh(ctx, f, now)
	return funnelRun(run), funnelErr(err)
}

// BuildFunnelState takes a snapshot of biz's funnel on the day starting at
// day at cut (a multiple of 10 s inside the day). The benchmark uses it to
// place the cut where the rows after it match a given tail.
func (d *AnalyticsDAO) BuildFunnelState(ctx context.Context, biz string, day, cut time.Time) (model.FunnelStateRun, error) {
	ctx = chclient.WithClass(ctx, "funnel_state")
	st, f, err := d.funnelFor(biz, day)
	if err != nil {
		return model.FunnelStateRun{}, err
	}
	run, err := st.Build(ctx, f, cut)
	return funnelRun(run), funnelErr(err)
}

func (d *AnalyticsDAO) funnelFor(biz string, day time.Time) (*olap.FunnelStore, olap.FunnelDay, error) {
	st, err := d.funnelStore()
	if err != nil {
		return nil, olap.FunnelDay{}, err
	}
	f, err := d.funnelDay(biz, day)
	return st, f, err
}

func funnelRun(r olap.FunnelRun) model.FunnelStateRun {
	out := model.FunnelStateRun{Mode: r.Mode, Late: r.Late, Cut: r.Cut, Lag: r.Lag}
	copy(out.Users[:], r.Users)
	return out
}

// funnelErr classifies a ClickHouse failure of the snapshot job; its own
// errors (an incomplete day, a bad cut) stay as they are.
func funnelErr(err error) error {
	var ex *clickhouse.Exception
	if err == nil || !errors.As(err, &ex) {
		return err
	}
	return chErr(err)
}
