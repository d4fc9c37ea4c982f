// Package scheduler runs background jobs every interval, once per cluster:
// before each run an instance takes a Redis lease (SET NX PX with a random
// token) that lasts one interval, so the other instances skip that tick.
// Without Redis the lease is in-process only. When Redis is configured but
// cannot answer, no instance can know whether another runs the job, so
// every instance skips the tick (counted as lease_unavailable and logged)
// rather than all of them running it at once. A job's panic is recovered
// and counted; jobs run under the context given to Start (the Runtime's).
package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/framework/recovery"
	"github.com/wings-bff/wings/framework/tracing"
)

// Job is one periodic task.
type Job struct {
	// Name keys the lease and labels the metrics; keep it short and fixed.
	Name     string
	Interval time.Duration
	// Timeout bounds one run; zero means Interval.
	Timeout time.Duration
	Run     func(ctx context.Context) error
}

// Results of a run, the values of the result label.
const (
	ResultOK      = "ok"
	ResultError   = "error"
	ResultPanic   = "panic"
	ResultSkipped = "skipped" // another instance holds the lease
	// ResultLeaseUnavailable is a tick skipped because the lease store
	// (Redis) did not answer.
	ResultLeaseUnavailable = "lease_unavailable"
)

// Metrics are the scheduler's collectors.
type Metrics struct {
	runs        *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec
	interval    *prometheus.GaugeVec
}

// NewMetrics registers wings_scheduler_job_runs_total{job,result},
// wings_scheduler_job_duration_seconds{job},
// wings_scheduler_job_last_success_timestamp_seconds{job} and
// wings_scheduler_job_interval_seconds{job} (for the "no success in 3
// intervals" alert in conf/prometheus/rules.yml) on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wings_scheduler_job_runs_total", Help: "Scheduled job runs by result (ok, error, panic, skipped, lease_unavailable).",
		}, []string{"job", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wings_scheduler_job_duration_seconds", Help: "Duration of scheduled job runs.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"job"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wings_scheduler_job_last_success_timestamp_seconds", Help: "Unix time of the last successful run.",
		}, []string{"job"}),
		interval: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wings_scheduler_job_interval_seconds", Help: "Configured interval of each scheduled job.",
		}, []string{"job"}),
	}
	reg.MustRegister(m.runs, m.duration, m.lastSuccess, m.interval)
	return m
}

// Scheduler runs jobs. Build it with New, Add jobs, then Start.
type Scheduler struct {
	rdb    redis.UniversalClient // nil: in-process leases
	prefix string
	token  string
	log    *logrus.Logger
	m      *Metrics
	tr     trace.Tracer // nil: tracing off; see SetTracing

	mu      sync.Mutex
	jobs    []Job
	local   map[string]time.Time // in-process leases: job -> expiry
	wg      sync.WaitGroup
	started bool
}

// New returns a scheduler whose leases live in rdb (nil for in-process)
// under keyPrefix (for example "wings:lease:").
func New(rdb redis.UniversalClient, keyPrefix string, m *Metrics, log *logrus.Logger) *Scheduler {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return &Scheduler{rdb: rdb, prefix: keyPrefix, token: hex.EncodeToString(b[:]), log: log, m: m, local: map[string]time.Time{}}
}

// Add registers a job; it must be called before Start.
func (s *Scheduler) Add(j Job) error {
	if j.Name == "" || j.Interval <= 0 || j.Run == nil {
		return fmt.Errorf("scheduler: job %q needs a name, an interval > 0 and a Run func", j.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("scheduler: job %q added after Start", j.Name)
	}
	s.jobs = append(s.jobs, j)
	s.m.interval.WithLabelValues(j.Name).Set(j.Interval.Seconds())
	return nil
}

// Start runs every job at once and then every interval until ctx ends.
func (s *Scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	s.started = true
	jobs := append([]Job(nil), s.jobs...)
	s.mu.Unlock()
	for _, j := range jobs {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.loop(ctx, j)
		}()
	}
}

// Wait blocks until every job loop has returned (after ctx ended).
func (s *Scheduler) Wait() { s.wg.Wait() }

func (s *Scheduler) loop(ctx context.Context, j Job) {
	t := time.NewTicker(j.Interval)
	defer t.Stop()
	for {
		s.Tick(ctx, j)
		select {
		case <-ctx.Done():
			s.release(j)
			return
		case <-t.C:
		}
	}
}

// Tick runs j once if this instance wins the lease for the current
// interval, and reports the result.
func (s *Scheduler) Tick(ctx context.Context, j Job) string {
	if ctx.Err() != nil {
		return ResultSkipped
	}
	ok, err := s.acquire(ctx, j)
	if err != nil {
		if ctx.Err() != nil {
			return ResultSkipped
		}
		// Every instance sees the same outage: running anyway would run
		// the job once per instance.
		s.log.WithError(err).WithField("job", j.Name).Warn("job lease store unavailable; run skipped")
		s.m.runs.WithLabelValues(j.Name, ResultLeaseUnavailable).Inc()
		return ResultLeaseUnavailable
	}
	if !ok {
		s.m.runs.WithLabelValues(j.Name, ResultSkipped).Inc()
		return ResultSkipped
	}
	timeout := j.Timeout
	if timeout <= 0 {
		timeout = j.Interval
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stopRenew := s.renew(rctx, j)
	defer stopRenew()
	start := time.Now()
	var span trace.Span
	if s.tr != nil {
		rctx, span = s.tr.Start(rctx, "job "+j.Name, trace.WithAttributes(attribute.String("wings.job", j.Name)))
	}
	result := s.run(rctx, j)
	if span != nil {
		span.SetAttributes(attribute.String("wings.job.result", result))
		if result != ResultOK {
			span.SetStatus(codes.Error, result)
		}
		span.End()
	}
	s.m.duration.WithLabelValues(j.Name).Observe(time.Since(start).Seconds())
	s.m.runs.WithLabelValues(j.Name, result).Inc()
	if result == ResultOK {
		s.m.lastSuccess.WithLabelValues(j.Name).SetToCurrentTime()
	}
	return result
}

func (s *Scheduler) run(ctx context.Context, j Job) string {
	err := recovery.Do(func() error { return j.Run(ctx) })
	if p := recovery.From(err); p != nil {
		s.log.WithFields(logrus.Fields{"job": j.Name, "panic": fmt.Sprint(p.Value), "stack": p.Stack}).Error("job panicked")
		return ResultPanic
	}
	if err != nil {
		s.log.WithError(err).WithField("job", j.Name).Warn("job failed")
		return ResultError
	}
	return ResultOK
}

// leaseTTL is how long one run's lease lasts: just under one interval, so
// the next tick of the holder (or anyone) can take it again.
func leaseTTL(j Job) time.Duration {
	ttl := j.Interval - j.Interval/20
	if ttl < 10*time.Millisecond {
		ttl = 10 * time.Millisecond
	}
	return ttl
}

func (s *Scheduler) key(j Job) string { return s.prefix + j.Name }

func (s *Scheduler) acquire(ctx context.Context, j Job) (bool, error) {
	if s.rdb == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		if time.Now().Before(s.local[j.Name]) {
			return false, nil
		}
		s.local[j.Name] = time.Now().Add(leaseTTL(j))
		return true, nil
	}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return s.rdb.SetNX(cctx, s.key(j), s.token, leaseTTL(j)).Result()
}

// renewScript extends the lease only if we still hold it.
var renewScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end`)

// releaseScript deletes the lease only if we hold it.
var releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`)

// renew keeps the lease alive while a run outlasts half its TTL.
func (s *Scheduler) renew(ctx context.Context, j Job) func() {
	if s.rdb == nil {
		return func() {}
	}
	ttl := leaseTTL(j)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(ttl / 2)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				cctx, cancel := context.WithTimeout(context.Background(), time.Second)
				n, err := renewScript.Run(cctx, s.rdb, []string{s.key(j)}, s.token, ttl.Milliseconds()).Int()
				cancel()
				switch {
				case err != nil:
					s.log.WithError(err).WithField("job", j.Name).Warn("job lease renewal failed")
				case n == 0:
					s.log.WithField("job", j.Name).Warn("job lease lost during the run; another instance may start it")
				}
			}
		}
	}()
	return func() { close(done) }
}

// release gives the lease up on shutdown, so another instance takes over
// at its next tick.
func (s *Scheduler) release(j Job) {
	if s.rdb == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := releaseScript.Run(ctx, s.rdb, []string{s.key(j)}, s.token).Err(); err != nil {
		s.log.WithError(err).WithField("job", j.Name).Warn("job lease release failed; it expires by itself")
	}
}

// SetTracing makes every run a span of its own, "job <name>", with its
// result; call it before Start. A nil or disabled provider turns it off.
func (s *Scheduler) SetTracing(p *tracing.Provider) {
	s.tr = nil
	if p.Enabled() {
		s.tr = p.Tracer("github.com/wings-bff/wings/framework/scheduler")
	}
}
