package middleware

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/trace"
)

// TestLatencyExemplarOncePerInterval: a sampled request's trace id becomes
// the latency exemplar when its series has had none for exemplarEvery; the
// sampled requests in between, and unsampled ones, are observed without one.
func TestLatencyExemplarOncePerInterval(t *testing.T) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "t", Buckets: []float64{1}})
	g := &exemplarGate{}
	e := echo.New()
	req := func(traceID byte, sampled bool) echo.Context {
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{15: traceID}, SpanID: trace.SpanID{7: 1}})
		if sampled {
			sc = sc.WithTraceFlags(trace.FlagsSampled)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r = r.WithContext(trace.ContextWithSpanContext(r.Context(), sc))
		return e.NewContext(r, httptest.NewRecorder())
	}
	exemplar := func() string {
		var m dto.Metric
		if err := h.Write(&m); err != nil {
			t.Fatal(err)
		}
		ex := m.GetHistogram().GetBucket()[0].GetExemplar()
		if ex == nil {
			return ""
		}
		return ex.GetLabel()[0].GetValue()
	}
	t0 := time.Date(2026, 12, 5, 23, 59, 55, 0, time.UTC).UnixNano()
	steps := []struct {
		id      byte
		sampled bool
		at      time.Duration
		want    string
	}{
		{1, false, 0, ""},
		{2, true, 0, "00000000000000000000000000000002"},
		{3, true, time.Second, "00000000000000000000000000000002"},
		{4, true, exemplarEvery - 1, "00000000000000000000000000000002"},
		{5, false, exemplarEvery, "00000000000000000000000000000002"},
		{6, true, exemplarEvery, "00000000000000000000000000000006"},
		{7, true, exemplarEvery + time.Second, "00000000000000000000000000000006"},
		{8, true, 3 * exemplarEvery, "00000000000000000000000000000008"},
	}
	for i, s := range steps {
		observe(req(s.id, s.sampled), h, g, 0.5, t0+int64(s.at))
		if got := exemplar(); got != s.want {
			t.Errorf("after request %d (trace %d, sampled %v, at +%v): exemplar %q; want %q", i+1, s.id, s.sampled, s.at, got, s.want)
		}
	}
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetHistogram().GetSampleCount(); got != uint64(len(steps)) {
		t.Errorf("sample count %d; want %d (every request observed)", got, len(steps))
	}
}

// TestExemplarGateRace: of many callers at the same moment, one takes the
// exemplar.
func TestExemplarGateRace(t *testing.T) {
	g := &exemplarGate{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var taken atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if g.allow(now) {
					taken.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := taken.Load(); n != 1 {
		t.Errorf("%d callers took the exemplar; want 1", n)
	}
}
