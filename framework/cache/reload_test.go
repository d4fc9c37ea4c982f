package cache_test

import (
	"testing"
	"time"

	"github.com/wings-bff/wings/framework/cache"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/wings"
)

// TestReloadRouteTTL: routes.<name>.cache_ttl and cache_grace reloaded on a
// running server apply to the next lookups (a lowered TTL to the entries
// already stored too), and removing the config TTL falls back to the code's.
func TestReloadRouteTTL(t *testing.T) {
	e := newEnv(t, uniq(t), "", cache.Policy{TTL: time.Hour})
	r := wings.NewReloader(e.rt)
	if a := e.get(t, "/v/1"); a.header.Get("X-Cache") != "MISS" {
		t.Fatalf("first: X-Cache %q; want MISS", a.header.Get("X-Cache"))
	}
	if a := e.get(t, "/v/1"); a.header.Get("X-Cache") != "HIT" {
		t.Fatalf("second: X-Cache %q; want HIT", a.header.Get("X-Cache"))
	}
	reload := func(rc config.Route, lockTTL time.Duration) []string {
		t.Helper()
		next := *e.rt.Config()
		next.Routes = map[string]config.Route{"v": rc}
		next.Cache.LockTTL = lockTTL
		applied, _ := r.Apply("test", &next)
		return applied
	}
	// Down to 50ms: the hour-old policy's entry is stale 50ms after it was
	// written, and with no grace it is computed again.
	if applied := reload(config.Route{CacheTTL: 50 * time.Millisecond}, time.Second); len(applied) == 0 {
		t.Fatal("nothing applied")
	}
	time.Sleep(80 * time.Millisecond)
	calls := e.calls.Load()
	if a := e.get(t, "/v/1"); a.header.Get("X-Cache") != "MISS" || e.calls.Load() != calls+1 {
		t.Fatalf("after the TTL went down to 50ms: X-Cache %q, calls %d; want MISS and one more call", a.header.Get("X-Cache"), e.calls.Load()-calls)
	}
	// A grace window reloaded in: an entry written from then on is served
	// STALE past its TTL (one written before is kept only as long as its
	// own policy said).
	reload(config.Route{CacheTTL: 50 * time.Millisecond, CacheGrace: time.Hour}, time.Second)
	time.Sleep(80 * time.Millisecond)
	if a := e.get(t, "/v/1"); a.header.Get("X-Cache") != "MISS" {
		t.Fatalf("entry kept beyond its own policy: X-Cache %q; want MISS", a.header.Get("X-Cache"))
	}
	time.Sleep(80 * time.Millisecond)
	if a := e.get(t, "/v/1"); a.header.Get("X-Cache") != "STALE" {
		t.Errorf("with grace 1h past the TTL: X-Cache %q; want STALE", a.header.Get("X-Cache"))
	}
	// TTL 0 in config falls back to the code's hour (config overrides only
	// when set), so the route is cached again.
	reload(config.Route{}, 0)
	waitFor(t, func() bool { return e.get(t, "/v/1").header.Get("X-Cache") == "HIT" })
}
