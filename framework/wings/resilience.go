package wings

import (
	"context"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/fanout"
	"github.com/wings-bff/wings/framework/logging"
	"github.com/wings-bff/wings/framework/metrics"
	"github.com/wings-bff/wings/framework/middleware"
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
type resilience struct {
	once   sync.Once
	server *middleware.InFlight // server.max_in_flight, shared by every app route
	mu     sync.Mutex
	stale  fanout.StaleStore
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
	shed := func(reason string) func(echo.Context) {
		c := m.Shed.WithLabelValues(route, reason)
		return func(echo.Context) { c.Inc() }
	}
	rc := rt.cfg.Routes[r.Name]
	var chain []echo.MiddlewareFunc
	if rc.RateLimit.RPS > 0 {
		chain = append(chain, middleware.RateLimit(rc.RateLimit.RPS, rc.RateLimit.Burst, rateLimitClients, shed(ShedRateLimit)))
	}
	if rc.MaxInFlight > 0 {
		chain = append(chain, middleware.Shed(middleware.NewInFlight(rc.MaxInFlight), "route", shed(ShedRouteInFlight)))
	}
	if rt.cfg.Server.MaxInFlight > 0 {
		chain = append(chain, middleware.Shed(rt.res().server, "server", shed(ShedServerInFlight)))
	}
	obs := routeObserver{m: m, route: route}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		h := func(c echo.Context) error {
			req := c.Request()
			c.SetRequest(req.WithContext(fanout.WithObserver(req.Context(), obs)))
			return next(c)
		}
		for i := len(chain) - 1; i >= 0; i-- {
			h = chain[i](h)
		}
		return h
	}
}

// routeObserver counts and logs a route's degraded and stale sources.
type routeObserver struct {
	m     *metrics.Registry
	route string
}

func (o routeObserver) Degraded(ctx context.Context, source string, err error) {
	o.m.Degraded.WithLabelValues(o.route, source).Inc()
	logging.FromContext(ctx).WithField("source", source).WithError(err).Warn("optional source degraded")
}

func (o routeObserver) Stale(ctx context.Context, source string, err error) {
	o.m.Stale.WithLabelValues(o.route, source).Inc()
	logging.FromContext(ctx).WithField("source", source).WithError(err).Warn("stale-ok source answered stale")
}
