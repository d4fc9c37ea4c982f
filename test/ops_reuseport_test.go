package test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestZeroDowntimeRestart runs a bounded load against one address while a
// second server process starts on it with server.reuse_port and the first
// one is sent SIGTERM (it drains: readyz 503, drain_delay, Shutdown). No
// request may fail, and the new process must be serving at the end.
func TestZeroDowntimeRestart(t *testing.T) {
	mock, _ := startMock(t)
	env := []string{"WINGS_ENV=test", "WINGS_SERVER__ADDR=" + anyPort, "WINGS_SERVER__REUSE_PORT=true",
		"WINGS_SERVER__DRAIN_DELAY=1s", "WINGS_LOG__LEVEL=info"}
	for _, team := range []string{"VIDEO", "ALBUM", "STAR"} {
		env = append(env, "WINGS_UPSTREAMS__"+team+"__BASE_URL="+mock)
	}
	old := start(t, env, "serve")
	// The new process binds the port the old one holds.
	addr := waitListening(t, old, 15*time.Second)
	base := "http://" + addr
	env = append(env, "WINGS_SERVER__ADDR="+addr)
	waitHTTP(t, base+"/healthz", 15*time.Second)

	// The load: 4 workers, at most 4000 requests and 30 seconds in all.
	const workers, maxRequests = 4, 4000
	var sent, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	deadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if sent.Add(1) > maxRequests || time.Now().After(deadline) {
					return
				}
				resp, err := client.Get(base + "/api/video/42")
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		end := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(end) {
				close(stop)
				wg.Wait()
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("load to start", func() bool { return sent.Load() > 100 })

	// The new process binds the same port while the old one still listens.
	next := start(t, env, "serve")
	waitFor("the new process to listen", func() bool { return strings.Contains(next.Output(), `"msg":"listening"`) })
	old.Signal(syscall.SIGTERM)
	if !old.Wait(20 * time.Second) {
		t.Fatal("the old process did not exit within 20s of SIGTERM")
	}
	if !strings.Contains(old.Output(), `"msg":"stopped"`) {
		t.Errorf("the old process did not stop cleanly:\n%s", tail(old.Output(), 20))
	}
	atHandover := sent.Load()
	waitFor("load after the handover", func() bool { return sent.Load() > atHandover+200 })
	close(stop)
	wg.Wait()

	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed across the restart; first: %v", n, sent.Load(), firstErr.Load())
	}
	oldServed := strings.Count(old.Output(), `"route":"/api/video/:id"`)
	newServed := strings.Count(next.Output(), `"route":"/api/video/:id"`)
	if oldServed == 0 || newServed == 0 {
		t.Errorf("old process served %d, new one %d; want both > 0", oldServed, newServed)
	}
	t.Logf("%d requests, none failed: old process served %d, new one %d", sent.Load(), oldServed, newServed)
}
