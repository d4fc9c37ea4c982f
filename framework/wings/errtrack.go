package wings

import (
	"context"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/errtrack"
	"github.com/wings-bff/wings/framework/logging"
	"github.com/wings-bff/wings/framework/middleware"
	"github.com/wings-bff/wings/framework/recovery"
	"github.com/wings-bff/wings/framework/reqctx"
)

// initErrtrack builds the error tracker from sentry.* (none without a DSN)
// and flushes it at stop.
func (rt *Runtime) initErrtrack() error {
	t, err := errtrack.New(rt.cfg.Sentry, errtrack.Options{
		Release: rt.build.Version, Environment: rt.cfg.Env, Metrics: rt.metrics.Registerer(),
	})
	if err != nil {
		return err
	}
	rt.errtrack = t
	if t != nil {
		rt.OnStop(func(context.Context) error { t.Flush(2 * time.Second); return nil })
	}
	return nil
}

// trackError reports an internal error or a recovered panic of the
// request c serves.
func (rt *Runtime) trackError(c echo.Context, err error) {
	if rt.errtrack == nil {
		return
	}
	req := c.Request()
	ctx := req.Context()
	r := errtrack.Report{
		Err: err, Kind: "internal", Route: middleware.Route(c), Method: req.Method,
		RequestID: logging.RequestID(ctx), UserID: logging.UserID(ctx), Header: req.Header,
	}
	if in := reqctx.From(ctx); in != nil {
		r.TraceID = in.TraceID
	}
	if p := recovery.From(err); p != nil {
		r.Kind, r.Stack = "panic", p.Stack
	}
	rt.errtrack.Send(r)
}

// ErrorTracker returns the error tracker, or nil without sentry.dsn.
func (rt *Runtime) ErrorTracker() *errtrack.Tracker { return rt.errtrack }
