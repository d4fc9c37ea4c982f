package test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Hung dependencies: a Redis, a ClickHouse and an upstream that accept
// connections and never answer, and an upstream that trickles its body.
// Each must be bounded by its timeout, the answer must degrade or be a
// clear 503/504, and the server must be left with no more goroutines and
// no more connections to the dependency than before the load.

// blackHole is a loopback listener held by the test: it accepts every
// connection and never writes a byte. It counts the connections a client
// still holds open (it reads until the client closes).
type blackHole struct {
	ln       net.Listener
	open     atomic.Int64
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
}

func newBlackHole(t testing.TB) *blackHole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackHole{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.accepted.Add(1)
			b.open.Add(1)
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			go func() {
				_, _ = io.Copy(io.Discard, c) // until the client closes
				b.open.Add(-1)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, c := range b.conns {
			c.Close()
		}
	})
	return b
}

func (b *blackHole) Addr() string { return b.ln.Addr().String() }

// trickler is an upstream held by the test that answers 200 at once and
// then sends its body one byte every 20ms (JSON whitespace, for up to 30s).
// It counts the answers still being written.
type trickler struct {
	srv    *httptest.Server
	active atomic.Int64
	served atomic.Int64
}

func newTrickler(t testing.TB) *trickler {
	t.Helper()
	tr := &trickler{}
	tr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.served.Add(1)
		tr.active.Add(1)
		defer tr.active.Add(-1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		fl := w.(http.Flusher)
		fl.Flush()
		end := time.Now().Add(30 * time.Second)
		for time.Now().Before(end) {
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			fl.Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}))
	t.Cleanup(tr.srv.Close)
	return tr
}

// goroutines reads the server's go_goroutines.
func goroutines(t testing.TB, srv string) float64 {
	t.Helper()
	return metricValue(t, srv, "go_goroutines")
}

// settle waits up to 15s for cond, polling; it reports whether cond held.
func settle(cond func() bool) bool {
	deadline := time.Now().Add(15 * time.Second)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// goroutineSlack is what go_goroutines may exceed its baseline by once the
// load is over: the scrape's own connection, an idle upstream connection
// more than after the warm-up (two goroutines each; quiet keeps at most two
// per upstream), a fan-out pool that grew by a few. A leak of one goroutine
// per hung request (each load sends 48) is far beyond it.
const goroutineSlack = 8

// quiet bounds the server's idle connections to each upstream, so that the
// goroutines they hold cannot pass for (or hide) a leak.
var quiet = []string{"WINGS_UPSTREAMS__VIDEO__MAX_IDLE_CONNS=2", "WINGS_UPSTREAMS__ALBUM__MAX_IDLE_CONNS=2",
	"WINGS_UPSTREAMS__STAR__MAX_IDLE_CONNS=2"}

// hungClient closes each connection after its answer: the server's goroutine
// serving a kept-alive connection would count as left behind.
var hungClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// checkNoLeak waits for the server's goroutines to come back to within
// goroutineSlack of base, and (when bh is set) for the server to close
// every connection it opened to the black hole.
func checkNoLeak(t *testing.T, srv string, base float64, bh *blackHole) {
	t.Helper()
	var now float64
	if !settle(func() bool { now = goroutines(t, srv); return now <= base+goroutineSlack }) {
		t.Errorf("go_goroutines %g after the load, %g before: goroutines left behind", now, base)
	}
	if bh != nil && !settle(func() bool { return bh.open.Load() == 0 }) {
		t.Errorf("the server still holds %d of its %d connections to the hung dependency", bh.open.Load(), bh.accepted.Load())
	}
	t.Logf("go_goroutines: %g before, %g after", base, now)
}

// baseline runs load once to warm the server up (idle connections to the
// healthy mock, pools, lazily started goroutines), lets it settle and
// returns its goroutine count: the count the same load again must come
// back to.
func baseline(t *testing.T, srv string, load func() []sample) float64 {
	t.Helper()
	load()
	time.Sleep(1500 * time.Millisecond) // timers of the warm-up's last calls
	return goroutines(t, srv)
}

// hungLoad sends n requests from conc workers (each request's URL from
// url), with the given headers, through hungClient.
func hungLoad(n, conc int, url func(i int) string, headers ...string) []sample {
	return loadWith(hungClient, n, conc, url, headers...)
}

// expect checks every sample with ok, and that none took longer than max.
func expect(t *testing.T, what string, ss []sample, max time.Duration, ok func(sample) bool) {
	t.Helper()
	bad := 0
	for _, x := range ss {
		if x.err != nil || !ok(x) {
			bad++
			if bad <= 3 {
				t.Errorf("%s: got %d %v %.200s", what, x.status, x.err, x.body)
			}
		}
	}
	worst := pct(ss, 100, nil)
	t.Logf("%s: %d requests, statuses %v, p50 %s, max %s", what, len(ss), statuses(ss), pct(ss, 50, nil), worst)
	if worst > max {
		t.Errorf("%s: max latency %s; want at most %s (bounded by the timeout)", what, worst, max)
	}
}

func degradedStarsOK(x sample) bool {
	return x.status == 200 && strings.HasSuffix(x.body, degradedStars)
}

func isError(status int, code string) func(sample) bool {
	return func(x sample) bool {
		return x.status == status && strings.Contains(x.body, `"error":"`+code+`"`)
	}
}

// TestHungUpstream: stars and video upstreams that accept and never answer.
// Stars (optional) degrade within its timeout and one retry; video
// (required) is a 504 within the route's deadline.
func TestHungUpstream(t *testing.T) {
	t.Run("stars", func(t *testing.T) {
		bh := newBlackHole(t)
		mock, _ := startMock(t)
		srv, _ := startServer(t, mock, append(quiet, "WINGS_UPSTREAMS__STAR__BASE_URL=http://"+bh.Addr(),
			"WINGS_UPSTREAMS__STAR__BREAKER__FAILURE_RATIO=0")...) // every request meets the hang
		run := func() []sample { return hungLoad(48, 8, videoURL(srv)) }
		base := baseline(t, srv, run)
		ss := run()
		// 500ms timeout, a retry, 500ms again: well inside the 2s route.
		expect(t, "stars hung", ss, 1500*time.Millisecond, degradedStarsOK)
		checkNoLeak(t, srv, base, bh)
	})
	t.Run("video", func(t *testing.T) {
		bh := newBlackHole(t)
		mock, _ := startMock(t)
		srv, _ := startServer(t, mock, append(quiet, "WINGS_UPSTREAMS__VIDEO__BASE_URL=http://"+bh.Addr(),
			"WINGS_UPSTREAMS__VIDEO__BREAKER__FAILURE_RATIO=0")...)
		run := func() []sample { return hungLoad(48, 8, videoURL(srv)) }
		base := baseline(t, srv, run)
		ss := run()
		expect(t, "video hung", ss, 2500*time.Millisecond, isError(504, "upstream_timeout"))
		checkNoLeak(t, srv, base, bh)
	})
}

// TestTricklingUpstream: an upstream that answers 200 at once and then
// sends its body a byte at a time is bounded like one that never answers.
func TestTricklingUpstream(t *testing.T) {
	for _, tc := range []struct {
		team, env string
		max       time.Duration
		ok        func(sample) bool
	}{
		{"stars", "WINGS_UPSTREAMS__STAR__", 1500 * time.Millisecond, degradedStarsOK},
		{"video", "WINGS_UPSTREAMS__VIDEO__", 2500 * time.Millisecond, isError(504, "upstream_timeout")},
	} {
		t.Run(tc.team, func(t *testing.T) {
			tr := newTrickler(t)
			mock, _ := startMock(t)
			srv, _ := startServer(t, mock, append(quiet, tc.env+"BASE_URL="+tr.srv.URL, tc.env+"BREAKER__FAILURE_RATIO=0")...)
			run := func() []sample { return hungLoad(48, 8, videoURL(srv)) }
			base := baseline(t, srv, run)
			ss := run()
			expect(t, tc.team+" trickling", ss, tc.max, tc.ok)
			if tr.served.Load() == 0 {
				t.Fatal("the trickling upstream was never called")
			}
			checkNoLeak(t, srv, base, nil)
			if !settle(func() bool { return tr.active.Load() == 0 }) {
				t.Errorf("%d trickled answers are still being read", tr.active.Load())
			}
		})
	}
}

// TestHungRedis: with a Redis that accepts and never answers, the response
// cache and the dashboards' payload store fall back to this process: the
// video route answers 200 and a dashboard without ClickHouse its clear 503,
// each bounded by the Redis timeouts, and /readyz says Redis is down.
func TestHungRedis(t *testing.T) {
	bh := newBlackHole(t)
	mock, _ := startMock(t)
	srv, _ := startServer(t, mock, append(quiet, "WINGS_REDIS__ADDR="+bh.Addr(), "WINGS_CACHE__RESPONSES=true",
		fmt.Sprintf("WINGS_APP__NAME=hung-redis-%d", time.Now().UnixNano()),
		"WINGS_ANALYTICS__PRECOMPUTE_INTERVAL=1h")...)
	var dash []sample
	off := 0 // each run asks for other ids: misses, which go to Redis first
	run := func() []sample {
		off += 1000
		dash = hungLoad(16, 4, func(i int) string { return srv + "/api/dash/video/realtime" }, authHeaders()...)
		return hungLoad(48, 8, func(i int) string { return fmt.Sprintf("%s/api/video/%d", srv, off+i) })
	}
	base := baseline(t, srv, run)
	ss := run()
	expect(t, "video, redis hung", ss, time.Second, func(x sample) bool {
		return x.status == 200 && strings.Contains(x.body, `"code":0`)
	})
	expect(t, "dashboard, redis hung, no clickhouse", dash, time.Second, isError(503, "unavailable"))
	start := time.Now()
	r := get(t, srv+"/readyz")
	took := time.Since(start)
	t.Logf("/readyz with redis hung: %d in %s: %s", r.Status, took.Round(time.Millisecond), r.Body)
	if took > 1500*time.Millisecond || !strings.Contains(string(r.Body), `"redis":{"ok":false`) {
		t.Errorf("/readyz took %s: %s; want redis not ok within the 1s check timeout", took, r.Body)
	}
	checkNoLeak(t, srv, base, bh)
}

// TestHungClickHouse: with a ClickHouse that accepts and never answers (no
// handshake), dashboards answer a clear 503 within the query timeout, more
// concurrent requests than the pool has connections included.
func TestHungClickHouse(t *testing.T) {
	bh := newBlackHole(t)
	mock, _ := startMock(t)
	srv, _ := startServer(t, mock, append(quiet, "WINGS_CLICKHOUSE__ADDR="+bh.Addr(),
		"WINGS_CLICKHOUSE__QUERY_TIMEOUT=1s", "WINGS_CLICKHOUSE__DIAL_TIMEOUT=500ms", "WINGS_CLICKHOUSE__POOL_SIZE=4",
		// one business line: the precompute at start is over within the warm-up
		"WINGS_ANALYTICS__PRECOMPUTE_INTERVAL=1h", "WINGS_ANALYTICS__SPAN_INTERVAL=0s", "WINGS_ANALYTICS__BUSINESS_LINES=video",
		// Every request reaches the hung ClickHouse: the query classes'
		// budgets (TestAnalyticsBudgets) would turn some away first.
		"WINGS_ANALYTICS__CLASSES__ROLLUP__PER_USER=16", "WINGS_ANALYTICS__CLASSES__RAW__CONCURRENCY=16",
		"WINGS_ANALYTICS__CLASSES__RAW__PER_USER=16")...)
	paths := []string{"/realtime?event=click", "/ranking?event=order", "/funnel?window=60", "/analysis"}
	run := func() []sample {
		return hungLoad(48, 12, func(i int) string { return srv + "/api/dash/video" + paths[i%len(paths)] }, authHeaders()...)
	}
	base := baseline(t, srv, run)
	ss := run()
	// 1s query timeout; the precompute at start may hold the pool first.
	expect(t, "dashboards, clickhouse hung", ss, 2500*time.Millisecond, func(x sample) bool {
		return (x.status == 503 && strings.Contains(x.body, `"error":"unavailable"`)) ||
			(x.status == 504 && strings.Contains(x.body, `"error":"upstream_timeout"`))
	})
	if bh.accepted.Load() == 0 {
		t.Fatal("the server never connected to the hung ClickHouse")
	}
	checkNoLeak(t, srv, base, bh)
}
