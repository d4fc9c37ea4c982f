package wings

import (
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/middleware"
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
}

const keyRoute = "wings.route"

// RouteOf returns the declaration of the route serving c, or nil for
// framework endpoints.
func RouteOf(c echo.Context) *Route {
	r, _ := c.Get(keyRoute).(*Route)
	return r
}

// EffectiveTimeout is the deadline in force for r: config, then code, then
// the server default.
func (rt *Runtime) EffectiveTimeout(r Route) time.Duration {
	if rc, ok := rt.cfg.Routes[r.Name]; ok && rc.Timeout > 0 {
		return rc.Timeout
	}
	if r.Timeout > 0 {
		return r.Timeout
	}
	return rt.cfg.Server.RequestTimeout
}

// Handle registers routes on the server.
func (rt *Runtime) Handle(routes ...Route) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for i := range routes {
		r := routes[i]
		if r.Name == "" {
			r.Name = r.Method + " " + r.Path
		}
		rp := &r
		mws := []echo.MiddlewareFunc{
			func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					c.Set(keyRoute, rp)
					return next(c)
				}
			},
			middleware.Deadline(rt.EffectiveTimeout(r)),
		}
		mws = append(mws, r.Middleware...)
		rt.echo.Add(r.Method, r.Path, r.Handler, mws...).Name = r.Name
		rt.routes = append(rt.routes, r)
	}
}
