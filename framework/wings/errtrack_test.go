package wings_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/tracing"
	"github.com/wings-bff/wings/framework/wings"
)

// sentryReceiver is a loopback Sentry: it parses each envelope (header
// line, then item header and payload lines) and keeps the events and the
// raw bytes.
type sentryReceiver struct {
	mu     sync.Mutex
	events []map[string]any
	raw    bytes.Buffer
}

func (s *sentryReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raw.Write(body)
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sc.Scan() // envelope header
	for sc.Scan() {
		var item struct{ Type string }
		if err := json.Unmarshal(sc.Bytes(), &item); err != nil || !sc.Scan() {
			break
		}
		if item.Type == "event" {
			var ev map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err == nil {
				s.events = append(s.events, ev)
			}
		}
	}
	w.WriteHeader(200)
}

// TestErrorTracking: a panic and an internal error reach a loopback Sentry
// with their stack, route, request and trace id, release and environment;
// a repeated panic is sent once; credentials in headers never leave.
func TestErrorTracking(t *testing.T) {
	t.Parallel()
	recv := &sentryReceiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	dsn := "http://publickey@" + strings.TrimPrefix(srv.URL, "http://") + "/1"
	cfg := testConfig()
	cfg.Sentry = config.Sentry{DSN: config.Secret(dsn), RatePerMinute: 10, DedupWindow: time.Hour}
	cfg.Tracing = config.Tracing{Enabled: true, SampleRatio: 1}
	rt, err := wings.New(cfg, wings.Options{
		Build:     wings.BuildInfo{Version: "1.2.3"},
		LogOutput: io.Discard,
		Tracing:   tracing.Options{Exporter: tracetest.NewInMemoryExporter(), Syncer: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	rt.Handle(
		wings.Route{Method: http.MethodGet, Path: "/boom/:id", Name: "boom", Handler: func(echo.Context) error { panic("handler bug") }},
		wings.Route{Method: http.MethodGet, Path: "/fail", Name: "fail", Handler: func(echo.Context) error { return errors.New("db invariant broken") }},
	)
	const token = "tok-SECRET-9f8e7d"
	for _, p := range []string{"/boom/1", "/boom/2", "/boom/3", "/fail"} {
		w := do(rt, http.MethodGet, p, "Authorization", "Bearer "+token, "X-Api-Token", token, "Cookie", "sid="+token,
			"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		if w.Code != 500 {
			t.Fatalf("%s: %d; want 500", p, w.Code)
		}
	}
	if !rt.ErrorTracker().Flush(10 * time.Second) {
		t.Fatal("reports not flushed in 10s")
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if strings.Contains(recv.raw.String(), token) {
		t.Errorf("a token reached Sentry:\n%s", recv.raw.String())
	}
	if len(recv.events) != 2 {
		t.Fatalf("events = %d; want 2 (the panic once, the internal error)\n%s", len(recv.events), recv.raw.String())
	}
	for _, ev := range recv.events {
		tags, _ := ev["tags"].(map[string]any)
		if ev["release"] != "1.2.3" || ev["environment"] != "test" || tags["trace_id"] != "0af7651916cd43dd8448eb211c80319c" || tags["request_id"] == "" {
			t.Errorf("event release %v environment %v tags %v; want 1.2.3, test, the trace and request ids", ev["release"], ev["environment"], tags)
		}
	}
	panicEv := recv.events[0]
	if tags := panicEv["tags"].(map[string]any); tags["route"] != "/boom/:id" || tags["kind"] != "panic" {
		t.Errorf("first event tags %v; want route /boom/:id, kind panic", tags)
	}
	exc, _ := json.Marshal(panicEv["exception"])
	if !strings.Contains(string(exc), "errtrack_test.go") || !strings.Contains(string(exc), "frames") {
		t.Errorf("panic event exception has no stack through the handler: %s", exc)
	}
	if got := reportCount(t, rt, "deduplicated"); got != 2 {
		t.Errorf("wings_error_reports_total{result=deduplicated} = %v; want 2", got)
	}
}

// reportCount reads wings_error_reports_total{result}.
func reportCount(t *testing.T, rt *wings.Runtime, result string) float64 {
	t.Helper()
	mfs, err := rt.Metrics().Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "wings_error_reports_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
