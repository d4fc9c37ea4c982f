package app

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/app/controller"
	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/app/service"
	"github.com/wings-bff/wings/framework/render"
	"github.com/wings-bff/wings/framework/wings"
)

// readLog is an echo.Context that notes the query parameters read.
type readLog struct {
	echo.Context
	read map[string]bool
	all  bool // QueryParams or QueryString: anything may be read
}

func (c *readLog) QueryParam(name string) string {
	c.read[name] = true
	return c.Context.QueryParam(name)
}

func (c *readLog) QueryParams() url.Values { c.all = true; return c.Context.QueryParams() }
func (c *readLog) QueryString() string     { c.all = true; return c.Context.QueryString() }

// down answers every dashboard question with an error: the handlers read
// and check all their parameters before they ask.
type down struct{}

var errDown = errors.New("down")

func (down) Series(context.Context, string, string, time.Time, time.Time, model.Filters, bool) ([]model.Bucket, model.Bucket, error) {
	return nil, model.Bucket{}, errDown
}

func (down) Ranking(context.Context, string, string, time.Time, int) ([]model.ItemViews, error) {
	return nil, errDown
}

func (down) SeriesSource(string, model.Filters) model.Source { return model.Source{Name: "down"} }
func (down) FunnelSource([]string, int) model.Source         { return model.Source{Name: "down"} }
func (down) RankingSource() model.Source                     { return model.Source{Name: "down"} }

func (down) Funnel(context.Context, string, []string, int, time.Time, time.Time) ([]uint64, string, error) {
	return nil, "", errDown
}

func (down) RefreshFunnelState(context.Context, string, time.Time, time.Time) (model.FunnelStateRun, error) {
	return model.FunnelStateRun{}, errDown
}

func (down) Put(context.Context, string, []byte, time.Duration) error { return errDown }
func (down) Peek(context.Context, string) ([]byte, time.Time, bool) {
	return nil, time.Time{}, false
}

type noVideo struct{}

func (noVideo) Detail(context.Context, int64) (*model.Video, render.Meta, error) {
	return nil, render.Meta{}, errDown
}

// TestRoutesDeclareTheQueryTheyRead runs every handler of the route table
// and compares the query parameters it reads with its route's Query: the
// response cache keys on the declared ones alone, so one read but not
// declared would be ignored on cached routes.
func TestRoutesDeclareTheQueryTheyRead(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC) }
	svc := service.NewDashService(down{}, down{}, time.UTC, time.Minute, now)
	c := &Container{
		Video: controller.NewVideoController(noVideo{}),
		Dash:  controller.NewDashController(svc, []string{"video"}),
	}
	e := echo.New()
	for _, r := range Routes(c) {
		t.Run(r.Name, func(t *testing.T) {
			path := strings.NewReplacer(":biz", "video", ":id", "42").Replace(r.Path)
			ec := e.NewContext(httptest.NewRequest(r.Method, path, nil), httptest.NewRecorder())
			var names, values []string
			for _, seg := range strings.Split(r.Path, "/") {
				if p, ok := strings.CutPrefix(seg, ":"); ok {
					names = append(names, p)
					values = append(values, map[string]string{"biz": "video", "id": "42"}[p])
				}
			}
			ec.SetParamNames(names...)
			ec.SetParamValues(values...)
			log := &readLog{Context: ec, read: map[string]bool{}}
			func() {
				// Handlers of controllers this test does not build (a
				// generated endpoint's) panic at their first call of a
				// service: parameters are read before.
				defer func() { _ = recover() }()
				_ = r.Handler(log) // the fakes fail every call; only the reads matter
			}()
			if log.all {
				// The merge endpoint reads its repeated part parameter whole;
				// its parts are cached each through its own route.
				if r.Path == BatchPath && slices.Equal(r.Query, []string{"part"}) {
					return
				}
				t.Fatalf("the handler reads the whole query; declare and read parameters one by one")
			}
			var read []string
			for n := range log.read {
				read = append(read, n)
			}
			slices.Sort(read)
			declared := slices.Sorted(slices.Values(r.Query))
			if !slices.Equal(read, declared) {
				t.Errorf("reads %q; declares %q", read, declared)
			}
		})
	}
}

// TestRoutesHaveOwners checks that every route of the table names a team
// that is a valid owner label, and that routes sharing a path share their
// owner (wings_route_info has one series per path, which the alert rules
// join on).
func TestRoutesHaveOwners(t *testing.T) {
	byPath := map[string]wings.Owner{}
	for _, r := range Routes(&Container{}) {
		if r.Owner.Team == "" || r.Owner.Contact == "" {
			t.Errorf("%s %s: owner %q; want a team and a contact", r.Method, r.Path, r.Owner)
			continue
		}
		if _, err := wings.ParseOwner(r.Owner.String()); err != nil {
			t.Errorf("%s %s: %v", r.Method, r.Path, err)
		}
		if o, ok := byPath[r.Path]; ok && o.Team != r.Owner.Team {
			t.Errorf("%s: owned by %s and %s; want one team per path", r.Path, o.Team, r.Owner.Team)
		}
		byPath[r.Path] = r.Owner
	}
}
