package wings_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/wings"
)

func TestRouteInfoCarriesTheOwner(t *testing.T) {
	t.Parallel()
	ok := func(c echo.Context) error { return wings.JSON(c, 1) }
	rt, _ := newRuntime(t, nil,
		wings.Route{Method: http.MethodGet, Path: "/api/video/:id", Handler: ok, Owner: wings.Owner{Team: "video", Contact: "v@example.com"}},
		wings.Route{Method: http.MethodGet, Path: "/api/free", Handler: ok},
	)
	do(rt, http.MethodGet, "/api/video/1")
	body := do(rt, http.MethodGet, "/metrics").Body.String()
	for _, want := range []string{
		`wings_route_info{owner="video",route="/api/video/:id"} 1`,
		`wings_route_info{owner="unowned",route="/api/free"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The request metrics keep their labels: owner is joined in by the
	// rules, not copied onto every series.
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "wings_http_") && strings.Contains(l, "owner=") {
			t.Errorf("request series carries an owner: %s", l)
		}
	}
}

func TestParseOwner(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    wings.Owner
		wantErr bool
	}{
		{in: "video:video-team@example.com", want: wings.Owner{Team: "video", Contact: "video-team@example.com"}},
		{in: "data", want: wings.Owner{Team: "data"}},
		{in: "ops:https://hooks.example/a:b", want: wings.Owner{Team: "ops", Contact: "https://hooks.example/a:b"}},
		{in: "", wantErr: true},
		{in: ":someone@example.com", wantErr: true},
		{in: "Video Team:x", wantErr: true},
	} {
		got, err := wings.ParseOwner(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseOwner(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	if got := (wings.Owner{}).String(); got != "unowned" {
		t.Errorf("zero Owner prints %q; want unowned", got)
	}
}

func TestRouteTablePrintsOwner(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	err := wings.WriteRouteTable(&b, []wings.RouteInfo{
		{Method: "GET", Path: "/a", Name: "a", Handler: "h", Owner: wings.Owner{Team: "video", Contact: "v@example.com"}},
		{Method: "GET", Path: "/b", Name: "b", Handler: "h"},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasSuffix(strings.TrimSpace(lines[0]), "OWNER") ||
		!strings.HasSuffix(lines[1], "video:v@example.com") || !strings.HasSuffix(lines[2], "unowned") {
		t.Errorf("table:\n%s\nwant an OWNER column: video:v@example.com, unowned", b.String())
	}
}
