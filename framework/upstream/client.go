// Package upstream is the base every dao uses to call an upstream team's
// HTTP API: one resty client per named upstream, with its own timeout,
// keep-alive pool and headers (GetJSON sends its GETs through that
// client's *http.Client directly; R gives resty's request building for
// other calls); JSON decoding; every failure classified into
// an apperr kind; per-upstream metrics; the request id propagated; and the
// resilience of each call: a timeout within the caller's budget, bounded
// jittered retries, a circuit breaker and coalescing of identical GETs.
package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/internal/jsonscan"
	"github.com/wings-bff/wings/framework/logging"
	"github.com/wings-bff/wings/framework/metrics"
)

// Outcomes label wings_upstream_requests_total.
const (
	OutcomeOK        = "ok"
	OutcomeTimeout   = "timeout"
	OutcomeRefused   = "refused"
	OutcomeBadStatus = "bad_status"
	OutcomeBadJSON   = "bad_json"
	OutcomeNotFound  = "not_found"
	OutcomeCanceled  = "canceled"
	OutcomeError     = "error"
	// OutcomeBreakerOpen is a call refused by the open circuit breaker
	// without reaching the upstream.
	OutcomeBreakerOpen = "breaker_open"
)

// RequestIDHeader carries the request id to upstreams.
const RequestIDHeader = "X-Request-Id"

// restyUserAgent is the User-Agent resty sends by default.
const restyUserAgent = "go-resty/" + resty.Version + " (https://github.com/go-resty/resty)"

// ErrBreakerOpen is the cause of a call the circuit breaker refused.
var ErrBreakerOpen = errors.New("circuit breaker open")

// Breaker states as exported by wings_upstream_breaker_state.
const (
	BreakerClosed   = 0
	BreakerHalfOpen = 1
	BreakerOpen     = 2
)

// Client calls one named upstream. GETs are retried on connection errors,
// 5xx and timeouts within the caller's budget, guarded by a circuit breaker,
// and identical concurrent GETs share one call.
type Client struct {
	name     string
	tune     atomic.Pointer[Tuning] // replaced whole by SetTuning (hot reload)
	coalesce bool
	rc       *resty.Client
	hc       *http.Client // rc's
	header   http.Header  // rc's headers, sent on every GET
	m        *metrics.Registry
	brk      breaker // the circuit breaker; see breaker.go
	flights  coalescer
	plans    planCache // GetJSON's fast struct decoding; see decode.go
	base     string    // the base URL, without a trailing slash
	trace    *tracer   // nil: tracing off; see trace.go
	// The series every successful call touches, made at first use (as
	// WithLabelValues would) and then kept: the label lookup is not free.
	okRequests func() prometheus.Counter
	duration   func() prometheus.Observer
}

// New returns a client for the upstream name configured by cfg.
func New(name string, cfg config.Upstream, m *metrics.Registry, log *logrus.Logger) *Client {
	tr := &http.Transport{
		Proxy:               nil, // upstreams are internal; never route them through a proxy
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.MaxIdleConns,
		MaxIdleConnsPerHost: cfg.MaxIdleConns,
		IdleConnTimeout:     90 * time.Second,
	}
	entry := log.WithField("upstream", name)
	rc := resty.New().
		// resty's own default User-Agent, set on the client so that
		// GetJSON's GETs send it too (resty would add it per request). A
		// User-Agent in cfg.Headers still replaces it.
		SetHeader("User-Agent", restyUserAgent).
		SetTransport(tr).
		SetBaseURL(cfg.BaseURL).
		// No http.Client timeout: every call runs under a context deadline
		// of at most the current timeout (attempt), which also bounds
		// reading the body. A client timeout on top never fired first, yet
		// made net/http copy every request, and, fixed at start-up, it
		// would cut calls short after a hot reload raised the timeout.
		SetLogger(restyLogger{entry}).
		// No cookie jar: resty makes one by default, and a jar shared by every
		// request would replay one user's upstream cookies on another's calls.
		SetCookieJar(nil).
		SetHeaders(cfg.Headers)
	c := &Client{
		name: name, rc: rc, hc: rc.GetClient(), header: rc.Header.Clone(), m: m, coalesce: cfg.Coalesce, base: rc.BaseURL,
		okRequests: sync.OnceValue(func() prometheus.Counter {
			return m.UpstreamRequests.WithLabelValues(name, OutcomeOK)
		}),
		duration: sync.OnceValue(func() prometheus.Observer {
			return m.UpstreamDuration.WithLabelValues(name)
		}),
	}
	c.tune.Store(&Tuning{Timeout: cfg.Timeout, Retries: cfg.Retries, Backoff: cfg.RetryBackoff})
	c.brk.log = entry
	c.SetBreaker(cfg.Breaker)
	return c
}

func newBreaker(name string, b config.Breaker, log *logrus.Entry) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	minReq := uint64(b.MinRequests)
	return gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: uint32(b.HalfOpenRequests),
		Interval:    b.Interval,
		Timeout:     b.OpenTimeout,
		ReadyToTrip: func(n gobreaker.Counts) bool {
			return uint64(n.Requests) >= minReq && float64(n.TotalFailures) >= b.FailureRatio*float64(n.Requests)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, errNotCounted) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			log.WithFields(logrus.Fields{"from": from.String(), "to": to.String()}).Warn("circuit breaker state changed")
		},
	})
}

// errNotCounted marks attempts the breaker ignores: the caller gave up, or
// the upstream rejected our request (4xx), which says nothing of its health.
var errNotCounted = errors.New("not counted by the breaker")

// Name returns the upstream's configured name.
func (c *Client) Name() string { return c.name }

// Timeout returns the per-call timeout.
func (c *Client) Timeout() time.Duration { return c.tune.Load().Timeout }

// Tuning is the part of an upstream's config that can change while the
// process runs: upstreams.<name>.timeout, retries and retry_backoff.
type Tuning struct {
	Timeout time.Duration
	Retries int
	Backoff time.Duration
}

// SetTuning replaces the timeout, retries and backoff for calls that start
// from now on (config hot reload); calls in flight keep theirs.
func (c *Client) SetTuning(t Tuning) { c.tune.Store(&t) }

// BaseURL returns the configured base URL.
func (c *Client) BaseURL() string { return c.rc.BaseURL }

// BreakerState returns BreakerClosed, BreakerHalfOpen or BreakerOpen
// (BreakerClosed when the breaker is disabled).
func (c *Client) BreakerState() int {
	cb := c.brk.cb.Load()
	if cb == nil {
		return BreakerClosed
	}
	switch cb.State() {
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	case gobreaker.StateOpen:
		return BreakerOpen
	}
	return BreakerClosed
}

// GetJSON calls GET path?query and decodes a 2xx JSON body into out. Errors
// are *apperr.Error: KindUpstreamTimeout for deadlines, KindNotFound for a
// 404, KindUpstream for everything else (refused, other non-2xx, bad JSON,
// an open circuit breaker).
//
// Each attempt gets min(upstreams.<name>.timeout, what is left of ctx's
// deadline). Failed attempts (connection errors, 5xx, timeouts) are retried
// up to upstreams.<name>.retries times after a jittered exponential backoff,
// and only while at least half an attempt's timeout remains after it.
// Identical concurrent calls (same path and query) share one request when
// upstreams.<name>.coalesce is on; each caller decodes its own copy.
func (c *Client) GetJSON(ctx context.Context, path string, query url.Values, out any) error {
	body, sole, err := c.get(ctx, path, query)
	if err != nil || out == nil {
		return err
	}
	// A body only this caller holds can back its RawMessages directly.
	if ok, err := decodeFast(&c.plans, body, out, sole); ok {
		if err != nil {
			return apperr.Upstream(c.name, fmt.Errorf("GET %s: schema: %w", path, err))
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // ids beyond 2^53 survive decoding into map[string]any
	if err := dec.Decode(out); err != nil {
		// The body is valid JSON (checked once per call): the shape is wrong.
		return apperr.Upstream(c.name, fmt.Errorf("GET %s: schema: %w", path, err))
	}
	return nil
}

// get returns the body of a 2xx JSON answer, sharing the call with
// identical concurrent ones (see coalescer): the first caller makes it
// under its own context; if that caller goes away first, a caller still
// waiting makes it again, so one client going away does not fail the
// others; every caller stops waiting at its own deadline.
func (c *Client) get(ctx context.Context, path string, query url.Values) (body []byte, sole bool, err error) {
	u := c.url(path, query)
	if !c.coalesce {
		body, err := c.fetch(ctx, path, u)
		return body, true, err
	}
	body, shared, sole, err := c.flights.do(ctx, u, func(ctx context.Context) ([]byte, error) {
		return c.fetch(ctx, path, u)
	})
	if shared {
		c.m.UpstreamCoalesced.WithLabelValues(c.name).Inc()
		if c.trace != nil && trace.SpanFromContext(ctx).IsRecording() {
			c.markCoalesced(ctx, path, err)
		}
	}
	// When this caller stopped waiting, err is ctx.Err() itself.
	if err == nil || err != ctx.Err() {
		return body, sole, err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, false, apperr.Upstream(c.name, fmt.Errorf("GET %s: %w", path, ctx.Err()))
	}
	return nil, false, apperr.Upstream(c.name, fmt.Errorf("GET %s: canceled: %w", path, ctx.Err()))
}

// fetch makes the call with retries.
func (c *Client) fetch(ctx context.Context, path, u string) ([]byte, error) {
	t := c.tune.Load()
	for attempt := 0; ; attempt++ {
		body, retryable, err := c.attempt(ctx, path, u, t.Timeout, attempt)
		if err == nil || !retryable || attempt >= t.Retries || ctx.Err() != nil {
			return body, err
		}
		delay := backoffDelay(t.Backoff, attempt)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl)-delay < t.Timeout/2 {
			return body, err // not enough budget left for a useful retry
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return body, err
		case <-t.C:
		}
		c.m.UpstreamRetries.WithLabelValues(c.name).Inc()
	}
}

// backoffDelay is base * 2^attempt, jittered to between half and all of it.
func backoffDelay(backoff time.Duration, attempt int) time.Duration {
	d := backoff << attempt
	if d <= 0 {
		return 0
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// attempt makes one request through the breaker and reports whether its
// failure is worth retrying.
func (c *Client) attempt(ctx context.Context, path, u string, timeout time.Duration, n int) (_ []byte, _ bool, err error) {
	var outcome string
	var status int
	var sc trace.SpanContext // what the upstream is told of the trace
	if c.trace != nil {
		parent := trace.SpanFromContext(ctx)
		sc = parent.SpanContext()
		if parent.IsRecording() { // an unsampled request gets no child spans
			pctx := ctx
			var span attemptSpan
			ctx, span = c.startAttempt(ctx, path, n)
			sc = span.span.SpanContext()
			defer func() { c.endAttempt(pctx, span, status, outcome, err) }()
		}
	}
	var done func(error)
	if cb := c.brk.cb.Load(); cb != nil {
		d, err := cb.Allow()
		if err != nil { // open, or half-open with its probes taken
			c.m.UpstreamRequests.WithLabelValues(c.name, OutcomeBreakerOpen).Inc()
			outcome = OutcomeBreakerOpen
			return nil, false, &apperr.Error{
				Kind: apperr.KindUpstream, Upstream: c.name,
				Message: "upstream " + c.name + " unavailable: circuit breaker open",
				Err:     fmt.Errorf("GET %s: %w: %w", path, ErrBreakerOpen, err),
			}
		}
		done = d
	}
	// The attempt's deadline is min(timeout, what is left); when what is
	// left is shorter, ctx already says so and another timer would be waste.
	actx := ctx
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > timeout {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	status, body, err := c.do(actx, u, sc)
	c.duration().Observe(time.Since(start).Seconds())
	outcome, body, err = c.classify(actx, path, status, body, err)
	if outcome == OutcomeOK {
		c.okRequests().Inc()
	} else {
		c.m.UpstreamRequests.WithLabelValues(c.name, outcome).Inc()
	}
	var retryable bool
	var breakerErr error
	switch outcome {
	case OutcomeOK, OutcomeNotFound:
	case OutcomeCanceled:
		breakerErr = errNotCounted
	case OutcomeBadStatus:
		retryable = status >= 500
		breakerErr = errNotCounted
		if retryable {
			breakerErr = err
		}
	case OutcomeBadJSON:
		breakerErr = err
	default: // timeout, refused, connection errors
		retryable, breakerErr = true, err
	}
	if done != nil {
		done(breakerErr)
	}
	return body, retryable, err
}

// MaxBodyBytes bounds an upstream answer; a larger one is an upstream
// error, never an out-of-memory.
const MaxBodyBytes = 32 << 20

// do sends one GET and returns the status and whole body. It goes through
// the resty client's own *http.Client (its transport, no cookie jar, its
// redirect policy) with the resty client's headers, but not through
// resty's request pipeline, which costs a Request object, a second URL
// parse, two header copies and a context copy per call for nothing GetJSON
// uses (docs/benchmarks.md has the profile) — it builds the
// absolute URL, reads the body and classifies the answer itself (README,
// Benchmarks). Calls that need resty's request building use R.
func (c *Client) do(ctx context.Context, u string, sc trace.SpanContext) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	id := logging.RequestID(ctx)
	h := make(http.Header, len(c.header)+1)
	for k, v := range c.header {
		h[k] = v // shared, never written: net/http only reads them
	}
	if id != "" {
		h[RequestIDHeader] = []string{id} // the key is canonical already
	}
	c.inject(ctx, sc, h)
	req.Header = h
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := readBody(resp.Body, resp.ContentLength)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, body, nil
}

// R returns a resty request on this upstream's client for calls GetJSON
// does not cover (other methods, bodies, forms, uploads): it carries ctx
// and the request id, and the client's base URL, headers and transport.
// Such a call is not retried, coalesced, classified or counted: wrap it
// as the dao needs.
func (c *Client) R(ctx context.Context) *resty.Request {
	r := c.rc.R().SetContext(ctx)
	if id := logging.RequestID(ctx); id != "" {
		r.SetHeader(RequestIDHeader, id)
	}
	if c.trace != nil { // tracing off: no context lookup
		c.inject(ctx, trace.SpanContextFromContext(ctx), r.Header)
	}
	return r
}

// errBodyTooLarge is an answer beyond MaxBodyBytes.
var errBodyTooLarge = fmt.Errorf("response body larger than %d bytes", MaxBodyBytes)

// readBody reads a whole body of the given Content-Length (-1: unknown),
// up to MaxBodyBytes.
func readBody(r io.Reader, length int64) ([]byte, error) {
	if length > MaxBodyBytes {
		return nil, errBodyTooLarge
	}
	if length >= 0 {
		b := make([]byte, length)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxBodyBytes {
		return nil, errBodyTooLarge
	}
	return b, nil
}

// url is the absolute URL of path?query, built in one allocation.
//
// The query is written as query.Encode() would write it; a query of one
// key (a dao's usual "id=42") is written straight into the URL, without
// Encode's sorted key list and intermediate string.
func (c *Client) url(path string, query url.Values) string {
	var b strings.Builder
	qs, oneKey := "", ""
	n := len(c.base) + len(path) + 2
	switch len(query) {
	case 0:
	case 1:
		for k, vs := range query {
			oneKey = k
			for _, v := range vs {
				n += len(k) + len(v) + 2
			}
		}
	default:
		qs = query.Encode()
		n += len(qs)
	}
	b.Grow(n)
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		b.WriteString(c.base)
		if !strings.HasPrefix(path, "/") {
			b.WriteByte('/')
		}
	}
	b.WriteString(path)
	sep := byte('?')
	if strings.Contains(path, "?") {
		sep = '&'
	}
	if qs != "" {
		b.WriteByte(sep)
		b.WriteString(qs)
	}
	if len(query) == 1 {
		k := url.QueryEscape(oneKey)
		for _, v := range query[oneKey] {
			b.WriteByte(sep)
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
			sep = '&'
		}
	}
	return b.String()
}

func (c *Client) classify(ctx context.Context, path string, status int, body []byte, err error) (outcome string, _ []byte, _ error) {
	if err != nil {
		switch {
		case errors.Is(err, context.Canceled) && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded):
			return OutcomeCanceled, nil, apperr.Upstream(c.name, fmt.Errorf("GET %s: canceled: %w", path, err))
		case apperr.IsTimeout(err):
			return OutcomeTimeout, nil, apperr.Upstream(c.name, fmt.Errorf("GET %s: %w", path, err))
		case errors.Is(err, syscall.ECONNREFUSED):
			return OutcomeRefused, nil, apperr.Upstream(c.name, fmt.Errorf("GET %s: connection refused: %w", path, err))
		default:
			return OutcomeError, nil, apperr.Upstream(c.name, fmt.Errorf("GET %s: %w", path, err))
		}
	}
	switch {
	case status == http.StatusNotFound:
		e := apperr.NotFound("not found")
		e.Upstream, e.Err = c.name, fmt.Errorf("GET %s: upstream %s answered 404", path, c.name)
		return OutcomeNotFound, nil, e
	case status < 200 || status > 299:
		return OutcomeBadStatus, nil, apperr.Upstream(c.name, fmt.Errorf("GET %s: status %d", path, status))
	}
	if !jsonscan.Valid(body) {
		return OutcomeBadJSON, nil, apperr.Upstream(c.name, fmt.Errorf("GET %s: bad JSON: %d bytes that do not parse", path, len(body)))
	}
	return OutcomeOK, body, nil
}

// Schema reports that an upstream answered 2xx JSON that breaks its
// contract (a missing field, an unknown status code). Daos call it after
// checking the decoded body.
func Schema(name, format string, args ...any) error {
	return apperr.Upstream(name, fmt.Errorf("schema: "+format, args...))
}

type restyLogger struct{ e *logrus.Entry }

func (l restyLogger) Errorf(format string, v ...any) { l.e.Errorf(format, v...) }
func (l restyLogger) Warnf(format string, v ...any)  { l.e.Warnf(format, v...) }
func (l restyLogger) Debugf(format string, v ...any) { l.e.Debugf(format, v...) }

// Close releases idle keep-alive connections.
func (c *Client) Close() { c.rc.GetClient().CloseIdleConnections() }
