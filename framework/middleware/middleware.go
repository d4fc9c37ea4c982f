// Package middleware holds the echo middleware Wings installs. The onion,
// outermost first:
//
//	request id → metrics → access log → recover → CORS → gzip → callback check
//	  → [per route: route info → shedding/rate limit → JSONP guard → auth
//	     → permission → route middleware → cache → deadline] → handler
//
// The route deadline is innermost so it bounds the handler and the cache's
// loads while a cache hit never arms its timer; auth providers and route
// middleware bound their own calls.
//
// The JSONP guard, auth (401) and permission (403) steps exist only on
// routes that declare a resource (wings.Route.Auth); they live in
// framework/wings/auth.go over framework/auth. Permission puts the resource
// in reqctx.WithScope before the response cache keys the answer.
//
// The access log renders a returned error through echo's HTTPErrorHandler
// (the one in framework/wings), so it and the metrics see the final status.
package middleware

import (
	"context"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/wings-bff/wings/framework/logging"
	"github.com/wings-bff/wings/framework/metrics"
	"github.com/wings-bff/wings/framework/recovery"
	"github.com/wings-bff/wings/framework/reqctx"
)

// Context keys shared with framework/wings.
const (
	// KeyErrorKind holds the apperr.Kind name of a failed request.
	KeyErrorKind = "wings.error_kind"
	// KeyErrorCause holds the error of a 5xx for the access log.
	KeyErrorCause = "wings.error_cause"
	// HeaderRequestID carries the request id in and out.
	HeaderRequestID = echo.HeaderXRequestID
	// KeyStatus holds the status of an answer sent with another one: a
	// JSONP failure goes out as 200 (a browser runs no script fetched with
	// an error status) and carries its status in the envelope's code.
	KeyStatus = "wings.status"
)

// Status is the request's status as metrics and logs count it: the
// answer's real status (KeyStatus) when it was sent as another one.
func Status(c echo.Context) int {
	if s, ok := c.Get(KeyStatus).(int); ok {
		return s
	}
	return c.Response().Status
}

// RequestID accepts a well-formed incoming X-Request-Id or makes one, puts
// it in the response header and starts the request record (reqctx.Info)
// in the request context: the one context derivation of the global chain.
func RequestID(gen func() string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			ctx, _ := reqctx.Begin(req.Context(), requestID(c, gen))
			c.SetRequest(req.WithContext(ctx))
			return next(c)
		}
	}
}

// requestID is the request's id, the caller's X-Request-Id when valid or
// else a new one, and sets it on the response.
func requestID(c echo.Context, gen func() string) string {
	id := c.Request().Header.Get(HeaderRequestID)
	if !validRequestID(id) {
		id = gen()
	}
	c.Response().Header().Set(HeaderRequestID, id)
	return id
}

// validRequestID accepts 1 to 128 visible ASCII characters without quotes
// or backslashes, so ids can be logged and echoed safely.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Route returns the bounded route label: the template, or "unmatched".
func Route(c echo.Context) string {
	p := c.Path()
	if p == "" || c.Get(KeyUnmatched) != nil {
		return "unmatched"
	}
	return p
}

// KeyUnmatched marks requests that matched no route (set by the not-found
// handler), so metrics never label by raw path.
const KeyUnmatched = "wings.unmatched"

// Metrics records wings_http_requests_total, the latency histogram (with
// the trace id of a sampled request as exemplar, at most one per series
// every exemplarEvery) and, for
// failures, wings_http_errors_total by error kind.
func Metrics(m *metrics.Registry) echo.MiddlewareFunc {
	var series metrics.Series[seriesKey, routeSeries]
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			m.HTTPInFlight.Inc()
			err := next(c)
			m.HTTPInFlight.Dec()
			if err != nil { // only when no access log ran before us
				c.Error(err)
			}
			route, method := Route(c), sanitizeMethod(c.Request().Method)
			status := Status(c)
			k := seriesKey{route, method, status}
			s, ok := series.Load(k)
			if !ok {
				s = series.Store(k, routeSeries{
					requests: m.HTTPRequests.WithLabelValues(route, method, strconv.Itoa(status)),
					duration: m.HTTPDuration.WithLabelValues(route, method),
					exemplar: &exemplarGate{},
				})
			}
			s.requests.Inc()
			end := time.Now()
			observe(c, s.duration, s.exemplar, end.Sub(start).Seconds(), end.UnixNano())
			if kind, ok := c.Get(KeyErrorKind).(string); ok {
				m.HTTPErrors.WithLabelValues(route, kind).Inc()
			}
			return nil
		}
	}
}

// seriesKey and routeSeries: the HTTP metrics' child series of one
// (route template, method, status), kept once made (metrics.Series).
type seriesKey struct {
	route, method string
	status        int
}

type routeSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
	exemplar *exemplarGate
}

func sanitizeMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// AccessLog writes one JSON line per request: request_id, method, route,
// status, latency_ms, bytes, error_kind (and user_id when authenticated,
// error for 5xx). It renders errors through the HTTP error handler first.
func AccessLog(log *logrus.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			req := c.Request()
			id := logging.RequestID(req.Context())
			// Handlers log through logging.FromContext: through the request
			// record when RequestID made one (no entry is built unless
			// something is logged), else through an entry put here.
			if in := reqctx.From(req.Context()); in != nil {
				in.Log = log
			} else {
				req = req.WithContext(logging.WithEntry(req.Context(), log.WithField("request_id", id)))
				c.SetRequest(req)
			}
			if err := next(c); err != nil {
				c.Error(err)
			}
			level := logrus.InfoLevel
			cause, failed := c.Get(KeyErrorCause).(error)
			if failed {
				level = logrus.ErrorLevel
			}
			if !log.IsLevelEnabled(level) {
				return nil // the line would be dropped: do not build it
			}
			res := c.Response()
			fields := logrus.Fields{
				"request_id": id,
				"method":     req.Method,
				"route":      Route(c),
				"status":     Status(c),
				"latency_ms": float64(time.Since(start).Microseconds()) / 1000,
				"bytes":      res.Size,
			}
			if k, ok := c.Get(KeyErrorKind).(string); ok {
				fields["error_kind"] = k
			}
			if uid := logging.UserID(c.Request().Context()); uid != "" {
				fields["user_id"] = uid
			}
			if in := reqctx.From(req.Context()); in != nil && in.TraceID != "" {
				fields["trace_id"] = in.TraceID
			}
			if failed {
				fields["error"] = cause.Error()
			}
			log.WithFields(fields).Log(level, "request")
			return nil
		}
	}
}

// Recover turns a panic into an internal error; rep logs its stack (with
// the request id and route) and counts it under where="request".
func Recover(rep *recovery.Reporter) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				r := recover()
				if r == nil {
					return
				}
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = recovery.Error(r, debug.Stack())
				rep.ReportEntry(rep.Entry(c.Request().Context()).WithField("route", Route(c)), "request", recovery.From(err))
			}()
			return next(c)
		}
	}
}

// Deadline puts a deadline of d on the request context. Upstream calls
// inherit it, so no call outlives the route's budget.
func Deadline(d time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if d <= 0 {
				return next(c)
			}
			ctx, cancel := context.WithTimeout(c.Request().Context(), d)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}
