package test

import (
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startBinary runs an installed binary (not wings) like start does; the
// test's cleanup stops it.
func startBinary(t testing.TB, bin string, args ...string) *proc {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s is not installed (scripts/deps.sh installs it): %v", bin, err)
	}
	p := &proc{done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Dir = ".."
	p.cmd.Env = os.Environ()
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Signal(syscall.SIGTERM)
		if !p.Wait(15 * time.Second) {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", bin, tail(p.Output(), 40))
		}
	})
	return p
}

// TestProbeBlackbox runs the real blackbox exporter with
// conf/blackbox/blackbox.yml against a running Wings: /readyz, the canary
// envelope and its JSONP form pass; a canary whose answer is not a success
// envelope (an unknown video), or a JSONP check against an answer without
// the wrapper, fails.
func TestProbeBlackbox(t *testing.T) {
	s := newStack(t, nil)
	bb := startBinary(t, "prometheus-blackbox-exporter",
		"--config.file=conf/blackbox/blackbox.yml", "--web.listen-address="+anyPort)
	exporter := "http://" + waitListening(t, bb, 10*time.Second)

	probe := func(module, target string) string {
		t.Helper()
		r := get(t, exporter+"/probe?module="+module+"&target="+url.QueryEscape(target))
		if r.Status != 200 {
			t.Fatalf("probe %s %s: status %d: %s", module, target, r.Status, r.Body)
		}
		return string(r.Body)
	}
	for _, tc := range []struct {
		name, module, target string
		success              bool
	}{
		{"readyz", "wings_readyz", s.Server + "/readyz", true},
		{"canary envelope", "wings_envelope", s.Server + "/api/video/42", true},
		{"canary jsonp", "wings_jsonp", s.Server + "/api/video/42?callback=wingsProbe&fields=id", true},
		{"unknown video: 404", "wings_envelope", s.Server + "/api/video/404", false},
		{"no wrapper: content check fails", "wings_jsonp", s.Server + "/api/video/42", false},
		{"bad param: content check fails", "wings_envelope", s.Server + "/api/video/abc", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := probe(tc.module, tc.target)
			want := "probe_success 0"
			if tc.success {
				want = "probe_success 1"
			}
			if !strings.Contains(body, "\n"+want+"\n") {
				t.Errorf("probe %s of %s: want %s in\n%s", tc.module, tc.target, want, body)
			}
		})
	}
	// The content check itself, not only the status, decides: the
	// no-wrapper answer was a 200.
	body := probe("wings_jsonp", s.Server+"/api/video/42")
	if !strings.Contains(body, "probe_http_status_code 200") || !strings.Contains(body, "probe_failed_due_to_regex 1") {
		t.Errorf("the JSONP probe of a plain answer: want status 200 and failed_due_to_regex 1 in\n%s", body)
	}
}
