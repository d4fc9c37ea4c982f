package wings

import (
	"context"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/sirupsen/logrus"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/fanout"
	"github.com/wings-bff/wings/framework/logging"
	"github.com/wings-bff/wings/framework/metrics"
	"github.com/wings-bff/wings/framework/middleware"
	"github.com/wings-bff/wings/framework/recovery"
	"github.com/wings-bff/wings/framework/reqctx"
)

// rateLimitClients bounds the per-client token buckets kept per route.
const rateLimitClients = 10000

// Reasons label wings_shed_total.
const (
	ShedRouteInFlight  = "route_in_flight"
	ShedServerInFlight = "server_in_flight"
	ShedRateLimit      = "rate_limit"
)

// resilience is the Runtime's share of load shedding and stale answers.
// The bounds are built once per route and retuned in place by the config
// hot reload (setLimits), so requests read them with atomic loads only.
type resilience struct {
	once   sync.Once
	server *middleware.InFlight // server.max_in_flight, shared by every app route
	mu     sync.Mutex
	stale  fanout.StaleStore
	routes map[string]*routeLimits // by route name; guarded by mu
}

// routeLimits are one route's rate limit and in-flight bound.
type routeLimits struct {
	rate     *middleware.RateLimiter // routes.<name>.rate_limit
	inFlight *middleware.InFlight    // routes.<name>.max_in_flight
}

// limitsOf returns the bounds of the route named name, made from cfg the
// first time.
func (r *resilience) limitsOf(name string, rc config.Route) *routeLimits {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l, ok := r.routes[name]; ok {
		return l
	}
	if r.routes == nil {
		r.routes = map[string]*routeLimits{}
	}
	l := &routeLimits{
		rate:     middleware.NewRateLimiter(rc.RateLimit.RPS, rc.RateLimit.Burst, rateLimitClients),
		inFlight: middleware.NewInFlight(rc.MaxInFlight),
	}
	r.routes[name] = l
	return l
}

// setLimits applies next's server.max_in_flight and every registered
// route's rate_limit and max_in_flight to requests from now on.
func (rt *Runtime) setLimits(next *config.Config) {
	r := rt.res()
	r.server.SetLimit(next.Server.MaxInFlight)
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, l := range r.routes {
		rc := next.Routes[name]
		l.rate.SetRate(rc.RateLimit.RPS, rc.RateLimit.Burst)
		l.inFlight.SetLimit(rc.MaxInFlight)
	}
}

func (rt *Runtime) res() *resilience {
	rt.resil.once.Do(func() {
		rt.resil.server = middleware.NewInFlight(rt.cfg.Server.MaxInFlight)
	})
	return &rt.resil
}

// StaleStore returns where stale-ok fan-out calls keep their last good
// values: the store set by SetStaleStore, else a bounded in-process one.
func (rt *Runtime) StaleStore() fanout.StaleStore {
	r := rt.res()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stale == nil {
		r.stale = fanout.NewMemoryStore(fanout.DefaultStaleEntries)
	}
	return r.stale
}

// SetStaleStore replaces the stale store (for example with the shared
// cache); call it before the application is wired.
func (rt *Runtime) SetStaleStore(s fanout.StaleStore) {
	r := rt.res()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stale = s
}

// resilienceMiddleware is the route's rate limit (routes.<name>.rate_limit),
// its in-flight bound (routes.<name>.max_in_flight) and the server's
// (server.max_in_flight), checked in that order before any work, and the
// fan-out observer that counts degraded and stale sources.
func (rt *Runtime) resilienceMiddleware(r *Route) echo.MiddlewareFunc {
	m := rt.metrics
	route := r.Path
	// Series are made at the first refusal: a route without bounds (which
	// may get some by hot reload) exports none.
	shed := func(reason string) func(echo.Context) {
		return func(echo.Context) { m.Shed.WithLabelValues(route, reason).Inc() }
	}
	onRate, onRoute, onServer := shed(ShedRateLimit), shed(ShedRouteInFlight), shed(ShedServerInFlight)
	lim := rt.res().limitsOf(r.Name, rt.cfg.Routes[r.Name])
	server := rt.res().server
	// An interface value made once: converting per request would allocate.
	var obs fanout.Observer = &routeObserver{m: m, panics: rt.panics, route: route}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := lim.rate.Allow(c); err != nil {
				onRate(c)
				return err
			}
			ok, held := lim.inFlight.Enter()
			if !ok {
				onRoute(c)
				return middleware.ShedError("route")
			}
			if held {
				defer lim.inFlight.Release()
			}
			ok, held = server.Enter()
			if !ok {
				onServer(c)
				return middleware.ShedError("server")
			}
			if held {
				defer server.Release()
			}
			req := c.Request()
			if in := reqctx.From(req.Context()); in != nil {
				in.Observer = obs // the chain's own record: no context copy
				in.Pool = rt.calls
			} else {
				c.SetRequest(req.WithContext(fanout.WithObserver(req.Context(), obs)))
			}
			return next(c)
		}
	}
}

// routeObserver counts and logs a route's degraded and stale sources.
type routeObserver struct {
	m      *metrics.Registry
	panics *recovery.Reporter
	route  string
}

func (o routeObserver) Degraded(ctx context.Context, source string, err error) {
	o.m.Degraded.WithLabelValues(o.route, source).Inc()
	logging.FromContext(ctx).WithField("source", source).WithError(err).Warn("optional source degraded")
}

// Panicked logs a panicking fan-out call's stack and counts it as
// wings_panics_total{where="fanout"}.
func (o routeObserver) Panicked(ctx context.Context, source string, err error) {
	if p := recovery.From(err); p != nil {
		o.panics.ReportEntry(o.panics.Entry(ctx).WithFields(logrus.Fields{"route": o.route, "source": source}), "fanout", p)
	}
}

func (o routeObserver) Stale(ctx context.Context, source string, err error) {
	o.m.Stale.WithLabelValues(o.route, source).Inc()
	logging.FromContext(ctx).WithField("source", source).WithError(err).Warn("stale-ok source answered stale")
}
