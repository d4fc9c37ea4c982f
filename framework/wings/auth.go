package wings

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/sirupsen/logrus"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/auth"
	"github.com/wings-bff/wings/framework/logging"
	"github.com/wings-bff/wings/framework/reqctx"
)

// HeaderLoginURL carries the SSO login page on every 401 when
// auth.login_url is set.
const HeaderLoginURL = "X-Login-URL"

// keyNoJSONP marks a request whose answer must not be JSONP (a refused
// JSONP request gets its 400 as plain JSON).
const keyNoJSONP = "wings.nojsonp"

// authState is the Runtime's auth: the providers and the route-table
// problems found by Handle, reported by Run.
type authState struct {
	a    *auth.Auth
	errs []error
}

// Auth returns the configured login and permission checks.
func (rt *Runtime) Auth() *auth.Auth { return rt.auth.a }

// CurrentUser returns the authenticated caller, or nil on public routes.
func CurrentUser(c echo.Context) *auth.User { return auth.UserFrom(c.Request().Context()) }

// Me answers the authenticated caller's id and name; route it with
// Auth: auth.LoginOnly.
func Me(c echo.Context) error {
	u := CurrentUser(c)
	if u == nil {
		return apperr.Unauthorized("login required")
	}
	return JSON(c, u)
}

// authMiddleware returns the per-route chain of a route that declares a
// resource, in order: JSONP guard → authenticate (401) → authorize (403).
// It runs after the route's deadline and before the route's own middleware
// and the response cache. A bad template is recorded for Run and the route
// fails closed.
func (rt *Runtime) authMiddleware(r *Route) []echo.MiddlewareFunc {
	if r.Auth == "" {
		return nil
	}
	if err := checkRouteAuth(r); err != nil {
		rt.auth.errs = append(rt.auth.errs, err)
		return []echo.MiddlewareFunc{privateAnswer, func(echo.HandlerFunc) echo.HandlerFunc {
			return func(echo.Context) error { return apperr.Wrap(apperr.KindInternal, err, "internal error") }
		}}
	}
	return []echo.MiddlewareFunc{privateAnswer, rt.jsonpGuard, rt.authenticate, rt.authorize(r.Auth)}
}

// privateAnswer marks every answer of a login-required route, errors
// included, as one no shared cache (CDN, proxy) may keep or serve to
// another caller, and that the browser does not store.
func privateAnswer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, "private, no-store")
		return next(c)
	}
}

// checkRouteAuth checks r.Auth and that every parameter it uses is a path
// parameter of r.
func checkRouteAuth(r *Route) error {
	params, err := auth.ParseTemplate(r.Auth)
	if err != nil {
		return fmt.Errorf("route %s %s: %w", r.Method, r.Path, err)
	}
	for _, p := range params {
		if !strings.Contains(r.Path+"/", "/:"+p+"/") {
			return fmt.Errorf("route %s %s: resource %q uses {%s}, which is not a path parameter", r.Method, r.Path, r.Auth, p)
		}
	}
	return nil
}

// routeAuthErr is the route table's auth problems, for Run.
func (rt *Runtime) routeAuthErr() error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return errors.Join(rt.auth.errs...)
}

// jsonpGuard refuses JSONP on a login-required route unless the page asking
// is on auth.jsonp_referer_allowlist: a foreign page could otherwise read
// the caller's private data with a <script> tag (JSON hijacking).
func (rt *Runtime) jsonpGuard(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if Callback(c) == "" {
			return next(c)
		}
		origin, ok := rt.auth.a.JSONPAllowed(c.Request())
		if ok {
			return next(c)
		}
		c.Set(keyNoJSONP, true)
		if origin == "" {
			return apperr.BadParam("callback: JSONP is not allowed on a login-required route without an allow-listed Referer or Origin")
		}
		return apperr.BadParam("callback: JSONP is not allowed on a login-required route from origin %s", origin)
	}
}

// authenticate identifies the caller (401 when it cannot), and puts the
// user in the request context and the logs.
func (rt *Runtime) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		u, err := rt.auth.a.Identify(req.Context(), req)
		if err != nil {
			if apperr.KindOf(err) == apperr.KindUnauthorized {
				if r := RouteOf(c); r != nil && r.Page && rt.loginEnabled() && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
					return rt.pageLogin(c)
				}
				return rt.loginRequired(c, err)
			}
			return err
		}
		ctx := auth.WithUser(req.Context(), u)
		ctx = logging.WithUserID(ctx, u.ID)
		ctx = logging.WithEntry(ctx, logging.FromContext(ctx).WithFields(logrus.Fields{"user_id": u.ID}))
		c.SetRequest(req.WithContext(ctx))
		return next(c)
	}
}

// loginRequired adds the SSO login page to a 401: always in the
// X-Login-URL header, and in the message for browsers (Accept: text/html).
func (rt *Runtime) loginRequired(c echo.Context, err error) error {
	login := rt.auth.a.LoginURL()
	if login == "" {
		return err
	}
	c.Response().Header().Set(HeaderLoginURL, login)
	if !strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/html") {
		return err
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return &apperr.Error{Kind: ae.Kind, Message: ae.Message + "; sign in at " + login, Err: ae.Err}
	}
	return err
}

// authorize expands the route's resource from the path parameters, checks
// the caller's permission (403 naming the resource) and puts the resource
// in the context as the permission scope the response cache keys by.
func (rt *Runtime) authorize(tmpl string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			u := auth.UserFrom(req.Context())
			if u == nil {
				return apperr.Unauthorized("login required")
			}
			resource, err := auth.Expand(tmpl, c.Param)
			if err != nil {
				var pe *auth.ParamError
				if errors.As(err, &pe) {
					return apperr.BadParam("%s", pe.Error())
				}
				return apperr.Wrap(apperr.KindInternal, err, "internal error")
			}
			if err := rt.auth.a.Authorize(req.Context(), u, resource); err != nil {
				return err
			}
			c.SetRequest(req.WithContext(reqctx.WithScope(req.Context(), auth.Scope(u, resource))))
			return next(c)
		}
	}
}

// corsOriginAllowed is the CORS origin check: exact matches of
// server.cors.allow_origins only (no patterns), "*" only when credentials
// are off.
func corsOriginAllowed(origins []string, credentials bool) func(string) (bool, error) {
	set := map[string]bool{}
	any := false
	for _, o := range origins {
		if o == "*" {
			any = !credentials
			continue
		}
		set[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	return func(origin string) (bool, error) {
		return any || set[strings.ToLower(origin)], nil
	}
}
