package service

import (
	"context"
	"encoding/json"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/auth"
	"github.com/wings-bff/wings/framework/budget"
	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/metrics"
)

// The cost classes of the dashboards' live queries.
const (
	// ClassRollup is a query answered from the rollups or the funnel
	// snapshots: tens to hundreds of milliseconds.
	ClassRollup = "rollup"
	// ClassRaw is a query that scans raw events (a funnel other than the
	// rollup's, an hourly analysis with dimension filters): seconds on a
	// big line's day.
	ClassRaw = "raw"
)

// classOf returns the cost class of a query answered by src.
func classOf(src model.Source) string {
	if src.Raw {
		return ClassRaw
	}
	return ClassRollup
}

// ClassBudget is what one class of live queries may spend.
type ClassBudget struct {
	// Limiter bounds the class's queries at once, overall and per user.
	Limiter *budget.Limiter
	// Limits are sent to ClickHouse with each of the class's queries.
	Limits chclient.Limits
	// CacheTTL, when > 0, caches the class's answers this long, keyed by
	// the parameters the answer depends on.
	CacheTTL time.Duration
}

// ResultCache caches answers briefly across requests (the container
// passes the Runtime's *cache.Cache).
type ResultCache interface {
	GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) ([]byte, error)
}

// Results of a guarded live query: the values of
// wings_dash_queries_total's result label.
const (
	queryOK       = "ok"
	queryError    = "error"
	queryRejected = "rejected" // no slot within the class's wait
)

// WithBudgets makes s run its live request queries within the budgets of
// their class (a class without one runs unguarded), caching answers of
// classes with a CacheTTL in c (nil: no caching), and counts the queries
// in wings_dash_queries_total{class,result} on reg. Call it once, while
// wiring. The precompute job is not guarded: the scheduler bounds it.
func (s *DashService) WithBudgets(classes map[string]ClassBudget, c ResultCache, reg prometheus.Registerer) *DashService {
	s.classes = classes
	s.results = c
	s.queries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "dash_queries_total",
		Help: "Live dashboard queries sent to ClickHouse (or refused) by cost class and result (ok, error, rejected).",
	}, []string{"class", "result"})
	reg.MustRegister(s.queries)
	for class := range classes {
		for _, r := range []string{queryOK, queryError, queryRejected} {
			s.queries.WithLabelValues(class, r)
		}
	}
	return s
}

// caller names the user a query is charged to.
func caller(ctx context.Context) string {
	if u := auth.UserFrom(ctx); u != nil {
		return u.ID
	}
	return ""
}

// guarded runs q, one live query of class, within the class's budget: a
// slot of its limiter for the caller, and its ClickHouse limits.
func (s *DashService) guarded(ctx context.Context, class string, q func(ctx context.Context) error) error {
	b, ok := s.classes[class]
	if !ok {
		return q(ctx)
	}
	release, err := b.Limiter.Acquire(ctx, caller(ctx))
	if err != nil {
		if apperr.KindOf(err) != apperr.KindInternal {
			s.queries.WithLabelValues(class, queryRejected).Inc()
		}
		return err
	}
	defer release()
	err = q(chclient.WithLimits(ctx, b.Limits))
	result := queryOK
	if err != nil {
		result = queryError
	}
	s.queries.WithLabelValues(class, result).Inc()
	return err
}

// computed is a cached answer with the time it was computed.
type computed[T any] struct {
	At    time.Time `json:"at"`
	Value *T        `json:"value"`
}

// budgeted answers a live query of class: from the result cache under key
// when the class caches, else by running live within the class's budget.
// It returns the answer and when it was computed.
func budgeted[T any](ctx context.Context, s *DashService, class, key string, live func(ctx context.Context) (*T, error)) (*T, time.Time, error) {
	run := func(ctx context.Context) (*T, time.Time, error) {
		var v *T
		err := s.guarded(ctx, class, func(ctx context.Context) error {
			var err error
			v, err = live(ctx)
			return err
		})
		return v, s.now(), err
	}
	b, ok := s.classes[class]
	if !ok || b.CacheTTL <= 0 || s.results == nil {
		return run(ctx)
	}
	raw, err := s.results.GetOrLoad(ctx, key, b.CacheTTL, func(ctx context.Context) ([]byte, error) {
		v, at, err := run(ctx)
		if err != nil {
			return nil, err
		}
		return json.Marshal(computed[T]{At: at, Value: v})
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	var c computed[T]
	if err := json.Unmarshal(raw, &c); err != nil || c.Value == nil {
		return nil, time.Time{}, apperr.Wrap(apperr.KindInternal, err, "internal error")
	}
	return c.Value, c.At, nil
}
