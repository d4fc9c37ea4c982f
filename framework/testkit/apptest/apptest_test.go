package apptest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/fanout"
	"github.com/wings-bff/wings/framework/render"
	"github.com/wings-bff/wings/framework/testkit"
	"github.com/wings-bff/wings/framework/testkit/apptest"
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
	}}, {Method: http.MethodGet, Path: "/api/mood/:id", Name: "mood", Handler: func(c echo.Context) error {
		// The mood alone, answered from its last good value when the team fails.
		g := fanout.New(c.Request().Context())
		mood := fanout.Go(g, "mood", func(ctx context.Context) (map[string]string, error) {
			var m map[string]string
			err := moods.GetJSON(ctx, "/mood", map[string][]string{"id": {c.Param("id")}}, &m)
			return m, err
		}, fanout.StaleOK(rt.StaleStore(), "mood:"+c.Param("id")))
		if err := g.Wait(); err != nil {
			return err
		}
		return wings.JSONMeta(c, mood.Value(), render.Meta{Degraded: g.Degraded(), Stale: g.Stale()})
	}}}, nil
}

func TestReplayFaultsAndAssertions(t *testing.T) {
	t.Parallel()
	name := testkit.Replay(t, "name", "testdata/upstreams/name.json")
	mood := testkit.NewUpstream(t, "mood", testkit.Bodies(map[string]string{"/mood?id=42": `{"mood":"sunny"}`}))
	app := apptest.Start(t, greeter, apptest.WithUpstreams(name, mood), apptest.Configure(func(c *config.Config) {
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

	app.Get(t, "/api/mood/42").OK(t).Is(t, 200, `{"code":0,"data":{"mood":"sunny"}}`)
	mood.Fail(testkit.Status(500))
	app.Get(t, "/api/mood/42").Stale(t, "mood").Is(t, 200, `{"code":0,"data":{"mood":"sunny"},"stale":["mood"]}`)
	app.Get(t, "/api/mood/7").Error(t, 502, "upstream_error") // no good value kept
	mood.Heal()

	name.Fail(testkit.Status(503))
	app.Get(t, "/api/greet/42").Error(t, 502, "upstream_error")
	name.Fail(testkit.Slow(5 * time.Second))
	app.Get(t, "/api/greet/42").Error(t, 504, "upstream_timeout")

	if got := app.Metric(t, "wings_upstream_requests_total", "upstream", "mood", "outcome", "ok"); got != 4 {
		t.Errorf("mood ok calls = %v; want 4", got)
	}
	if got := app.Metric(t, "wings_stale_total", "source", "mood"); got != 1 {
		t.Errorf("wings_stale_total{source=mood} = %v; want 1", got)
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

// TestRefusing runs the app with a team whose address refuses connections.
func TestRefusing(t *testing.T) {
	t.Parallel()
	name := testkit.Refusing(t, "name")
	mood := testkit.NewUpstream(t, "mood", testkit.Bodies(nil))
	app := apptest.Start(t, greeter, apptest.WithUpstreams(name, mood))
	app.Get(t, "/api/greet/42").Error(t, 502, "upstream_error")
	if got := app.Metric(t, "wings_upstream_requests_total", "upstream", "name", "outcome", "refused"); got != 1 {
		t.Errorf("refused calls = %v; want 1", got)
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
		app := apptest.Start(t, greeter, apptest.WithUpstreams(name, mood))
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
		app := apptest.Start(t, greeter, apptest.WithUpstreams(name, mood))
		app.Get(t, "/api/greet/42").Is(t, 200, `{"code":0,"data":{"greeting":"hello Ada","mood":"calm"}}`)
		app.Get(t, "/api/greet/7").Error(t, 404, "not_found")
	})
	if real.Calls() != 2 {
		t.Errorf("replay reached the real team (%d calls)", real.Calls())
	}
}
