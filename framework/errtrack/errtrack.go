// Package errtrack reports panics and internal errors to Sentry (or any
// service that takes Sentry envelopes) with the facts needed to find them
// again: route, request id, trace id, user id, release and environment.
//
// Reports never carry secrets: no request body, no query string, and of
// the request headers only those whose names say nothing of credentials
// (Authorization, Cookie, tokens, keys, secrets, passwords and sessions are
// replaced by "[Filtered]"). A storm cannot flood the service: the same
// error (kind, route, message) is sent once per sentry.dedup_window, and at
// most sentry.rate_per_minute reports leave per minute. Each decision is
// counted in wings_error_reports_total{result}: sent, deduplicated,
// rate_limited.
//
// A nil *Tracker (no sentry.dsn) reports nothing.
package errtrack

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wings-bff/wings/framework/config"
)

// Results label wings_error_reports_total.
const (
	ResultSent         = "sent"
	ResultDeduplicated = "deduplicated"
	ResultRateLimited  = "rate_limited"
)

// Options are the tracker's non-config inputs.
type Options struct {
	Release, Environment string
	// Metrics receives wings_error_reports_total; nil: not counted.
	Metrics prometheus.Registerer
	// Now is the clock of the dedup window and the rate limit (tests).
	Now func() time.Time
}

// Tracker sends error reports.
type Tracker struct {
	client *sentry.Client
	now    func() time.Time
	window time.Duration
	rate   int
	counts *prometheus.CounterVec

	mu       sync.Mutex
	seen     map[string]time.Time // dedup key -> when last sent
	minute   time.Time            // the rate limit's current minute
	inMinute int                  // reports sent in it
}

// New returns a tracker for cfg, or nil when no DSN is set.
func New(cfg config.Sentry, opts Options) (*Tracker, error) {
	dsn := cfg.DSN.Reveal()
	if dsn == "" {
		return nil, nil
	}
	client, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:              dsn,
		Release:          opts.Release,
		Environment:      opts.Environment,
		AttachStacktrace: false, // the stacks sent are the error's own
		MaxBreadcrumbs:   -1,
		BeforeSend: func(ev *sentry.Event, _ *sentry.EventHint) *sentry.Event {
			scrub(ev)
			return ev
		},
	})
	if err != nil {
		return nil, fmt.Errorf("sentry.dsn: %w", err) // the error names no part of the DSN
	}
	t := &Tracker{client: client, now: opts.Now, window: cfg.DedupWindow, rate: cfg.RatePerMinute, seen: map[string]time.Time{}}
	if t.now == nil {
		t.now = time.Now
	}
	if t.window <= 0 {
		t.window = time.Minute
	}
	if t.rate <= 0 {
		t.rate = 60
	}
	t.counts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "wings", Name: "error_reports_total",
		Help: "Panics and internal errors seen by error tracking, by result (sent, deduplicated, rate_limited).",
	}, []string{"result"})
	if opts.Metrics != nil {
		opts.Metrics.MustRegister(t.counts)
	}
	return t, nil
}

// Report is one error to send.
type Report struct {
	// Err is the error; its message becomes the event's.
	Err error
	// Kind is the apperr kind ("internal") or "panic".
	Kind string
	// Stack is a panic's stack as runtime/debug.Stack prints it, or "".
	Stack                                     string
	Route, Method, RequestID, TraceID, UserID string
	// Header is the request's header; credentials are filtered out.
	Header http.Header
}

// Send reports r unless it repeats one sent within the dedup window or
// the minute's budget is spent. It does not wait for the network.
func (t *Tracker) Send(r Report) {
	if t == nil {
		return
	}
	msg := r.Err.Error()
	result := t.admit(r.Kind + "\x00" + r.Route + "\x00" + msg)
	t.counts.WithLabelValues(result).Inc()
	if result != ResultSent {
		return
	}
	ev := sentry.NewEvent()
	ev.Level = sentry.LevelError
	ev.Message = msg
	ev.Transaction = r.Method + " " + r.Route
	ev.Tags = map[string]string{"route": r.Route, "request_id": r.RequestID, "kind": r.Kind}
	if r.TraceID != "" {
		ev.Tags["trace_id"] = r.TraceID
		ev.Contexts["trace"] = sentry.Context{"trace_id": r.TraceID}
	}
	if r.UserID != "" {
		ev.User = sentry.User{ID: r.UserID}
	}
	exc := sentry.Exception{Type: r.Kind, Value: msg}
	if r.Stack != "" {
		exc.Stacktrace = parseStack(r.Stack)
	} else {
		exc.Stacktrace = sentry.NewStacktrace()
	}
	ev.Exception = []sentry.Exception{exc}
	if r.Header != nil {
		ev.Request = &sentry.Request{Method: r.Method, URL: r.Route, Headers: map[string]string{}}
		for k, v := range r.Header {
			ev.Request.Headers[k] = strings.Join(v, ", ")
		}
	}
	t.client.CaptureEvent(ev, nil, nil)
}

// admit decides whether the error with this key goes out now.
func (t *Tracker) admit(key string) string {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.seen[key]; ok && now.Sub(last) < t.window {
		return ResultDeduplicated
	}
	if m := now.Truncate(time.Minute); !m.Equal(t.minute) {
		t.minute, t.inMinute = m, 0
		for k, at := range t.seen { // forget what the window no longer covers
			if now.Sub(at) >= t.window {
				delete(t.seen, k)
			}
		}
	}
	if t.inMinute >= t.rate {
		return ResultRateLimited
	}
	t.inMinute++
	t.seen[key] = now
	return ResultSent
}

// Flush waits up to timeout for queued reports to leave.
func (t *Tracker) Flush(timeout time.Duration) bool {
	if t == nil {
		return true
	}
	return t.client.Flush(timeout)
}

// secretWords mark header names whose values are never sent.
var secretWords = []string{"auth", "cookie", "token", "secret", "key", "password", "passwd", "session", "signature", "credential"}

// scrub removes what may hold credentials from an event about to leave.
func scrub(ev *sentry.Event) {
	if ev.Request == nil {
		return
	}
	ev.Request.Cookies, ev.Request.QueryString, ev.Request.Data, ev.Request.Env = "", "", "", nil
	for k := range ev.Request.Headers {
		lk := strings.ToLower(k)
		for _, w := range secretWords {
			if strings.Contains(lk, w) {
				ev.Request.Headers[k] = "[Filtered]"
				break
			}
		}
	}
}

// parseStack turns a runtime/debug.Stack text into Sentry frames, the
// outermost call first as Sentry expects.
func parseStack(s string) *sentry.Stacktrace {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	var frames []sentry.Frame
	for i := 1; i+1 < len(lines); i += 2 { // line 0: "goroutine N [running]:"
		fn, loc := strings.TrimSpace(lines[i]), strings.TrimSpace(lines[i+1])
		if p := strings.LastIndexByte(fn, '('); p > 0 {
			fn = fn[:p]
		}
		if p := strings.LastIndex(loc, " +0x"); p > 0 {
			loc = loc[:p]
		}
		file, line := loc, 0
		if p := strings.LastIndexByte(loc, ':'); p > 0 {
			file = loc[:p]
			line, _ = strconv.Atoi(loc[p+1:])
		}
		pkg, name := fn, fn
		if p := strings.LastIndexByte(fn, '/'); p >= 0 {
			if d := strings.IndexByte(fn[p:], '.'); d > 0 {
				pkg, name = fn[:p+d], fn[p+d+1:]
			}
		} else if d := strings.IndexByte(fn, '.'); d > 0 {
			pkg, name = fn[:d], fn[d+1:]
		}
		frames = append(frames, sentry.Frame{Function: name, Module: pkg, AbsPath: file, Lineno: line,
			InApp: !strings.HasPrefix(pkg, "runtime") && !strings.Contains(file, "/pkg/mod/")})
	}
	for i, j := 0, len(frames)-1; i < j; i, j = i+1, j-1 {
		frames[i], frames[j] = frames[j], frames[i]
	}
	return &sentry.Stacktrace{Frames: frames}
}
