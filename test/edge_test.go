package test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// spoofedIP is a random address for a forged X-Forwarded-For.
func spoofedIP(t *testing.T) string {
	t.Helper()
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("100.%d.%d.%d", b[0]&63|64, b[1], b[2])
}

// count429 sends 30 requests to /api/video/42 with X-Forwarded-For from
// xff and counts the 429 answers; any answer but 200 or 429 fails.
func count429(t *testing.T, server string, xff func() string) int {
	t.Helper()
	n := 0
	for range 30 {
		r := get(t, server+"/api/video/42", "X-Forwarded-For", xff())
		switch r.Status {
		case http.StatusTooManyRequests:
			n++
		case http.StatusOK:
		default:
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
	}
	t.Logf("%s: %d of 30 answers 429", server, n)
	return n
}

// TestRateLimitSpoofedForwardedFor: with routes.video_detail.rate_limit.rps=5,
// 30 quick requests from one client each with a different random
// X-Forwarded-For are mostly refused when the peer is not a trusted proxy
// (the issue measured 30 answers 200 here before server.trusted_proxies);
// through a trusted proxy (loopback, the default) distinct X-Forwarded-For
// clients get distinct buckets, and one client is still limited.
func TestRateLimitSpoofedForwardedFor(t *testing.T) {
	mock, _ := startMock(t)
	limit := "WINGS_ROUTES__VIDEO_DETAIL__RATE_LIMIT__RPS=5"

	untrusted, _ := startServer(t, mock, limit, "WINGS_SERVER__TRUSTED_PROXIES=")
	if n := count429(t, untrusted, func() string { return spoofedIP(t) }); n < 15 {
		t.Errorf("untrusted peer, random X-Forwarded-For each: %d of 30 answers 429; want >= 15 (one bucket; 25 when the loop takes no time)", n)
	}

	trusted, _ := startServer(t, mock, limit)
	if n := count429(t, trusted, func() string { return spoofedIP(t) }); n != 0 {
		t.Errorf("trusted proxy, distinct clients: %d of 30 answers 429; want 0 (a bucket each)", n)
	}
	if n := count429(t, trusted, func() string { return spoofedIP(t) + ", 198.51.100.7" }); n < 15 {
		t.Errorf("trusted proxy, one client behind forged hops: %d of 30 answers 429; want >= 15", n)
	}
}

// TestDemoUsersRefusedOffLoopback: with WINGS_ENV unset, wings serve on a
// non-loopback address refuses to start (the local environment's demo
// tokens would be served to the network) and says why. The address is
// TEST-NET (never on this host), so nothing listens even without the check.
func TestDemoUsersRefusedOffLoopback(t *testing.T) {
	cmd := exec.Command(wingsBin(t), "serve")
	cmd.Dir = ".."
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WINGS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "WINGS_SERVER__ADDR=192.0.2.1:0")
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("wings serve on 192.0.2.1 with WINGS_ENV unset is still running; want it refused:\n%s", out)
	}
	want := "server.addr: 192.0.2.1:0 is not a loopback address and WINGS_ENV is unset"
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("wings serve: %v\n%s\nwant a failed start saying %q", err, out, want)
	}
}
