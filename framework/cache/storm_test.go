package cache

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/wings"
)

// grid returns a random source that yields (i+0.5)/n for i = 0..n-1 in
// turn: a deterministic, evenly spread sample of [0, 1).
func grid(n int) func() float64 {
	i := 0
	return func() float64 {
		u := (float64(i%n) + 0.5) / float64(n)
		i++
		return u
	}
}

func TestJitterSpreadsExpiry(t *testing.T) {
	const n, ttl = 1000, 10 * time.Second
	c := &Cache{jitter: 0.1, rand: grid(n)}
	var buckets [10]int
	for range n {
		got := c.jittered(ttl)
		if got <= 9*time.Second || got > ttl {
			t.Fatalf("jittered(10s) = %s; want in (9s, 10s]", got)
		}
		buckets[int((ttl-got)*10/time.Second)]++ // 100ms buckets below the TTL
	}
	for i, b := range buckets {
		if b != n/10 {
			t.Errorf("expiries %d00-%d00ms before the TTL: %d; want %d (uniform)", i, i+1, b, n/10)
		}
	}
	c.jitter = 0
	if got := c.jittered(ttl); got != ttl {
		t.Errorf("no jitter: %s; want %s", got, ttl)
	}
}

// XFetch: a hit with left to go before expiry refreshes with probability
// exp(-left/(cost*beta)).
func TestRefreshEarlyProbability(t *testing.T) {
	const n = 10000
	e := &entry{cost: 10 * time.Millisecond}
	for _, beta := range []float64{1, 2} {
		for _, left := range []time.Duration{0, time.Millisecond, 10 * time.Millisecond, 30 * time.Millisecond, 100 * time.Millisecond} {
			c := &Cache{beta: beta, rand: grid(n)}
			yes := 0
			for range n {
				if c.refreshEarly(e, left) {
					yes++
				}
			}
			want := math.Exp(-float64(left) / (float64(e.cost) * beta))
			if got := float64(yes) / n; math.Abs(got-want) > 2.0/n {
				t.Errorf("beta %v, %s before expiry: refreshed %.4f of hits; want %.4f", beta, left, got, want)
			}
		}
	}
	draws := 0
	c := &Cache{beta: 1, rand: func() float64 { draws++; return 0.999 }}
	if c.refreshEarly(e, time.Second) || draws != 0 {
		t.Errorf("100 costs before expiry: refreshed, or drew %d numbers; want neither", draws)
	}
	if c.refreshEarly(&entry{}, 0) {
		t.Error("an entry with no cost (read from Redis) refreshed early")
	}
	c.beta = 0
	if c.refreshEarly(e, 0) {
		t.Error("early_refresh 0 refreshed early")
	}
}

// clock is a hand-driven clock safe for the refresh goroutines.
type clock struct{ ns atomic.Int64 }

func (k *clock) now() time.Time          { return time.Unix(0, k.ns.Load()) }
func (k *clock) advance(d time.Duration) { k.ns.Add(int64(d)) }

func newTestCache(t *testing.T, slots int) (*Cache, *clock) {
	t.Helper()
	cfg := &config.Config{
		Env: "test", App: config.App{Name: "storm"}, Log: config.Log{Level: "error", Format: "json"},
		Server: config.Server{RequestTimeout: 2 * time.Second},
		Cache:  config.Cache{L1MaxEntries: 100, L1MaxBytes: 1 << 20, RefreshConcurrency: slots},
	}
	cfg.Auth.Identity.Provider, cfg.Auth.Permission.Provider = "static", "static"
	rt, err := wings.New(cfg, wings.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(rt)
	if err != nil {
		t.Fatal(err)
	}
	k := &clock{}
	k.ns.Store(time.Date(2026, 2, 28, 23, 59, 0, 0, time.UTC).UnixNano())
	c.now, c.rand = k.now, func() float64 { return 0 }
	return c, k
}

func value(v string) Loader {
	return func(context.Context) ([]byte, time.Duration, error) { return []byte(v), 0, nil }
}

// waitIdle waits until no background refresh runs.
func waitIdle(t *testing.T, c *Cache) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(c.slots) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("background refreshes still running after 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// Stale entries of many keys start at most refresh_concurrency refreshes;
// the others are served stale at once and their refresh skipped, and a
// later read asks again.
func TestRefreshConcurrencyBound(t *testing.T) {
	c, k := newTestCache(t, 2)
	p := Policy{TTL: 10 * time.Second, Grace: time.Minute}
	ctx := context.Background()
	keys := []string{"d:a", "d:b", "d:c", "d:d", "d:e"}
	for _, key := range keys {
		if _, err := c.Fetch(ctx, key, p, value("v1")); err != nil {
			t.Fatal(err)
		}
	}
	k.advance(11 * time.Second)
	var started atomic.Int64
	release := make(chan struct{})
	blocked := func(context.Context) ([]byte, time.Duration, error) {
		started.Add(1)
		<-release
		return []byte("v2"), 0, nil
	}
	for _, key := range keys {
		res, err := c.Fetch(ctx, key, p, blocked)
		if err != nil || res.Status != Stale || string(res.Value) != "v1" {
			t.Fatalf("%s: got %s %q %v; want the stale v1 at once", key, res.Status, res.Value, err)
		}
	}
	if n := testutil.ToFloat64(c.skipped); n != 3 {
		t.Errorf("skipped refreshes = %v; want 3 (5 stale keys, 2 slots)", n)
	}
	// A key already refreshing neither starts another refresh nor counts
	// as skipped.
	c.Fetch(ctx, "d:a", p, blocked)
	if n := testutil.ToFloat64(c.skipped); n != 3 || len(c.slots) != 2 {
		t.Errorf("stale read of a refreshing key: skipped %v, running %d; want 3, 2", n, len(c.slots))
	}
	close(release)
	waitIdle(t, c)
	if started.Load() != 2 {
		t.Errorf("loaders started: %d; want 2", started.Load())
	}
	if res, _ := c.Fetch(ctx, "d:a", p, blocked); res.Status != Hit || string(res.Value) != "v2" {
		t.Errorf("refreshed key: %s %q; want HIT v2", res.Status, res.Value)
	}
	// The three skipped keys ask again: two start, one is skipped again.
	release = make(chan struct{})
	for _, key := range keys {
		c.Fetch(ctx, key, p, blocked)
	}
	if n := testutil.ToFloat64(c.skipped); n != 4 || len(c.slots) != 2 {
		t.Errorf("second round: skipped %v, running %d; want 4, 2", n, len(c.slots))
	}
	close(release)
	waitIdle(t, c)
	if started.Load() != 4 {
		t.Errorf("loaders started in all: %d; want 4", started.Load())
	}
	fresh := 0
	for _, key := range keys {
		if res, _ := c.Fetch(ctx, key, p, blocked); res.Status == Hit && string(res.Value) == "v2" {
			fresh++
		}
	}
	if fresh != 4 {
		t.Errorf("after the second round: %d keys fresh; want 4", fresh)
	}
}

// A hit close to expiry refreshes in the background (answering HIT) and the
// refresh recomputes although the entry is still fresh.
func TestEarlyRefreshOnHit(t *testing.T) {
	c, k := newTestCache(t, 4)
	c.beta = 1
	p := Policy{TTL: 10 * time.Second}
	ctx := context.Background()
	slow := func(v string) Loader {
		return func(context.Context) ([]byte, time.Duration, error) {
			k.advance(100 * time.Millisecond) // the compute cost XFetch scales by
			return []byte(v), 0, nil
		}
	}
	c.Fetch(ctx, "d:x", p, slow("v1"))
	k.advance(10*time.Second - 50*time.Millisecond) // 50ms left, cost 100ms
	c.rand = func() float64 { return 0 }            // -ln(1) = 0: no refresh yet
	if res, _ := c.Fetch(ctx, "d:x", p, slow("v2")); res.Status != Hit || string(res.Value) != "v1" || len(c.slots) != 0 {
		t.Fatalf("u=0: %s %q, %d refreshing; want HIT v1 and no refresh", res.Status, res.Value, len(c.slots))
	}
	c.rand = func() float64 { return 0.9 } // 100ms * -ln(0.1) = 230ms >= 50ms
	if res, _ := c.Fetch(ctx, "d:x", p, slow("v2")); res.Status != Hit || string(res.Value) != "v1" {
		t.Fatalf("early refresh: %s %q; want HIT v1 while it runs", res.Status, res.Value)
	}
	waitIdle(t, c)
	c.rand = func() float64 { return 0 }
	if res, _ := c.Fetch(ctx, "d:x", p, slow("v3")); res.Status != Hit || string(res.Value) != "v2" {
		t.Errorf("after the early refresh: %s %q; want HIT v2", res.Status, res.Value)
	}
}
