package test

import (
	"strings"
	"testing"
	"time"
)

// TestPanicInCachedRoute: a cached route's handler panicking on a miss (it
// runs inside the cache's singleflight) and in a background refresh (no
// request waits for it) ends as a 500 internal and a logged, counted
// panic; the server keeps serving. Through the real binary and its test
// hook route GET /_test/panic/:id (cmd/wings/testhooks.go).
func TestPanicInCachedRoute(t *testing.T) {
	s := newStack(t, nil, "WINGS_CACHE__RESPONSES=true")
	for range 2 {
		r := get(t, s.Server+"/_test/panic/always")
		if body := r.JSON(t); r.Status != 500 || body["error"] != "internal" || strings.Contains(string(r.Body), "test hook") {
			t.Fatalf("panic on a miss: %d %s; want 500 internal, no panic text", r.Status, r.Body)
		}
	}
	if r := get(t, s.Server+"/api/video/42"); r.Status != 200 {
		t.Fatalf("after the panics: /api/video/42 answered %d %s", r.Status, r.Body)
	}
	if r := get(t, s.Server+"/_test/panic/r1"); r.Status != 200 || r.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("first computation: %d %q %s", r.Status, r.Header.Get("X-Cache"), r.Body)
	}
	// Past the 1s TTL the entry is served stale while its refresh panics.
	deadline := time.Now().Add(10 * time.Second)
	for metricValue(t, s.Server, "wings_panics_total", `where="cache_refresh"`) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no background refresh panicked within 10s; output:\n%s", tail(s.ServerProc.Output(), 20))
		}
		r := get(t, s.Server+"/_test/panic/r1")
		if r.Status != 200 || !strings.Contains(string(r.Body), `"n":1`) {
			t.Fatalf("during the refresh: %d %q %s; want the cached answer", r.Status, r.Header.Get("X-Cache"), r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := metricValue(t, s.Server, "wings_panics_total", `where="cache_load"`); n != 2 {
		t.Errorf("wings_panics_total{where=cache_load} = %v; want 2", n)
	}
	if r := get(t, s.Server+"/healthz"); r.Status != 200 {
		t.Errorf("/healthz after the panics: %d", r.Status)
	}
	out := s.ServerProc.Output()
	if !strings.Contains(out, `"msg":"panic recovered"`) || !strings.Contains(out, "testhooks.go") {
		t.Errorf("no panic line with its stack in the log:\n%s", tail(out, 20))
	}
}
