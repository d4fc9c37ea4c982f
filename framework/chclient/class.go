package chclient

import "context"

type classKey struct{}

// WithClass names the kind of query ctx runs ("dash_overview", "funnel",
// "migrate", ...): a bounded label for metrics and an attribute for spans.
func WithClass(ctx context.Context, class string) context.Context {
	return context.WithValue(ctx, classKey{}, class)
}

// ClassOf is the query class set by WithClass, or "other".
func ClassOf(ctx context.Context) string {
	if c, ok := ctx.Value(classKey{}).(string); ok && c != "" {
		return c
	}
	return "other"
}
