package service

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wings-bff/wings/app/dao"
	"github.com/wings-bff/wings/app/model"
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

func (f *fakeDash) Series(ctx context.Context, table, biz string, from, to time.Time, _ dao.Filters, _ bool) ([]dao.Bucket, dao.Bucket, error) {
	f.count("series")
	if err := f.block(ctx, biz); err != nil {
		return nil, dao.Bucket{}, err
	}
	b := dao.Bucket{Time: from, PV: 10, UV: 5, ValueSum: 1}
	return []dao.Bucket{b}, b, nil
}

func (f *fakeDash) Ranking(ctx context.Context, biz, event string, day time.Time, limit int) ([]model.RankItem, error) {
	f.count("ranking")
	if err := f.block(ctx, biz); err != nil {
		return nil, err
	}
	return []model.RankItem{{Rank: 1, Item: "i1", PV: 3}}, nil
}

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
	return out, dao.FunnelTable(steps, window), nil
}

func (f *fakeDash) RefreshFunnelState(ctx context.Context, biz string, day, now time.Time) (dao.FunnelStateRun, error) {
	if err := f.block(ctx, biz); err != nil {
		return dao.FunnelStateRun{}, err
	}
	return dao.FunnelStateRun{Mode: "none"}, nil
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
	store := dao.NewPayloadStore(nil, "", time.Hour, nil)
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
		if _, _, ok := store.Get(context.Background(), "dash:home:"+biz); !ok {
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
	s := NewDashService(src, dao.NewPayloadStore(nil, "", time.Hour, nil), loc, time.Minute, now)
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

func (c *countingDash) RefreshFunnelState(ctx context.Context, biz string, day, now time.Time) (dao.FunnelStateRun, error) {
	c.mu.Lock()
	c.now++
	c.max = max(c.max, c.now)
	c.mu.Unlock()
	defer func() { c.mu.Lock(); c.now--; c.mu.Unlock() }()
	select {
	case <-c.release:
	case <-ctx.Done():
		return dao.FunnelStateRun{}, ctx.Err()
	}
	return dao.FunnelStateRun{Mode: "none"}, nil
}

func (c *countingDash) inFlight() int { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *countingDash) maxSeen() int  { c.mu.Lock(); defer c.mu.Unlock(); return c.max }
