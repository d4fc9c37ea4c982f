package app

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wings-bff/wings/app/controller"
	"github.com/wings-bff/wings/app/dao"
	"github.com/wings-bff/wings/app/eventgen"
	"github.com/wings-bff/wings/app/service"
	"github.com/wings-bff/wings/framework/scheduler"
	"github.com/wings-bff/wings/framework/wings"
)

// Analytics configures the dashboards over ClickHouse.
type Analytics struct {
	// Timezone fixes hour and day boundaries (IANA name).
	Timezone string `mapstructure:"timezone"`
	// PrecomputeInterval is how often the home payloads are recomputed.
	PrecomputeInterval time.Duration `mapstructure:"precompute_interval"`
	// BusinessLines are the accepted values of :biz.
	BusinessLines []string `mapstructure:"business_lines"`
	// SpanInterval is how often the analytics_spans job brings the UV
	// spans of closed days up to date (0 turns the job off).
	SpanInterval time.Duration `mapstructure:"span_interval"`
	// SpanMinUV selects the keys that get spans: UV on the last closed day
	// at least this (smaller states merge fast enough).
	SpanMinUV uint64 `mapstructure:"span_min_uv"`
	// ClockOffset shifts the dashboards' clock (what today and the open
	// hour are) from the wall clock: tests and demos replay any day and
	// hour with it. Only the local and test environments accept it.
	ClockOffset time.Duration `mapstructure:"clock_offset"`
}

// Now is the dashboards' clock: the wall clock shifted by ClockOffset.
func (a Analytics) Now() func() time.Time {
	if a.ClockOffset == 0 {
		return time.Now
	}
	off := a.ClockOffset
	return func() time.Time { return time.Now().Add(off) }
}

var bizRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Validate checks the analytics section, naming each bad key.
func (a *Analytics) Validate() error {
	var errs []error
	if _, err := time.LoadLocation(a.Timezone); err != nil || a.Timezone == "" || a.Timezone == "Local" {
		errs = append(errs, fmt.Errorf("analytics.timezone: must be an IANA time zone name, got %q", a.Timezone))
	} else if !tzRe.MatchString(a.Timezone) {
		errs = append(errs, fmt.Errorf("analytics.timezone: unexpected characters in %q", a.Timezone))
	}
	if a.PrecomputeInterval < time.Second {
		errs = append(errs, errors.New("analytics.precompute_interval: must be >= 1s"))
	}
	if a.SpanInterval != 0 && a.SpanInterval < time.Second {
		errs = append(errs, errors.New("analytics.span_interval: must be 0 (off) or >= 1s"))
	}
	if len(a.BusinessLines) == 0 {
		errs = append(errs, errors.New("analytics.business_lines: must list at least one line"))
	}
	for _, b := range a.BusinessLines {
		if !bizRe.MatchString(b) {
			errs = append(errs, fmt.Errorf("analytics.business_lines: %q must match %s", b, bizRe))
		}
	}
	return errors.Join(errs...)
}

// tzRe keeps the zone name safe to embed in DDL (it is also a valid zone).
var tzRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$`)

// Validate checks the framework sections and the app's own.
func (c *Config) Validate() error {
	var clock error
	if c.Analytics.ClockOffset != 0 && c.Env != "local" && c.Env != "test" {
		clock = fmt.Errorf("analytics.clock_offset: only the local and test environments may shift the clock (env %q)", c.Env)
	}
	return errors.Join(c.Config.Validate(), c.Analytics.Validate(), clock)
}

// Option adjusts NewContainer.
type Option func(*options)

type options struct {
	analytics *Analytics
}

// WithAnalytics passes the analytics section (main passes cfg.Analytics);
// without it the dashboards use DefaultAnalytics.
func WithAnalytics(a Analytics) Option { return func(o *options) { o.analytics = &a } }

// DefaultAnalytics is the analytics section's default.
func DefaultAnalytics() Analytics {
	return Analytics{
		Timezone:           "Asia/Shanghai",
		PrecomputeInterval: time.Minute,
		SpanInterval:       10 * time.Minute,
		SpanMinUV:          10000,
		BusinessLines:      append(append([]string(nil), eventgen.BigLines...), eventgen.SmallLines...),
	}
}

// newDash wires the dashboards: dao over rt.ClickHouse() (nil is fine: the
// endpoints then answer from precomputed payloads or 503), the payload
// store in Redis (or in-process), and the precompute job on the framework
// scheduler, started with the Runtime and stopped with it.
func newDash(rt *wings.Runtime, a Analytics) (*controller.DashController, error) {
	loc, err := time.LoadLocation(a.Timezone)
	if err != nil {
		return nil, fmt.Errorf("analytics.timezone: %w", err)
	}
	src := dao.NewAnalyticsDAO(rt.ClickHouse(), a.Timezone)
	store := dao.NewPayloadStore(rt.Redis(), rt.Config().App.Name+":dash:", 7*24*time.Hour)
	svc := service.NewDashService(src, store, loc, a.PrecomputeInterval*3/2, a.Now())

	sched := scheduler.New(rt.Redis(), rt.Config().App.Name+":lease:", scheduler.NewMetrics(rt.Metrics().Registerer()), rt.Logger())
	lines := append([]string(nil), a.BusinessLines...)
	err = sched.Add(scheduler.Job{
		Name:     "dash_precompute",
		Interval: a.PrecomputeInterval,
		Run: func(ctx context.Context) error {
			if rt.ClickHouse() == nil {
				return nil
			}
			var errs []error
			for _, biz := range lines {
				if err := svc.Precompute(ctx, biz); err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	})
	if err != nil {
		return nil, err
	}
	if a.SpanInterval > 0 {
		err = sched.Add(scheduler.Job{
			Name:     "analytics_spans",
			Interval: a.SpanInterval,
			Run: func(ctx context.Context) error {
				if rt.ClickHouse() == nil {
					return nil
				}
				start := time.Now()
				run, err := src.RefreshSpans(ctx, svc.Today(), a.SpanMinUV)
				rt.Logger().WithFields(logrus.Fields{"job": "analytics_spans", "keys": run.Keys, "statements": run.Queries,
					"spans": run.Spans, "latency_ms": time.Since(start).Milliseconds()}).Info("uv spans refreshed")
				return err
			},
		})
		if err != nil {
			return nil, err
		}
	}
	rt.OnStart(func(context.Context) error { sched.Start(rt.Context()); return nil })
	rt.OnStop(func(context.Context) error { sched.Wait(); return nil })
	return controller.NewDashController(svc, lines), nil
}
