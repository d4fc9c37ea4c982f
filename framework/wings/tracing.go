package wings

import (
	"fmt"

	"github.com/redis/go-redis/extra/redisotel/v9"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/tracing"
)

// initTracing builds the tracer provider from tracing.* (opts fills in
// what config does not say), flushes it at stop (the last stop hook to run)
// and follows tracing.sample_ratio on reload.
func (rt *Runtime) initTracing(opts tracing.Options) error {
	opts.Service, opts.Version, opts.Env = rt.cfg.App.Name, rt.build.Version, rt.cfg.Env
	if opts.Metrics == nil {
		opts.Metrics = rt.metrics.Registerer()
	}
	tp, err := tracing.New(rt.cfg.Tracing, opts)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	rt.tracing = tp
	if !tp.Enabled() {
		return nil
	}
	rt.OnStop(tp.Shutdown)
	rt.OnReload(func(next *config.Config) { tp.SetRatio(next.Tracing.SampleRatio) })
	rt.log.WithFields(map[string]any{"endpoint": rt.cfg.Tracing.Endpoint, "protocol": rt.cfg.Tracing.Protocol,
		"sample_ratio": rt.cfg.Tracing.SampleRatio}).Info("tracing on")
	return nil
}

// traceRedis adds go-redis's OpenTelemetry hook to the shared client:
// no arguments (they may hold user data), and no caller attributes
// (code.function and its file and line: a stack walk on every command,
// sampled or not).
func (rt *Runtime) traceRedis() {
	if !rt.tracing.Enabled() {
		return
	}
	if err := redisotel.InstrumentTracing(rt.redis, redisotel.WithTracerProvider(rt.tracing.TracerProvider()),
		redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false)); err != nil {
		rt.log.WithError(err).Warn("tracing: redis hook not installed")
	}
}

// Tracing returns the process's tracer provider (a disabled one when
// tracing is off): components built on the Runtime make their spans with it.
func (rt *Runtime) Tracing() *tracing.Provider { return rt.tracing }
