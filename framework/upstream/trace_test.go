package upstream_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/fanout"
	"github.com/wings-bff/wings/framework/logging"
	"github.com/wings-bff/wings/framework/metrics"
	"github.com/wings-bff/wings/framework/tracing"
	"github.com/wings-bff/wings/framework/upstream"
)

// TestFanoutMarksAttemptSpans runs real fan-outs over a real client and
// checks the attempt spans: an optional call whose upstream fails has its
// last attempt marked wings.degraded, a stale-ok call answered from its last
// good value has it marked wings.stale, and calls that succeed, and the
// earlier attempts of a retried call, carry neither.
func TestFanoutMarksAttemptSpans(t *testing.T) {
	t.Parallel()
	var albumDown atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stars" || r.URL.Path == "/album" && albumDown.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":1}`))
	}))
	defer ts.Close()
	exp := tracetest.NewInMemoryExporter()
	p, err := tracing.New(config.Tracing{Enabled: true, SampleRatio: 1}, tracing.Options{Exporter: exp, Syncer: true})
	if err != nil {
		t.Fatal(err)
	}
	c := upstream.New("team", config.Upstream{BaseURL: ts.URL, Timeout: time.Second, MaxIdleConns: 2, Retries: 1, RetryBackoff: time.Millisecond},
		metrics.New("t", "t"), logging.Discard())
	c.SetTracing(p)
	get := func(path string) func(context.Context) (map[string]int, error) {
		return func(ctx context.Context) (map[string]int, error) {
			var out map[string]int
			return out, c.GetJSON(ctx, path, nil, &out)
		}
	}
	store := fanout.NewMemoryStore(8)
	ctx, root := p.Tracer("test").Start(t.Context(), "request")
	for i, down := range []bool{false, true} { // the album's last good value, then the album down
		albumDown.Store(down)
		g := fanout.New(ctx)
		fanout.Go(g, "video", get("/video"))
		fanout.Go(g, "stars", get("/stars"), fanout.Optional())
		fanout.Go(g, "album", get("/album"), fanout.StaleOK(store, "album:1"))
		if err := g.Wait(); err != nil {
			t.Fatalf("group %d: %v", i, err)
		}
		if got := g.Degraded(); len(got) != 1 || got[0] != "stars" {
			t.Fatalf("group %d degraded %v; want [stars]", i, got)
		}
		if got, want := len(g.Stale()), i; got != want {
			t.Fatalf("group %d: %d stale; want %d", i, got, want)
		}
	}
	root.End()

	type key struct {
		path    string
		attempt int64
	}
	count := map[key]int{}
	for _, s := range exp.GetSpans() {
		if s.Name != "GET team" {
			continue
		}
		a := attrs(s.Attributes)
		k := key{a["url.path"].AsString(), a["wings.attempt"].AsInt64()}
		count[k]++
		if s.Parent.SpanID() != root.SpanContext().SpanID() {
			t.Errorf("%v: parent %s; want the request span", k, s.Parent.SpanID())
		}
		if s.EndTime.Before(s.StartTime) {
			t.Errorf("%v: ends %v before it starts %v", k, s.EndTime, s.StartTime)
		}
		degraded, stale := a["wings.degraded"].AsBool(), a["wings.stale"].AsBool()
		wantDegraded := k == key{"/stars", 2}
		// The album's failing attempt 2 is answered stale (second group);
		// its attempt 1 and the first group's successes are not.
		wantStale := k.path == "/album" && k.attempt == 2
		if degraded != wantDegraded || stale != wantStale {
			t.Errorf("%v: wings.degraded=%v wings.stale=%v; want %v and %v", k, degraded, stale, wantDegraded, wantStale)
		}
		if failed := a["wings.outcome"].AsString() != "ok"; failed != (s.Status.Code == codes.Error) {
			t.Errorf("%v: outcome %s, status %v", k, a["wings.outcome"].AsString(), s.Status.Code)
		}
	}
	for k, want := range map[key]int{{"/video", 1}: 2, {"/stars", 1}: 2, {"/stars", 2}: 2, {"/album", 1}: 2, {"/album", 2}: 1} {
		if count[k] != want {
			t.Errorf("attempt spans %v: %d; want %d (all: %v)", k, count[k], want, count)
		}
	}
}

func attrs(kvs []attribute.KeyValue) map[string]attribute.Value {
	m := map[string]attribute.Value{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value
	}
	return m
}
