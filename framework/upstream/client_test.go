package upstream

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/logging"
	"github.com/wings-bff/wings/framework/metrics"
)

// fake is an upstream whose answer the test sets per call.
type fake struct {
	calls  atomic.Int64
	handle func(n int64, w http.ResponseWriter, r *http.Request)
	srv    *httptest.Server
}

func newFake(t *testing.T, h func(n int64, w http.ResponseWriter, r *http.Request)) *fake {
	f := &fake{handle: h}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.handle(f.calls.Add(1), w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func okJSON(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":0,"result":{"id":1}}`))
}

func newClient(t *testing.T, base string, mod func(*config.Upstream)) (*Client, *metrics.Registry) {
	t.Helper()
	cfg := config.Upstream{BaseURL: base, Timeout: time.Second, MaxIdleConns: 8, RetryBackoff: time.Millisecond, Coalesce: true}
	if mod != nil {
		mod(&cfg)
	}
	m := metrics.New("test", "")
	return New("team", cfg, m, logging.Discard()), m
}

func kindOf(err error) string { return apperr.KindOf(err).String() }

func TestRetries(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		retries     int
		failFirst   int64 // answers 5xx for the first n calls
		status      int   // the failing status
		wantCalls   int64
		wantErrKind string // "" for success
	}{
		{"5xx retried until success", 2, 2, 500, 3, ""},
		{"retries are bounded", 2, 10, 503, 3, "upstream_error"},
		{"no retries configured", 0, 1, 500, 1, "upstream_error"},
		{"404 is never retried", 2, 10, 404, 1, "not_found"},
		{"other 4xx is never retried", 2, 10, 400, 1, "upstream_error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(n int64, w http.ResponseWriter, _ *http.Request) {
				if n <= tc.failFirst {
					w.WriteHeader(tc.status)
					return
				}
				okJSON(w)
			})
			c, m := newClient(t, f.srv.URL, func(u *config.Upstream) { u.Retries = tc.retries })
			var out map[string]any
			err := c.GetJSON(context.Background(), "/x", nil, &out)
			if got := kindOf(err); (err == nil) != (tc.wantErrKind == "") || (err != nil && got != tc.wantErrKind) {
				t.Fatalf("err = %v (%s); want kind %q", err, got, tc.wantErrKind)
			}
			if got := f.calls.Load(); got != tc.wantCalls {
				t.Errorf("upstream calls = %d; want %d", got, tc.wantCalls)
			}
			if got := testutil.ToFloat64(m.UpstreamRetries.WithLabelValues("team")); got != float64(tc.wantCalls-1) {
				t.Errorf("wings_upstream_retries_total = %g; want %d", got, tc.wantCalls-1)
			}
		})
	}
}

func TestRetryOnRefused(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(int64, http.ResponseWriter, *http.Request) {})
	url := f.srv.URL
	f.srv.Close() // nobody listens there now
	c, m := newClient(t, url, func(u *config.Upstream) { u.Retries = 2 })
	err := c.GetJSON(context.Background(), "/x", nil, nil)
	if kindOf(err) != "upstream_error" {
		t.Fatalf("err = %v; want upstream_error", err)
	}
	if got := testutil.ToFloat64(m.UpstreamRequests.WithLabelValues("team", OutcomeRefused)); got != 3 {
		t.Errorf("refused attempts = %g; want 3", got)
	}
}

// TestRetryNeverBeyondBudget: with less budget left than the backoff plus
// half an attempt, the failure is returned at once.
func TestRetryNeverBeyondBudget(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
	c, m := newClient(t, f.srv.URL, func(u *config.Upstream) {
		u.Retries, u.RetryBackoff = 3, 10*time.Second
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.GetJSON(ctx, "/x", nil, nil); kindOf(err) != "upstream_error" {
		t.Fatalf("err = %v", err)
	}
	if f.calls.Load() != 1 || testutil.ToFloat64(m.UpstreamRetries.WithLabelValues("team")) != 0 {
		t.Errorf("calls = %d; want 1 (no retry past the deadline)", f.calls.Load())
	}
}

func TestTimeoutIsMinOfUpstreamAndBudget(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	f := newFake(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	c, _ := newClient(t, f.srv.URL, func(u *config.Upstream) { u.Timeout = time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := c.GetJSON(ctx, "/x", nil, nil)
	if kindOf(err) != "upstream_timeout" {
		t.Fatalf("err = %v; want upstream_timeout from the caller's budget", err)
	}
}

func TestBadJSON(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"code":"A00000","data":{"qipuId":`))
	})
	c, m := newClient(t, f.srv.URL, nil)
	err := c.GetJSON(context.Background(), "/x", nil, &map[string]any{})
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindUpstream || ae.Upstream != "team" {
		t.Fatalf("err = %v; want upstream_error naming team", err)
	}
	if got := testutil.ToFloat64(m.UpstreamRequests.WithLabelValues("team", OutcomeBadJSON)); got != 1 {
		t.Errorf("bad_json = %g; want 1", got)
	}
	// valid JSON of the wrong shape fails the caller's decoding
	f.handle = func(_ int64, w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`[1,2]`)) }
	if err := c.GetJSON(context.Background(), "/y", nil, &struct{ A int }{}); kindOf(err) != "upstream_error" {
		t.Errorf("wrong shape: err = %v; want upstream_error", err)
	}
}

func waitState(t *testing.T, c *Client, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.BreakerState() != want {
		if time.Now().After(deadline) {
			t.Fatalf("breaker state = %d; want %d", c.BreakerState(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBreaker(t *testing.T) {
	t.Parallel()
	var healthy atomic.Bool
	f := newFake(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(500)
			return
		}
		okJSON(w)
	})
	c, m := newClient(t, f.srv.URL, func(u *config.Upstream) {
		u.Breaker = config.Breaker{FailureRatio: 0.5, MinRequests: 4, Interval: time.Minute, OpenTimeout: 100 * time.Millisecond, HalfOpenRequests: 2}
	})
	ctx := context.Background()
	for i := 0; i < 4; i++ {
		_ = c.GetJSON(ctx, "/x", nil, nil)
	}
	if c.BreakerState() != BreakerOpen {
		t.Fatalf("after 4 failures state = %d; want open", c.BreakerState())
	}
	if got := testutil.ToFloat64(m.UpstreamRequests.WithLabelValues("team", OutcomeBadStatus)); got != 4 {
		t.Errorf("bad_status = %g", got)
	}
	// Open: fail fast without calling the upstream.
	before := f.calls.Load()
	err := c.GetJSON(ctx, "/x", nil, nil)
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindUpstream || !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("err = %v; want upstream_error with ErrBreakerOpen", err)
	}
	if ae.Message != "upstream team unavailable: circuit breaker open" {
		t.Errorf("message = %q", ae.Message)
	}
	if f.calls.Load() != before {
		t.Error("an open breaker let a call through")
	}
	if got := testutil.ToFloat64(m.UpstreamRequests.WithLabelValues("team", OutcomeBreakerOpen)); got != 1 {
		t.Errorf("breaker_open = %g; want 1", got)
	}
	// The upstream heals; after open_timeout the breaker half-opens, and
	// half_open_requests successes close it.
	healthy.Store(true)
	waitState(t, c, BreakerHalfOpen)
	for i := 0; i < 2; i++ {
		if err := c.GetJSON(ctx, "/x", nil, nil); err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
	}
	if c.BreakerState() != BreakerClosed {
		t.Errorf("after successful probes state = %d; want closed", c.BreakerState())
	}
}

func TestBreakerIgnoresNotFoundAndCancel(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(404)
	})
	c, _ := newClient(t, f.srv.URL, func(u *config.Upstream) {
		u.Coalesce = false
		u.Breaker = config.Breaker{FailureRatio: 0.5, MinRequests: 2, Interval: time.Minute, OpenTimeout: time.Minute, HalfOpenRequests: 1}
	})
	for i := 0; i < 5; i++ {
		if err := c.GetJSON(context.Background(), "/x", nil, nil); kindOf(err) != "not_found" {
			t.Fatalf("err = %v", err)
		}
	}
	for i := 0; i < 5; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(5*time.Millisecond, cancel)
		_ = c.GetJSON(ctx, "/slow", nil, nil)
	}
	if c.BreakerState() != BreakerClosed {
		t.Errorf("state = %d; 404s and client cancellations must not open the breaker", c.BreakerState())
	}
}

// heldFake is an upstream whose answers wait for release; each request
// signals arrived first.
func heldFake(t *testing.T) (f *fake, arrived, release chan struct{}) {
	arrived, release = make(chan struct{}, 16), make(chan struct{})
	f = newFake(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		arrived <- struct{}{}
		<-release
		okJSON(w)
	})
	return f, arrived, release
}

// TestCoalescing: identical concurrent GETs share one upstream call, each
// caller decodes its own copy, and one caller going away does not fail the
// others: the leader makes the call under its own context, so when it is
// cancelled one waiting follower takes the call over (a second upstream
// call) and the other followers share that one.
func TestCoalescing(t *testing.T) {
	t.Parallel()
	f, arrived, release := heldFake(t)
	c, m := newClient(t, f.srv.URL, nil)

	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() { leaderErr <- c.GetJSON(leaderCtx, "/album/1", nil, &map[string]any{}) }()
	<-arrived // the leader's call is in flight

	const followers = 8
	outs := make([]map[string]any, followers)
	errs := make([]error, followers)
	var wg sync.WaitGroup
	for i := range followers {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = c.GetJSON(context.Background(), "/album/1", nil, &outs[i]) }()
	}
	waitFollowers(t, &c.flights, followers) // every follower has joined the leader's call
	cancelLeader()
	if err := <-leaderErr; err == nil {
		t.Error("cancelled leader got no error")
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("follower %d: %v (one caller's cancellation failed the shared call)", i, err)
		}
	}
	if got := f.calls.Load(); got != 2 {
		t.Errorf("upstream calls = %d; want 2 (the cancelled leader's and the follower's that took over)", got)
	}
	if got := testutil.ToFloat64(m.UpstreamCoalesced.WithLabelValues("team")); got != followers-1 {
		t.Errorf("coalesced = %g; want %d", got, followers-1)
	}
	outs[0]["status"] = "changed"
	if outs[1]["status"] == "changed" {
		t.Error("callers share one decoded value")
	}
}

// Without a cancellation, concurrent identical GETs make exactly one call.
func TestCoalescingOneCall(t *testing.T) {
	t.Parallel()
	f, arrived, release := heldFake(t)
	c, m := newClient(t, f.srv.URL, nil)
	const callers = 10
	errs := make([]error, callers)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); errs[0] = c.GetJSON(context.Background(), "/album/1", nil, &map[string]any{}) }()
	<-arrived
	for i := 1; i < callers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = c.GetJSON(context.Background(), "/album/1", nil, &map[string]any{}) }()
	}
	waitFollowers(t, &c.flights, callers-1) // every follower has joined the call
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	if got := f.calls.Load(); got != 1 {
		t.Errorf("upstream calls = %d; want 1", got)
	}
	if got := testutil.ToFloat64(m.UpstreamCoalesced.WithLabelValues("team")); got != callers-1 {
		t.Errorf("coalesced = %g; want %d", got, callers-1)
	}
}

// A follower whose own deadline passes stops waiting with an upstream
// timeout error while the shared call goes on for the others.
func TestCoalescingFollowerDeadline(t *testing.T) {
	t.Parallel()
	f, arrived, release := heldFake(t)
	c, _ := newClient(t, f.srv.URL, nil)
	leaderErr := make(chan error, 1)
	go func() { leaderErr <- c.GetJSON(context.Background(), "/album/1", nil, &map[string]any{}) }()
	<-arrived
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.GetJSON(ctx, "/album/1", nil, &map[string]any{})
	if waited := time.Since(start); waited > 500*time.Millisecond {
		t.Errorf("follower waited %v past its 30ms deadline", waited)
	}
	if apperr.KindOf(err) != apperr.KindUpstreamTimeout {
		t.Errorf("follower error = %v (kind %s); want upstream_timeout", err, apperr.KindOf(err))
	}
	close(release)
	if err := <-leaderErr; err != nil {
		t.Errorf("leader: %v", err)
	}
}

// BenchmarkCoalescing compares identical concurrent GETs with and without
// coalescing against an upstream taking 1ms; upstream-calls/op is what
// coalescing saves.
func BenchmarkCoalescing(b *testing.B) {
	for _, coalesce := range []bool{false, true} {
		name := "off"
		if coalesce {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				calls.Add(1)
				time.Sleep(time.Millisecond)
				okJSON(w)
			}))
			defer srv.Close()
			cfg := config.Upstream{BaseURL: srv.URL, Timeout: time.Second, MaxIdleConns: 256, Coalesce: coalesce}
			c := New("team", cfg, metrics.New("b", ""), logging.Discard())
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var out map[string]any
				for pb.Next() {
					if err := c.GetJSON(context.Background(), "/album/1", nil, &out); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(calls.Load())/float64(b.N), "upstream-calls/op")
		})
	}
}

// url writes the query as url.Values.Encode does, whichever way it takes.
func TestURLQueryAsEncode(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, "http://up.example/api", nil)
	for _, tc := range []struct {
		path  string
		query url.Values
	}{
		{"/video/info", url.Values{"id": {"42"}}},
		{"/video/info", url.Values{"id": {"4 2&x=1"}}},
		{"/video/info", url.Values{"a b": {"1", "2"}}},
		{"/video/info", url.Values{"id": {}}},
		{"/video/info", url.Values{"": {"v"}}},
		{"/video/info", url.Values{"id": {"1"}, "b": {"2"}}},
		{"/video/info", nil},
		{"video/info?x=1", url.Values{"id": {"42"}}},
		{"http://other.example/p", url.Values{"id": {"é"}}},
	} {
		want := tc.path
		if !strings.HasPrefix(want, "http") {
			if !strings.HasPrefix(want, "/") {
				want = "/" + want
			}
			want = "http://up.example/api" + want
		}
		if qs := tc.query.Encode(); qs != "" {
			if strings.Contains(tc.path, "?") {
				want += "&" + qs
			} else {
				want += "?" + qs
			}
		}
		if got := c.url(tc.path, tc.query); got != want {
			t.Errorf("url(%q, %v) = %q; want %q", tc.path, tc.query, got, want)
		}
	}
}

// The per-call timeout alone bounds a call whose caller has no deadline,
// including one that hangs after its headers, mid-body.
func TestTimeoutWithoutCallerDeadline(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	f := newFake(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = w.Write([]byte(`{"a":`))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	c, _ := newClient(t, f.srv.URL, func(u *config.Upstream) { u.Timeout = 50 * time.Millisecond })
	start := time.Now()
	err := c.GetJSON(context.Background(), "/x", nil, nil)
	if kindOf(err) != "upstream_timeout" {
		t.Fatalf("err = %v; want upstream_timeout from the per-call timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v; want about the 50ms timeout (retry included)", d)
	}
}

// A timeout raised by hot reload applies in full: no client-wide timeout
// fixed at start-up cuts the call short.
func TestRaisedTimeoutApplies(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(1200 * time.Millisecond): // longer than the start-up timeout plus a second
		}
		okJSON(w)
	})
	c, _ := newClient(t, f.srv.URL, func(u *config.Upstream) { u.Timeout = 10 * time.Millisecond })
	c.SetTuning(Tuning{Timeout: 5 * time.Second})
	if err := c.GetJSON(context.Background(), "/x", nil, nil); err != nil {
		t.Fatalf("err = %v; want the answer within the raised 5s timeout", err)
	}
}

// waitFollowers waits until the one flight in g has n followers.
func waitFollowers(t *testing.T, g *coalescer, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.mu.Lock()
		got := 0
		for _, f := range g.flights {
			got += f.followers
		}
		g.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d followers joined the call; want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}
