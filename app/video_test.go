package app_test

import (
	"testing"
	"time"

	"github.com/wings-bff/wings/app"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/testkit"
	"github.com/wings-bff/wings/framework/testkit/apptest"
	"github.com/wings-bff/wings/framework/wings"
)

// startVideoApp runs the whole example app in-process, with the test
// environment's conf/, over the video detail's three teams answering from
// the recordings in testdata/upstreams (recorded from wings mock-upstream:
// see docs/testing.md). The teams are returned by name.
func startVideoApp(t *testing.T) (*apptest.App, map[string]*testkit.Upstream) {
	t.Helper()
	var cfg app.Config
	if _, err := config.Load(config.Options{Dir: "../conf", Env: "test", Environ: []string{}}, &cfg); err != nil {
		t.Fatal(err)
	}
	teams := map[string]*testkit.Upstream{}
	var ups []*testkit.Upstream
	for _, name := range []string{"video", "album", "star"} {
		teams[name] = testkit.Replay(t, name, "testdata/upstreams/"+name+".json")
		ups = append(ups, teams[name])
	}
	a := apptest.Start(t, func(rt *wings.Runtime) ([]wings.Route, error) {
		c, err := app.NewContainer(rt, app.WithAnalytics(cfg.Analytics))
		if err != nil {
			return nil, err
		}
		return app.Routes(c), nil
	}, apptest.WithConfig(&cfg.Config), apptest.WithUpstreams(ups...))
	return a, teams
}

// video42 is the detail of video 42 as the recordings make it.
const video42 = `{"code":0,"data":{"id":42,"title":"Video 42","duration":2530,"cover":"https://img.example/v/42.jpg",` +
	`"playCount":332599,"album":{"id":1042,"title":"Album 1042","episodes":40,"cover":"https://img.example/a/1042.jpg"},` +
	`"stars":[{"id":43,"name":"Star 43","avatar":"https://img.example/s/43.jpg"},{"id":93,"name":"Star 93","avatar":"https://img.example/s/93.jpg"},` +
	`{"id":143,"name":"Star 143","avatar":"https://img.example/s/143.jpg"}]}}`

func TestVideoDetail(t *testing.T) {
	t.Parallel()
	a, _ := startVideoApp(t)
	a.Get(t, "/api/video/42").OK(t).Is(t, 200, video42)
	a.Get(t, "/api/video/42?fields=id,title").Is(t, 200, `{"code":0,"data":{"id":42,"title":"Video 42"}}`)
	a.Get(t, "/api/video/42?callback=jQuery_1").JSONP(t, "jQuery_1")
	a.Get(t, "/api/video/404").Error(t, 404, "not_found")
	a.Get(t, "/api/video/abc").Error(t, 400, "bad_param")
	a.Get(t, "/api/video/42?callback=alert(1)").Error(t, 400, "bad_param")
	if got := a.Metric(t, "wings_upstream_requests_total", "upstream", "album", "outcome", "ok"); got != 3 {
		t.Errorf("album calls = %v; want 3 (one per answered detail)", got)
	}
}

// TestVideoDetailFaults breaks one team at a time: stars are optional and
// degrade; video and album are required and fail the request.
func TestVideoDetailFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		team   string
		fault  testkit.Fault
		status int
		kind   string // the error kind; "" means a 200 with stars degraded
	}{
		{"star down", "star", testkit.Down(), 200, ""},
		{"star slow", "star", testkit.Slow(3 * time.Second), 200, ""},
		{"star 500", "star", testkit.Status(500), 200, ""},
		{"star broken JSON", "star", testkit.BrokenJSON(), 200, ""},
		{"video down", "video", testkit.Down(), 502, "upstream_error"},
		{"video slow", "video", testkit.Slow(3 * time.Second), 504, "upstream_timeout"},
		{"video 500", "video", testkit.Status(500), 502, "upstream_error"},
		{"video broken JSON", "video", testkit.BrokenJSON(), 502, "upstream_error"},
		{"album 500", "album", testkit.Status(500), 502, "upstream_error"},
		{"album broken JSON", "album", testkit.BrokenJSON(), 502, "upstream_error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, teams := startVideoApp(t)
			teams[tc.team].Fail(tc.fault)
			res := a.Get(t, "/api/video/42")
			if tc.kind == "" {
				res.Degraded(t, "stars")
				if got := a.Metric(t, "wings_degraded_total", "source", "stars"); got != 1 {
					t.Errorf("wings_degraded_total{source=stars} = %v; want 1", got)
				}
			} else {
				res.Error(t, tc.status, tc.kind)
			}
			teams[tc.team].Heal()
			a.Get(t, "/api/video/42").Is(t, 200, video42)
		})
	}
}
