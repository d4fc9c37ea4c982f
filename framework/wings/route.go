package wings

import (
	"fmt"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/middleware"
	"github.com/wings-bff/wings/framework/reqctx"
)

// Route declares one application endpoint. The route table in app/router.go
// is a list of these, so tools (wings routes, the auth tests) can enumerate
// every route with its settings.
type Route struct {
	Method string
	Path   string // echo template: /api/video/:id
	// Name keys per-route config: routes.<name>.timeout overrides Timeout.
	Name    string
	Handler echo.HandlerFunc
	// Timeout is the route's deadline; zero means server.request_timeout.
	Timeout time.Duration
	// Raw answers data without the {"code":0,"data":...} envelope.
	Raw bool
	// Middleware runs inside the framework's, closest to the handler.
	Middleware []echo.MiddlewareFunc
	// Auth is the resource the route requires: a template over its path
	// parameters ("bizline:{biz}") or auth.LoginOnly. Non-empty means a
	// login is required (401 without one, 403 without the permission).
	Auth string
	// Query lists the query parameters the handler reads, each as
	// c.QueryParam reads it (the first value). The response cache keys on
	// these alone, and a cached handler sees only these: any other
	// parameter (a cache buster, a tracking tag) never makes a new entry.
	// JSONP callbacks and the fields filter are the framework's and need no
	// declaration (see CallbackParams and FieldsParam).
	Query []string
	// Page marks a route that serves a page to browsers: with Auth set and
	// auth.login_url configured, a GET without a session is redirected to
	// the SSO login (/auth/login?next=<the page>) instead of a 401.
	Page bool
	// Cache opts the route into the response cache (framework/cache);
	// routes.<name>.cache_ttl in config also turns it on or retunes it.
	Cache *CacheOptions
	// Owner is the team answerable for the route and how to reach it.
	// /metrics exports wings_route_info{route,owner="<team>"} from it, and
	// the alert rules route each route alert to that team.
	Owner Owner
}

// Owner names a route's team (the owner label of wings_route_info and of
// route alerts) and its contact (a mail address or a channel).
type Owner struct {
	Team    string
	Contact string
}

// Unowned is the owner label of a route that declares no team.
const Unowned = "unowned"

// Label is the owner label for metrics and alerts: the team, or Unowned.
func (o Owner) Label() string {
	if o.Team == "" {
		return Unowned
	}
	return o.Team
}

// String is "team:contact" (the form `wings gen endpoint --owner` takes),
// "team" without a contact, or Unowned.
func (o Owner) String() string {
	if o.Contact == "" {
		return o.Label()
	}
	return o.Label() + ":" + o.Contact
}

// ParseOwner reads "team:contact" (the contact is optional). The team must
// be a lower-case word ([a-z0-9_-]), so it is a safe, bounded label.
func ParseOwner(s string) (Owner, error) {
	team, contact, _ := strings.Cut(s, ":")
	if team == "" {
		return Owner{}, fmt.Errorf("owner %q: want team:contact with a team", s)
	}
	for _, r := range team {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return Owner{}, fmt.Errorf("owner %q: team must be lower-case letters, digits, '_' or '-'", s)
		}
	}
	return Owner{Team: team, Contact: contact}, nil
}

// CacheOptions declare how a route's answers are cached. Only successful
// answers made through JSON/Data are cached: their data bytes and meta,
// never the JSONP text, so each hit gets its own callback and fields.
type CacheOptions struct {
	// TTL is how long an entry is fresh (served as HIT).
	TTL time.Duration
	// Grace is the stale-while-revalidate window after TTL: the entry is
	// served as STALE while one background refresh runs.
	Grace time.Duration
	// StaleIfError is the window after TTL in which the entry is served as
	// STALE when the handler fails with an upstream, timeout, unavailable or
	// internal error.
	StaleIfError time.Duration
	// Private marks answers that depend on the caller: entries are keyed by
	// the caller's permission scope (reqctx.Scope), and a request without a
	// scope is never cached. Any request whose context carries a scope is
	// keyed by it, declared Private or not.
	Private bool
	// Vary, when set, adds what it returns to the key (e.g. a header that
	// changes the answer).
	Vary func(c echo.Context) string
}

// RouteName is r's name (reqctx.Route).
func (r *Route) RouteName() string { return r.Name }

// UseRouteMiddleware registers a factory that Handle asks for middleware
// for each route registered after it; the middleware runs closest to the
// handler, after the route's own. A factory returns nil for routes it does
// not apply to. The response cache installs itself this way.
func (rt *Runtime) UseRouteMiddleware(f func(r *Route) echo.MiddlewareFunc) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.routeMWs = append(rt.routeMWs, f)
}

const keyRoute = "wings.route"

// RouteOf returns the declaration of the route serving c, or nil for
// framework endpoints.
func RouteOf(c echo.Context) *Route {
	if r, ok := c.Get(keyRoute).(*Route); ok {
		return r
	}
	if in := reqctx.From(c.Request().Context()); in != nil {
		r, _ := in.Route.(*Route) // Handle records only *Route
		return r
	}
	return nil
}

// SetRoute marks c as served by r, for contexts made outside Handle (the
// response cache runs handlers on its own contexts).
func SetRoute(c echo.Context, r *Route) { c.Set(keyRoute, r) }

// EffectiveTimeout is the deadline in force for r: config, then code, then
// the server default (ResolvePolicy).
func (rt *Runtime) EffectiveTimeout(r Route) time.Duration {
	return ResolvePolicy(r, rt.cfg).Timeout
}

// Policies returns the policy in force for each registered route, keyed by
// route name: what Handle applied and the response cache started with.
func (rt *Runtime) Policies() map[string]RoutePolicy {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := make(map[string]RoutePolicy, len(rt.policies))
	for k, v := range rt.policies {
		out[k] = v
	}
	return out
}

// Handle registers routes on the server.
func (rt *Runtime) Handle(routes ...Route) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for i := range routes {
		r := routes[i]
		r.Name = RouteName(r)
		pol := ResolvePolicy(r, rt.cfg)
		if pol.CacheDropped {
			rt.log.WithFields(map[string]any{"route": r.Name, "method": r.Method}).
				Warn("route cache ttl ignored: only GET answers are cached")
		}
		if rt.policies == nil {
			rt.policies = map[string]RoutePolicy{}
		}
		rt.policies[r.Name] = pol
		rp := &r
		mws := []echo.MiddlewareFunc{
			func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					// In the request record when there is one: echo's
					// context store is a map allocated per request.
					if in := reqctx.From(c.Request().Context()); in != nil {
						in.Route = rp
					} else {
						c.Set(keyRoute, rp)
					}
					return next(c)
				}
			},
			rt.resilienceMiddleware(rp),
		}
		mws = append(mws, rt.authMiddleware(rp)...)
		mws = append(mws, r.Middleware...)
		for _, f := range rt.routeMWs {
			if mw := f(rp); mw != nil {
				mws = append(mws, mw)
			}
		}
		// The deadline sits closest to the handler: it bounds the handler
		// and the cache's loads, and a cache hit never arms its timer. Auth
		// providers bound their own calls (auth.*.timeout).
		mws = append(mws, middleware.Deadline(pol.Timeout))
		// Composed once: echo would re-apply route middleware per request.
		rt.echo.Add(r.Method, r.Path, compose(r.Handler, mws)).Name = r.Name
		rt.metrics.RouteInfo.WithLabelValues(r.Path, r.Owner.Label()).Set(1)
		rt.routes = append(rt.routes, r)
	}
}
