// Package tracing is the process's OpenTelemetry tracer provider: spans go
// over OTLP (http or grpc) to a collector such as Jaeger, sampled
// parent-based with a ratio that can change while the process runs.
//
// Off (tracing.enabled false, or OTEL_SDK_DISABLED=true) the provider is
// OpenTelemetry's no-op one: starting a span allocates nothing and records
// nothing. On, spans are batched and exported in the background; when the
// collector cannot be reached the batch is dropped and counted
// (wings_tracing_spans_dropped_total), and requests never wait for it.
//
// Nothing is registered globally: the Runtime passes the provider to the
// middleware, upstream clients, cache and scheduler that make spans.
package tracing

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/wings-bff/wings/framework/config"
)

// Provider makes the process's tracers. The zero value is not usable; a
// nil *Provider behaves as a disabled one.
type Provider struct {
	tp      trace.TracerProvider
	sdk     *sdktrace.TracerProvider // nil when off
	sampler *ratioSampler
	prop    propagation.TextMapPropagator
}

// Options are the provider's non-config inputs.
type Options struct {
	Service, Version, Env string
	// Metrics receives wings_tracing_spans_exported_total and
	// wings_tracing_spans_dropped_total; nil: not counted.
	Metrics prometheus.Registerer
	// Exporter replaces the OTLP exporter (tests use the SDK's in-memory
	// one); it is still counted.
	Exporter sdktrace.SpanExporter
	// Syncer exports each span when it ends instead of in batches (tests).
	Syncer bool
}

// New builds the provider from cfg. With tracing off it returns the no-op
// provider and never fails.
func New(cfg config.Tracing, opts Options) (*Provider, error) {
	p := &Provider{
		tp:   noop.NewTracerProvider(),
		prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
	if !cfg.Enabled || strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") {
		return p, nil
	}
	exp := opts.Exporter
	if exp == nil {
		var err error
		if exp, err = newExporter(cfg); err != nil {
			return nil, err
		}
	}
	counted := &countingExporter{SpanExporter: exp}
	if opts.Metrics != nil {
		counted.exported = prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "wings", Name: "tracing_spans_exported_total",
			Help: "Spans accepted by the trace collector.",
		})
		counted.dropped = prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "wings", Name: "tracing_spans_dropped_total",
			Help: "Spans dropped because the trace collector could not be reached or refused them.",
		})
		opts.Metrics.MustRegister(counted.exported, counted.dropped)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceVersion(opts.Version),
		attribute.String("deployment.environment", opts.Env),
	))
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	if os.Getenv("OTEL_SERVICE_NAME") == "" && !strings.Contains(os.Getenv("OTEL_RESOURCE_ATTRIBUTES"), "service.name=") {
		res, _ = resource.Merge(res, resource.NewSchemaless(semconv.ServiceName(opts.Service)))
	}
	p.sampler = &ratioSampler{}
	p.sampler.set(cfg.SampleRatio)
	var proc sdktrace.SpanProcessor
	if opts.Syncer {
		proc = sdktrace.NewSimpleSpanProcessor(counted)
	} else {
		// Large batches: the per-batch work (an HTTP POST, the
		// exporter's grouping) is spread over more spans; at 100%
		// sampling 4096 measured 1.21x against 512's 1.34x
		// (docs/benchmarks.md).
		proc = newBatcher(counted, batcherOptions{
			maxBatch: 4096, maxQueue: 16384,
			interval: time.Second, timeout: 5 * time.Second,
			dropped: func(n int) {
				if counted.dropped != nil {
					counted.dropped.Add(float64(n))
				}
			},
		})
	}
	p.sdk = sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(p.sampler)),
		sdktrace.WithSpanProcessor(proc),
	)
	p.tp = p.sdk
	return p, nil
}

// newExporter is the OTLP exporter for cfg: over HTTP our own
// (httpExporter), over gRPC the SDK's. Retries are off: a batch the
// collector does not take is dropped (and counted) rather than queued.
func newExporter(cfg config.Tracing) (sdktrace.SpanExporter, error) {
	ctx := context.Background()
	proto := cfg.Protocol
	if proto == "" {
		proto = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	ep := cfg.Endpoint
	isURL := strings.Contains(ep, "://")
	if isURL {
		if _, err := url.Parse(ep); err != nil {
			return nil, fmt.Errorf("tracing.endpoint: %w", err)
		}
	}
	if proto == "grpc" {
		opts := []otlptracegrpc.Option{otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}), otlptracegrpc.WithTimeout(3 * time.Second)}
		switch {
		case isURL:
			opts = append(opts, otlptracegrpc.WithEndpointURL(ep))
		case ep != "":
			opts = append(opts, otlptracegrpc.WithEndpoint(ep), otlptracegrpc.WithInsecure())
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	if t, ok, err := resolveHTTPTarget(cfg, os.Getenv); err != nil {
		return nil, err
	} else if ok {
		return newHTTPExporter(t), nil
	}
	// A private CA or a client certificate: the SDK's exporter reads them.
	opts := []otlptracehttp.Option{otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}), otlptracehttp.WithTimeout(3 * time.Second)}
	switch {
	case isURL:
		opts = append(opts, otlptracehttp.WithEndpointURL(ep))
	case ep != "":
		opts = append(opts, otlptracehttp.WithEndpoint(ep), otlptracehttp.WithInsecure())
	}
	return otlptracehttp.New(ctx, opts...)
}

// Enabled reports whether spans are recorded at all.
func (p *Provider) Enabled() bool { return p != nil && p.sdk != nil }

// Tracer returns the named tracer (the instrumenting package's path).
func (p *Provider) Tracer(name string) trace.Tracer {
	if p == nil {
		return noop.NewTracerProvider().Tracer(name)
	}
	return p.tp.Tracer(name)
}

// TracerProvider is the underlying provider, for libraries' hooks (redisotel).
func (p *Provider) TracerProvider() trace.TracerProvider {
	if p == nil {
		return noop.NewTracerProvider()
	}
	return p.tp
}

// Propagator reads and writes W3C traceparent/tracestate (and baggage).
func (p *Provider) Propagator() propagation.TextMapPropagator {
	if p == nil {
		return propagation.TraceContext{}
	}
	return p.prop
}

// SetRatio changes the share of new traces sampled (hot reload); it does
// nothing when tracing is off.
func (p *Provider) SetRatio(r float64) {
	if p.Enabled() {
		p.sampler.set(r)
	}
}

// Ratio is the current sample ratio (0 when off).
func (p *Provider) Ratio() float64 {
	if !p.Enabled() {
		return 0
	}
	return math.Float64frombits(p.sampler.ratio.Load())
}

// Shutdown flushes the spans still queued and stops the exporter.
func (p *Provider) Shutdown(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	return p.sdk.Shutdown(ctx)
}

// ForceFlush exports the spans queued so far (tests, and before exit).
func (p *Provider) ForceFlush(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	return p.sdk.ForceFlush(ctx)
}

// TraceID is the id of the trace ctx's span belongs to, or "" when there
// is none (tracing off, or not sampled and not propagated).
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// ratioSampler samples a ratio of trace ids, the ratio replaceable at any
// time. It has the semantics of sdktrace.TraceIDRatioBased.
type ratioSampler struct {
	ratio atomic.Uint64 // float64 bits
	bound atomic.Uint64 // trace ids whose low 63 bits fall below are sampled
}

func (s *ratioSampler) set(r float64) {
	r = max(0, min(1, r))
	s.ratio.Store(math.Float64bits(r))
	s.bound.Store(uint64(r * (1 << 63)))
}

func (s *ratioSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	ts := trace.SpanContextFromContext(p.ParentContext).TraceState()
	id := p.TraceID
	x := (uint64(id[8])<<56 | uint64(id[9])<<48 | uint64(id[10])<<40 | uint64(id[11])<<32 |
		uint64(id[12])<<24 | uint64(id[13])<<16 | uint64(id[14])<<8 | uint64(id[15])) >> 1
	if math.Float64frombits(s.ratio.Load()) >= 1 || x < s.bound.Load() {
		return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample, Tracestate: ts}
	}
	return sdktrace.SamplingResult{Decision: sdktrace.Drop, Tracestate: ts}
}

func (s *ratioSampler) Description() string {
	return fmt.Sprintf("WingsRatio{%g}", math.Float64frombits(s.ratio.Load()))
}

// countingExporter counts the spans its exporter took or lost.
type countingExporter struct {
	sdktrace.SpanExporter
	exported, dropped prometheus.Counter // nil: not counted
}

func (e *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	c := e.exported
	if err != nil {
		c = e.dropped
	}
	if c != nil {
		c.Add(float64(len(spans)))
	}
	return err
}

// Transport wraps base (nil: http.DefaultTransport) so that every request
// carries the W3C trace context of its context: for HTTP clients other
// than upstream.Client, such as the SSO's.
func (p *Provider) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if !p.Enabled() {
		return base
	}
	return &transport{base: base}
}

type transport struct {
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	sc := trace.SpanContextFromContext(req.Context())
	if !sc.IsValid() {
		return t.base.RoundTrip(req)
	}
	r := req.Clone(req.Context()) // a RoundTripper must not change its request
	Inject(r.Context(), sc, r.Header)
	return t.base.RoundTrip(r)
}

// Unsampled reports whether ctx holds a span context that is valid but
// not sampled: a request that is traced but not recorded. A child span of
// it would be dropped too (parent-based sampling), so instrumentation skips
// starting one, and what it passes on (traceparent) is the parent's.
func Unsampled(ctx context.Context) bool {
	sc := trace.SpanContextFromContext(ctx)
	return sc.IsValid() && !sc.IsSampled()
}
