package middleware

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/framework/reqctx"
	"github.com/wings-bff/wings/framework/tracing"
)

// Trace starts the request's server span, named "METHOD route-template",
// continuing the caller's trace when the request carries a W3C
// traceparent (and tracestate). The span's context goes into the request
// context, so upstream calls, cache lookups and queries become its
// children, and the trace id into the request record, so every log line of
// the request carries trace_id. It runs inside RequestID.
func Trace(p *tracing.Provider) echo.MiddlewareFunc { return traced(nil, p) }

// RequestIDTrace is RequestID and Trace in one middleware: the request
// record and the server span go into the request context together, so the
// *http.Request is copied once instead of twice. The Runtime installs it
// in place of RequestID when tracing is on.
func RequestIDTrace(gen func() string, p *tracing.Provider) echo.MiddlewareFunc {
	return traced(gen, p)
}

// traced is Trace, and RequestID too when gen is not nil.
func traced(gen func() string, p *tracing.Provider) echo.MiddlewareFunc {
	tr := p.Tracer("github.com/wings-bff/wings/framework/middleware")
	prop := p.Propagator()
	names := &spanNames{}
	kind := trace.WithSpanKind(trace.SpanKindServer) // made once: an option is an allocation
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			ctx := req.Context()
			var in *reqctx.Info
			if gen != nil {
				ctx, in = reqctx.Begin(ctx, requestID(c, gen))
			} else {
				in = reqctx.From(ctx)
			}
			route := Route(c)
			// Without these headers there is nothing to extract, and
			// Extract would canonicalise three header names to find out.
			if req.Header["Traceparent"] != nil || req.Header["Baggage"] != nil {
				ctx = prop.Extract(ctx, propagation.HeaderCarrier(req.Header))
			}
			ctx, span := tr.Start(ctx, names.get(req.Method, route), kind)
			defer span.End()
			if in != nil {
				if sc := span.SpanContext(); sc.HasTraceID() {
					in.TraceID = sc.TraceID().String()
				}
			}
			c.SetRequest(req.WithContext(ctx))
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			if !span.IsRecording() {
				return nil // not sampled: no attributes to build
			}
			status := Status(c)
			// One call: each SetAttributes grows the span's attribute slice.
			attrs := tracing.NewAttrs()
			attrs.Add(
				attribute.String("http.request.method", req.Method),
				attribute.String("http.route", route),
				attribute.String("url.path", req.URL.Path),
				attribute.Int("http.response.status_code", status),
			)
			if in != nil {
				attrs.Add(attribute.String("wings.request_id", in.ID))
			}
			if k, ok := c.Get(KeyErrorKind).(string); ok {
				attrs.Add(attribute.String("wings.error_kind", k))
			}
			attrs.SetOn(span)
			if status >= 500 {
				span.SetStatus(codes.Error, strconv.Itoa(status))
			}
			return nil
		}
	}
}

// spanNames keeps the server spans' names ("GET /api/video/:id") made so
// far, so a request does not build its name again. Routes and their
// methods are few; past maxSpanNames (a flood of odd methods) names are
// built per request.
type spanNames struct {
	mu sync.Mutex
	m  atomic.Pointer[map[[2]string]string] // copied on write
}

const maxSpanNames = 1024

func (n *spanNames) get(method, route string) string {
	key := [2]string{method, route}
	if m := n.m.Load(); m != nil {
		if s, ok := (*m)[key]; ok {
			return s
		}
	}
	name := method + " " + route
	n.mu.Lock()
	defer n.mu.Unlock()
	old := n.m.Load()
	if old != nil && len(*old) >= maxSpanNames {
		return name
	}
	m := make(map[[2]string]string, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[key] = name
	n.m.Store(&m)
	return name
}

func lenOf(m *map[[2]string]string) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// exemplarEvery is how often a latency series takes a new exemplar. A
// sampled request builds one (its trace id as a string, a label map and the
// exemplar's own message) only when its series has had none for this long:
// the exemplar stays a recent trace of that series, at a fixed cost per
// series rather than per request.
const exemplarEvery = 10 * time.Second

// exemplarGate lets one exemplar through per exemplarEvery.
type exemplarGate struct {
	next atomic.Int64 // unix nanoseconds before which none is taken
}

// allow reports whether an observation at now (unix nanoseconds) takes
// the exemplar; of racing callers, one does.
func (g *exemplarGate) allow(now int64) bool {
	n := g.next.Load()
	return now >= n && g.next.CompareAndSwap(n, now+int64(exemplarEvery))
}

// observe records v, with the request's trace id as the exemplar when its
// trace is sampled and g lets one through at now (so a latency bucket links
// to a trace that exists).
func observe(c echo.Context, o prometheus.Observer, g *exemplarGate, v float64, now int64) {
	if sc := trace.SpanContextFromContext(c.Request().Context()); sc.IsSampled() {
		if eo, ok := o.(prometheus.ExemplarObserver); ok && g.allow(now) {
			eo.ObserveWithExemplar(v, prometheus.Labels{"trace_id": sc.TraceID().String()})
			return
		}
	}
	o.Observe(v)
}
