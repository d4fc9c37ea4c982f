package testkit_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/render"
	"github.com/wings-bff/wings/framework/testkit"
	"github.com/wings-bff/wings/framework/wings"
)

// greeter is a small app: GET /api/greet/:id asks the required "name" team
// and the optional "mood" team, which degrades when it fails.
func greeter(rt *wings.Runtime) ([]wings.Route, error) {
	names, err := rt.Upstream("name")
	if err != nil {
		return nil, err
	}
	moods, err := rt.Upstream("mood")
	if err != nil {
		return nil, err
	}
	return []wings.Route{{Method: http.MethodGet, Path: "/api/greet/:id", Name: "greet", Handler: func(c echo.Context) error {
		ctx := c.Request().Context()
		var n struct {
			Name string `json:"name"`
		}
		if err := names.GetJSON(ctx, "/name/"+c.Param("id"), nil, &n); err != nil {
			return err
		}
		if n.Name == "" {
			return apperr.NotFound("person %s not found", c.Param("id"))
		}
		var m struct {
			Mood string `json:"mood"`
		}
		var meta render.Meta
		if err := moods.GetJSON(ctx, "/mood", map[string][]string{"id": {c.Param("id")}}, &m); err != nil {
			meta.Degraded = []string{"mood"}
		}
		return wings.JSONMeta(c, map[string]string{"greeting": "hello " + n.Name, "mood": m.Mood}, meta)
	}}}, nil
}

func TestReplayFaultsAndAssertions(t *testing.T) {
	t.Parallel()
	name := testkit.Replay(t, "name", "testdata/upstreams/name.json")
	mood := testkit.NewUpstream(t, "mood", testkit.Bodies(map[string]string{"/mood?id=42": `{"mood":"sunny"}`}))
	app := testkit.Start(t, greeter, testkit.WithUpstreams(name, mood), testkit.Configure(func(c *config.Config) {
		u := c.Upstreams["mood"]
		u.Timeout = 100 * time.Millisecond
		c.Upstreams["mood"] = u
	}))

	app.Get(t, "/api/greet/42").OK(t).Is(t, 200, `{"code":0,"data":{"greeting":"hello Ada","mood":"sunny"}}`)
	app.Get(t, "/api/greet/42?callback=cb").JSONP(t, "cb")
	app.Get(t, "/api/greet/7").Error(t, 404, "not_found")

	for _, f := range []testkit.Fault{testkit.Down(), testkit.Slow(time.Second), testkit.Status(500), testkit.BrokenJSON()} {
		mood.Fail(f)
		app.Get(t, "/api/greet/42").Degraded(t, "mood")
	}
	mood.Heal()
	app.Get(t, "/api/greet/42").OK(t)

	name.Fail(testkit.Status(503))
	app.Get(t, "/api/greet/42").Error(t, 502, "upstream_error")
	name.Fail(testkit.Slow(5 * time.Second))
	app.Get(t, "/api/greet/42").Error(t, 504, "upstream_timeout")

	if got := app.Metric(t, "wings_upstream_requests_total", "upstream", "mood", "outcome", "ok"); got != 3 {
		t.Errorf("mood ok calls = %v; want 3", got)
	}
	if got := app.Metric(t, "wings_upstream_requests_total", "upstream", "mood"); got < 6 {
		t.Errorf("mood calls = %v; want at least 6", got)
	}
	if got := app.Metric(t, "wings_http_requests_total", "route", "/api/greet/:id", "code", "404"); got != 1 {
		t.Errorf("404 answers = %v; want 1", got)
	}
	if got := app.Metric(t, "wings_http_request_duration_seconds", "route", "/api/greet/:id"); got < 10 {
		t.Errorf("duration samples = %v; want one per request", got)
	}
	if name.Calls() == 0 || mood.Calls() < 6 {
		t.Errorf("calls: name %d, mood %d", name.Calls(), mood.Calls())
	}
}

// TestRecordThenReplay records a real team into a file, then replays the
// file with the team gone.
func TestRecordThenReplay(t *testing.T) {
	real := testkit.NewUpstream(t, "real", testkit.Bodies(map[string]string{"/name/42": `{"name": "Ada"}`}))
	file := filepath.Join(t.TempDir(), "name.json")

	t.Run("record", func(t *testing.T) {
		t.Setenv(testkit.RecordEnv, "other=http://127.0.0.1:1,name="+real.URL)
		name := testkit.Replay(t, "name", file)
		mood := testkit.NewUpstream(t, "mood", testkit.Bodies(nil))
		app := testkit.Start(t, greeter, testkit.WithUpstreams(name, mood))
		app.Get(t, "/api/greet/42").Degraded(t, "mood")
		app.Get(t, "/api/greet/7").Error(t, 404, "not_found")
	})
	recs, err := testkit.ReadRecordings(file)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(recs)
	want := `[{"request":"GET /name/42","status":200,"body":{"name":"Ada"}},` +
		`{"request":"GET /name/7","status":404,"body":{"error":"not found"}}]`
	if string(b) != want {
		t.Errorf("recorded %s\nwant     %s", b, want)
	}
	if real.Calls() != 2 {
		t.Errorf("real team called %d times; want 2", real.Calls())
	}

	t.Run("replay", func(t *testing.T) {
		name := testkit.Replay(t, "name", file)
		mood := testkit.NewUpstream(t, "mood", testkit.Bodies(map[string]string{"/mood?id=42": `{"mood":"calm"}`}))
		app := testkit.Start(t, greeter, testkit.WithUpstreams(name, mood))
		app.Get(t, "/api/greet/42").Is(t, 200, `{"code":0,"data":{"greeting":"hello Ada","mood":"calm"}}`)
		app.Get(t, "/api/greet/7").Error(t, 404, "not_found")
	})
	if real.Calls() != 2 {
		t.Errorf("replay reached the real team (%d calls)", real.Calls())
	}
}

// TestReplayMissingRecordingFails runs a replay that meets a request it
// has no recording of, in a test of its own, and checks that test failed.
func TestReplayMissingRecordingFails(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "name.json")
	if err := testkit.WriteRecordings(file, []testkit.Recording{{Request: "GET /name/1", Status: 200, Body: json.RawMessage(`{"name":"Bo"}`)}}); err != nil {
		t.Fatal(err)
	}
	inner := &recordingT{TB: t}
	func() {
		defer inner.cleanup()
		name := testkit.Replay(inner, "name", file)
		resp, err := http.Get(name.URL + "/name/2")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("unrecorded request answered %d; want 501", resp.StatusCode)
		}
	}()
	if len(inner.errors) != 1 {
		t.Errorf("errors = %q; want one naming the request", inner.errors)
	}
	if _, err := os.Stat(file); err != nil {
		t.Error(err)
	}
}

// recordingT is a testing.TB that keeps Errorf messages and cleanups, to
// test what the kit reports.
type recordingT struct {
	testing.TB
	errors   []string
	cleanups []func()
}

func (r *recordingT) Helper()               {}
func (r *recordingT) Cleanup(f func())      { r.cleanups = append(r.cleanups, f) }
func (r *recordingT) Errorf(string, ...any) { r.errors = append(r.errors, "error") }
func (r *recordingT) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}
