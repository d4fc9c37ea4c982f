package controller

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/app/service"
	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/wings"
)

// maxPastDays is how far back a date may be.
const maxPastDays = 400

var (
	metricNames = []string{"pv", "uv", "avg_value"}
	dimRe       = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)
)

// DashController serves /api/dash/:biz/*.
type DashController struct {
	svc   *service.DashService
	lines map[string]bool
	steps []string // the accepted events and funnel steps
}

// NewDashController returns a controller accepting the business lines in
// lines as :biz.
func NewDashController(svc *service.DashService, lines []string) *DashController {
	m := make(map[string]bool, len(lines))
	for _, l := range lines {
		m[l] = true
	}
	return &DashController{svc: svc, lines: m, steps: model.FunnelSteps()}
}

func (ctl *DashController) biz(c echo.Context) (string, error) {
	b := c.Param("biz")
	if !ctl.lines[b] {
		return "", apperr.BadParam("biz: unknown business line %q", clip(b))
	}
	return b, nil
}

// clip keeps echoed input short.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func oneOf(c echo.Context, name, def string, allowed []string) (string, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", apperr.BadParam("%s: must be one of %s, got %q", name, strings.Join(allowed, ", "), clip(v))
}

func intParam(c echo.Context, name string, def, lo, hi int) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, apperr.BadParam("%s: must be an integer in [%d, %d], got %q", name, lo, hi, clip(v))
	}
	return n, nil
}

// date parses a YYYY-MM-DD day in the configured zone, not in the future
// and not older than maxPastDays.
func (ctl *DashController) date(c echo.Context, name string, def time.Time) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseInLocation(time.DateOnly, v, ctl.svc.Location())
	if err != nil {
		return time.Time{}, apperr.BadParam("%s: must be a date YYYY-MM-DD, got %q", name, clip(v))
	}
	today := ctl.svc.Today()
	if d.After(today) {
		return time.Time{}, apperr.BadParam("%s: %s is in the future", name, v)
	}
	if d.Before(today.AddDate(0, 0, -maxPastDays)) {
		return time.Time{}, apperr.BadParam("%s: must be within the last %d days", name, maxPastDays)
	}
	return d, nil
}

// Realtime serves GET /api/dash/:biz/realtime?event=view.
func (ctl *DashController) Realtime(c echo.Context) error {
	biz, err := ctl.biz(c)
	if err != nil {
		return err
	}
	event, err := oneOf(c, "event", model.HomeEvent, ctl.steps)
	if err != nil {
		return err
	}
	v, err := ctl.svc.Realtime(c.Request().Context(), biz, event)
	if err != nil {
		return err
	}
	return wings.JSON(c, v)
}

// Ranking serves GET /api/dash/:biz/ranking?limit=10&date=YYYY-MM-DD&event=view.
func (ctl *DashController) Ranking(c echo.Context) error {
	biz, err := ctl.biz(c)
	if err != nil {
		return err
	}
	limit, err := intParam(c, "limit", 10, 1, 100)
	if err != nil {
		return err
	}
	day, err := ctl.date(c, "date", ctl.svc.Today())
	if err != nil {
		return err
	}
	event, err := oneOf(c, "event", model.HomeEvent, ctl.steps)
	if err != nil {
		return err
	}
	v, err := ctl.svc.Ranking(c.Request().Context(), biz, day, event, limit)
	if err != nil {
		return err
	}
	return wings.JSON(c, v)
}

// list parses a comma-separated list of distinct allowed names.
func list(c echo.Context, name string, def, allowed []string, minN int) ([]string, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		ok := false
		for _, a := range allowed {
			ok = ok || p == a
		}
		if !ok {
			return nil, apperr.BadParam("%s: unknown value %q (allowed: %s)", name, clip(p), strings.Join(allowed, ", "))
		}
		if seen[p] {
			return nil, apperr.BadParam("%s: %q given twice", name, p)
		}
		seen[p] = true
		out = append(out, p)
	}
	if len(out) < minN {
		return nil, apperr.BadParam("%s: needs at least %d values", name, minN)
	}
	return out, nil
}

// Funnel serves GET /api/dash/:biz/funnel?date=&steps=view,click,cart,order&window=3600.
func (ctl *DashController) Funnel(c echo.Context) error {
	biz, err := ctl.biz(c)
	if err != nil {
		return err
	}
	day, err := ctl.date(c, "date", ctl.svc.Today())
	if err != nil {
		return err
	}
	st, err := list(c, "steps", model.FunnelSteps(), ctl.steps, 2)
	if err != nil {
		return err
	}
	window, err := intParam(c, "window", model.FunnelWindow, 1, 86400)
	if err != nil {
		return err
	}
	v, err := ctl.svc.Funnel(c.Request().Context(), biz, day, st, window)
	if err != nil {
		return err
	}
	return wings.JSON(c, v)
}

func dim(c echo.Context, name string) (string, error) {
	v := c.QueryParam(name)
	if v != "" && !dimRe.MatchString(v) {
		return "", apperr.BadParam("%s: must match %s, got %q", name, dimRe, clip(v))
	}
	return v, nil
}

// Analysis serves GET /api/dash/:biz/analysis?from=&to=&granularity=hour|day
// &metrics=pv,uv,avg_value&platform=&region=&event=.
func (ctl *DashController) Analysis(c echo.Context) error {
	biz, err := ctl.biz(c)
	if err != nil {
		return err
	}
	gran, err := oneOf(c, "granularity", "day", []string{"hour", "day"})
	if err != nil {
		return err
	}
	today := ctl.svc.Today()
	to, err := ctl.date(c, "to", today)
	if err != nil {
		return err
	}
	defFrom := to.AddDate(0, 0, -6)
	if gran == "hour" {
		defFrom = to
	}
	from, err := ctl.date(c, "from", defFrom)
	if err != nil {
		return err
	}
	if from.After(to) {
		return apperr.BadParam("from: %s is after to (%s)", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	days := int(to.Sub(from).Hours()/24+0.5) + 1
	maxDays := model.MaxDaysDaily
	if gran == "hour" {
		maxDays = model.MaxDaysHourly
	}
	if days > maxDays {
		return apperr.BadParam("to: range of %d days is too long for granularity=%s (max %d)", days, gran, maxDays)
	}
	metrics, err := list(c, "metrics", metricNames, metricNames, 1)
	if err != nil {
		return err
	}
	var f model.Filters
	if f.Event, err = oneOf(c, "event", "", ctl.steps); err != nil {
		return err
	}
	if f.Platform, err = dim(c, "platform"); err != nil {
		return err
	}
	if f.Region, err = dim(c, "region"); err != nil {
		return err
	}
	v, err := ctl.svc.Analysis(c.Request().Context(), service.AnalysisQuery{
		Biz: biz, From: from, To: to, Granularity: gran, Metrics: metrics, Filters: f,
	})
	if err != nil {
		return err
	}
	return wings.JSON(c, v)
}
