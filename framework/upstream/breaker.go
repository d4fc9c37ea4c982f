package upstream

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"github.com/sony/gobreaker/v2"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/metrics"
)

// breaker is a Client's circuit breaker, swapped whole when its settings
// change (config hot reload).
type breaker struct {
	cb    atomic.Pointer[gobreaker.TwoStepCircuitBreaker[struct{}]] // nil when disabled
	mu    sync.Mutex                                                // serialises SetBreaker
	set   config.Breaker                                            // the settings in force; guarded by mu
	log   *logrus.Entry
	gauge sync.Once // wings_upstream_breaker_state, from the first enabled breaker on
}

// SetBreaker applies breaker settings (upstreams.<name>.breaker) to calls
// from now on; a failure_ratio of 0 turns the breaker off. Changed settings
// replace the breaker by an atomic swap: its counts and state start afresh,
// closed, so a breaker open at the time closes. Calls already past the
// breaker report to the one they went through. Unchanged settings keep the
// breaker as it is.
func (c *Client) SetBreaker(b config.Breaker) {
	c.brk.mu.Lock()
	defer c.brk.mu.Unlock()
	if b == c.brk.set && (b.FailureRatio > 0) == (c.brk.cb.Load() != nil) {
		return
	}
	c.brk.set = b
	if b.FailureRatio <= 0 {
		c.brk.cb.Store(nil)
		return
	}
	c.brk.cb.Store(newBreaker(c.name, b, c.brk.log))
	c.brk.gauge.Do(func() {
		// One series per upstream: a collector with a constant label.
		_ = c.m.Registerer().Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Name: "upstream_breaker_state",
			Help:        "Circuit breaker state by upstream: 0 closed, 1 half-open, 2 open.",
			ConstLabels: prometheus.Labels{"upstream": c.name},
		}, func() float64 { return float64(c.BreakerState()) }))
	})
}

// Breaker returns the breaker settings in force.
func (c *Client) Breaker() config.Breaker {
	c.brk.mu.Lock()
	defer c.brk.mu.Unlock()
	return c.brk.set
}
