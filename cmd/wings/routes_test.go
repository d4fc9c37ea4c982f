package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/app"
	"github.com/wings-bff/wings/framework/cache"
	"github.com/wings-bff/wings/framework/reqctx"
	"github.com/wings-bff/wings/framework/wings"
)

// TestRoutesAgreeWithServing checks, for every route of the example app,
// that what `wings routes` prints is what serving applies: the deadline the
// handler runs under, and whether a repeated GET is answered from the
// response cache (only GET routes with a TTL are). Each route's handler is
// replaced by a probe; everything else is the real Runtime, config and route
// declaration. It runs under two configs: the default one (response cache
// on) and WINGS_ENV=test (off).
func TestRoutesAgreeWithServing(t *testing.T) {
	for _, env := range []string{"", "test"} {
		t.Run("env="+env, func(t *testing.T) {
			t.Setenv("WINGS_ENV", env)
			printed := printedRoutes(t)
			cfg, _, err := loadConfig("../../conf")
			if err != nil {
				t.Fatal(err)
			}
			cfg.Redis.Addr, cfg.ClickHouse.Addr = "", "" // policy only: no server is needed
			rt, err := wings.New(&cfg.Config, wings.Options{LogOutput: io.Discard, ResponseCache: cache.Install})
			if err != nil {
				t.Fatal(err)
			}
			routes := app.Routes(&app.Container{})
			if len(printed) != len(routes) {
				t.Fatalf("wings routes printed %d routes; the app has %d", len(printed), len(routes))
			}
			// A probe's served is the deadline its handler last ran under,
			// measured from its request's start.
			type probe struct {
				start  time.Time
				served time.Duration
				calls  int
			}
			probes := map[string]*probe{}
			for i := range routes {
				r := &routes[i]
				p := &probe{}
				probes[r.Name] = p
				// Auth is not route policy: a scope stands in for a login,
				// so Private answers are cacheable as for a signed-in caller.
				r.Auth, r.Page = "", false
				r.Middleware = append([]echo.MiddlewareFunc{func(next echo.HandlerFunc) echo.HandlerFunc {
					return func(c echo.Context) error {
						p.start = time.Now()
						c.SetRequest(c.Request().WithContext(reqctx.WithScope(c.Request().Context(), "probe")))
						return next(c)
					}
				}}, r.Middleware...)
				r.Handler = func(c echo.Context) error {
					p.calls++
					if dl, ok := c.Request().Context().Deadline(); ok {
						p.served = dl.Sub(p.start)
					}
					return wings.JSON(c, map[string]int{"calls": p.calls})
				}
			}
			rt.Handle(routes...)
			for _, r := range routes {
				row, ok := printed[r.Method+" "+r.Path]
				if !ok {
					t.Errorf("%s %s: not printed by wings routes", r.Method, r.Path)
					continue
				}
				if row.name != r.Name {
					t.Errorf("%s %s: printed name %q; want %q", r.Method, r.Path, row.name, r.Name)
				}
				p := probes[r.Name]
				path := regexp.MustCompile(`:[^/]+`).ReplaceAllString(strings.ReplaceAll(r.Path, "*", "x"), "p1")
				var xcache []string
				for range 2 {
					rec := httptest.NewRecorder()
					rt.ServeHTTP(rec, httptest.NewRequest(r.Method, path, nil))
					if rec.Code != http.StatusOK {
						t.Fatalf("%s %s: status %d; want 200 from the probe: %s", r.Method, path, rec.Code, rec.Body)
					}
					xcache = append(xcache, rec.Header().Get("X-Cache"))
				}
				if served := p.served; served < row.timeout || served-row.timeout > 500*time.Millisecond {
					t.Errorf("%s: served with a %s deadline; wings routes prints %s", r.Name, served, row.timeout)
				}
				cached := xcache[1] == "HIT"
				if want := row.cache != "-"; cached != want || (want && p.calls != 1) {
					t.Errorf("%s: X-Cache %q, handler calls %d; wings routes prints cache %s", r.Name, xcache, p.calls, row.cache)
				}
				pol := rt.Policies()[r.Name]
				if pol.Timeout != row.timeout || pol.Cached() != (row.cache != "-") || (pol.Cached() && pol.CacheTTL.String() != row.cache) {
					t.Errorf("%s: Runtime.Policies() = %+v; wings routes prints timeout %s, cache %s", r.Name, pol, row.timeout, row.cache)
				}
			}
		})
	}
}

type printedRoute struct {
	name, cache string
	timeout     time.Duration
}

// printedRoutes runs `wings routes --conf ../../conf` and reads its table,
// keyed by "METHOD /path".
func printedRoutes(t *testing.T) map[string]printedRoute {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"routes", "--conf", "../../conf"})
	if err := root.Execute(); err != nil {
		t.Fatalf("wings routes: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "METHOD") {
		t.Fatalf("wings routes printed no table:\n%s", out.String())
	}
	rows := map[string]printedRoute{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 9 {
			t.Fatalf("wings routes: row %q has %d columns; want 9", l, len(f))
		}
		d, err := time.ParseDuration(f[4])
		if err != nil {
			t.Fatalf("wings routes: row %q: timeout: %v", l, err)
		}
		rows[f[0]+" "+f[1]] = printedRoute{name: f[2], timeout: d, cache: f[5]}
	}
	return rows
}
