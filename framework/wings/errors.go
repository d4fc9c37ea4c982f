package wings

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/middleware"
	"github.com/wings-bff/wings/framework/render"
)

// StatusClientClosed is nginx's code for a client that went away; it is
// logged, never sent.
const StatusClientClosed = 499

// classify maps any error to a status, a kind and a client-safe message.
// This is the only place in Wings where errors become HTTP.
func classify(err error) (status int, kind apperr.Kind, msg string) {
	var ae *apperr.Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
		return ae.Kind.Status(), ae.Kind, ae.Message
	case errors.As(err, &he):
		k := kindForStatus(he.Code)
		msg := http.StatusText(he.Code)
		switch {
		case he.Code == http.StatusNotFound:
			msg = "route not found"
		case he.Code == http.StatusMethodNotAllowed:
			msg = "method not allowed"
		case he.Code < 500:
			if s, ok := he.Message.(string); ok && s != "" {
				msg = s
			}
		}
		return he.Code, k, msg
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, apperr.KindUpstreamTimeout, "request timed out"
	case errors.Is(err, context.Canceled):
		return StatusClientClosed, apperr.KindInternal, "client closed request"
	default:
		return http.StatusInternalServerError, apperr.KindInternal, "internal error"
	}
}

// retryAfter is the Retry-After value of a shed request: the error's own
// RetryAfter in whole seconds (rounded up), else 1.
func retryAfter(err error) string {
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		return strconv.Itoa(int((ae.RetryAfter + time.Second - 1) / time.Second))
	}
	return "1"
}

func kindForStatus(code int) apperr.Kind {
	switch code {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return apperr.KindBadParam
	case http.StatusUnauthorized:
		return apperr.KindUnauthorized
	case http.StatusForbidden:
		return apperr.KindForbidden
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return apperr.KindNotFound
	case http.StatusTooManyRequests:
		return apperr.KindRateLimited
	case http.StatusServiceUnavailable:
		return apperr.KindUnavailable
	case http.StatusBadGateway:
		return apperr.KindUpstream
	case http.StatusGatewayTimeout:
		return apperr.KindUpstreamTimeout
	}
	if code >= 400 && code < 500 {
		return apperr.KindBadParam
	}
	return apperr.KindInternal
}

// handleError is echo's HTTPErrorHandler: it renders the failure envelope
// (as JSONP when the request carries a valid callback) and leaves the kind
// and, for 5xx, the cause for the access log, which logs each error once.
func (rt *Runtime) handleError(err error, c echo.Context) {
	status, kind, msg := classify(err)
	if errors.Is(err, echo.ErrNotFound) {
		c.Set(middleware.KeyUnmatched, true)
	}
	c.Set(middleware.KeyErrorKind, kind.String())
	if status >= 500 {
		c.Set(middleware.KeyErrorCause, err)
	}
	if kind == apperr.KindInternal {
		rt.trackError(c, err)
	}
	if c.Response().Committed {
		return
	}
	if status == StatusClientClosed {
		c.Response().WriteHeader(status) // nobody reads it; the log and metrics do
		return
	}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		if c.Response().Header().Get("Retry-After") == "" {
			c.Response().Header().Set("Retry-After", retryAfter(err))
		}
	}
	body := render.Failure{
		Code:      status,
		Msg:       msg,
		Error:     kind.String(),
		RequestID: c.Response().Header().Get(echo.HeaderXRequestID),
	}.Bytes()
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = write(c, status, body)
}
