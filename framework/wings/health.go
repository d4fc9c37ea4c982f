package wings

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sirupsen/logrus"

	"github.com/wings-bff/wings/framework/recovery"
)

// Check probes one dependency for /readyz. Only a failing Critical check
// makes the server unready; the others are reported, because Wings degrades
// around them (optional upstreams, Redis behind the L1 cache).
type Check struct {
	Name     string
	Critical bool
	Fn       func(ctx context.Context) error
}

// AddCheck registers a readiness check.
func (rt *Runtime) AddCheck(c Check) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.checks = append(rt.checks, c)
}

func (rt *Runtime) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

type checkResult struct {
	OK       bool   `json:"ok"`
	Critical bool   `json:"critical"`
	Error    string `json:"error,omitempty"`
}

// checkFailed is the public text of a failed check: /readyz is reachable
// by whoever reaches the server, so the cause (dial errors name hosts and
// ports) is only logged.
const checkFailed = "unavailable"

// readyz answers 503 while draining or when a critical check fails, and
// lists every check by name; a failure's cause goes to the log.
func (rt *Runtime) readyz(c echo.Context) error {
	if rt.draining.Load() {
		return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "draining"})
	}
	rt.mu.Lock()
	checks := append([]Check(nil), rt.checks...)
	rt.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.Request().Context(), time.Second)
	defer cancel()
	results := make(map[string]checkResult, len(checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ch := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A check runs on a goroutine of its own: its panic fails the
			// check, not the process.
			err := recovery.Do(func() error { return ch.Fn(ctx) })
			r := checkResult{OK: err == nil, Critical: ch.Critical}
			switch {
			case rt.panics.Report(ctx, "readyz", err):
				r.Error = "check panicked"
			case err != nil:
				r.Error = checkFailed
				var ud *upstreamDown
				if errors.As(err, &ud) {
					r.Error = "upstream " + ud.name + " " + checkFailed
				}
				rt.log.WithFields(logrus.Fields{"check": ch.Name, "critical": ch.Critical, "error": err.Error()}).Warn("readiness check failed")
			}
			mu.Lock()
			results[ch.Name] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	status, code := "ready", http.StatusOK
	for _, r := range results {
		if !r.OK && r.Critical {
			status, code = "unready", http.StatusServiceUnavailable
		}
	}
	return c.JSON(code, map[string]any{"status": status, "checks": results})
}

func (rt *Runtime) version(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{
		"version":    rt.build.Version,
		"commit":     rt.build.Commit,
		"build_time": rt.build.BuildTime,
		"go":         runtime.Version(),
	})
}

// checkUpstreams dials every upstream's host: reachability, not health.
func (rt *Runtime) checkUpstreams(ctx context.Context) error {
	var firstErr error
	var d net.Dialer
	for name, c := range rt.upstreams {
		u, err := url.Parse(c.BaseURL())
		if err != nil {
			continue
		}
		port := u.Port()
		if port == "" {
			port = "80"
			if u.Scheme == "https" {
				port = "443"
			}
		}
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
		if err != nil {
			if firstErr == nil {
				firstErr = &upstreamDown{name: name, err: err}
			}
			continue
		}
		conn.Close()
	}
	return firstErr
}

type upstreamDown struct {
	name string
	err  error
}

func (e *upstreamDown) Error() string { return "upstream " + e.name + " unreachable: " + e.err.Error() }
