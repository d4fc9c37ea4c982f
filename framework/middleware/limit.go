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
// (or a limit <= 0) admits everything.
type InFlight struct {
	limit int64
	cur   atomic.Int64
}

// NewInFlight returns a bound of limit concurrent requests; <= 0 means none.
func NewInFlight(limit int) *InFlight { return &InFlight{limit: int64(limit)} }

// Acquire takes a slot and reports whether one was free; a caller that got
// one must Release it.
func (l *InFlight) Acquire() bool {
	if l == nil || l.limit <= 0 {
		return true
	}
	if l.cur.Add(1) > l.limit {
		l.cur.Add(-1)
		return false
	}
	return true
}

// Release frees a slot taken by Acquire.
func (l *InFlight) Release() {
	if l == nil || l.limit <= 0 {
		return
	}
	l.cur.Add(-1)
}

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
			if !l.Acquire() {
				if onShed != nil {
					onShed(c)
				}
				return apperr.Unavailable("server busy: too many requests in flight (" + what + "), retry later")
			}
			defer l.Release()
			return next(c)
		}
	}
}

// RateLimit allows each client (by echo's RealIP) rps requests per second
// with bursts of burst, answering 429 rate_limited with Retry-After beyond
// that. Buckets of at most clients distinct clients are kept (least
// recently seen evicted). onLimit (may be nil) counts refusals.
func RateLimit(rps float64, burst, clients int, onLimit func(echo.Context)) echo.MiddlewareFunc {
	if burst <= 0 {
		burst = max(1, int(math.Ceil(rps)))
	}
	buckets, _ := lru.New[string, *rate.Limiter](max(clients, 1))
	retryAfter := strconv.Itoa(max(1, int(math.Ceil(1/rps))))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ip := c.RealIP()
			lim, ok := buckets.Get(ip)
			if !ok {
				lim = rate.NewLimiter(rate.Limit(rps), burst)
				if prev, found, _ := buckets.PeekOrAdd(ip, lim); found {
					lim = prev
				}
			}
			if !lim.Allow() {
				if onLimit != nil {
					onLimit(c)
				}
				c.Response().Header().Set("Retry-After", retryAfter)
				return apperr.New(apperr.KindRateLimited, "rate limit exceeded: at most "+
					strconv.FormatFloat(rps, 'g', -1, 64)+" requests per second per client")
			}
			return next(c)
		}
	}
}
