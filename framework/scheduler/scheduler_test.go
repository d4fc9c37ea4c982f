package scheduler

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"
)

func newTest(t *testing.T) (*Scheduler, *Metrics) {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	m := NewMetrics(prometheus.NewRegistry())
	return New(nil, "test:", m, log), m
}

func TestTickResults(t *testing.T) {
	t.Parallel()
	s, m := newTest(t)
	cases := []struct {
		name string
		run  func(context.Context) error
		want string
	}{
		{"ok", func(context.Context) error { return nil }, ResultOK},
		{"error", func(context.Context) error { return errors.New("boom") }, ResultError},
		{"panic", func(context.Context) error { panic("boom") }, ResultPanic},
	}
	for _, tc := range cases {
		j := Job{Name: tc.name, Interval: time.Hour, Run: tc.run}
		if got := s.Tick(context.Background(), j); got != tc.want {
			t.Errorf("%s: got %s; want %s", tc.name, got, tc.want)
		}
		// The in-process lease holds for the interval: a second tick skips.
		if got := s.Tick(context.Background(), j); got != ResultSkipped {
			t.Errorf("%s second tick: got %s; want skipped", tc.name, got)
		}
		if got := testutil.ToFloat64(m.runs.WithLabelValues(tc.name, tc.want)); got != 1 {
			t.Errorf("%s runs_total: got %v; want 1", tc.name, got)
		}
	}
	if testutil.ToFloat64(m.lastSuccess.WithLabelValues("ok")) == 0 {
		t.Error("last success not set")
	}
}

func TestLoopSurvivesPanicsAndStops(t *testing.T) {
	t.Parallel()
	s, m := newTest(t)
	var n atomic.Int32
	if err := s.Add(Job{Name: "p", Interval: 20 * time.Millisecond, Run: func(context.Context) error {
		if n.Add(1)%2 == 1 {
			panic("odd run")
		}
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.Start(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	s.Wait()
	if n.Load() < 4 {
		t.Fatalf("runs: got %d; want >= 4 despite panics", n.Load())
	}
	if testutil.ToFloat64(m.runs.WithLabelValues("p", ResultPanic)) < 2 || testutil.ToFloat64(m.runs.WithLabelValues("p", ResultOK)) < 1 {
		t.Error("panic and ok runs not both counted")
	}
	if err := s.Add(Job{Name: "late", Interval: time.Second, Run: func(context.Context) error { return nil }}); err == nil {
		t.Error("Add after Start: want an error")
	}
}
