package wings

import (
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/metrics"
	"github.com/wings-bff/wings/framework/recovery"
	"github.com/wings-bff/wings/framework/upstream"
)

// HotKeys returns the key paths (path.Match patterns) a running server
// applies without a restart. A change to any other key is logged and
// ignored until the next restart.
func HotKeys() []string {
	return []string{
		"log.level",
		"upstreams.*.timeout",
		"upstreams.*.retries",
		"upstreams.*.retry_backoff",
		"upstreams.*.breaker.*",
		"routes.*.cache_ttl",
		"routes.*.cache_grace",
		"routes.*.cache_stale_if_error",
		"cache.lock_ttl",
		"routes.*.rate_limit.*",
		"routes.*.max_in_flight",
		"server.max_in_flight",
		"features.*",
		"tracing.sample_ratio",
	}
}

// hotState holds what the config hot reload changes besides the
// components' own settings: the feature flags and the reload hooks.
type hotState struct {
	features atomic.Pointer[map[string]bool] // nil until the first reload: rt.cfg.Features
	mu       sync.Mutex
	hooks    []func(next *config.Config)
}

// Feature reports whether the feature flag name (features.<name>) is on in
// the config in force; an unlisted flag is off. It is one atomic load and a
// map lookup, cheap enough for every request.
func (rt *Runtime) Feature(name string) bool {
	if m := rt.hot.features.Load(); m != nil {
		return (*m)[name]
	}
	return rt.cfg.Features[name]
}

// OnReload registers fn to run with the new config whenever a reload
// applies hot keys, so components built on the Runtime (the response cache)
// retune themselves. fn must only read next, and apply its own hot keys
// with atomic swaps: requests keep running meanwhile.
func (rt *Runtime) OnReload(fn func(next *config.Config)) {
	rt.hot.mu.Lock()
	defer rt.hot.mu.Unlock()
	rt.hot.hooks = append(rt.hot.hooks, fn)
}

// Reloader applies new configuration to a running Runtime: the hot keys
// take effect for requests that start afterwards. Each is applied by an
// atomic swap in its component: upstream tuning and breaker (a changed
// breaker setting replaces the breaker, so its counts and state start
// afresh, closed), route rate limits and in-flight bounds, the response
// cache's TTLs (through OnReload hooks) and the feature flags. It records each reload
// in wings_config_reloads_total{result} (applied, restart_needed,
// unchanged, rejected) and a log line.
type Reloader struct {
	rt      *Runtime
	reloads *prometheus.CounterVec

	mu   sync.Mutex
	last map[string]string // flattened config in force
}

// NewReloader returns a Reloader for rt, starting from rt's config.
func NewReloader(rt *Runtime) *Reloader {
	r := &Reloader{
		rt: rt,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "config_reloads_total",
			Help: "Configuration reloads, by result (applied, restart_needed, unchanged, rejected).",
		}, []string{"result"}),
		last: config.Flatten(rt.cfg),
	}
	rt.metrics.MustRegister(r.reloads)
	for _, res := range []string{"applied", "restart_needed", "unchanged", "rejected"} {
		r.reloads.WithLabelValues(res)
	}
	return r
}

// Reject records a reload that could not be loaded or validated; the
// config in force stays.
func (r *Reloader) Reject(source string, err error) {
	r.reloads.WithLabelValues("rejected").Inc()
	r.rt.log.WithFields(logrus.Fields{"source": source, "error": err.Error()}).Warn("config reload rejected; keeping the config in force")
}

// Apply compares next (already loaded and validated) with the config in
// force, applies the hot keys that changed and reports them; changed keys
// that need a restart are logged and returned in restart.
func (r *Reloader) Apply(source string, next *config.Config) (applied, restart []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	flat := config.Flatten(next)
	var changed []string
	for k, v := range flat {
		if old, ok := r.last[k]; !ok || old != v {
			changed = append(changed, k)
		}
	}
	for k := range r.last {
		if _, ok := flat[k]; !ok {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	if len(changed) == 0 {
		r.reloads.WithLabelValues("unchanged").Inc()
		return nil, nil
	}
	level, err := logrus.ParseLevel(next.Log.Level)
	if err != nil {
		r.Reject(source, err)
		return nil, nil
	}
	upstreams, breakers := map[string]bool{}, map[string]bool{}
	limits, features := false, false
	for _, k := range changed {
		if !hot(k) {
			restart = append(restart, k)
			continue
		}
		applied = append(applied, k)
		switch {
		case k == "log.level":
			r.rt.log.SetLevel(level)
		case strings.HasPrefix(k, "upstreams.") && strings.Contains(k, ".breaker."):
			breakers[strings.Split(k, ".")[1]] = true
		case strings.HasPrefix(k, "upstreams."):
			upstreams[strings.Split(k, ".")[1]] = true
		case strings.HasSuffix(k, "max_in_flight") || strings.Contains(k, ".rate_limit."):
			limits = true
		case strings.HasPrefix(k, "features."):
			features = true
		}
	}
	for name := range upstreams {
		c, ok := r.rt.upstreams[name]
		u, inNext := next.Upstreams[name]
		if !ok || !inNext {
			continue // a new or removed upstream needs a restart (its keys are not hot)
		}
		c.SetTuning(upstream.Tuning{Timeout: u.Timeout, Retries: u.Retries, Backoff: u.RetryBackoff})
	}
	for name := range breakers {
		if c, ok := r.rt.upstreams[name]; ok {
			if u, inNext := next.Upstreams[name]; inNext {
				c.SetBreaker(u.Breaker)
			}
		}
	}
	if limits {
		r.rt.setLimits(next)
	}
	if features {
		f := maps.Clone(next.Features)
		r.rt.hot.features.Store(&f)
	}
	if len(applied) > 0 {
		r.rt.hot.mu.Lock()
		hooks := slices.Clone(r.rt.hot.hooks)
		r.rt.hot.mu.Unlock()
		for _, fn := range hooks {
			// A panicking hook leaves its component as it was; the
			// others still apply, and the reload counts as applied.
			r.rt.panics.Report(r.rt.rootCtx, "reload", recovery.Do(func() error { fn(next); return nil }))
		}
	}
	// Remember what is in force: the applied values, the old ones for keys
	// that wait for a restart.
	for _, k := range applied {
		if v, ok := flat[k]; ok {
			r.last[k] = v
		} else {
			delete(r.last, k)
		}
	}
	result := "restart_needed"
	if len(applied) > 0 {
		result = "applied"
	}
	r.reloads.WithLabelValues(result).Inc()
	if len(applied) > 0 {
		r.rt.log.WithFields(logrus.Fields{"source": source, "keys": applied}).Info("config reloaded")
	}
	if len(restart) > 0 {
		r.rt.log.WithFields(logrus.Fields{"source": source, "keys": restart}).Warn("config changed in keys that need a restart; ignored until then")
	}
	return applied, restart
}

func hot(key string) bool {
	for _, p := range HotKeys() {
		if ok, _ := path.Match(p, key); ok {
			return true
		}
	}
	return false
}
