package service

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/budget"
	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/olap"
)

// fakeDash is a DashSource answering from memory. Lines in slow block
// every query until the query's context ends; calls counts queries.
type fakeDash struct {
	slow map[string]bool
	// funnelErr, when set, fails every funnel query.
	funnelErr error

	mu    sync.Mutex
	calls map[string]int // "funnel", "series", ...
}

func (f *fakeDash) count(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
}

func (f *fakeDash) block(ctx context.Context, biz string) error {
	if !f.slow[biz] {
		return ctx.Err() // a query under a spent deadline fails
	}
	<-ctx.Done()
	return ctx.Err()
}

func (f *fakeDash) Series(ctx context.Context, table, biz string, from, to time.Time, _ model.Filters, _ bool) ([]model.Bucket, model.Bucket, error) {
	f.count("series")
	if err := f.block(ctx, biz); err != nil {
		return nil, model.Bucket{}, err
	}
	b := model.Bucket{Time: from, PV: 10, UV: 5, ValueSum: 1}
	return []model.Bucket{b}, b, nil
}

func (f *fakeDash) Ranking(ctx context.Context, biz, event string, day time.Time, limit int) ([]model.ItemViews, error) {
	f.count("ranking")
	if err := f.block(ctx, biz); err != nil {
		return nil, err
	}
	return []model.ItemViews{{Item: "i1", PV: 3}}, nil
}

// homeFunnel is the funnel the fake's rollup keeps.
var homeFunnel = olap.Funnel{Table: "funnel_rollup", Steps: model.FunnelSteps(), Window: model.FunnelWindow}

func (f *fakeDash) SeriesSource(granularity string, flt model.Filters) model.Source {
	if granularity == "hour" && flt.Platform+flt.Region != "" {
		return model.Source{Name: "raw", Raw: true}
	}
	return model.Source{Name: "rollup_" + granularity}
}

func (f *fakeDash) FunnelSource(steps []string, window int) model.Source {
	if homeFunnel.Prefix(steps, window) {
		return model.Source{Name: homeFunnel.Table}
	}
	return model.Source{Name: "raw", Raw: true}
}

func (f *fakeDash) RankingSource() model.Source { return model.Source{Name: "items_day"} }

func (f *fakeDash) Funnel(ctx context.Context, biz string, steps []string, window int, from, to time.Time) ([]uint64, string, error) {
	f.count("funnel")
	if err := f.block(ctx, biz); err != nil {
		return nil, "", err
	}
	if f.funnelErr != nil {
		return nil, "", f.funnelErr
	}
	out := make([]uint64, len(steps))
	for i := range out {
		out[i] = uint64(100 >> i)
	}
	return out, f.FunnelSource(steps, window).Name, nil
}

func (f *fakeDash) RefreshFunnelState(ctx context.Context, biz string, day, now time.Time) (model.FunnelStateRun, error) {
	if err := f.block(ctx, biz); err != nil {
		return model.FunnelStateRun{}, err
	}
	return model.FunnelStateRun{Mode: "none"}, nil
}

// fixedClock is a hand-set clock: 2026-03-01 10:30 in Shanghai.
func fixedClock(t *testing.T) (func() time.Time, *time.Location) {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 10, 30, 0, 0, loc)
	return func() time.Time { return at }, loc
}

// TestPrecomputeLinesSlowLine: a line whose queries never answer costs
// only its own timeout; the other lines get their payloads well within
// the job's deadline, whatever the order.
func TestPrecomputeLinesSlowLine(t *testing.T) {
	t.Parallel()
	now, loc := fixedClock(t)
	src := &fakeDash{slow: map[string]bool{"slow": true}}
	store := newMemStore()
	s := NewDashService(src, store, loc, time.Minute, now)

	// The job's own deadline: what the slow line would eat without a
	// per-line timeout.
	jobCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err := s.PrecomputeLines(jobCtx, []string{"slow", "a", "b", "c"}, 1, 300*time.Millisecond)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "slow") {
		t.Errorf("error = %v; want the slow line's timeout", err)
	}
	for _, biz := range []string{"a", "b", "c"} {
		if _, _, ok := store.Peek(context.Background(), "dash:home:"+biz); !ok {
			t.Errorf("line %s: no payload; want one despite the slow line", biz)
		}
		if err != nil && strings.Contains(err.Error(), "precompute "+biz) {
			t.Errorf("line %s failed: %v", biz, err)
		}
	}
	if took > 5*time.Second {
		t.Errorf("took %s; want about one line timeout (300ms), far below the job's 10s", took)
	}
}

// TestPrecomputeLinesParallelism: at most parallel lines run at once.
func TestPrecomputeLinesParallelism(t *testing.T) {
	t.Parallel()
	now, loc := fixedClock(t)
	src := &countingDash{fakeDash: fakeDash{}, release: make(chan struct{})}
	s := NewDashService(src, newMemStore(), loc, time.Minute, now)
	done := make(chan error, 1)
	go func() {
		done <- s.PrecomputeLines(context.Background(), []string{"a", "b", "c", "d", "e"}, 2, 5*time.Second)
	}()
	// Wait until two lines are inside a query, then check no third joins.
	deadline := time.After(5 * time.Second)
	for src.inFlight() < 2 {
		select {
		case <-deadline:
			t.Fatalf("in flight: %d; want 2", src.inFlight())
		case <-time.After(time.Millisecond):
		}
	}
	close(src.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := src.maxSeen(); got != 2 {
		t.Errorf("max lines at once: %d; want 2", got)
	}
}

// countingDash records how many refreshes run at once; each waits for
// release.
type countingDash struct {
	fakeDash
	release chan struct{}

	mu       sync.Mutex
	now, max int
}

func (c *countingDash) RefreshFunnelState(ctx context.Context, biz string, day, now time.Time) (model.FunnelStateRun, error) {
	c.mu.Lock()
	c.now++
	c.max = max(c.max, c.now)
	c.mu.Unlock()
	defer func() { c.mu.Lock(); c.now--; c.mu.Unlock() }()
	select {
	case <-c.release:
	case <-ctx.Done():
		return model.FunnelStateRun{}, ctx.Err()
	}
	return model.FunnelStateRun{Mode: "none"}, nil
}

func (c *countingDash) inFlight() int { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *countingDash) maxSeen() int  { c.mu.Lock(); defer c.mu.Unlock(); return c.max }

// memCache is a ResultCache in memory with a hand clock.
type memCache struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]memEntry
}

type memEntry struct {
	v       []byte
	expires time.Time
}

func (c *memCache) GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && c.now().Before(e.expires) {
		return e.v, nil
	}
	v, err := load(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.m[key] = memEntry{v: v, expires: c.now().Add(ttl)}
	c.mu.Unlock()
	return v, nil
}

// limitsDash records the ClickHouse limits each funnel query carried.
type limitsDash struct {
	fakeDash
	mu     sync.Mutex
	limits []chclient.Limits
}

func (l *limitsDash) Funnel(ctx context.Context, biz string, steps []string, window int, from, to time.Time) ([]uint64, string, error) {
	lim, _ := chclient.LimitsFrom(ctx)
	l.mu.Lock()
	l.limits = append(l.limits, lim)
	l.mu.Unlock()
	return l.fakeDash.Funnel(ctx, biz, steps, window, from, to)
}

func budgets() map[string]ClassBudget {
	return map[string]ClassBudget{
		ClassRollup: {Limiter: budget.New(ClassRollup, budget.Limits{Concurrency: 4, PerUser: 2}),
			Limits: chclient.Limits{MaxExecutionTime: 3 * time.Second, MaxRowsToRead: 1000}},
		ClassRaw: {Limiter: budget.New(ClassRaw, budget.Limits{Concurrency: 1, PerUser: 1}),
			Limits: chclient.Limits{MaxExecutionTime: 2 * time.Second, MaxMemoryUsage: 1 << 20, MaxRowsToRead: 10}, CacheTTL: 30 * time.Second},
	}
}

// TestRawFunnelBudget: a raw funnel runs with the raw class's ClickHouse
// limits and its answer is cached for the class's TTL (a second identical
// request does not reach the source; another window does); the home
// funnel runs with the rollup class's limits, uncached.
func TestRawFunnelBudget(t *testing.T) {
	t.Parallel()
	clock, loc := fixedClock(t)
	var mu sync.Mutex
	at := clock()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return at }
	src := &limitsDash{}
	reg := prometheus.NewRegistry()
	s := NewDashService(src, newMemStore(), loc, time.Minute, now).
		WithBudgets(budgets(), &memCache{now: now, m: map[string]memEntry{}}, reg).WithSourceMetrics(reg)
	ctx := context.Background()
	day := s.Today()
	raw := []string{"view", "order"}
	for i := 0; i < 3; i++ {
		f, err := s.Funnel(ctx, "video", day, raw, 600)
		if err != nil {
			t.Fatal(err)
		}
		if f.Source != "live" {
			t.Errorf("raw funnel: source %s", f.Source)
		}
	}
	if got := testutil.ToFloat64(s.sources.WithLabelValues(kindFunnel, "raw")); got != 1 {
		t.Errorf("raw funnel answers counted from the raw source: %v; want 1 (the other two were cached)", got)
	}
	if n := src.calls["funnel"]; n != 1 {
		t.Errorf("source calls for 3 identical raw funnels: %d; want 1 (cached)", n)
	}
	if got := testutil.ToFloat64(s.queries.WithLabelValues(ClassRaw, queryOK)); got != 1 {
		t.Errorf("raw queries counted: %v; want 1", got)
	}
	if _, err := s.Funnel(ctx, "video", day, raw, 601); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	at = at.Add(31 * time.Second)
	mu.Unlock()
	if _, err := s.Funnel(ctx, "video", day, raw, 600); err != nil {
		t.Fatal(err)
	}
	if n := src.calls["funnel"]; n != 3 {
		t.Errorf("source calls after another window and the TTL: %d; want 3", n)
	}
	if _, err := s.Funnel(ctx, "video", day, model.FunnelSteps(), model.FunnelWindow); err != nil {
		t.Fatal(err)
	}
	want := []chclient.Limits{budgets()[ClassRaw].Limits, budgets()[ClassRaw].Limits, budgets()[ClassRaw].Limits, budgets()[ClassRollup].Limits}
	if len(src.limits) != len(want) {
		t.Fatalf("queries: %d; want %d", len(src.limits), len(want))
	}
	for i := range want {
		if src.limits[i] != want[i] {
			t.Errorf("query %d limits %+v; want %+v", i, src.limits[i], want[i])
		}
	}
}

// TestStaleOnAnyFailure: whatever ClickHouse answered (a limit, an
// exception not classified as unavailable), a home query with a payload
// gets it marked stale; without a payload the error stays what it was; a
// caller over its share is not rewarded with the payload.
func TestStaleOnAnyFailure(t *testing.T) {
	t.Parallel()
	clock, loc := fixedClock(t)
	for _, tc := range []struct {
		name  string
		err   error
		stale bool
		kind  apperr.Kind
	}{
		{"memory limit", apperr.Wrap(apperr.KindUnavailable, errors.New("code: 241"), "analytics query stopped by its limits"), true, apperr.KindUnavailable},
		{"other exception", apperr.Wrap(apperr.KindInternal, errors.New("code: 47"), "internal error"), true, apperr.KindInternal},
		{"connection", apperr.Upstream("clickhouse", errors.New("refused")), true, apperr.KindUnavailable},
		{"rate limited", apperr.RateLimited("too many of yours", time.Second), false, apperr.KindRateLimited},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			ok := &fakeDash{}
			s := NewDashService(ok, store, loc, time.Minute, clock)
			if err := s.Precompute(context.Background(), "video"); err != nil {
				t.Fatal(err)
			}
			// Two minutes later the payload is no longer fresh.
			later := func() time.Time { return clock().Add(2 * time.Minute) }
			broken := NewDashService(&fakeDash{funnelErr: tc.err}, store, loc, time.Minute, later)
			f, err := broken.Funnel(context.Background(), "video", broken.Today(), model.FunnelSteps(), model.FunnelWindow)
			if tc.stale {
				if err != nil || !f.Stale || f.AgeSeconds != 120 {
					t.Fatalf("got %+v, %v; want the payload marked stale, 120s old", f, err)
				}
			} else if apperr.KindOf(err) != tc.kind {
				t.Fatalf("got %+v, %v; want kind %v", f, err, tc.kind)
			}
			empty := NewDashService(&fakeDash{funnelErr: tc.err}, newMemStore(), loc, time.Minute, later)
			if _, err := empty.Funnel(context.Background(), "video", empty.Today(), model.FunnelSteps(), model.FunnelWindow); apperr.KindOf(err) != tc.kind {
				t.Errorf("without a payload: %v; want kind %v", err, tc.kind)
			}
		})
	}
}

// TestDashTodayEveryHour hands the service a clock at every hour of 2028 (a
// leap year) plus a second after each midnight: today is the calendar
// date in the configured zone, never UTC's (midnight in Shanghai is 16:00
// UTC the day before).
func TestDashTodayEveryHour(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	var now time.Time
	s := NewDashService(nil, nil, sh, time.Minute, func() time.Time { return now })
	for at := time.Date(2028, 1, 1, 0, 0, 1, 0, sh); at.Year() == 2028; at = at.Add(time.Hour) {
		now = at.UTC()
		got := s.Today()
		want := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, sh)
		if !got.Equal(want) || got.Location() != sh {
			t.Fatalf("clock %s (%s UTC): today %s; want %s", at, now.Format(time.DateTime), got, want)
		}
	}
	now = time.Date(2028, 2, 28, 16, 0, 0, 0, time.UTC) // 00:00 on Feb 29 in Shanghai
	if got := s.Today().Format(time.DateOnly); got != "2028-02-29" {
		t.Errorf("leap day midnight: today %s", got)
	}
}

// memStore is a PayloadStore in memory.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemStore() *memStore { return &memStore{m: map[string][]byte{}} }

func (s *memStore) Put(_ context.Context, key string, value []byte, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = value
	return nil
}

func (s *memStore) Peek(_ context.Context, key string) ([]byte, time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	return v, time.Time{}, ok
}
