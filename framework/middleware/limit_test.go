package middleware

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/apperr"
)

func TestShed(t *testing.T) {
	t.Parallel()
	e := echo.New()
	l := NewInFlight(2)
	shed := 0
	entered := make(chan struct{}, 2)
	release := make(chan struct{})
	h := Shed(l, "route", func(echo.Context) { shed++ })(func(c echo.Context) error {
		entered <- struct{}{}
		<-release
		return nil
	})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = h(e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder()))
		}()
	}
	<-entered
	<-entered
	err := h(e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder()))
	if apperr.KindOf(err) != apperr.KindUnavailable {
		t.Fatalf("third request: err = %v; want unavailable", err)
	}
	if shed != 1 || l.Current() != 2 {
		t.Errorf("shed = %d, in flight = %d; want 1, 2", shed, l.Current())
	}
	close(release)
	wg.Wait()
	if l.Current() != 0 {
		t.Errorf("in flight after release = %d; want 0", l.Current())
	}
	if err := h(e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())); err != nil {
		t.Errorf("after release: %v", err)
	}
	if ok, held := NewInFlight(0).Enter(); !ok || held {
		t.Errorf("a zero limit: admitted %v, held %v; want admitted without a slot", ok, held)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := echo.New()
	limited := 0
	h := RateLimit(0.5, 2, 10, func(echo.Context) { limited++ })(func(echo.Context) error { return nil })
	call := func(ip string) (*httptest.ResponseRecorder, error) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = ip + ":1234"
		rec := httptest.NewRecorder()
		return rec, h(e.NewContext(req, rec))
	}
	for i := 0; i < 2; i++ {
		if _, err := call("10.0.0.1"); err != nil {
			t.Fatalf("burst request %d: %v", i, err)
		}
	}
	rec, err := call("10.0.0.1")
	if apperr.KindOf(err) != apperr.KindRateLimited {
		t.Fatalf("third request: err = %v; want rate_limited", err)
	}
	if got := rec.Header().Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q; want 2 (1/rps)", got)
	}
	if _, err := call("10.0.0.2"); err != nil {
		t.Errorf("another client was limited: %v", err)
	}
	if limited != 1 {
		t.Errorf("limited = %d; want 1", limited)
	}
}

// TestInFlightSetLimit: a changed bound applies to the next request, and
// slots taken before a change are given back exactly once.
func TestInFlightSetLimit(t *testing.T) {
	t.Parallel()
	l := NewInFlight(0)
	if ok, held := l.Enter(); !ok || held {
		t.Fatalf("no limit: admitted %v, held %v; want true, false", ok, held)
	}
	l.SetLimit(1)
	ok, held := l.Enter()
	if !ok || !held {
		t.Fatalf("limit 1, first: admitted %v, held %v; want true, true", ok, held)
	}
	if ok, _ := l.Enter(); ok {
		t.Fatal("limit 1, second: admitted; want shed")
	}
	l.SetLimit(0) // removed while a slot is held
	if ok, held := l.Enter(); !ok || held {
		t.Fatalf("limit removed: admitted %v, held %v; want true, false", ok, held)
	}
	l.Release()
	if l.Current() != 0 {
		t.Errorf("in flight after release = %d; want 0", l.Current())
	}
	l.SetLimit(2)
	for i := range 2 {
		if ok, _ := l.Enter(); !ok {
			t.Fatalf("limit 2, request %d shed", i)
		}
	}
	if ok, _ := l.Enter(); ok {
		t.Error("limit 2, third request admitted")
	}
}

// TestRateLimiterSetRate: a changed rate applies to each client's next
// request; rps 0 turns the limit off and back on.
func TestRateLimiterSetRate(t *testing.T) {
	t.Parallel()
	e := echo.New()
	l := NewRateLimiter(0, 0, 10)
	call := func() error {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = "10.0.0.1:1234"
		return l.Allow(e.NewContext(req, httptest.NewRecorder()))
	}
	for i := range 5 {
		if err := call(); err != nil {
			t.Fatalf("off, request %d: %v", i, err)
		}
	}
	l.SetRate(0.1, 1)
	if err := call(); err != nil {
		t.Fatalf("rate 0.1/s: first request: %v", err)
	}
	if err := call(); apperr.KindOf(err) != apperr.KindRateLimited {
		t.Fatalf("rate 0.1/s: second request: %v; want rate_limited", err)
	}
	l.SetRate(0.1, 3) // a new rate: the client's bucket starts full
	for i := range 3 {
		if err := call(); err != nil {
			t.Fatalf("burst 3, request %d: %v", i, err)
		}
	}
	if err := call(); apperr.KindOf(err) != apperr.KindRateLimited {
		t.Fatalf("burst 3, fourth request: %v; want rate_limited", err)
	}
	if rps, burst := l.Rate(); rps != 0.1 || burst != 3 {
		t.Errorf("Rate() = %v, %d; want 0.1, 3", rps, burst)
	}
	l.SetRate(0, 0)
	if err := call(); err != nil {
		t.Errorf("turned off: %v", err)
	}
}
