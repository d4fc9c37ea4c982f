package test

import (
	"bytes"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// promtool returns the promtool binary; make test installs it
// (scripts/deps.sh promtool), a plain go test without it skips.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (make test installs it with scripts/deps.sh promtool)")
	}
	return p
}

// TestMetricsPassPromtoolCheck scrapes /metrics of the real binary after some
// traffic (successes, client errors, an upstream failure) and runs
// `promtool check metrics` over it: every finding fails the test.
func TestMetricsPassPromtoolCheck(t *testing.T) {
	bin := promtool(t)
	s := newStack(t, []string{"--not-found-ids", "404"})
	for _, path := range []string{"/api/video/42", "/api/video/7", "/api/video/404", "/api/video/abc", "/no/such/route", "/readyz", "/version"} {
		get(t, s.Server+path)
	}
	r := get(t, s.Server+"/metrics")
	if r.Status != http.StatusOK {
		t.Fatalf("GET /metrics status = %d; want 200", r.Status)
	}
	for _, want := range []string{"wings_http_requests_total{", "wings_http_request_duration_seconds_bucket{", "wings_upstream_requests_total{", "wings_build_info{"} {
		if !bytes.Contains(r.Body, []byte(want)) {
			t.Errorf("scrape has no %s", want)
		}
	}
	if got := metricValue(t, s.Server, "wings_http_errors_total", `kind="bad_param"`, `route="/api/video/:id"`); got != 1 {
		t.Errorf("wings_http_errors_total{kind=bad_param} = %v; want 1 (GET /api/video/abc)", got)
	}
	if got := metricValue(t, s.Server, "wings_http_errors_total", `kind="not_found"`, `route="/api/video/:id"`); got != 1 {
		t.Errorf("wings_http_errors_total{kind=not_found} = %v; want 1 (GET /api/video/404)", got)
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(r.Body)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
