package test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Jaeger's ports for this test (the integration tests run one at a time
// under the shared lock): OTLP/HTTP, and the query API.
const (
	jaegerOTLP  = "24318"
	jaegerQuery = "26686"
)

// TestTraceJaegerEndToEnd sends a real request through wings serve with
// tracing on, over OTLP into a real Jaeger (scripts/jaeger.sh), and reads
// the trace back from Jaeger's query API: the caller's trace continued, the
// server span named by the route, one client span per team under it, the
// album call after the video call.
func TestTraceJaegerEndToEnd(t *testing.T) {
	if err := exec.Command("../scripts/jaeger.sh", "path").Run(); err != nil {
		if os.Getenv("WINGS_REQUIRE_JAEGER") != "" {
			t.Fatal("jaeger is not built and WINGS_REQUIRE_JAEGER is set: scripts/jaeger.sh build")
		}
		t.Skip("jaeger not built (scripts/jaeger.sh build); make test builds it and sets WINGS_REQUIRE_JAEGER")
	}
	out, err := exec.Command("../scripts/jaeger.sh", "start", jaegerOTLP, jaegerQuery).CombinedOutput()
	if err != nil {
		t.Fatalf("jaeger start: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("../scripts/jaeger.sh", "stop", jaegerOTLP).Run() })

	s := newStack(t, nil, "WINGS_TRACING__ENABLED=true", "WINGS_TRACING__SAMPLE_RATIO=1",
		"WINGS_TRACING__ENDPOINT=127.0.0.1:"+jaegerOTLP, "OTEL_SERVICE_NAME=wings-e2e")
	const traceID = "5b8efff798038103d269b633813fc60c"
	r := get(t, s.Server+"/api/video/42", "traceparent", "00-"+traceID+"-eee19b7ec3c1b174-01")
	if r.Status != http.StatusOK {
		t.Fatalf("status = %d: %s", r.Status, r.Body)
	}

	type span struct {
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		References    []struct {
			RefType string `json:"refType"`
			SpanID  string `json:"spanID"`
		} `json:"references"`
		StartTime int64 `json:"startTime"` // µs
		Duration  int64 `json:"duration"`
		Tags      []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	}
	var spans []span
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://127.0.0.1:" + jaegerQuery + "/api/traces/" + traceID)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var got struct {
				Data []struct {
					Spans []span `json:"spans"`
				} `json:"data"`
			}
			if json.Unmarshal(body, &got) == nil && len(got.Data) == 1 && len(got.Data[0].Spans) >= 4 {
				spans = got.Data[0].Spans
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s not in Jaeger with 4 spans after 20s (last error %v)", traceID, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	byName := map[string]span{}
	for _, sp := range spans {
		byName[sp.OperationName] = sp
	}
	parent := func(sp span) string {
		for _, r := range sp.References {
			if r.RefType == "CHILD_OF" {
				return r.SpanID
			}
		}
		return ""
	}
	tag := func(sp span, k string) string {
		for _, kv := range sp.Tags {
			if kv.Key == k {
				b, _ := json.Marshal(kv.Value)
				return strings.Trim(string(b), `"`)
			}
		}
		return ""
	}
	server, ok := byName["GET /api/video/:id"]
	if !ok || parent(server) != "eee19b7ec3c1b174" || tag(server, "http.route") != "/api/video/:id" {
		t.Fatalf("server span %+v; want GET /api/video/:id under the caller's span (spans: %+v)", server, spans)
	}
	for _, name := range []string{"GET video", "GET star", "GET album"} {
		sp, ok := byName[name]
		if !ok || parent(sp) != server.SpanID || tag(sp, "wings.outcome") != "ok" || tag(sp, "wings.attempt") != "1" {
			t.Errorf("%s: %+v; want a child of the server span with outcome ok, attempt 1", name, sp)
		}
	}
	video, star, album := byName["GET video"], byName["GET star"], byName["GET album"]
	if album.StartTime < video.StartTime+video.Duration {
		t.Errorf("album starts at %d µs, before video ends at %d", album.StartTime, video.StartTime+video.Duration)
	}
	if star.StartTime >= video.StartTime+video.Duration || video.StartTime >= star.StartTime+star.Duration {
		t.Errorf("video [%d +%d] and star [%d +%d] do not overlap", video.StartTime, video.Duration, star.StartTime, star.Duration)
	}
}
