package scheduler

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"
)

// The interval gauge lets the alert rules compare the time since the last
// success with each job's own interval.
func TestAddExportsInterval(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	log := logrus.New()
	log.SetOutput(io.Discard)
	s := New(nil, "test:", m, log)
	if err := s.Add(Job{Name: "precompute", Interval: 90 * time.Second, Run: func(context.Context) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.interval.WithLabelValues("precompute")); got != 90 {
		t.Errorf("wings_scheduler_job_interval_seconds{job=precompute} = %v; want 90", got)
	}
}
