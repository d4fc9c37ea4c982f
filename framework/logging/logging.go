// Package logging builds the logrus logger and carries request-scoped
// fields through the context. Everything else in Wings logs through here,
// so a later move to log/slog touches one package.
package logging

import (
	"context"
	"fmt"
	"io"

	"github.com/sirupsen/logrus"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/reqctx"
)

// New returns a logger writing to w at the configured level and format.
func New(cfg config.Log, w io.Writer) (*logrus.Logger, error) {
	lvl, err := logrus.ParseLevel(cfg.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	l := logrus.New()
	l.SetOutput(w)
	l.SetLevel(lvl)
	if cfg.Format == "text" {
		l.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	} else {
		l.SetFormatter(&jsonFormatter{}) // logrus.JSONFormatter's lines, faster; see json.go
	}
	return l, nil
}

// Discard returns a logger that writes nothing, for tests and defaults.
func Discard() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

type ctxKey int

const (
	entryKey ctxKey = iota
	requestIDKey
	userIDKey
)

// WithEntry returns a context carrying e; FromContext returns it.
func WithEntry(ctx context.Context, e *logrus.Entry) context.Context {
	return context.WithValue(ctx, entryKey, e)
}

// FromContext returns the request's log entry (with request_id, trace_id
// when traced, and user_id once authenticated): the one put by WithEntry, else one made now
// from the request record (reqctx.Info), else a discarding entry. Entries
// are made on demand so a request that logs nothing builds none.
func FromContext(ctx context.Context) *logrus.Entry {
	if e, ok := ctx.Value(entryKey).(*logrus.Entry); ok {
		return e
	}
	if in := reqctx.From(ctx); in != nil && in.Log != nil {
		if in.TraceID != "" {
			return in.Log.WithFields(logrus.Fields{"request_id": in.ID, "trace_id": in.TraceID})
		}
		return in.Log.WithField("request_id", in.ID)
	}
	return logrus.NewEntry(Discard())
}

// WithRequestID returns a context carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id carried by ctx (WithRequestID, else the
// request record), or "".
func RequestID(ctx context.Context) string {
	if id, ok := ctx.Value(requestIDKey).(string); ok {
		return id
	}
	if in := reqctx.From(ctx); in != nil {
		return in.ID
	}
	return ""
}

// WithUserID returns a context carrying the authenticated user's id.
func WithUserID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, userIDKey, id)
}

// UserID returns the authenticated user's id carried by ctx, or "".
func UserID(ctx context.Context) string {
	id, _ := ctx.Value(userIDKey).(string)
	return id
}
