package wings_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/fanout"
	"github.com/wings-bff/wings/framework/wings"
)

// A /readyz check runs on a goroutine of its own: its panic fails the
// check, logged and counted, and the process keeps serving.
func TestReadyzCheckPanic(t *testing.T) {
	t.Parallel()
	rt, logs := newRuntime(t, nil)
	rt.AddCheck(wings.Check{Name: "buggy", Critical: true, Fn: func(context.Context) error { panic("check bug") }})
	for range 2 {
		w := do(rt, http.MethodGet, "/readyz")
		if w.Code != 503 || !strings.Contains(w.Body.String(), `"buggy":{"ok":false,"critical":true,"error":"check panicked"}`) {
			t.Fatalf("/readyz: %d %s; want 503 with the check failed", w.Code, w.Body)
		}
	}
	if n := testutil.ToFloat64(rt.Metrics().Panics.WithLabelValues("readyz")); n != 2 {
		t.Errorf("wings_panics_total{where=readyz} = %v; want 2", n)
	}
	if lines := logs.lines(t, "panic recovered"); len(lines) != 2 || !strings.Contains(lines[0]["stack"].(string), "panic_test.go") {
		t.Errorf("panic log lines = %v; want 2 with the stack", lines)
	}
}

// A reload hook runs on the config watcher's goroutine: its panic is logged
// and counted, and the other hooks still apply.
func TestReloadHookPanic(t *testing.T) {
	t.Parallel()
	rt, _ := newRuntime(t, nil)
	rt.OnReload(func(*config.Config) { panic("hook bug") })
	var got string
	rt.OnReload(func(next *config.Config) { got = next.Log.Level })
	next := testConfig()
	next.Log.Level = "debug"
	applied, _ := wings.NewReloader(rt).Apply("test", next)
	if len(applied) != 1 || got != "debug" {
		t.Errorf("applied %v, second hook saw %q; want [log.level], debug", applied, got)
	}
	if n := testutil.ToFloat64(rt.Metrics().Panics.WithLabelValues("reload")); n != 1 {
		t.Errorf("wings_panics_total{where=reload} = %v; want 1", n)
	}
}

// A fan-out call's panic fails its request as a 500 internal and is
// counted under where=fanout, with its stack in the log.
func TestFanoutPanicCounted(t *testing.T) {
	t.Parallel()
	rt, logs := newRuntime(t, nil, wings.Route{Method: http.MethodGet, Path: "/fan", Name: "fan", Handler: func(c echo.Context) error {
		g := fanout.New(c.Request().Context())
		fanout.Go(g, "bug", func(context.Context) (int, error) { panic("formatter bug") })
		return g.Wait()
	}})
	w := do(rt, http.MethodGet, "/fan")
	if f := decodeFailure(t, w); w.Code != 500 || f.Error != "internal" {
		t.Errorf("got %d %+v; want 500 internal", w.Code, f)
	}
	if n := testutil.ToFloat64(rt.Metrics().Panics.WithLabelValues("fanout")); n != 1 {
		t.Errorf("wings_panics_total{where=fanout} = %v; want 1", n)
	}
	if lines := logs.lines(t, "panic recovered"); len(lines) != 1 || lines[0]["source"] != "bug" || lines[0]["route"] != "/fan" {
		t.Errorf("panic log lines = %v; want one naming the source and route", lines)
	}
}
