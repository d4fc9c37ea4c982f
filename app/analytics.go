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
	"github.com/wings-bff/wings/framework/budget"
	"github.com/wings-bff/wings/framework/cache"
	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/logging"
	"github.com/wings-bff/wings/framework/scheduler"
	"github.com/wings-bff/wings/framework/wings"
)

// Analytics configures the dashboards over ClickHouse.
type Analytics struct {
	// Timezone fixes hour and day boundaries (IANA name).
	Timezone string `mapstructure:"timezone"`
	// PrecomputeInterval is how often the home payloads are recomputed.
	PrecomputeInterval time.Duration `mapstructure:"precompute_interval"`
	// PrecomputeParallelism is how many business lines the precompute job
	// computes at once.
	PrecomputeParallelism int `mapstructure:"precompute_parallelism"`
	// PrecomputeLineTimeout bounds one line's precompute (the job's run is
	// bounded by PrecomputeInterval as well).
	PrecomputeLineTimeout time.Duration `mapstructure:"precompute_line_timeout"`
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
	// Classes are the cost budgets of live dashboard queries by class.
	Classes QueryClasses `mapstructure:"classes"`
}

// Now is the dashboards' clock: the wall clock shifted by ClockOffset.
func (a Analytics) Now() func() time.Time {
	if a.ClockOffset == 0 {
		return time.Now
	}
	off := a.ClockOffset
	return func() time.Time { return time.Now().Add(off) }
}

// QueryClasses are the budgets of the two classes of live queries
// (service.ClassRollup, service.ClassRaw).
type QueryClasses struct {
	// Rollup: queries answered from the rollups and funnel snapshots.
	Rollup QueryClass `mapstructure:"rollup"`
	// Raw: queries that scan raw events (a funnel other than the home
	// one's steps and window, an hourly analysis with dimension filters).
	Raw QueryClass `mapstructure:"raw"`
}

// QueryClass is the budget of one class of live dashboard queries.
type QueryClass struct {
	// Concurrency bounds the class's queries running at once per instance.
	Concurrency int `mapstructure:"concurrency"`
	// PerUser bounds one user's queries of the class running at once.
	PerUser int `mapstructure:"per_user"`
	// Wait is how long a query waits for a slot before 429 (its user's
	// share is full) or 503 (the class is full), both with Retry-After.
	Wait time.Duration `mapstructure:"wait"`
	// MaxExecutionTime is sent to ClickHouse with each query of the class
	// (max_execution_time); a query it stops is a 503 naming the limit, or
	// the stale payload.
	MaxExecutionTime time.Duration `mapstructure:"max_execution_time"`
	// MaxMemoryUsage is sent with each query (max_memory_usage, bytes); 0
	// leaves it to the server.
	MaxMemoryUsage uint64 `mapstructure:"max_memory_usage"`
	// MaxRowsToRead is sent with each query (max_rows_to_read); 0 leaves
	// it to the server.
	MaxRowsToRead uint64 `mapstructure:"max_rows_to_read"`
	// CacheTTL caches the class's answers this long (0: not cached).
	CacheTTL time.Duration `mapstructure:"cache_ttl"`
}

// maxLimitSetting bounds the byte and row limits (sent as int64).
const maxLimitSetting = 1 << 62

// validate checks one class, naming its keys under prefix.
func (q QueryClass) validate(prefix string) []error {
	var errs []error
	if q.Concurrency < 1 || q.Concurrency > 1024 {
		errs = append(errs, fmt.Errorf("%s.concurrency: must be in [1, 1024], got %d", prefix, q.Concurrency))
	}
	if q.PerUser < 1 || q.PerUser > q.Concurrency {
		errs = append(errs, fmt.Errorf("%s.per_user: must be in [1, concurrency], got %d", prefix, q.PerUser))
	}
	if q.Wait < 0 || q.Wait > 30*time.Second {
		errs = append(errs, fmt.Errorf("%s.wait: must be in [0s, 30s], got %s", prefix, q.Wait))
	}
	if q.MaxExecutionTime < time.Second || q.MaxExecutionTime > time.Hour {
		errs = append(errs, fmt.Errorf("%s.max_execution_time: must be in [1s, 1h], got %s", prefix, q.MaxExecutionTime))
	}
	if q.MaxMemoryUsage > maxLimitSetting {
		errs = append(errs, fmt.Errorf("%s.max_memory_usage: must be at most 2^62", prefix))
	}
	if q.MaxRowsToRead > maxLimitSetting {
		errs = append(errs, fmt.Errorf("%s.max_rows_to_read: must be at most 2^62", prefix))
	}
	if q.CacheTTL < 0 || q.CacheTTL > 10*time.Minute {
		errs = append(errs, fmt.Errorf("%s.cache_ttl: must be in [0s, 10m], got %s", prefix, q.CacheTTL))
	}
	return errs
}

// budget returns the service's budget for the class.
func (q QueryClass) budget(name string) service.ClassBudget {
	return service.ClassBudget{
		Limiter: budget.New(name, budget.Limits{Concurrency: q.Concurrency, PerUser: q.PerUser, Wait: q.Wait,
			// A slot frees at the latest when a query hits its time limit.
			RetryAfter: q.MaxExecutionTime}),
		Limits:   chclient.Limits{MaxExecutionTime: q.MaxExecutionTime, MaxMemoryUsage: q.MaxMemoryUsage, MaxRowsToRead: q.MaxRowsToRead},
		CacheTTL: q.CacheTTL,
	}
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
	if a.PrecomputeParallelism < 1 || a.PrecomputeParallelism > 64 {
		errs = append(errs, fmt.Errorf("analytics.precompute_parallelism: must be in [1, 64], got %d", a.PrecomputeParallelism))
	}
	if a.PrecomputeLineTimeout < 100*time.Millisecond {
		errs = append(errs, errors.New("analytics.precompute_line_timeout: must be >= 100ms"))
	}
	if a.SpanInterval != 0 && a.SpanInterval < time.Second {
		errs = append(errs, errors.New("analytics.span_interval: must be 0 (off) or >= 1s"))
	}
	errs = append(errs, a.Classes.Rollup.validate("analytics.classes.rollup")...)
	errs = append(errs, a.Classes.Raw.validate("analytics.classes.raw")...)
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
		Timezone:              "Asia/Shanghai",
		PrecomputeInterval:    time.Minute,
		PrecomputeParallelism: 2,
		PrecomputeLineTimeout: 20 * time.Second,
		SpanInterval:          10 * time.Minute,
		SpanMinUV:             10000,
		Classes: QueryClasses{
			Rollup: QueryClass{Concurrency: 16, PerUser: 4, Wait: 500 * time.Millisecond, MaxExecutionTime: 3 * time.Second,
				MaxMemoryUsage: 4 << 30, MaxRowsToRead: 500_000_000},
			Raw: QueryClass{Concurrency: 2, PerUser: 1, Wait: time.Second, MaxExecutionTime: 3 * time.Second,
				MaxMemoryUsage: 2 << 30, MaxRowsToRead: 200_000_000, CacheTTL: 30 * time.Second},
		},
		BusinessLines: append(append([]string(nil), eventgen.BigLines...), eventgen.SmallLines...),
	}
}

// newDash wires the dashboards: dao over rt.ClickHouse() (nil is fine: the
// endpoints then answer from precomputed payloads or 503), the Runtime's
// cache c for the precomputed payloads and cached answers, and the
// precompute job on the framework scheduler, started with the Runtime and
// stopped with it.
func newDash(rt *wings.Runtime, a Analytics, c *cache.Cache) (*controller.DashController, error) {
	loc, err := time.LoadLocation(a.Timezone)
	if err != nil {
		return nil, fmt.Errorf("analytics.timezone: %w", err)
	}
	src := dao.NewAnalyticsDAO(rt.ClickHouse(), a.Timezone)
	svc := service.NewDashService(src, c, loc, a.PrecomputeInterval*3/2, a.Now()).WithBudgets(map[string]service.ClassBudget{
		service.ClassRollup: a.Classes.Rollup.budget(service.ClassRollup),
		service.ClassRaw:    a.Classes.Raw.budget(service.ClassRaw),
	}, c, rt.Metrics().Registerer()).WithSourceMetrics(rt.Metrics().Registerer())

	sched := scheduler.New(rt.Redis(), rt.Config().App.Name+":lease:", scheduler.NewMetrics(rt.Metrics().Registerer()), rt.Logger())
	sched.SetTracing(rt.Tracing())
	lines := append([]string(nil), a.BusinessLines...)
	err = sched.Add(scheduler.Job{
		Name:     "dash_precompute",
		Interval: a.PrecomputeInterval,
		Run: func(ctx context.Context) error {
			if rt.ClickHouse() == nil {
				return nil
			}
			ctx = logging.WithEntry(ctx, rt.Logger().WithField("job", "dash_precompute"))
			return svc.PrecomputeLines(ctx, lines, a.PrecomputeParallelism, a.PrecomputeLineTimeout)
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
