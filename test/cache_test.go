package test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// cacheRedisPort is the integration tests' own redis-server.
const cacheRedisPort = "6396"

// cacheSvc runs scripts/svc.sh.
func cacheSvc(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("../scripts/svc.sh", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("svc.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// startRedis starts the tests' redis-server, stopped at cleanup.
func startRedis(t testing.TB) string {
	t.Helper()
	cacheSvc(t, "start", "redis", cacheRedisPort)
	t.Cleanup(func() { _ = exec.Command("../scripts/svc.sh", "stop", "redis", cacheRedisPort).Run() })
	return "127.0.0.1:" + cacheRedisPort
}

// cacheEnv turns the response cache on with Redis, upstream coalescing off
// (so the mock counts what the cache lets through) and an admin token.
func cacheEnv(redisAddr, app string, extra ...string) []string {
	env := []string{
		"WINGS_CACHE__RESPONSES=true", "WINGS_REDIS__ADDR=" + redisAddr, "WINGS_APP__NAME=" + app,
		"WINGS_ADMIN__TOKEN=t0ken",
		"WINGS_UPSTREAMS__VIDEO__COALESCE=false", "WINGS_UPSTREAMS__ALBUM__COALESCE=false",
		"WINGS_UPSTREAMS__STAR__COALESCE=false",
	}
	return append(env, extra...)
}

func mockCalls(t testing.TB, mock, team string) int64 {
	t.Helper()
	var m map[string]int64
	if err := json.Unmarshal(get(t, mock+"/_mock/stats").Body, &m); err != nil {
		t.Fatal(err)
	}
	return m[team]
}

func redisCLI(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("redis-cli", append([]string{"-p", cacheRedisPort}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// concurrentJSONP sends n concurrent JSONP requests for video id, each
// with its own callback and timestamp, spread over servers, and checks
// every answer is its own successful JSONP.
func concurrentJSONP(t *testing.T, n int, id int, servers ...string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := get(t, fmt.Sprintf("%s/api/video/%d?callback=cb%d&_=%d", servers[i%len(servers)], id, i, i))
			if r.Status != 200 || !strings.HasPrefix(string(r.Body), fmt.Sprintf("/**/cb%d({\"code\":0", i)) {
				errs <- fmt.Sprintf("%d %s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestCacheEndToEnd drives the response cache of /api/video/:id through the
// real binary, the mock teams and a real redis-server.
func TestCacheEndToEnd(t *testing.T) {
	rds := startRedis(t)
	app := fmt.Sprintf("cachetest%d", time.Now().UnixNano())
	s := newStack(t, nil, cacheEnv(rds, app)...)

	t.Run("JSONP with changing callback and timestamp hits the JSON entry", func(t *testing.T) {
		before := mockCalls(t, s.Mock, "video")
		r := get(t, s.Server+"/api/video/42")
		if r.Status != 200 || r.Header.Get("X-Cache") != "MISS" {
			t.Fatalf("%d %q %s", r.Status, r.Header.Get("X-Cache"), r.Body)
		}
		plain := string(r.Body)
		for i := range 3 {
			cb := fmt.Sprintf("jQuery1234_%d", i)
			r := get(t, fmt.Sprintf("%s/api/video/42?callback=%s&_=%d", s.Server, cb, 1700000000+i))
			if want := "/**/" + cb + "(" + plain + ");"; string(r.Body) != want || r.Header.Get("X-Cache") != "HIT" {
				t.Errorf("%q %s; want HIT %s", r.Header.Get("X-Cache"), r.Body, want)
			}
			if r.Header.Get("Age") == "" {
				t.Error("no Age")
			}
		}
		r = get(t, s.Server+"/api/video/42?_callback=cb&t=1&fields=id,album.title&utm_source=x")
		if want := `/**/cb({"code":0,"data":{"id":42,"album":{"title":"Album 1042"}}});`; string(r.Body) != want {
			t.Errorf("fields: %s; want %s", r.Body, want)
		}
		if n := mockCalls(t, s.Mock, "video") - before; n != 1 {
			t.Errorf("team A called %d times; want 1", n)
		}
		if got := redisCLI(t, "EXISTS", "wings:"+app+":c:r:/api/video/42?"); got != "1" {
			t.Errorf("entry not in redis: EXISTS = %s", got)
		}
	})

	t.Run("200 concurrent misses make one upstream call", func(t *testing.T) {
		before := mockCalls(t, s.Mock, "video")
		concurrentJSONP(t, 200, 4242, s.Server)
		if n := mockCalls(t, s.Mock, "video") - before; n != 1 {
			t.Errorf("team A called %d times for 200 concurrent misses; want 1", n)
		}
	})

	t.Run("purge from the CLI", func(t *testing.T) {
		out, err := exec.Command(wingsBin(t), "cache", "purge", "--conf", "../conf", "--server", s.Server, "/api/video/42").CombinedOutput()
		if err == nil {
			t.Fatalf("purge without WINGS_ADMIN__TOKEN succeeded: %s", out)
		}
		cmd := exec.Command(wingsBin(t), "cache", "purge", "--conf", "../conf", "--server", s.Server, "/api/video/42")
		cmd.Env = append(cmd.Environ(), "WINGS_ADMIN__TOKEN=t0ken")
		out, err = cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"redis":1`) {
			t.Fatalf("purge: %v %s", err, out)
		}
		if r := get(t, s.Server+"/api/video/42"); r.Header.Get("X-Cache") != "MISS" {
			t.Errorf("after purge: %q", r.Header.Get("X-Cache"))
		}
		if r := get(t, s.Server+"/api/video/4242"); r.Header.Get("X-Cache") != "HIT" {
			t.Errorf("other id purged too: %q", r.Header.Get("X-Cache"))
		}
		if r := post(t, s.Server+"/admin/cache/purge", `{"target":"/api/video/"}`); r.Status != http.StatusUnauthorized {
			t.Errorf("admin without token: %d %s", r.Status, r.Body)
		}
	})

	t.Run("Redis killed mid-run, then restarted", func(t *testing.T) {
		cacheSvc(t, "stop", "redis", cacheRedisPort)
		start := time.Now()
		for i := range 100 {
			r := get(t, fmt.Sprintf("%s/api/video/%d?callback=cb", s.Server, 500+i%10))
			if r.Status != 200 {
				t.Fatalf("request %d with redis down: %d %s", i, r.Status, r.Body)
			}
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("100 requests with redis down took %s", d)
		}
		if n := metricValue(t, s.Server, "wings_cache_requests_total", `layer="redis"`, `result="error"`); n == 0 {
			t.Error("no redis error counted")
		}
		if r := get(t, s.Server+"/api/video/505"); r.Header.Get("X-Cache") != "HIT" {
			t.Errorf("L1 should serve while redis is down: %q", r.Header.Get("X-Cache"))
		}
		cacheSvc(t, "start", "redis", cacheRedisPort)
		deadline := time.Now().Add(10 * time.Second)
		for i := 0; ; i++ {
			path := fmt.Sprintf("/api/video/%d", 900+i)
			if r := get(t, s.Server+path); r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if redisCLI(t, "EXISTS", "wings:"+app+":c:r:"+path+"?") == "1" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("caching in redis did not resume within 10s of the restart")
			}
			time.Sleep(200 * time.Millisecond)
		}
		if out := s.ServerProc.Output(); !strings.Contains(out, "redis unavailable") || strings.Count(out, "redis unavailable") > 3 {
			t.Errorf("want a few rate-limited outage log lines, got %d", strings.Count(out, "redis unavailable"))
		}
	})
}

// TestCacheBustingQuery: a random parameter per request, which
// /api/video/:id does not declare, reaches neither the teams nor Redis:
// 100 requests make one call per team, and Redis holds one entry.
func TestCacheBustingQuery(t *testing.T) {
	rds := startRedis(t)
	app := fmt.Sprintf("cachebust%d", time.Now().UnixNano())
	// A TTL longer than any run, so no refresh adds calls.
	s := newStack(t, nil, cacheEnv(rds, app, "WINGS_ROUTES__VIDEO_DETAIL__CACHE_TTL=10m")...)
	teams := []string{"video", "album", "star"}
	calls := func() (n int64) {
		for _, team := range teams {
			n += mockCalls(t, s.Mock, team)
		}
		return n
	}
	before, keysBefore := calls(), redisCLI(t, "DBSIZE")
	for i := range 100 {
		u := fmt.Sprintf("%s/api/video/42?x=%016x&n=%d", s.Server, rand.Uint64(), i)
		if r := get(t, u); r.Status != 200 || !strings.Contains(string(r.Body), `"id":42`) {
			t.Fatalf("%s: %d %s", u, r.Status, r.Body)
		}
	}
	if n := calls() - before; n != int64(len(teams)) {
		t.Errorf("100 requests with a random query made %d upstream calls; want %d (one per team)", n, len(teams))
	}
	ns := "wings:" + app + ":c:"
	if got := redisCLI(t, "ZCARD", ns+"idx"); got != "1" {
		t.Errorf("redis key index holds %s members; want 1", got)
	}
	if got := strings.Fields(redisCLI(t, "--scan", "--pattern", ns+"r:*")); len(got) != 1 || got[0] != ns+"r:/api/video/42?" {
		t.Errorf("%d redis entries (%.80q...); want only %sr:/api/video/42?", len(got), got, ns)
	}
	var kb, ka int
	fmt.Sscan(keysBefore, &kb)
	fmt.Sscan(redisCLI(t, "DBSIZE"), &ka)
	if ka-kb > 5 {
		t.Errorf("redis grew by %d keys over 100 requests for one video", ka-kb)
	}
}

// TestCacheStaleIfError: when team A fails, a cached answer past its TTL is
// served as STALE instead of an error.
func TestCacheStaleIfError(t *testing.T) {
	rds := startRedis(t)
	app := fmt.Sprintf("cachetest%d", time.Now().UnixNano())
	s := newStack(t, nil, cacheEnv(rds, app,
		"WINGS_ROUTES__VIDEO_DETAIL__CACHE_TTL=300ms", "WINGS_ROUTES__VIDEO_DETAIL__CACHE_GRACE=1ms")...)
	fresh := get(t, s.Server+"/api/video/77")
	if fresh.Status != 200 || fresh.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("%d %q", fresh.Status, fresh.Header.Get("X-Cache"))
	}
	if r := post(t, s.Mock+"/_mock/faults", `{"video":{"error_rate":1}}`); r.Status != 200 {
		t.Fatalf("faults: %d %s", r.Status, r.Body)
	}
	time.Sleep(400 * time.Millisecond)
	r := get(t, s.Server+"/api/video/77?callback=cb")
	if r.Status != 200 || r.Header.Get("X-Cache") != "STALE" || string(r.Body) != "/**/cb("+string(fresh.Body)+");" {
		t.Fatalf("want the stale answer: %d %q %s", r.Status, r.Header.Get("X-Cache"), r.Body)
	}
	if r := get(t, s.Server+"/api/video/78"); r.Status != http.StatusBadGateway {
		t.Errorf("never cached: %d %s; want 502", r.Status, r.Body)
	}
	post(t, s.Mock+"/_mock/faults", `{"video":{}}`)
	if r := get(t, s.Server+"/api/video/77"); r.Status != 200 || r.Header.Get("X-Cache") != "MISS" {
		t.Errorf("healed: %d %q", r.Status, r.Header.Get("X-Cache"))
	}
}

// TestCacheLockAcrossInstances: with cache.lock_ttl > 0, concurrent misses
// for one key on two instances sharing Redis make one upstream call (the
// instance without the lock waits for the other's entry); with the lock
// off, each instance computes its own (the control that shows the count
// is really measured).
func TestCacheLockAcrossInstances(t *testing.T) {
	rds := startRedis(t)
	for _, tc := range []struct {
		lockTTL string
		want    int64
	}{{"2s", 1}, {"0s", 2}} {
		t.Run("lock_ttl="+tc.lockTTL, func(t *testing.T) {
			// Team A answers in 300ms so the two instances' misses overlap.
			mock, _ := startMock(t, "--latency", "300ms", "--teams", "video")
			app := fmt.Sprintf("cachelock%d", time.Now().UnixNano())
			env := cacheEnv(rds, app, "WINGS_CACHE__LOCK_TTL="+tc.lockTTL)
			a, _ := startServer(t, mock, env...)
			b, _ := startServer(t, mock, env...)
			before := mockCalls(t, mock, "video")
			concurrentJSONP(t, 20, 31, a, b)
			if n := mockCalls(t, mock, "video") - before; n != tc.want {
				t.Errorf("team A called %d times for concurrent misses on two instances; want %d", n, tc.want)
			}
		})
	}
}
