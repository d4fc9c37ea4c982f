package recovery_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/recovery"
)

func TestCall(t *testing.T) {
	v, err := recovery.Call(func() (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Errorf("no panic: got %d %v; want 7 nil", v, err)
	}
	boom := errors.New("boom")
	if err := recovery.Do(func() error { return boom }); err != boom || recovery.From(err) != nil {
		t.Errorf("plain error: got %v; want it unchanged, no panic", err)
	}
	v, err = recovery.Call(func() (int, error) { panic("bug") })
	p := recovery.From(err)
	if v != 0 || apperr.KindOf(err) != apperr.KindInternal || p == nil || p.Value != "bug" || !strings.Contains(p.Stack, "recovery_test.go") {
		t.Errorf("panic: got %d %v (panic %+v); want 0 and an internal error holding the value and stack", v, err, p)
	}
}

type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestReporterGo(t *testing.T) {
	var out syncBuilder
	log := logrus.New()
	log.SetOutput(&out)
	log.SetFormatter(&logrus.JSONFormatter{})
	count := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "panics_total"}, []string{"where"})
	r := recovery.NewReporter(log, count)
	done := make(chan struct{})
	r.Go(context.Background(), "worker", func() {
		defer close(done)
		panic("worker bug")
	})
	<-done
	// Report runs just after fn's deferred close; wait for it (bounded).
	for deadline := time.Now().Add(5 * time.Second); testutil.ToFloat64(count.WithLabelValues("worker")) != 1; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("the panic was not counted within 5s")
		}
	}
	if s := out.String(); !strings.Contains(s, `"where":"worker"`) || !strings.Contains(s, "recovery_test.go") {
		t.Errorf("log %s; want a panic line with where and the stack", s)
	}
	var nilR *recovery.Reporter
	if !nilR.Report(context.Background(), "x", recovery.Do(func() error { panic("y") })) {
		t.Error("a nil Reporter must still say the error held a panic")
	}
}
