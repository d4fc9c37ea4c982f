// Package recovery turns a panic into an error, for code that runs out of
// the Recover middleware's reach: goroutines the framework starts, and
// functions run by x/sync/singleflight's DoChan (which re-panics a
// panicking function in a goroutine of its own, where nothing can recover
// it, so the whole process dies).
//
// Call and Do are the guard: a panic in the function they run comes back
// as an internal error (apperr.KindInternal, message "internal error")
// whose cause is a *Panic holding the value and the stack. Whoever waits
// gets that error; a Reporter logs the stack once and counts it in
// wings_panics_total{where}.
package recovery

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/logging"
)

// Panic is a recovered panic: its value and the stack of the goroutine
// that panicked.
type Panic struct {
	Value any
	Stack string
}

func (p *Panic) Error() string { return fmt.Sprintf("panic: %v", p.Value) }

// Call runs fn and returns what it returns. When fn panics, Call returns
// the zero value and an internal *apperr.Error whose cause is the *Panic.
func Call[T any](fn func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			var zero T
			v, err = zero, Error(r, debug.Stack())
		}
	}()
	return fn()
}

// Do is Call for a function that returns only an error.
func Do(fn func() error) error {
	_, err := Call(func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// Error makes the error Call returns for a panic with value r and stack.
func Error(r any, stack []byte) error {
	return apperr.Wrap(apperr.KindInternal, &Panic{Value: r, Stack: string(stack)}, "internal error")
}

// From returns the recovered panic err holds, or nil.
func From(err error) *Panic {
	var p *Panic
	if errors.As(err, &p) {
		return p
	}
	return nil
}

// Reporter logs recovered panics with their stack and counts them. A nil
// *Reporter reports nothing.
type Reporter struct {
	log   *logrus.Logger
	count *prometheus.CounterVec // where
}

// NewReporter returns a Reporter logging to log and counting in count
// (wings_panics_total{where}; may be nil).
func NewReporter(log *logrus.Logger, count *prometheus.CounterVec) *Reporter {
	return &Reporter{log: log, count: count}
}

// Report logs the panic err holds, if any, at error level ("panic
// recovered", with the panic, its stack, where and the request id carried
// by ctx) and counts it under where, a fixed name from code. It reports
// whether err held a panic.
func (r *Reporter) Report(ctx context.Context, where string, err error) bool {
	p := From(err)
	if p == nil {
		return false
	}
	r.ReportEntry(r.Entry(ctx), where, p)
	return true
}

// Entry is the Reporter's logger with the request id carried by ctx, if
// any.
func (r *Reporter) Entry(ctx context.Context) *logrus.Entry {
	if r == nil {
		return logrus.NewEntry(logging.Discard())
	}
	e := logrus.NewEntry(r.log)
	if ctx != nil {
		if id := logging.RequestID(ctx); id != "" {
			e = e.WithField("request_id", id)
		}
	}
	return e
}

// ReportEntry logs p on e and counts it under where.
func (r *Reporter) ReportEntry(e *logrus.Entry, where string, p *Panic) {
	if r == nil {
		return
	}
	e.WithFields(logrus.Fields{"where": where, "panic": fmt.Sprint(p.Value), "stack": p.Stack}).Error("panic recovered")
	if r.count != nil {
		r.count.WithLabelValues(where).Inc()
	}
}

// Go runs fn on a goroutine of its own; a panic in fn is reported under
// where and ends that goroutine only.
func (r *Reporter) Go(ctx context.Context, where string, fn func()) {
	go func() {
		r.Report(ctx, where, Do(func() error { fn(); return nil }))
	}()
}
