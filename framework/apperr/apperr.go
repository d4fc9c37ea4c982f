// Package apperr defines the typed errors every Wings layer returns.
//
// Errors carry a Kind; framework/wings maps the kind to an HTTP status and a
// JSON envelope in one place. Daos make Upstream errors, controllers make
// BadParam errors, services wrap with %w. Nothing below the HTTP layer
// decides a status code.
package apperr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Kind classifies an error for rendering, logging and metrics.
type Kind uint8

// The kinds. The zero value is KindInternal, so anything unclassified is a
// server fault.
const (
	KindInternal Kind = iota
	KindBadParam
	KindUnauthorized
	KindForbidden
	KindNotFound
	KindUpstream
	KindUpstreamTimeout
	KindUnavailable
	KindRateLimited
)

var kindNames = [...]string{
	KindInternal:        "internal",
	KindBadParam:        "bad_param",
	KindUnauthorized:    "unauthorized",
	KindForbidden:       "forbidden",
	KindNotFound:        "not_found",
	KindUpstream:        "upstream_error",
	KindUpstreamTimeout: "upstream_timeout",
	KindUnavailable:     "unavailable",
	KindRateLimited:     "rate_limited",
}

var kindStatus = [...]int{
	KindInternal:        http.StatusInternalServerError,
	KindBadParam:        http.StatusBadRequest,
	KindUnauthorized:    http.StatusUnauthorized,
	KindForbidden:       http.StatusForbidden,
	KindNotFound:        http.StatusNotFound,
	KindUpstream:        http.StatusBadGateway,
	KindUpstreamTimeout: http.StatusGatewayTimeout,
	KindUnavailable:     http.StatusServiceUnavailable,
	KindRateLimited:     http.StatusTooManyRequests,
}

// String returns the stable snake_case name used in logs and responses.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "internal"
}

// Status returns the HTTP status code for the kind.
func (k Kind) Status() int {
	if int(k) < len(kindStatus) {
		return kindStatus[k]
	}
	return http.StatusInternalServerError
}

// Error is an error the HTTP layer knows how to render.
type Error struct {
	Kind    Kind
	Message string // safe to show to clients
	Err     error  // cause; logged, never rendered
	// Upstream names the upstream that failed, for logs and metrics.
	Upstream string
	// RetryAfter, when > 0, is sent as Retry-After (whole seconds, rounded
	// up) with a 429 or 503.
	RetryAfter time.Duration
}

// Error returns the message and the cause, for logs.
func (e *Error) Error() string {
	if e.Err == nil {
		return e.Kind.String() + ": " + e.Message
	}
	return e.Kind.String() + ": " + e.Message + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k with a client-safe message.
func New(k Kind, msg string) *Error { return &Error{Kind: k, Message: msg} }

// Wrap returns an error of kind k with a client-safe message and a cause.
func Wrap(k Kind, err error, msg string) *Error { return &Error{Kind: k, Message: msg, Err: err} }

// BadParam reports invalid client input; msg must name the parameter.
func BadParam(format string, args ...any) *Error {
	return &Error{Kind: KindBadParam, Message: fmt.Sprintf(format, args...)}
}

// NotFound reports a missing resource.
func NotFound(format string, args ...any) *Error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf(format, args...)}
}

// Unauthorized reports a missing or invalid session.
func Unauthorized(msg string) *Error { return &Error{Kind: KindUnauthorized, Message: msg} }

// Forbidden reports a caller without the permission msg names.
func Forbidden(msg string) *Error { return &Error{Kind: KindForbidden, Message: msg} }

// Unavailable reports that the server cannot answer now (shedding, a
// dependency down with no fallback).
func Unavailable(msg string) *Error { return &Error{Kind: KindUnavailable, Message: msg} }

// RateLimited reports a caller over its share (429); retryAfter (0: the
// default) is sent as Retry-After.
func RateLimited(msg string, retryAfter time.Duration) *Error {
	return &Error{Kind: KindRateLimited, Message: msg, RetryAfter: retryAfter}
}

// Upstream wraps a failed call to the named upstream. Deadlines and network
// timeouts become KindUpstreamTimeout; everything else KindUpstream.
func Upstream(name string, err error) *Error {
	e := &Error{Kind: KindUpstream, Upstream: name, Message: "upstream " + name + " failed", Err: err}
	if IsTimeout(err) {
		e.Kind, e.Message = KindUpstreamTimeout, "upstream "+name+" timed out"
	}
	return e
}

// IsTimeout reports whether err is a deadline or a network timeout.
func IsTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// KindOf returns the kind of the first *Error in err's chain, or
// KindInternal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}
