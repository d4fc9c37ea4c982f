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
	if !NewInFlight(0).Acquire() {
		t.Error("a zero limit refused")
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
