package wings

import (
	"net/http"
	"time"

	"github.com/wings-bff/wings/framework/config"
)

// RoutePolicy is a route's effective policy under a config: what serving
// applies, what `wings routes` prints and what the response cache uses.
// ResolvePolicy is the one place it is worked out.
type RoutePolicy struct {
	// Name is the route's name: Route.Name, else "METHOD /path".
	Name string
	// Timeout is the deadline: routes.<name>.timeout, else Route.Timeout,
	// else server.request_timeout.
	Timeout time.Duration
	// CacheTTL is how long a response stays fresh (routes.<name>.cache_ttl,
	// else Route.Cache.TTL); zero means the route's answers are not cached.
	CacheTTL time.Duration
	// CacheGrace and CacheStaleIfError are the stale windows after
	// CacheTTL (routes.<name>.cache_grace and cache_stale_if_error, else
	// Route.Cache's).
	CacheGrace, CacheStaleIfError time.Duration
	// CacheDropped reports a cache TTL that was asked for but is not
	// applied because the route is not a GET: only GET answers are cached.
	CacheDropped bool
}

// Cached reports whether the route's answers go through the response cache.
func (p RoutePolicy) Cached() bool { return p.CacheTTL > 0 }

// RouteName is r's name: r.Name, else "METHOD /path".
func RouteName(r Route) string {
	if r.Name != "" {
		return r.Name
	}
	return r.Method + " " + r.Path
}

// ResolvePolicy is r's effective policy under cfg. Config overrides code,
// and code overrides the server defaults. A route is cached only when
// cache.responses is on, a TTL is set and the route is a GET; a TTL on any
// other method is dropped (CacheDropped).
func ResolvePolicy(r Route, cfg *config.Config) RoutePolicy {
	p := RoutePolicy{Name: RouteName(r), Timeout: cfg.Server.RequestTimeout}
	if r.Timeout > 0 {
		p.Timeout = r.Timeout
	}
	if opts := r.Cache; opts != nil {
		p.CacheTTL, p.CacheGrace, p.CacheStaleIfError = opts.TTL, opts.Grace, opts.StaleIfError
	}
	if rc, ok := cfg.Routes[p.Name]; ok {
		if rc.Timeout > 0 {
			p.Timeout = rc.Timeout
		}
		if rc.CacheTTL > 0 {
			p.CacheTTL = rc.CacheTTL
		}
		if rc.CacheGrace > 0 {
			p.CacheGrace = rc.CacheGrace
		}
		if rc.CacheStaleIfError > 0 {
			p.CacheStaleIfError = rc.CacheStaleIfError
		}
	}
	if !cfg.Cache.Responses {
		p.CacheTTL = 0
	}
	if p.CacheTTL > 0 && r.Method != http.MethodGet {
		p.CacheTTL, p.CacheDropped = 0, true
	}
	if p.CacheTTL <= 0 {
		p.CacheTTL, p.CacheGrace, p.CacheStaleIfError = 0, 0, 0
	}
	return p
}
