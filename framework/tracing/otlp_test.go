package tracing

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/wings-bff/wings/framework/config"
)

// capture is a collector that keeps the body and headers of each POST.
type capture struct {
	srv    *httptest.Server
	bodies chan []byte
	hdrs   chan http.Header
	status int
	reply  []byte // response body, as application/x-protobuf
}

func newCapture(t testing.TB) *capture {
	c := &capture{bodies: make(chan []byte, 64), hdrs: make(chan http.Header, 64), status: http.StatusOK}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rd io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			rd = zr
		}
		b, _ := io.ReadAll(rd)
		select {
		case c.bodies <- b:
			c.hdrs <- r.Header.Clone()
		default: // benchmarks: not kept
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(c.status)
		_, _ = w.Write(c.reply)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// sampleSpans is a batch with every kind of field an exporter writes: all
// attribute types (zero values among them), events, links, error and ok
// statuses, a trace state, a remote parent, two scopes and two resources.
func sampleSpans(n int) []sdktrace.ReadOnlySpan {
	res1 := resource.NewSchemaless(attribute.String("service.name", "wings"), attribute.String("service.version", "1.2.3"))
	res2 := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0", attribute.String("service.name", "other"))
	scopes := []instrumentation.Scope{
		{Name: "github.com/wings-bff/wings/framework/middleware"},
		{Name: "github.com/wings-bff/wings/framework/upstream", Version: "v1", SchemaURL: "https://example.com/s",
			Attributes: attribute.NewSet(attribute.Bool("scope.attr", true))},
	}
	ts, _ := trace.ParseTraceState("vendor=abc,other=1")
	base := time.Date(2026, 12, 5, 21, 0, 0, 123456789, time.UTC)
	var stubs tracetest.SpanStubs
	for i := range n {
		tid := trace.TraceID{byte(i), 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, byte(i >> 8)}
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{1, byte(i), 3, 4, 5, 6, 7, 8}, TraceFlags: trace.FlagsSampled})
		if i%5 == 0 {
			sc = sc.WithTraceState(ts)
		}
		parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{9, 9, byte(i), 1, 1, 1, 1, 1}, TraceFlags: trace.FlagsSampled, Remote: i%3 == 0})
		s := tracetest.SpanStub{
			Name:        fmt.Sprintf("GET video %d", i),
			SpanContext: sc,
			SpanKind:    trace.SpanKind(i % 6),
			StartTime:   base.Add(time.Duration(i) * time.Millisecond),
			EndTime:     base.Add(time.Duration(i)*time.Millisecond + 1500*time.Microsecond),
			Attributes: []attribute.KeyValue{
				attribute.String("http.request.method", "GET"),
				attribute.String("url.full", "http://127.0.0.1:8081/videos/42"),
				attribute.Int("wings.attempt", i%3+1),
				attribute.Int("zero", 0),
				attribute.Bool("wings.retry", i%2 == 1),
				attribute.String("empty", ""),
				attribute.Float64("ratio", 0.25*float64(i)),
				attribute.StringSlice("ss", []string{"a", "", "c"}),
				attribute.Int64Slice("is", []int64{-1, 0, 1 << 40}),
				attribute.Float64Slice("fs", []float64{1.5, -0}),
				attribute.BoolSlice("bs", []bool{true, false}),
			},
			Resource:             res1,
			InstrumentationScope: scopes[i%2],
		}
		if i%4 != 0 {
			s.Parent = parent
		}
		if i%7 == 3 {
			s.Resource = res2
		}
		switch i % 3 {
		case 1:
			s.Status = sdktrace.Status{Code: codes.Error, Description: "upstream 502"}
		case 2:
			s.Status = sdktrace.Status{Code: codes.Ok}
		}
		if i%4 == 1 {
			s.Events = []sdktrace.Event{{Name: "retry", Time: base, Attributes: []attribute.KeyValue{attribute.Int("n", 2)}, DroppedAttributeCount: 1}}
			s.Links = []sdktrace.Link{{SpanContext: parent, Attributes: []attribute.KeyValue{attribute.String("why", "coalesced")}}}
			s.DroppedAttributes, s.DroppedEvents, s.DroppedLinks = 2, 3, 4
		}
		stubs = append(stubs, s)
	}
	return stubs.Snapshots()
}

// decodeSorted parses an ExportTraceServiceRequest and orders its resource
// spans by their resource (the SDK writes them in map order).
func decodeSorted(t testing.TB, b []byte) *coltracepb.ExportTraceServiceRequest {
	t.Helper()
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		t.Fatalf("not an ExportTraceServiceRequest: %v", err)
	}
	key := func(i int) string {
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(req.ResourceSpans[i].Resource)
		return string(b)
	}
	idx := make([]int, len(req.ResourceSpans))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(key(a), key(b)) })
	rs := slices.Clone(req.ResourceSpans)
	for i, j := range idx {
		req.ResourceSpans[i] = rs[j]
	}
	return &req
}

// TestEncodeMatchesSDK sends the same batch through the SDK's OTLP/HTTP
// exporter and through ours: the collector receives the same message.
func TestEncodeMatchesSDK(t *testing.T) {
	spans := sampleSpans(40)
	ctx := context.Background()

	sdkCol := newCapture(t)
	sdkExp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(sdkCol.srv.URL+"/v1/traces"), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := sdkExp.ExportSpans(ctx, spans); err != nil {
		t.Fatal(err)
	}
	want := decodeSorted(t, <-sdkCol.bodies)

	ours := newCapture(t)
	exp := newHTTPExporter(httpTarget{url: ours.srv.URL + "/v1/traces", timeout: time.Second})
	for round := range 2 { // the second batch reuses the buffers
		if err := exp.ExportSpans(ctx, spans); err != nil {
			t.Fatal(err)
		}
		got := decodeSorted(t, <-ours.bodies)
		if h := <-ours.hdrs; h.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("Content-Type = %q", h.Get("Content-Type"))
		}
		if !proto.Equal(got, want) {
			t.Fatalf("round %d: our request differs from the SDK's\nours: %v\nSDK:  %v", round, got, want)
		}
	}
	if n := len(want.ResourceSpans); n != 2 {
		t.Fatalf("the batch has %d resources; want 2 (the test's batch changed?)", n)
	}
	if n := len(want.ResourceSpans[0].ScopeSpans) + len(want.ResourceSpans[1].ScopeSpans); n != 4 {
		t.Fatalf("the batch has %d scope groups; want 4", n)
	}
}

// TestEncoderLengths: a nested message's length is written in as many
// bytes as it needs, on both sides of each varint size boundary, also when
// one message ends inside another and after bytes already written.
func TestEncoderLengths(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 129, 300, 16383, 16384, 16385, 1<<21 - 1, 1 << 21} {
		body := make([]byte, n)
		for i := range body {
			body[i] = byte(i*7 + 1)
		}
		e := encoder{b: []byte{0xaa, 0xbb}}
		outer := e.open(2)
		inner := e.open(5)
		e.b = append(e.b, body...)
		e.close(inner)
		e.b = append(e.b, 0xcc)
		e.close(outer)

		in := protowire.AppendBytes(protowire.AppendTag(nil, 5, protowire.BytesType), body)
		want := protowire.AppendBytes(protowire.AppendTag([]byte{0xaa, 0xbb}, 2, protowire.BytesType), append(in, 0xcc))
		if !slices.Equal(e.b, want) {
			t.Fatalf("body of %d bytes: encoded %d bytes, want %d (first difference at %d)", n, len(e.b), len(want), firstDiff(e.b, want))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestHTTPExporterGzipHeadersAndErrors: headers and gzip from the
// environment reach the collector; a refusal and a partial success are
// errors (the caller counts the batch as dropped); after Shutdown nothing
// is sent.
func TestHTTPExporterGzipHeadersAndErrors(t *testing.T) {
	col := newCapture(t)
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": col.srv.URL + "/custom/path",
		"OTEL_EXPORTER_OTLP_HEADERS":         "api-key=s%20ecret, x-team = bff",
		"OTEL_EXPORTER_OTLP_COMPRESSION":     "gzip",
	}
	tg, ok, err := resolveHTTPTarget(config.Tracing{}, func(k string) string { return env[k] })
	if err != nil || !ok {
		t.Fatalf("resolve: ok=%v err=%v", ok, err)
	}
	exp := newHTTPExporter(tg)
	spans := sampleSpans(3)
	if err := exp.ExportSpans(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	body, h := <-col.bodies, <-col.hdrs
	if h.Get("Content-Encoding") != "gzip" || h.Get("Api-Key") != "s ecret" || h.Get("X-Team") != "bff" {
		t.Errorf("headers = %v", h)
	}
	if req := decodeSorted(t, body); len(req.ResourceSpans) == 0 {
		t.Error("empty request")
	}

	col.status = http.StatusServiceUnavailable
	col.reply = []byte("overloaded")
	if err := exp.ExportSpans(context.Background(), spans); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("503: err = %v", err)
	}
	<-col.bodies
	<-col.hdrs
	resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{RejectedSpans: 2, ErrorMessage: "too old"}})
	col.status, col.reply = http.StatusOK, resp
	if err := exp.ExportSpans(context.Background(), spans); err == nil || !strings.Contains(err.Error(), "rejected 2 spans: too old") {
		t.Errorf("partial success: err = %v", err)
	}
	<-col.bodies
	<-col.hdrs

	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := exp.ExportSpans(context.Background(), spans); err == nil {
		t.Error("export after Shutdown succeeded")
	}
	select {
	case <-col.bodies:
		t.Error("a batch was sent after Shutdown")
	default:
	}
}

func TestResolveHTTPTarget(t *testing.T) {
	for _, tc := range []struct {
		name string
		ep   string
		env  map[string]string
		url  string
		sdk  bool // falls back to the SDK's exporter
		bad  bool
	}{
		{name: "host:port", ep: "127.0.0.1:4318", url: "http://127.0.0.1:4318/v1/traces"},
		{name: "url as is", ep: "https://otel.example:4318/x/y", url: "https://otel.example:4318/x/y"},
		{name: "url without path", ep: "http://127.0.0.1:4318", url: "http://127.0.0.1:4318/"},
		{name: "default", url: "https://localhost:4318/v1/traces"},
		{name: "default insecure", env: map[string]string{"OTEL_EXPORTER_OTLP_INSECURE": "true"}, url: "http://localhost:4318/v1/traces"},
		{name: "general endpoint gets the path", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/base"}, url: "http://c:4318/base/v1/traces"},
		{name: "traces endpoint first", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:1/p"}, url: "http://t:1/p"},
		{name: "config before env", ep: "127.0.0.1:9", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:1/p"}, url: "http://127.0.0.1:9/v1/traces"},
		{name: "private CA", env: map[string]string{"OTEL_EXPORTER_OTLP_CERTIFICATE": "/etc/ca.pem"}, sdk: true},
		{name: "client key", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY": "/k.pem"}, sdk: true},
		{name: "bad url", ep: "http://%zz", bad: true},
		{name: "bad env url", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "nohost"}, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg, ok, err := resolveHTTPTarget(config.Tracing{Endpoint: tc.ep}, func(k string) string { return tc.env[k] })
			switch {
			case tc.bad:
				if err == nil {
					t.Errorf("no error; url %q", tg.url)
				}
			case tc.sdk:
				if ok || err != nil {
					t.Errorf("ok=%v err=%v; want the SDK's exporter", ok, err)
				}
			case err != nil || !ok:
				t.Errorf("ok=%v err=%v", ok, err)
			case tg.url != tc.url:
				t.Errorf("url = %q; want %q", tg.url, tc.url)
			}
		})
	}
}

// FuzzPartialSuccess: a collector's reply, whatever it holds, is read
// without panicking, and as protobuf would read it when it parses.
func FuzzPartialSuccess(f *testing.F) {
	ok, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{RejectedSpans: 7, ErrorMessage: "x"}})
	f.Add(ok)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x02, 0x08})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, msg := partialSuccess(b)
		var want coltracepb.ExportTraceServiceResponse
		if proto.Unmarshal(b, &want) != nil {
			return
		}
		if n != want.GetPartialSuccess().GetRejectedSpans() || msg != want.GetPartialSuccess().GetErrorMessage() {
			t.Errorf("got (%d, %q); protobuf reads (%d, %q)", n, msg, want.GetPartialSuccess().GetRejectedSpans(), want.GetPartialSuccess().GetErrorMessage())
		}
	})
}

// BenchmarkExport sends a batch of 4096 spans shaped like a request's
// (the server span's and the attempt spans' attributes) to a loopback
// collector: the SDK's OTLP/HTTP exporter against ours.
func BenchmarkExport(b *testing.B) {
	spans := benchSpans(4096)
	ctx := context.Background()
	col := newCapture(b)
	sdkExp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(col.srv.URL+"/v1/traces"), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{}))
	if err != nil {
		b.Fatal(err)
	}
	ours := newHTTPExporter(httpTarget{url: col.srv.URL + "/v1/traces", timeout: 5 * time.Second})
	for _, bc := range []struct {
		name string
		exp  sdktrace.SpanExporter
	}{{"sdk", sdkExp}, {"wings", ours}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.exp.ExportSpans(ctx, spans); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
		})
	}
}

func benchSpans(n int) []sdktrace.ReadOnlySpan {
	res := resource.NewSchemaless(attribute.String("service.name", "wings"), attribute.String("service.version", "dev"), attribute.String("deployment.environment", "bench"))
	mw := instrumentation.Scope{Name: "github.com/wings-bff/wings/framework/middleware"}
	up := instrumentation.Scope{Name: "github.com/wings-bff/wings/framework/upstream"}
	base := time.Now()
	var stubs tracetest.SpanStubs
	for i := range n {
		tid := trace.TraceID{byte(i), byte(i >> 8), 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{1, byte(i), 3, 4, 5, 6, 7, 8}, TraceFlags: trace.FlagsSampled})
		s := tracetest.SpanStub{SpanContext: sc, StartTime: base, EndTime: base.Add(time.Millisecond), Resource: res}
		if i%4 == 0 {
			s.Name, s.SpanKind, s.InstrumentationScope = "GET /api/video/:id", trace.SpanKindServer, mw
			s.Attributes = []attribute.KeyValue{
				attribute.String("http.request.method", "GET"), attribute.String("http.route", "/api/video/:id"),
				attribute.String("url.path", "/api/video/42"), attribute.Int("http.response.status_code", 200),
				attribute.String("wings.request_id", "b7c0f1e2d3a4b5c6"), attribute.String("client.address", "127.0.0.1"),
			}
		} else {
			s.Name, s.SpanKind, s.InstrumentationScope = "GET video", trace.SpanKindClient, up
			s.Parent = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{2, 2, 2, 2, 2, 2, 2, byte(i)}, TraceFlags: trace.FlagsSampled})
			s.Attributes = []attribute.KeyValue{
				attribute.String("wings.upstream", "video"), attribute.String("http.request.method", "GET"),
				attribute.String("url.full", "http://127.0.0.1:8081/videos/42"), attribute.Int("wings.attempt", 1),
				attribute.Bool("wings.retry", false), attribute.String("wings.breaker", "closed"),
				attribute.Bool("wings.coalesced", false), attribute.String("wings.outcome", "ok"),
				attribute.Int("http.response.status_code", 200),
			}
		}
		stubs = append(stubs, s)
	}
	return stubs.Snapshots()
}
