package wings_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/wings"
)

// TestGracefulShutdown runs Serve on a loopback listener and cancels its
// context while a slow request is in flight: /readyz answers 503 during
// server.drain_delay, then the listener closes, the slow request still
// completes, and only then do the stop hooks run, last registered first.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	var slowDone atomic.Bool
	rt, _ := newRuntime(t, func(c *config.Config) {
		c.Server.DrainDelay = time.Second // long enough to ask /readyz on a loaded machine
		c.Server.ShutdownTimeout = 10 * time.Second
	}, wings.Route{Method: http.MethodGet, Path: "/slow", Timeout: 30 * time.Second, Handler: func(c echo.Context) error {
		close(entered)
		<-release
		slowDone.Store(true)
		return wings.JSON(c, "done")
	}})

	var mu sync.Mutex
	var order []string
	hook := func(name string) wings.Hook {
		return func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			if !slowDone.Load() {
				order = append(order, name+" before the in-flight request finished")
			}
			order = append(order, name)
			return nil
		}
	}
	rt.OnStop(hook("first"))
	rt.OnStop(hook("second"))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	base := "http://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- rt.Serve(ctx, ln) }()

	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) (int, string, error) {
		resp, err := client.Get(base + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	if code, body, err := get("/readyz"); err != nil || code != 200 {
		t.Fatalf("/readyz before shutdown: %d %s %v", code, body, err)
	}

	type result struct {
		code int
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		code, body, err := get("/slow")
		slow <- result{code, body, err}
	}()
	<-entered
	cancel() // SIGTERM

	waitFor(t, "draining", rt.Draining)
	if code, body, err := get("/readyz"); err != nil || code != 503 || body != `{"status":"draining"}`+"\n" {
		t.Fatalf("/readyz while draining: %d %q %v; want 503 draining", code, body, err)
	}
	// After the drain delay the listener closes while /slow is still in
	// flight.
	waitFor(t, "listener closed", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a request in flight", err)
	default:
	}
	close(release)

	r := <-slow
	if r.err != nil || r.code != 200 || r.body != `{"code":0,"data":"done"}` {
		t.Fatalf("in-flight request: %d %q %v; want it to complete", r.code, r.body, r.err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve = %v; want nil after a clean drain", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after the drain")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 2 || order[0] != "second" || order[1] != "first" {
		t.Errorf("stop hooks ran as %q; want [second first], after the request", order)
	}
	if rt.Context().Err() == nil {
		t.Error("Runtime context not cancelled after stop")
	}
}

// TestShutdownTimeout checks that a request outliving
// server.shutdown_timeout does not hold the process: Serve returns an error
// and still runs the stop hooks.
func TestShutdownTimeout(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	stuck := make(chan struct{})
	defer close(stuck)
	rt, _ := newRuntime(t, func(c *config.Config) {
		c.Server.ShutdownTimeout = 100 * time.Millisecond
	}, wings.Route{Method: http.MethodGet, Path: "/stuck", Timeout: time.Minute, Raw: true, Handler: func(c echo.Context) error {
		close(entered)
		<-stuck
		return nil
	}})
	var stopped atomic.Bool
	rt.OnStop(func(context.Context) error { stopped.Store(true); return nil })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- rt.Serve(ctx, ln) }()
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/stuck")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	cancel()
	select {
	case err := <-served:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Serve = %v; want the shutdown deadline", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve waited past shutdown_timeout")
	}
	if !stopped.Load() {
		t.Error("stop hooks did not run after a timed-out drain")
	}
}

// waitFor polls cond (bounded), for states that have no event to wait on.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// server.pprof_addr serves the profiles on their own loopback listener
// while the server runs, and stops with it.
func TestPprofListener(t *testing.T) {
	t.Parallel()
	rt, _ := newRuntime(t, func(c *config.Config) { c.Server.PprofAddr = "127.0.0.1:0" })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- rt.Serve(ctx, ln) }()
	var pprofAddr string
	for i := 0; i < 100 && pprofAddr == ""; i++ {
		time.Sleep(20 * time.Millisecond)
		pprofAddr = rt.PprofAddr()
	}
	resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatalf("pprof listener: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/debug/pprof/cmdline: %d", resp.StatusCode)
	}
	// The profiles are not on the application listener.
	if resp, err := http.Get("http://" + ln.Addr().String() + "/debug/pprof/cmdline"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("app listener /debug/pprof/cmdline: %v %v; want 404", resp, err)
	} else {
		resp.Body.Close()
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if rt.PprofAddr() != "" {
		t.Error("PprofAddr still set after the server stopped")
	}
	// Our profiles are gone: the port refuses, or (taken since) answers
	// with someone else's command line.
	if resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/cmdline"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), os.Args[0]) {
			t.Fatal("pprof listener still serves this process's profiles after the server stopped")
		}
	}
}
