// Package metrics owns the Prometheus registry of one Wings process and the
// metrics the framework itself exports. Nothing registers globally, so tests
// never share state.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every Wings metric.
const Namespace = "wings"

// Registry is the process's registry plus the framework's collectors.
type Registry struct {
	reg *prometheus.Registry

	HTTPRequests *prometheus.CounterVec   // route, method, code
	HTTPDuration *prometheus.HistogramVec // route, method
	HTTPInFlight prometheus.Gauge
	HTTPErrors   *prometheus.CounterVec // route, kind

	UpstreamRequests *prometheus.CounterVec   // upstream, outcome
	UpstreamDuration *prometheus.HistogramVec // upstream

	UpstreamRetries   *prometheus.CounterVec // upstream
	UpstreamCoalesced *prometheus.CounterVec // upstream
	Degraded          *prometheus.CounterVec // route, source
	Stale             *prometheus.CounterVec // route, source
	Shed              *prometheus.CounterVec // route, reason
	Panics            *prometheus.CounterVec // where

	RouteInfo *prometheus.GaugeVec // route, owner; always 1
}

// LatencyBuckets cover 1 ms to 10 s, dense where BFF answers live.
var LatencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New returns a registry with Go and process collectors, build info and the
// framework's HTTP and upstream metrics.
func New(version, revision string) *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	r := &Registry{reg: reg}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info", Help: "Build information; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision},
	})
	build.Set(1)
	r.HTTPRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "http_requests_total",
		Help: "HTTP requests answered, by route template, method and status code.",
	}, []string{"route", "method", "code"})
	r.HTTPDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "http_request_duration_seconds",
		Help: "HTTP request latency, by route template and method.", Buckets: LatencyBuckets,
	}, []string{"route", "method"})
	r.HTTPInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "http_requests_in_flight", Help: "HTTP requests being served.",
	})
	r.HTTPErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "http_errors_total",
		Help: "Failed HTTP requests (4xx and 5xx), by route template and error kind (bad_param, not_found, upstream_error, upstream_timeout, internal, ...).",
	}, []string{"route", "kind"})
	reg.MustRegister(r.HTTPErrors)
	r.UpstreamRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "upstream_requests_total",
		Help: "Calls to upstreams, by upstream and outcome (ok, timeout, refused, bad_status, bad_json, not_found, canceled, error).",
	}, []string{"upstream", "outcome"})
	r.UpstreamDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "upstream_request_duration_seconds",
		Help: "Upstream call latency, by upstream.", Buckets: LatencyBuckets,
	}, []string{"upstream"})
	r.UpstreamRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "upstream_retries_total",
		Help: "Retries of failed idempotent upstream calls, by upstream.",
	}, []string{"upstream"})
	r.UpstreamCoalesced = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "upstream_coalesced_total",
		Help: "Upstream GETs that shared an identical in-flight call instead of making their own, by upstream.",
	}, []string{"upstream"})
	r.Degraded = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "degraded_total",
		Help: "Optional sources that failed and were answered empty, by route and source.",
	}, []string{"route", "source"})
	r.Stale = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "stale_total",
		Help: "Stale-ok sources that failed and were answered from their last good value, by route and source.",
	}, []string{"route", "source"})
	r.Shed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "shed_total",
		Help: "Requests refused before any work, by route and reason (route_in_flight, server_in_flight, rate_limit).",
	}, []string{"route", "reason"})
	r.Panics = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "panics_total",
		Help: "Panics recovered and turned into errors, by where they happened (request, cache_load, cache_refresh, cache_purge, auth, fanout, readyz, reload, ...).",
	}, []string{"where"})
	reg.MustRegister(build, r.HTTPRequests, r.HTTPDuration, r.HTTPInFlight, r.UpstreamRequests, r.UpstreamDuration,
		r.UpstreamRetries, r.UpstreamCoalesced, r.Degraded, r.Stale, r.Shed, r.Panics)
	r.RouteInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "route_info",
		Help: "Registered routes, by route template and owning team (\"unowned\" when none is declared); always 1. Join on route to give an alert its owner.",
	}, []string{"route", "owner"})
	reg.MustRegister(r.RouteInfo)
	return r
}

// MustRegister adds application or subsystem collectors.
func (r *Registry) MustRegister(cs ...prometheus.Collector) { r.reg.MustRegister(cs...) }

// Registerer returns the registry for promauto.With and friends.
func (r *Registry) Registerer() prometheus.Registerer { return r.reg }

// Gatherer returns the registry for scraping and tests.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Handler serves the registry in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	// OpenMetrics when the scraper asks for it: the format that carries
	// exemplars (trace ids on the latency histograms).
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg, DisableCompression: true /* echo gzips */, EnableOpenMetrics: true})
}
