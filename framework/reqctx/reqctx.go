// Package reqctx carries request facts that several framework packages
// agree on through the request's context, without importing each other.
//
// The auth middleware puts the caller's permission scope here; the response
// cache reads it to key private answers per scope. A scope is an opaque
// string that names everything a private answer may depend on for this
// caller: two callers with the same scope must be allowed to see the same
// answer (e.g. "bl:video" for a business line, or "user:42" when answers are
// per user).
//
// Info is the per-request record the outermost middleware puts in the
// context once. Middleware further in fill its fields in place, before the
// handler runs, instead of deriving a new context (and copying the
// *http.Request) for every fact: on a cache hit those copies were a
// measurable share of the request's cost. Values put with the With*
// functions of this package and of framework/logging take precedence over
// the record, so code that derives a context keeps its usual meaning.
package reqctx

import (
	"context"

	"github.com/sirupsen/logrus"
)

// Info is one request's facts. The middleware chain writes its fields
// before the handler starts; from then on it is read-only, so goroutines
// the handler starts may read it without locks.
type Info struct {
	// ID is the request id (X-Request-Id).
	ID string
	// Log is the process logger; request-scoped entries are derived from
	// it on demand (logging.FromContext), only when something is logged.
	Log *logrus.Logger
	// Observer is the route's fan-out observer, or nil.
	Observer Observer
	// Route is the declaration of the route serving the request (a
	// *wings.Route), or nil.
	Route Route
	// Pool is the goroutine pool the request's fan-outs start their calls
	// on (a *fanout.Pool), or nil.
	Pool Pool
	// TraceID is the request's trace id (hex) when it is traced, or "".
	TraceID string
}

// Observer is told of the optional sources a request's fan-outs gave up on
// (fanout.Observer is this interface).
type Observer interface {
	Degraded(ctx context.Context, source string, err error)
	Stale(ctx context.Context, source string, err error)
}

// Route is the route serving a request (a *wings.Route).
type Route interface {
	// RouteName is the route's name, as metrics and logs label it.
	RouteName() string
}

// Runner is a call ready to run: Run runs it unless it already ran.
type Runner interface{ Run() }

// Pool runs calls concurrently, on goroutines it keeps (a *fanout.Pool).
type Pool interface{ Start(Runner) }

type ctxKey int

const (
	scopeKey ctxKey = iota
	infoKey
)

// Begin returns a context carrying a new request record with the given
// id, and the record. The record and its context node are one allocation.
func Begin(ctx context.Context, id string) (context.Context, *Info) {
	c := &infoCtx{Context: ctx, info: Info{ID: id}}
	return c, &c.info
}

// infoCtx is context.WithValue(parent, infoKey, &info) in one object.
type infoCtx struct {
	context.Context
	info Info
}

func (c *infoCtx) Value(key any) any {
	if key == any(infoKey) {
		return &c.info
	}
	return c.Context.Value(key)
}

// From returns the request record carried by ctx, or nil.
func From(ctx context.Context) *Info {
	in, _ := ctx.Value(infoKey).(*Info)
	return in
}

// WithScope returns a context carrying the caller's permission scope.
func WithScope(ctx context.Context, scope string) context.Context {
	return context.WithValue(ctx, scopeKey, scope)
}

// Scope returns the permission scope carried by ctx, or "" when the caller
// is anonymous or not yet authenticated.
func Scope(ctx context.Context) string {
	s, _ := ctx.Value(scopeKey).(string)
	return s
}
