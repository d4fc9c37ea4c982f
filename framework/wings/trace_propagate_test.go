package wings_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/framework/config"
)

// TestUpstreamGetsTraceContext: what an upstream is told of the trace. A
// sampled request passes on its attempt span (the upstream's parent is
// the client span Wings recorded); an unsampled one passes on the
// request's own span, not sampled, and records nothing; a request with no
// caller trace starts one. The caller's tracestate and baggage go on
// unchanged in every case.
func TestUpstreamGetsTraceContext(t *testing.T) {
	t.Parallel()
	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, tc := range []struct {
		name, flags string // the caller's traceparent flags; "" sends no trace context
	}{{"sampled caller", "01"}, {"unsampled caller", "00"}, {"no caller trace", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan http.Header, 1)
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- r.Header.Clone()
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"id":1}`))
			}))
			defer up.Close()
			rt, exp := upstreamRoute(t, up.URL, config.Tracing{Enabled: true, SampleRatio: 1})
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tc.flags != "" {
				req.Header.Set("traceparent", "00-"+callerTrace+"-"+callerSpan+"-"+tc.flags)
				req.Header.Set("tracestate", "rojo=00f067aa0ba902b7")
				req.Header.Set("baggage", "tenant=video")
			}
			w := httptest.NewRecorder()
			rt.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			h := <-got
			parts := strings.Split(h.Get("traceparent"), "-")
			if len(parts) != 4 || parts[0] != "00" {
				t.Fatalf("upstream traceparent %q", h.Get("traceparent"))
			}
			spans := exp.GetSpans()
			switch tc.flags {
			case "00":
				if parts[1] != callerTrace || parts[2] == callerSpan || parts[2] == strings.Repeat("0", 16) || parts[3] != "00" || len(spans) != 0 {
					t.Errorf("upstream traceparent %q, %d spans recorded; want the caller's trace, the request's own span id, not sampled, no spans", h.Get("traceparent"), len(spans))
				}
			default:
				var client trace.SpanContext
				for _, s := range spans {
					if s.SpanKind == trace.SpanKindClient {
						client = s.SpanContext
					}
				}
				if len(spans) != 2 || parts[1] != client.TraceID().String() || parts[2] != client.SpanID().String() || parts[3] != "01" {
					t.Errorf("upstream traceparent %q; want the recorded attempt span %s-%s, sampled (%d spans)", h.Get("traceparent"), client.TraceID(), client.SpanID(), len(spans))
				}
				if tc.flags == "01" && parts[1] != callerTrace {
					t.Errorf("trace %s; want the caller's %s", parts[1], callerTrace)
				}
			}
			wantState, wantBaggage := "rojo=00f067aa0ba902b7", "tenant=video"
			if tc.flags == "" {
				wantState, wantBaggage = "", ""
			}
			if h.Get("tracestate") != wantState || h.Get("baggage") != wantBaggage {
				t.Errorf("upstream tracestate %q, baggage %q; want %q, %q", h.Get("tracestate"), h.Get("baggage"), wantState, wantBaggage)
			}
		})
	}
}
