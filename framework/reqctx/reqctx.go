// Package reqctx carries request facts that several framework packages
// agree on through the request's context, without importing each other.
//
// The auth middleware puts the caller's permission scope here; the response
// cache reads it to key private answers per scope. A scope is an opaque
// string that names everything a private answer may depend on for this
// caller: two callers with the same scope must be allowed to see the same
// answer (e.g. "bl:video" for a business line, or "user:42" when answers are
// per user).
package reqctx

import "context"

type ctxKey int

const scopeKey ctxKey = iota

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
