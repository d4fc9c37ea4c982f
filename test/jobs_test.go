package test

import (
	"context"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/wings-bff/wings/framework/scheduler"
)

// jobsRedisPort is the Redis of this file's tests (svc.sh scheme).
const jobsRedisPort = "6411"

// logged reports whether hook saw a line whose message contains msg.
func logged(hook *logtest.Hook, msg string) bool {
	for _, e := range hook.AllEntries() {
		if strings.Contains(e.Message, msg) {
			return true
		}
	}
	return false
}

// waitFor polls cond every 20ms for at most d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// TestSchedulerLeaseStoreDown runs a job on a real Redis lease, then stops
// Redis in the middle of the run: the failed lease renewal is logged, the
// following ticks are skipped (counted as lease_unavailable and logged)
// instead of every instance running the job, and the failed release at
// shutdown is logged.
func TestSchedulerLeaseStoreDown(t *testing.T) {
	addr := svc(t, "start", "redis", jobsRedisPort)
	t.Cleanup(func() { _, _ = exec.Command("../scripts/svc.sh", "stop", "redis", jobsRedisPort).CombinedOutput() })
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	log, hook := logtest.NewNullLogger()
	reg := prometheus.NewRegistry()
	s := scheduler.New(rdb, "jobs-test:lease:", scheduler.NewMetrics(reg), log)

	var runs atomic.Int32
	redisStopped := make(chan struct{})
	err := s.Add(scheduler.Job{Name: "precompute", Interval: time.Second, Timeout: 20 * time.Second,
		Run: func(ctx context.Context) error {
			if runs.Add(1) > 1 {
				return nil
			}
			<-redisStopped
			// Stay in the run until a renewal (every ~475ms) has failed.
			if !waitFor(10*time.Second, func() bool { return logged(hook, "lease renewal failed") }) {
				t.Error("no renewal failure logged while Redis was down")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.Start(ctx)
	if !waitFor(10*time.Second, func() bool { return runs.Load() == 1 }) {
		t.Fatal("the job never started with Redis up")
	}
	svc(t, "stop", "redis", jobsRedisPort)
	close(redisStopped)

	counter := func(result string) float64 {
		return gathered(t, reg, "wings_scheduler_job_runs_total", map[string]string{"job": "precompute", "result": result})
	}
	if !waitFor(15*time.Second, func() bool { return counter(scheduler.ResultLeaseUnavailable) >= 2 }) {
		t.Errorf("lease_unavailable ticks: %v; want >= 2 while Redis is down", counter(scheduler.ResultLeaseUnavailable))
	}
	cancel()
	s.Wait()
	if n := runs.Load(); n != 1 {
		t.Errorf("runs: %d; want 1 (none while the lease store is down)", n)
	}
	if counter(scheduler.ResultOK) != 1 {
		t.Errorf("ok runs: %v; want 1", counter(scheduler.ResultOK))
	}
	for _, msg := range []string{"lease store unavailable; run skipped", "lease release failed"} {
		if !logged(hook, msg) {
			t.Errorf("no %q line logged", msg)
		}
	}
	for _, e := range hook.AllEntries() {
		if e.Level <= logrus.WarnLevel && e.Data["job"] != "precompute" {
			t.Errorf("log line without its job: %q %v", e.Message, e.Data)
		}
	}
}

// gathered returns the sum of the series of the counter name in reg whose
// labels include want.
func gathered(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	v := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if w, ok := want[lp.GetName()]; ok && w != lp.GetValue() {
					continue next
				}
			}
			v += m.GetCounter().GetValue()
		}
	}
	return v
}
