package test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Fault-injection tests: each starts the real binaries on loopback, breaks
// an upstream through the mock's fault endpoint (or a closed port), runs a
// bounded load and logs the figures it measured.

// sample is one request's outcome.
type sample struct {
	status int
	body   string
	header http.Header
	lat    time.Duration
	err    error
}

// load sends n GETs to url(i) from conc workers and returns every outcome.
func load(n, conc int, url func(i int) string) []sample {
	return loadWith(loadClient, n, conc, url)
}

// loadWith is load through client c, each request with the header pairs.
func loadWith(c *http.Client, n, conc int, url func(i int) string, headers ...string) []sample {
	out := make([]sample, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				out[i] = hitWith(c, url(i), headers...)
			}
		}()
	}
	wg.Wait()
	return out
}

var loadClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func hit(url string) sample { return hitWith(loadClient, url) }

// hitWith GETs url through c with header pairs ("Name", "value", ...).
func hitWith(c *http.Client, url string, headers ...string) sample {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return sample{err: err}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return sample{err: err, lat: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return sample{status: resp.StatusCode, body: string(b), header: resp.Header, lat: time.Since(start), err: err}
}

// pct returns the p-th percentile (0..100) of the samples' latencies that
// keep says to keep.
func pct(ss []sample, p float64, keep func(sample) bool) time.Duration {
	var lats []time.Duration
	for _, s := range ss {
		if keep == nil || keep(s) {
			lats = append(lats, s.lat)
		}
	}
	if len(lats) == 0 {
		return 0
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	i := int(float64(len(lats))*p/100+0.999999) - 1
	return lats[max(0, min(i, len(lats)-1))]
}

func statuses(ss []sample) map[int]int {
	m := map[int]int{}
	for _, s := range ss {
		if s.err != nil {
			m[-1]++
			continue
		}
		m[s.status]++
	}
	return m
}

func videoURL(base string) func(int) string {
	return func(i int) string { return fmt.Sprintf("%s/api/video/%d", base, i+1) }
}

const degradedStars = `"stars":[]},"degraded":["stars"]}`

// 1. Stars upstream down (connection refused): every answer is 200 with
// stars degraded, and p99 stays below the stars timeout.
func TestFaultStarsDown(t *testing.T) {
	closed := "http://" + closedAddr(t) // refuses connections
	s := newStack(t, nil, "WINGS_UPSTREAMS__STAR__BASE_URL="+closed)
	ss := load(200, 8, videoURL(s.Server))
	bad := 0
	for _, x := range ss {
		if x.err != nil || x.status != 200 || !strings.HasSuffix(x.body, degradedStars) {
			bad++
			if bad <= 3 {
				t.Errorf("got %d %v %s; want 200 with stars degraded", x.status, x.err, x.body)
			}
		}
	}
	p50, p99 := pct(ss, 50, nil), pct(ss, 99, nil)
	degraded := metricValue(t, s.Server, "wings_degraded_total", `route="/api/video/:id"`, `source="stars"`)
	refused := metricValue(t, s.Server, "wings_upstream_requests_total", `upstream="star"`, `outcome="refused"`)
	open := metricValue(t, s.Server, "wings_upstream_breaker_state", `upstream="star"`)
	t.Logf("stars down: %d requests, statuses %v, not degraded-200: %d, p50 %s, p99 %s; wings_degraded_total %g, star refused attempts %g, star breaker state %g",
		len(ss), statuses(ss), bad, p50, p99, degraded, refused, open)
	if p99 >= 500*time.Millisecond {
		t.Errorf("p99 = %s; want below the stars timeout (500ms)", p99)
	}
	if degraded != float64(len(ss)) {
		t.Errorf("wings_degraded_total = %g; want %d", degraded, len(ss))
	}
	if open != 2 {
		t.Errorf("star breaker state = %g; want 2 (open) after 100%% failures", open)
	}
}

// 2. Stars upstream slow (sleeps past its timeout): 200 degraded, and the
// route deadline holds even when it is shorter than the stars timeout.
func TestFaultStarsSlow(t *testing.T) {
	mock, _ := startMock(t)
	post(t, mock+"/_mock/faults", `{"star":{"latency":"5s"}}`)

	t.Run("stars timeout inside the route deadline", func(t *testing.T) {
		srv, _ := startServer(t, mock)
		ss := load(40, 8, videoURL(srv))
		bad := 0
		for _, x := range ss {
			if x.err != nil || x.status != 200 || !strings.HasSuffix(x.body, degradedStars) {
				bad++
			}
		}
		p50, p99, worst := pct(ss, 50, nil), pct(ss, 99, nil), pct(ss, 100, nil)
		timeouts := metricValue(t, srv, "wings_upstream_requests_total", `upstream="star"`, `outcome="timeout"`)
		retries := metricValue(t, srv, "wings_upstream_retries_total", `upstream="star"`)
		t.Logf("stars slow (timeout 500ms, 1 retry, route 2s): %d requests, statuses %v, not degraded-200: %d, p50 %s, p99 %s, max %s; star timeouts %g, retries %g",
			len(ss), statuses(ss), bad, p50, p99, worst, timeouts, retries)
		if bad > 0 {
			t.Errorf("%d answers were not 200 with stars degraded", bad)
		}
		if worst >= 2*time.Second {
			t.Errorf("max latency %s; the route deadline is 2s", worst)
		}
	})

	t.Run("route deadline shorter than the stars timeout", func(t *testing.T) {
		srv, _ := startServer(t, mock, "WINGS_ROUTES__VIDEO_DETAIL__TIMEOUT=400ms", "WINGS_UPSTREAMS__STAR__TIMEOUT=1s")
		ss := load(24, 8, videoURL(srv))
		bad := 0
		for _, x := range ss {
			if x.err != nil || x.status != 200 || !strings.HasSuffix(x.body, degradedStars) {
				bad++
				if bad <= 3 {
					t.Errorf("got %d %v %s; want 200 with stars degraded", x.status, x.err, x.body)
				}
			}
		}
		p99, worst := pct(ss, 99, nil), pct(ss, 100, nil)
		t.Logf("stars slow (timeout 1s, route 400ms): %d requests, statuses %v, p99 %s, max %s", len(ss), statuses(ss), p99, worst)
		if worst >= 400*time.Millisecond+150*time.Millisecond { // the client's own overhead on a busy machine
			t.Errorf("max latency %s; the route deadline is 400ms", worst)
		}
	})
}

// 3. Album answering 500s: 502s, the breaker opens (metric), requests fail
// fast without calling album, then album heals and the breaker closes.
func TestFaultAlbumBreaker(t *testing.T) {
	s := newStack(t, nil,
		"WINGS_UPSTREAMS__ALBUM__BREAKER__MIN_REQUESTS=10",
		"WINGS_UPSTREAMS__ALBUM__BREAKER__OPEN_TIMEOUT=1s",
		"WINGS_UPSTREAMS__ALBUM__BREAKER__HALF_OPEN_REQUESTS=2")
	post(t, s.Mock+"/_mock/faults", `{"album":{"error_rate":1,"latency":"50ms"}}`)
	state := func() float64 { return metricValue(t, s.Server, "wings_upstream_breaker_state", `upstream="album"`) }
	albumCalls := func() float64 {
		r := get(t, s.Mock+"/_mock/stats")
		return r.JSON(t)["album"].(float64)
	}

	closedPhase := load(10, 2, videoURL(s.Server)) // 10 requests trip it (min_requests 10, ratio 0.5)
	if st := state(); st != 2 {
		t.Fatalf("breaker state after %v = %g; want 2 (open)", statuses(closedPhase), st)
	}
	callsBefore := albumCalls()
	openPhase := load(40, 4, videoURL(s.Server))
	callsDuring := albumCalls() - callsBefore
	for _, ph := range [][]sample{closedPhase, openPhase} {
		for _, x := range ph {
			if x.status != http.StatusBadGateway || !strings.Contains(x.body, `"error":"upstream_error"`) {
				t.Fatalf("got %d %s; want 502 upstream_error", x.status, x.body)
			}
		}
	}
	if !strings.Contains(openPhase[len(openPhase)-1].body, "circuit breaker open") {
		t.Errorf("open-breaker answer %s; want a message naming the open breaker", openPhase[len(openPhase)-1].body)
	}
	p99Closed, p99Open := pct(closedPhase, 99, nil), pct(openPhase, 99, nil)
	t.Logf("album 500s: before opening %d requests p50 %s p99 %s; open %d requests p50 %s p99 %s, album calls while open %g; breaker_open refusals %g",
		len(closedPhase), pct(closedPhase, 50, nil), p99Closed, len(openPhase), pct(openPhase, 50, nil), p99Open, callsDuring,
		metricValue(t, s.Server, "wings_upstream_requests_total", `upstream="album"`, `outcome="breaker_open"`))
	if callsDuring != 0 {
		t.Errorf("album got %g calls while the breaker was open", callsDuring)
	}
	if p99Open >= pct(closedPhase, 50, nil) {
		t.Errorf("open p99 %s not below the closed p50 %s: not failing fast", p99Open, pct(closedPhase, 50, nil))
	}

	// Heal; after open_timeout the breaker half-opens and probes close it.
	post(t, s.Mock+"/_mock/faults", `{"album":{}}`)
	healStart := time.Now()
	ok := 0
	for time.Since(healStart) < 10*time.Second && ok < 5 {
		if r := hit(videoURL(s.Server)(ok)); r.status == 200 {
			ok++
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("album healed: 5 successes %s after healing; breaker state %g", time.Since(healStart).Round(time.Millisecond), state())
	if ok < 5 || state() != 0 {
		t.Errorf("after healing: %d successes, breaker state %g; want 5 and 0 (closed)", ok, state())
	}
}

// 4. Malformed JSON and a wrong schema: upstream_error with a log line
// naming the upstream, never a panic; an optional source degrades.
func TestFaultBadPayloads(t *testing.T) {
	s := newStack(t, nil)
	cases := []struct {
		name, faults string
		status       int
		upstream     string
		cause        string
	}{
		{"video malformed JSON", `{"video":{"malformed_rate":1}}`, 502, "video", "bad JSON"},
		{"video wrong schema", `{"video":{"wrong_schema_rate":1}}`, 502, "video", "schema"},
		{"album malformed JSON", `{"video":{},"album":{"malformed_rate":1}}`, 502, "album", "bad JSON"},
		{"album wrong schema", `{"album":{"wrong_schema_rate":1}}`, 502, "album", "schema"},
		{"stars wrong schema degrades", `{"album":{},"star":{"wrong_schema_rate":1}}`, 200, "star", ""},
		{"stars malformed degrades", `{"star":{"malformed_rate":1}}`, 200, "star", ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			post(t, s.Mock+"/_mock/faults", tc.faults)
			r := get(t, fmt.Sprintf("%s/api/video/%d", s.Server, 100+i))
			if r.Status != tc.status {
				t.Fatalf("status %d body %s; want %d", r.Status, r.Body, tc.status)
			}
			if tc.status == 200 {
				if !strings.HasSuffix(string(r.Body), degradedStars) {
					t.Errorf("body %s; want stars degraded", r.Body)
				}
				return
			}
			env := r.JSON(t)
			if env["error"] != "upstream_error" || env["msg"] != "upstream "+tc.upstream+" failed" {
				t.Errorf("envelope %s; want upstream_error naming %s", r.Body, tc.upstream)
			}
			id := r.Header.Get("X-Request-Id")
			deadline := time.Now().Add(2 * time.Second)
			var line string
			for line == "" && time.Now().Before(deadline) {
				for _, l := range strings.Split(s.ServerProc.Output(), "\n") {
					if strings.Contains(l, id) && strings.Contains(l, `"error"`) {
						line = l
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !strings.Contains(line, "upstream "+tc.upstream) || !strings.Contains(line, tc.cause) {
				t.Errorf("log line %q; want one naming upstream %s and %q", line, tc.upstream, tc.cause)
			}
			t.Logf("%s: %d %s; log: %s", tc.name, r.Status, r.Body, line)
		})
	}
	post(t, s.Mock+"/_mock/faults", `{"star":{}}`)
	if out := s.ServerProc.Output(); strings.Contains(out, "panic") {
		t.Errorf("server panicked:\n%s", tail(out, 20))
	}
}

// 5. Overload: more concurrent clients than routes.video_detail.max_in_flight
// get 503 with Retry-After at once; nothing times out and the accepted
// requests keep their latency.
func TestFaultOverload(t *testing.T) {
	s := newStack(t, []string{}, "WINGS_ROUTES__VIDEO_DETAIL__MAX_IN_FLIGHT=4")
	post(t, s.Mock+"/_mock/faults", `{"video":{"latency":"60ms"}}`)
	base := load(12, 1, videoURL(s.Server)) // one client: the unloaded latency
	// 32 clients for 1.5s (at most 40 requests each); a shed client waits
	// 50ms before its next request.
	var mu sync.Mutex
	var ss []sample
	var wg sync.WaitGroup
	start := time.Now()
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40 && time.Since(start) < 1500*time.Millisecond; i++ {
				x := hit(videoURL(s.Server)(1000 + w*100 + i))
				mu.Lock()
				ss = append(ss, x)
				mu.Unlock()
				if x.status == 503 {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	var accepted, shed, other int
	for _, x := range ss {
		switch {
		case x.err == nil && x.status == 200:
			accepted++
		case x.err == nil && x.status == 503:
			shed++
			if x.header.Get("Retry-After") == "" || !strings.Contains(x.body, `"error":"unavailable"`) {
				t.Errorf("503 without Retry-After or unavailable: %v %s", x.header, x.body)
			}
		default:
			other++
			if other <= 3 {
				t.Errorf("got %d %v %s; want 200 or 503", x.status, x.err, x.body)
			}
		}
	}
	is := func(code int) func(sample) bool {
		return func(x sample) bool { return x.err == nil && x.status == code }
	}
	baseP99, accP50, accP99, shedP99 := pct(base, 99, nil), pct(ss, 50, is(200)), pct(ss, 99, is(200)), pct(ss, 99, is(503))
	t.Logf("overload (32 clients, max_in_flight 4): %d requests: %d accepted, %d shed (503), %d other; unloaded p99 %s; accepted p50 %s p99 %s; shed p99 %s; wings_shed_total %g",
		len(ss), accepted, shed, other, baseP99, accP50, accP99, shedP99,
		metricValue(t, s.Server, "wings_shed_total", `reason="route_in_flight"`))
	if shed == 0 || accepted == 0 {
		t.Errorf("accepted %d, shed %d; want both", accepted, shed)
	}
	if accP99 > 3*baseP99+100*time.Millisecond {
		t.Errorf("accepted p99 %s vs unloaded p99 %s: latency collapsed", accP99, baseP99)
	}
	if shedP99 > 250*time.Millisecond {
		t.Errorf("shed p99 %s; a 503 must answer at once", shedP99)
	}
}

// 6. SIGTERM during a load run: every request the server accepted is
// answered 200; /readyz is 503 while draining.
func TestFaultSIGTERMDuringLoad(t *testing.T) {
	s := newStack(t, nil, "WINGS_SERVER__DRAIN_DELAY=1s")
	post(t, s.Mock+"/_mock/faults", `{"video":{"latency":"30ms"}}`)
	var ok, failed, refused atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				x := hit(fmt.Sprintf("%s/api/video/%d", s.Server, w*10000+i+1))
				switch {
				case x.err != nil && errors.Is(x.err, syscall.ECONNREFUSED):
					refused.Add(1) // the listener is closed: never accepted
					return
				case x.err != nil || x.status != 200:
					failed.Add(1)
					t.Errorf("accepted request failed: %d %v %s", x.status, x.err, x.body)
				default:
					ok.Add(1)
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond) // load is running
	before := ok.Load()
	s.ServerProc.Signal(syscall.SIGTERM)
	sigAt := time.Now()
	// The signal reaches the process asynchronously: /readyz must turn 503
	// within 300 ms of it and then never answer 200 again while draining.
	var ready503 int
	var turned time.Duration
	for time.Since(sigAt) < 800*time.Millisecond {
		r := hit(s.Server + "/readyz")
		switch {
		case r.err == nil && r.status == 503:
			if ready503 == 0 {
				turned = time.Since(sigAt)
			}
			ready503++
		case r.err == nil && ready503 > 0:
			t.Errorf("/readyz during drain, after it had turned 503: %d %s; want 503", r.status, r.body)
		case r.err == nil && time.Since(sigAt) > 300*time.Millisecond:
			t.Errorf("/readyz %s after SIGTERM: %d %s; want 503 by now", time.Since(sigAt).Round(time.Millisecond), r.status, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ready503 == 0 {
		t.Error("/readyz never answered 503 during the drain")
	}
	exited := s.ServerProc.Wait(10 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("SIGTERM under load: %d ok before the signal, %d ok in total, %d failed, %d clients saw the closed listener; /readyz 503 %d times during the drain (first %s after the signal); exited %v after %s",
		before, ok.Load(), failed.Load(), refused.Load(), ready503, turned.Round(time.Millisecond), exited, time.Since(sigAt).Round(time.Millisecond))
	if failed.Load() != 0 {
		t.Errorf("%d accepted requests failed", failed.Load())
	}
	if ready503 == 0 {
		t.Error("/readyz never answered 503 while draining")
	}
	if ok.Load() <= before {
		t.Error("no request was served during the drain delay")
	}
	if !exited {
		t.Error("server did not exit after SIGTERM")
	}
}
