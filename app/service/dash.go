package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/wings-bff/wings/app/formatter"
	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/logging"
	"github.com/wings-bff/wings/framework/metrics"
	"github.com/wings-bff/wings/framework/olap"
)

// homeRankingSize is how many items the home payload's ranking keeps.
const homeRankingSize = 100

// DashSource is what DashService needs from the analytics store. Source
// names are for logs and metrics only, never for clients.
type DashSource interface {
	// SeriesSource and FunnelSource say which source answers a query (the
	// query's cost class follows from it); RankingSource answers rankings.
	SeriesSource(granularity string, f model.Filters) model.Source
	FunnelSource(steps []string, window int) model.Source
	RankingSource() model.Source
	// Series reads per-bucket rows and the range's totals from source.
	Series(ctx context.Context, source, biz string, from, to time.Time, f model.Filters, withUV bool) ([]model.Bucket, model.Bucket, error)
	// Ranking reads the top limit items of a day, best first.
	Ranking(ctx context.Context, biz, event string, day time.Time, limit int) ([]model.ItemViews, error)
	// Funnel reads the users who reached each step over [from, to), and
	// the source that answered.
	Funnel(ctx context.Context, biz string, steps []string, window int, from, to time.Time) ([]uint64, string, error)
	// RefreshFunnelState advances the live home funnel's snapshot of biz on
	// the day starting at day.
	RefreshFunnelState(ctx context.Context, biz string, day, now time.Time) (model.FunnelStateRun, error)
}

// PayloadStore keeps precomputed home payloads (the container passes the
// Runtime's *cache.Cache).
type PayloadStore interface {
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Peek(ctx context.Context, key string) (value []byte, written time.Time, ok bool)
}

// homeKeep is how long a home payload is kept: the stale answer when
// ClickHouse is down.
const homeKeep = 7 * 24 * time.Hour

// DashService answers the dashboards: live from the rollups, or from the
// precomputed home payload when it is fresh, or stale when ClickHouse is
// down.
type DashService struct {
	src      DashSource
	store    PayloadStore
	loc      *time.Location
	fresh    time.Duration
	now      func() time.Time
	tzName   string
	homeKeys func(biz string) string
	fmt      *formatter.DashFormatter
	sources  *prometheus.CounterVec // nil until WithSourceMetrics

	// Set by WithBudgets (dash_budget.go).
	classes map[string]ClassBudget
	results ResultCache
	queries *prometheus.CounterVec
}

// NewDashService returns a service whose days are in loc and whose home
// payloads count as fresh for fresh after they were computed.
func NewDashService(src DashSource, store PayloadStore, loc *time.Location, fresh time.Duration, now func() time.Time) *DashService {
	if now == nil {
		now = time.Now
	}
	return &DashService{src: src, store: store, loc: loc, fresh: fresh, now: now, tzName: loc.String(),
		homeKeys: func(biz string) string { return "dash:home:" + biz }, fmt: formatter.NewDashFormatter()}
}

// The kinds of answers: the values of wings_dash_sources_total's kind label.
const (
	kindRealtime = "realtime"
	kindRanking  = "ranking"
	kindFunnel   = "funnel"
	kindAnalysis = "analysis"
)

// sourcePrecomputed is the source label of answers from the home payload.
const sourcePrecomputed = "precomputed"

// WithSourceMetrics counts where answers came from in
// wings_dash_sources_total{kind,source} on reg: live answers by the
// store's source (a fixed set of tables), answers from the home payload as
// "precomputed". Call it once, while wiring.
func (s *DashService) WithSourceMetrics(reg prometheus.Registerer) *DashService {
	s.sources = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "dash_sources_total",
		Help: "Dashboard answers by kind (realtime, ranking, funnel, analysis) and the source that answered (a table, or precomputed).",
	}, []string{"kind", "source"})
	reg.MustRegister(s.sources)
	return s
}

// answered records that an answer of kind came from source: a debug log
// line and wings_dash_sources_total.
func (s *DashService) answered(ctx context.Context, kind, source string) {
	logging.FromContext(ctx).WithFields(logrus.Fields{"dash": kind, "source": source}).Debug("dashboard answer")
	if s.sources != nil {
		s.sources.WithLabelValues(kind, source).Inc()
	}
}

// Location returns the time zone of day and hour boundaries.
func (s *DashService) Location() *time.Location { return s.loc }

// Today returns the start of the current day in the configured zone.
func (s *DashService) Today() time.Time {
	n := s.now().In(s.loc)
	return time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, s.loc)
}

// Home is the precomputed payload of one business line.
type Home struct {
	ComputedAt time.Time       `json:"computed_at"`
	Realtime   *model.Realtime `json:"realtime"`
	Ranking    *model.Ranking  `json:"ranking"`
	Funnel     *model.Funnel   `json:"funnel"`
}

// ErrNoData is the reason of the 503 when ClickHouse is down and nothing
// was precomputed.
const noDataMsg = "analytics store unavailable and no precomputed dashboard for %s yet; retry shortly"

// funnelYesterdayGrace is how long after midnight the job still advances
// yesterday's funnel snapshot (to the day's end, then for late rows).
const funnelYesterdayGrace = time.Hour

// Precompute advances the live funnel snapshot of biz (today, and
// yesterday shortly after midnight), then computes and stores its home
// payload. A failed snapshot does not stop the payload: the funnel is then
// answered from the per-user funnel states.
func (s *DashService) Precompute(ctx context.Context, biz string) error {
	return s.precompute(1, 0).Run(ctx, []string{biz})
}

// PrecomputeLines runs Precompute for each line, at most parallel lines at
// a time, each under its own timeout, so that a slow line costs only its
// own timeout and never the others' turn. A line's panic is its error.
// The errors of every failed line are joined.
func (s *DashService) PrecomputeLines(ctx context.Context, lines []string, parallel int, timeout time.Duration) error {
	return s.precompute(parallel, timeout).Run(ctx, lines)
}

// precompute is the home payloads' job.
func (s *DashService) precompute(parallel int, timeout time.Duration) olap.Precompute {
	return olap.Precompute{Store: s.store, StoreKey: s.homeKeys, TTL: homeKeep, Parallel: parallel, Timeout: timeout, Compute: s.computeHome}
}

// computeHome advances biz's funnel snapshots and returns its home payload
// (nil when it could not be computed).
func (s *DashService) computeHome(ctx context.Context, biz string) (any, error) {
	today := s.Today()
	var errs []error
	days := []time.Time{today}
	if s.now().Sub(today) < funnelYesterdayGrace {
		days = append(days, today.AddDate(0, 0, -1))
	}
	for _, day := range days {
		if _, err := s.src.RefreshFunnelState(ctx, biz, day, s.now()); err != nil {
			errs = append(errs, fmt.Errorf("funnel state %s %s: %w", biz, day.Format(time.DateOnly), err))
		}
	}
	h, err := s.homePayload(ctx, biz, today)
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	return h, errors.Join(errs...)
}

func (s *DashService) homePayload(ctx context.Context, biz string, today time.Time) (*Home, error) {
	rt, _, err := s.liveRealtime(ctx, biz, model.HomeEvent, today)
	if err != nil {
		return nil, err
	}
	rk, err := s.liveRanking(ctx, biz, today, model.HomeEvent, homeRankingSize)
	if err != nil {
		return nil, err
	}
	fn, _, err := s.liveFunnel(ctx, biz, today, model.FunnelSteps(), model.FunnelWindow)
	if err != nil {
		return nil, err
	}
	return &Home{ComputedAt: s.now(), Realtime: rt, Ranking: rk, Funnel: fn}, nil
}

// home returns the stored payload of biz for today, if any.
func (s *DashService) home(ctx context.Context, biz string) (*Home, bool) {
	b, _, ok := s.store.Peek(ctx, s.homeKeys(biz))
	if !ok {
		return nil, false
	}
	var h Home
	if json.Unmarshal(b, &h) != nil || h.Realtime == nil || h.Ranking == nil || h.Funnel == nil {
		return nil, false
	}
	return &h, true
}

// serve answers from the home payload when it is fresh (and the query is
// the home one), else live (live returns the answer and when it was
// computed), else stale from the payload when the live query failed for
// any reason but the caller's own (see fallsBack), else the error.
func serve[T any](ctx context.Context, s *DashService, kind, biz string, isHome bool, pick func(*Home) *T, mark func(*T, model.Freshness), live func() (*T, time.Time, error)) (*T, error) {
	var h *Home
	if isHome {
		if hh, ok := s.home(ctx, biz); ok {
			h = hh
			age := s.now().Sub(h.ComputedAt)
			if age <= s.fresh && h.Realtime.Date == s.Today().Format(time.DateOnly) {
				v := pick(h)
				mark(v, model.Freshness{ComputedAt: h.ComputedAt.In(s.loc).Format(time.RFC3339), Source: "precomputed", AgeSeconds: int(age.Seconds())})
				s.answered(ctx, kind, sourcePrecomputed)
				return v, nil
			}
		}
	}
	v, at, err := live()
	if err == nil {
		mark(v, model.Freshness{ComputedAt: at.In(s.loc).Format(time.RFC3339), Source: "live",
			AgeSeconds: int(s.now().Sub(at).Seconds())})
		return v, nil
	}
	if !fallsBack(err) {
		return nil, err
	}
	if h == nil && isHome {
		h, _ = s.home(ctx, biz)
	}
	if h == nil {
		// An unavailable error already says why (a limit, a full class).
		if unavailable(err) && apperr.KindOf(err) != apperr.KindUnavailable {
			return nil, apperr.Wrap(apperr.KindUnavailable, err, fmt.Sprintf(noDataMsg, biz))
		}
		return nil, err
	}
	v = pick(h)
	mark(v, model.Freshness{ComputedAt: h.ComputedAt.In(s.loc).Format(time.RFC3339), Source: "precomputed",
		Stale: true, AgeSeconds: int(s.now().Sub(h.ComputedAt).Seconds())})
	s.answered(ctx, kind, sourcePrecomputed)
	return v, nil
}

// fallsBack reports whether a failed live query may be answered from the
// last payload: any failure of ClickHouse (down, slow, over a limit, or a
// query it rejected) or a class at capacity, but not the caller's own
// mistake, a caller over its share (that would reward looping) or a
// caller that left.
func fallsBack(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	switch apperr.KindOf(err) {
	case apperr.KindBadParam, apperr.KindNotFound, apperr.KindUnauthorized, apperr.KindForbidden, apperr.KindRateLimited:
		return false
	}
	return true
}

// unavailable reports whether err means ClickHouse could not answer.
func unavailable(err error) bool {
	switch apperr.KindOf(err) {
	case apperr.KindUpstream, apperr.KindUpstreamTimeout, apperr.KindUnavailable:
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// Realtime returns today's hourly trend of event up to now with day totals.
func (s *DashService) Realtime(ctx context.Context, biz, event string) (*model.Realtime, error) {
	return serve(ctx, s, kindRealtime, biz, event == model.HomeEvent,
		func(h *Home) *model.Realtime { v := *h.Realtime; return &v },
		func(v *model.Realtime, f model.Freshness) { v.Freshness = f },
		func() (*model.Realtime, time.Time, error) {
			key := fmt.Sprintf("dash:realtime:%s:%s:%s", biz, event, s.Today().Format(time.DateOnly))
			return budgeted(ctx, s, ClassRollup, key, func(ctx context.Context) (*model.Realtime, error) {
				v, src, err := s.liveRealtime(ctx, biz, event, s.Today())
				if err == nil {
					s.answered(ctx, kindRealtime, src)
				}
				return v, err
			})
		})
}

func (s *DashService) liveRealtime(ctx context.Context, biz, event string, today time.Time) (*model.Realtime, string, error) {
	now := s.now()
	end := now.Truncate(time.Hour).Add(time.Hour) // through the open hour
	f := model.Filters{Event: event}
	src := s.src.SeriesSource("hour", f)
	rows, tot, err := s.src.Series(ctx, src.Name, biz, today, end, f, true)
	if err != nil {
		return nil, "", fmt.Errorf("realtime %s: %w", biz, err)
	}
	all := []string{"pv", "uv", "avg_value"}
	return &model.Realtime{
		Biz: biz, Date: today.Format(time.DateOnly), Timezone: s.tzName, Event: event,
		Hours:  s.fmt.Series(rows, today, end, time.Hour, s.loc, "hour", all),
		Totals: s.fmt.Totals(tot, all),
	}, src.Name, nil
}

// Ranking returns the top limit items by pv of event on day.
func (s *DashService) Ranking(ctx context.Context, biz string, day time.Time, event string, limit int) (*model.Ranking, error) {
	isHome := event == model.HomeEvent && day.Equal(s.Today()) && limit <= homeRankingSize
	return serve(ctx, s, kindRanking, biz, isHome,
		func(h *Home) *model.Ranking {
			v := *h.Ranking
			v.Items = v.Items[:min(limit, len(v.Items))]
			return &v
		},
		func(v *model.Ranking, f model.Freshness) { v.Freshness = f },
		func() (*model.Ranking, time.Time, error) {
			key := fmt.Sprintf("dash:ranking:%s:%s:%s:%d", biz, day.Format(time.DateOnly), event, limit)
			return budgeted(ctx, s, ClassRollup, key, func(ctx context.Context) (*model.Ranking, error) {
				v, err := s.liveRanking(ctx, biz, day, event, limit)
				if err == nil {
					s.answered(ctx, kindRanking, s.src.RankingSource().Name)
				}
				return v, err
			})
		})
}

func (s *DashService) liveRanking(ctx context.Context, biz string, day time.Time, event string, limit int) (*model.Ranking, error) {
	rows, err := s.src.Ranking(ctx, biz, event, day, limit)
	if err != nil {
		return nil, fmt.Errorf("ranking %s: %w", biz, err)
	}
	return &model.Ranking{Biz: biz, Date: day.Format(time.DateOnly), Event: event, Items: s.fmt.Ranking(rows)}, nil
}

// Funnel returns the ordered funnel of steps within window seconds on day.
func (s *DashService) Funnel(ctx context.Context, biz string, day time.Time, steps []string, window int) (*model.Funnel, error) {
	isHome := day.Equal(s.Today()) && window == model.FunnelWindow && slices.Equal(steps, model.FunnelSteps())
	return serve(ctx, s, kindFunnel, biz, isHome,
		func(h *Home) *model.Funnel { v := *h.Funnel; return &v },
		func(v *model.Funnel, f model.Freshness) { v.Freshness = f },
		func() (*model.Funnel, time.Time, error) {
			key := fmt.Sprintf("dash:funnel:%s:%s:%s:%d", biz, day.Format(time.DateOnly), strings.Join(steps, ","), window)
			return budgeted(ctx, s, classOf(s.src.FunnelSource(steps, window)), key, func(ctx context.Context) (*model.Funnel, error) {
				v, src, err := s.liveFunnel(ctx, biz, day, steps, window)
				if err == nil {
					s.answered(ctx, kindFunnel, src)
				}
				return v, err
			})
		})
}

func (s *DashService) liveFunnel(ctx context.Context, biz string, day time.Time, steps []string, window int) (*model.Funnel, string, error) {
	counts, source, err := s.src.Funnel(ctx, biz, steps, window, day, day.AddDate(0, 0, 1))
	if err != nil {
		return nil, "", fmt.Errorf("funnel %s: %w", biz, err)
	}
	f := &model.Funnel{Biz: biz, Date: day.Format(time.DateOnly), Window: window}
	f.Steps, f.Overall = s.fmt.FunnelSteps(steps, counts)
	return f, source, nil
}

// AnalysisQuery is a validated analysis request; From and To are days
// (inclusive) in the configured zone.
type AnalysisQuery struct {
	Biz         string
	From, To    time.Time
	Granularity string // hour or day
	Metrics     []string
	Filters     model.Filters
}

// Analysis returns per-bucket metrics over the range with range totals.
func (s *DashService) Analysis(ctx context.Context, q AnalysisQuery) (*model.Analysis, error) {
	src := s.src.SeriesSource(q.Granularity, q.Filters)
	key := fmt.Sprintf("dash:analysis:%s:%s:%s:%s:%s:%s:%s:%s", q.Biz, q.From.Format(time.DateOnly), q.To.Format(time.DateOnly),
		q.Granularity, strings.Join(q.Metrics, ","), q.Filters.Event, q.Filters.Platform, q.Filters.Region)
	v, _, err := budgeted(ctx, s, classOf(src), key, func(ctx context.Context) (*model.Analysis, error) {
		v, err := s.liveAnalysis(ctx, q, src.Name)
		if err == nil {
			s.answered(ctx, kindAnalysis, src.Name)
		}
		return v, err
	})
	if err != nil {
		if unavailable(err) && apperr.KindOf(err) != apperr.KindUnavailable {
			return nil, apperr.Wrap(apperr.KindUnavailable, err, "analytics store unavailable; retry shortly")
		}
		return nil, err
	}
	return v, nil
}

func (s *DashService) liveAnalysis(ctx context.Context, q AnalysisQuery, table string) (*model.Analysis, error) {
	end := q.To.AddDate(0, 0, 1)
	withUV := slices.Contains(q.Metrics, "uv")
	rows, tot, err := s.src.Series(ctx, table, q.Biz, q.From, end, q.Filters, withUV)
	if err != nil {
		return nil, fmt.Errorf("analysis %s: %w", q.Biz, err)
	}
	step := 24 * time.Hour
	if q.Granularity == "hour" {
		step = time.Hour
	}
	filters := map[string]string{}
	for k, v := range map[string]string{"event": q.Filters.Event, "platform": q.Filters.Platform, "region": q.Filters.Region} {
		if v != "" {
			filters[k] = v
		}
	}
	return &model.Analysis{
		Biz: q.Biz, From: q.From.Format(time.DateOnly), To: q.To.Format(time.DateOnly),
		Granularity: q.Granularity, Metrics: q.Metrics, Filters: filters,
		Series: s.fmt.Series(rows, q.From, end, step, s.loc, q.Granularity, q.Metrics),
		Totals: s.fmt.Totals(tot, q.Metrics), UVSpans: tot.Spans,
	}, nil
}
