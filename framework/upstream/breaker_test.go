package upstream

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/wings-bff/wings/framework/config"
)

// TestSetBreaker: new breaker settings apply to the next calls (the swapped
// breaker starts closed), failure_ratio 0 turns it off, and a breaker
// enabled at run time exports its state gauge.
func TestSetBreaker(t *testing.T) {
	f := newFake(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	c, m := newClient(t, f.srv.URL, func(u *config.Upstream) { u.Coalesce = false })
	ctx := context.Background()
	for range 5 {
		_ = c.GetJSON(ctx, "/x", nil, nil)
	}
	if c.BreakerState() != BreakerClosed || f.calls.Load() != 5 {
		t.Fatalf("no breaker: state %d, calls %d; want closed, 5", c.BreakerState(), f.calls.Load())
	}

	strict := config.Breaker{FailureRatio: 0.5, MinRequests: 2, Interval: time.Minute, OpenTimeout: time.Minute, HalfOpenRequests: 1}
	c.SetBreaker(strict)
	if c.Breaker() != strict {
		t.Errorf("Breaker() = %+v; want %+v", c.Breaker(), strict)
	}
	for range 2 {
		_ = c.GetJSON(ctx, "/x", nil, nil)
	}
	if c.BreakerState() != BreakerOpen {
		t.Fatalf("after 2 failures with min_requests 2: state %d; want open", c.BreakerState())
	}
	calls := f.calls.Load()
	if err := c.GetJSON(ctx, "/x", nil, nil); f.calls.Load() != calls || err == nil {
		t.Fatalf("open breaker let a call through (err %v)", err)
	}
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		found = found || mf.GetName() == "wings_upstream_breaker_state"
	}
	if !found {
		t.Error("no wings_upstream_breaker_state once the breaker is on")
	}

	// The same settings again keep the breaker (and its open state).
	c.SetBreaker(strict)
	if c.BreakerState() != BreakerOpen {
		t.Errorf("unchanged settings reset the breaker: state %d", c.BreakerState())
	}
	// Changed settings swap in a fresh, closed breaker.
	lenient := strict
	lenient.MinRequests = 100
	c.SetBreaker(lenient)
	if c.BreakerState() != BreakerClosed {
		t.Fatalf("after new settings: state %d; want closed", c.BreakerState())
	}
	for range 5 {
		_ = c.GetJSON(ctx, "/x", nil, nil)
	}
	if c.BreakerState() != BreakerClosed {
		t.Errorf("min_requests 100 after 5 failures: state %d; want closed", c.BreakerState())
	}
	// Off.
	c.SetBreaker(config.Breaker{})
	calls = f.calls.Load()
	for range 3 {
		_ = c.GetJSON(ctx, "/x", nil, nil)
	}
	if got := f.calls.Load() - calls; got != 3 || c.BreakerState() != BreakerClosed {
		t.Errorf("breaker off: %d calls reached the upstream, state %d; want 3, closed", got, c.BreakerState())
	}
}
