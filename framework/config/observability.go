package config

import "time"

// Tracing configures OpenTelemetry traces. The standard OTEL_* variables
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED, ...) also
// apply; these keys win where both are set.
type Tracing struct {
	// Enabled turns tracing on; off, the tracer is a no-op.
	Enabled bool `mapstructure:"enabled"`
	// Endpoint is the OTLP collector: host:port (plain text) or a URL
	// (http://, https://). Empty: OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, else
	// the exporter's default (localhost:4318 for http, :4317 for grpc).
	Endpoint string `mapstructure:"endpoint"`
	// Protocol is "http" (OTLP/HTTP protobuf) or "grpc"; empty: "http".
	Protocol string `mapstructure:"protocol"`
	// SampleRatio is the share of new traces recorded, 0 to 1; a request
	// whose caller sampled it is always recorded (parent-based). It
	// hot-reloads.
	SampleRatio float64 `mapstructure:"sample_ratio"`
}

func (t Tracing) validate(bad func(key, format string, args ...any)) {
	switch t.Protocol {
	case "", "http", "grpc":
	default:
		bad("tracing.protocol", "must be http or grpc, got %q", t.Protocol)
	}
	if t.SampleRatio < 0 || t.SampleRatio > 1 {
		bad("tracing.sample_ratio", "must be between 0 and 1, got %v", t.SampleRatio)
	}
}

// Sentry configures error tracking: panics and internal errors are sent to
// a Sentry-compatible DSN. No DSN: nothing is sent.
type Sentry struct {
	// DSN only from WINGS_SENTRY__DSN (it holds the project key).
	DSN Secret `mapstructure:"dsn"`
	// RatePerMinute bounds the reports sent per minute; the rest are
	// dropped and counted. 0: 60.
	RatePerMinute int `mapstructure:"rate_per_minute"`
	// DedupWindow is the window within which the same error (kind, route
	// and message) is reported only once. 0: 1m.
	DedupWindow time.Duration `mapstructure:"dedup_window"`
}

func (s Sentry) validate(bad func(key, format string, args ...any)) {
	if s.RatePerMinute < 0 {
		bad("sentry.rate_per_minute", "must be >= 0 (0: 60)")
	}
	if s.DedupWindow < 0 {
		bad("sentry.dedup_window", "must be >= 0 (0: 1m)")
	}
}
