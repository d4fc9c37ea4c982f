package middleware

import (
	"math"
	"strconv"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/wings-bff/wings/framework/apperr"
)

// InFlight bounds the number of requests being served. Its zero value
// (or a limit <= 0) admits everything. The limit can change while requests
// run (SetLimit, for config hot reload).
type InFlight struct {
	limit atomic.Int64
	cur   atomic.Int64
}

// NewInFlight returns a bound of limit concurrent requests; <= 0 means none.
func NewInFlight(limit int) *InFlight {
	l := &InFlight{}
	l.limit.Store(int64(limit))
	return l
}

// SetLimit changes the bound for requests that arrive from now on; <= 0
// removes it. Requests already admitted keep their slots.
func (l *InFlight) SetLimit(limit int) { l.limit.Store(int64(limit)) }

// Limit returns the bound in force (<= 0: none).
func (l *InFlight) Limit() int {
	if l == nil {
		return 0
	}
	return int(l.limit.Load())
}

// Enter takes a slot when a limit is in force. admitted is false when the
// bound is full; held reports that a slot was taken and must be given back
// with Release. Without a limit nothing is counted, so an unbounded
// InFlight costs one atomic load.
func (l *InFlight) Enter() (admitted, held bool) {
	if l == nil {
		return true, false
	}
	limit := l.limit.Load()
	if limit <= 0 {
		return true, false
	}
	if l.cur.Add(1) > limit {
		l.cur.Add(-1)
		return false, false
	}
	return true, true
}

// Release frees a slot taken by Enter (held true).
func (l *InFlight) Release() { l.cur.Add(-1) }

// Current is the number of slots taken.
func (l *InFlight) Current() int64 {
	if l == nil {
		return 0
	}
	return l.cur.Load()
}

// Shed answers 503 unavailable at once, before any work, when l is full, so
// latency of the admitted requests holds instead of collapsing for all.
// The error handler adds Retry-After. onShed (may be nil) counts it.
func Shed(l *InFlight, what string, onShed func(echo.Context)) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ok, held := l.Enter()
			if !ok {
				if onShed != nil {
					onShed(c)
				}
				return ShedError(what)
			}
			if held {
				defer l.Release()
			}
			return next(c)
		}
	}
}

// ShedError is the 503 unavailable answer of a full in-flight bound named
// what ("route", "server").
func ShedError(what string) error {
	return apperr.Unavailable("server busy: too many requests in flight (" + what + "), retry later")
}

// RateLimiter keeps a token bucket per client (by echo's RealIP). Its rate
// can change while it runs (SetRate, for config hot reload): each client's
// bucket starts afresh, full, at its next request after the change.
type RateLimiter struct {
	set     atomic.Pointer[rateSet]
	buckets *lru.Cache[string, *bucket]
}

// rateSet is one rate in force, with what its refusals say.
type rateSet struct {
	rps        float64
	burst      int
	retryAfter string
	message    string
}

type bucket struct {
	set *rateSet // the rate the limiter was made for
	lim *rate.Limiter
}

// NewRateLimiter allows each client rps requests per second with bursts of
// burst (0: max(1, rps)); rps <= 0 admits everything. Buckets of at most
// clients distinct clients are kept (least recently seen evicted).
func NewRateLimiter(rps float64, burst, clients int) *RateLimiter {
	buckets, _ := lru.New[string, *bucket](max(clients, 1))
	l := &RateLimiter{buckets: buckets}
	l.SetRate(rps, burst)
	return l
}

// SetRate changes the rate for requests from now on; rps <= 0 turns the
// limit off.
func (l *RateLimiter) SetRate(rps float64, burst int) {
	if rps <= 0 {
		l.set.Store(&rateSet{})
		return
	}
	if burst <= 0 {
		burst = max(1, int(math.Ceil(rps)))
	}
	l.set.Store(&rateSet{
		rps: rps, burst: burst,
		retryAfter: strconv.Itoa(max(1, int(math.Ceil(1/rps)))),
		message:    "rate limit exceeded: at most " + strconv.FormatFloat(rps, 'g', -1, 64) + " requests per second per client",
	})
}

// Rate returns the rate in force (rps 0: off) and its burst.
func (l *RateLimiter) Rate() (rps float64, burst int) {
	s := l.set.Load()
	return s.rps, s.burst
}

// Allow takes a token for c's client. Beyond the rate it sets Retry-After
// and returns a 429 rate_limited error; with the limit off it only loads
// the rate.
func (l *RateLimiter) Allow(c echo.Context) error {
	s := l.set.Load()
	if s.rps <= 0 {
		return nil
	}
	ip := c.RealIP()
	b, ok := l.buckets.Get(ip)
	if !ok || b.set != s {
		nb := &bucket{set: s, lim: rate.NewLimiter(rate.Limit(s.rps), s.burst)}
		if ok {
			l.buckets.Add(ip, nb) // the rate changed: start afresh
			b = nb
		} else if prev, found, _ := l.buckets.PeekOrAdd(ip, nb); found && prev.set == s {
			b = prev
		} else {
			b = nb
		}
	}
	if !b.lim.Allow() {
		c.Response().Header().Set("Retry-After", s.retryAfter)
		return apperr.New(apperr.KindRateLimited, s.message)
	}
	return nil
}

// RateLimit allows each client (by echo's RealIP) rps requests per second
// with bursts of burst, answering 429 rate_limited with Retry-After beyond
// that. Buckets of at most clients distinct clients are kept (least
// recently seen evicted). onLimit (may be nil) counts refusals.
func RateLimit(rps float64, burst, clients int, onLimit func(echo.Context)) echo.MiddlewareFunc {
	l := NewRateLimiter(rps, burst, clients)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := l.Allow(c); err != nil {
				if onLimit != nil {
					onLimit(c)
				}
				return err
			}
			return next(c)
		}
	}
}
