package test

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// etcdTestPort is this file's own etcd (svc.sh also uses the next port).
const etcdTestPort = "2477"

func etcdctl(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("etcdctl", append([]string{"--endpoints", "127.0.0.1:" + etcdTestPort}, args...)...)
	cmd.Env = append(cmd.Environ(), "ETCDCTL_API=3")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("etcdctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func etcdSvc(t *testing.T, args ...string) {
	t.Helper()
	path, err := filepath.Abs("../scripts/svc.sh")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
		t.Fatalf("svc.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestEtcdHotReload runs the server with a real etcd as config centre: a
// changed upstream timeout, breaker setting and route rate limit take
// effect within seconds, invalid values are rejected and the config in
// force stays, restart-only keys are ignored, and losing etcd keeps the
// last good config.
func TestEtcdHotReload(t *testing.T) {
	etcdSvc(t, "start", "etcd", etcdTestPort)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			etcdSvc(t, "stop", "etcd", etcdTestPort)
		}
	})
	var b [6]byte
	_, _ = rand.Read(b[:])
	root := "/wings-it-" + hex.EncodeToString(b[:]) + "/"
	shared, app := root+"shared/", root+"apps/video-bff/"
	etcdctl(t, "put", shared+"upstreams/video/timeout", "900ms")

	mock, _ := startMock(t, "--latency", "150ms")
	srv, p := startServer(t, mock, "WINGS_ETCD__ENDPOINTS=127.0.0.1:"+etcdTestPort,
		"WINGS_ETCD__PREFIXES="+shared+","+app, "WINGS_LOG__LEVEL=info")
	if !strings.Contains(p.Output(), "etcd 127.0.0.1:"+etcdTestPort) {
		t.Errorf("the config-loaded line does not name etcd:\n%s", tail(p.Output(), 10))
	}
	video := srv + "/api/video/42"
	if r := get(t, video); r.Status != http.StatusOK {
		t.Fatalf("GET %s = %d; want 200: %s", video, r.Status, r.Body)
	}

	// waitStatus polls video until it answers want, for up to 10s.
	waitStatus := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := get(t, video)
			if r.Status == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s still %d after 10s; want %d", video, r.Status, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// The app prefix wins over the shared one; 50ms < the team's 150ms.
	etcdctl(t, "put", app+"upstreams/video/timeout", "50ms")
	waitStatus(http.StatusGatewayTimeout)
	if !strings.Contains(p.Output(), `"msg":"config reloaded"`) {
		t.Error("no \"config reloaded\" log line")
	}
	if got := metricValue(t, srv, "wings_config_reloads_total", `result="applied"`); got < 1 {
		t.Errorf("wings_config_reloads_total{result=applied} = %v; want >= 1", got)
	}

	// An invalid value is rejected; the 50ms timeout stays in force.
	etcdctl(t, "put", app+"upstreams/video/timeout", "soon")
	deadline := time.Now().Add(10 * time.Second)
	for metricValue(t, srv, "wings_config_reloads_total", `result="rejected"`) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("an invalid timeout in etcd was not rejected within 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := get(t, video); r.Status != http.StatusGatewayTimeout {
		t.Errorf("after a rejected reload GET = %d; want 504 (the 50ms timeout kept)", r.Status)
	}

	// A key that needs a restart is logged and ignored.
	etcdctl(t, "put", app+"upstreams/video/timeout", "50ms")
	etcdctl(t, "put", app+"server/gzip_min_bytes", "4096")
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Output(), "need a restart") {
		if time.Now().After(deadline) {
			t.Fatal("no log line about server.gzip_min_bytes needing a restart")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Breaker settings: with min_requests 2 the video breaker (default 20)
	// opens after a couple of the 50ms timeouts.
	etcdctl(t, "put", app+"upstreams/video/breaker/min_requests", "2")
	etcdctl(t, "put", app+"upstreams/video/breaker/open_timeout", "1m")
	deadline = time.Now().Add(10 * time.Second)
	for metricValue(t, srv, "wings_upstream_breaker_state", `upstream="video"`) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the video breaker did not open within 10s of min_requests 2 in etcd")
		}
		get(t, video)
		time.Sleep(50 * time.Millisecond)
	}

	// Back to a generous timeout and the default breaker (new settings
	// replace the open breaker with a closed one).
	etcdctl(t, "del", app+"upstreams/video/breaker/", "--prefix")
	etcdctl(t, "put", app+"upstreams/video/timeout", "800ms")
	waitStatus(http.StatusOK)

	// A rate limit: 0.2 rps with a burst of 1 answers 429 to a quick second
	// request; removing it lets every request through again.
	etcdctl(t, "put", app+"routes/video_detail/rate_limit/rps", "0.2")
	etcdctl(t, "put", app+"routes/video_detail/rate_limit/burst", "1")
	waitStatus(http.StatusTooManyRequests)
	etcdctl(t, "del", app+"routes/video_detail/rate_limit/", "--prefix")
	waitStatus(http.StatusOK)

	// etcd lost: the server keeps the last good config.
	etcdSvc(t, "stop", "etcd", etcdTestPort)
	stopped = true
	time.Sleep(500 * time.Millisecond)
	for i := 0; i < 5; i++ {
		if r := get(t, video); r.Status != http.StatusOK {
			t.Fatalf("with etcd gone GET = %d; want 200 (last good config)", r.Status)
		}
	}
}

// TestEtcdUnreachableAtStart: the server starts from the files with a
// warning, or refuses to start with etcd.required.
func TestEtcdUnreachableAtStart(t *testing.T) {
	dead := closedAddr(t) // refuses connections
	mock, _ := startMock(t)
	_, p := startServer(t, mock, "WINGS_ETCD__ENDPOINTS="+dead, "WINGS_ETCD__PREFIXES=/wings/apps/x/",
		"WINGS_ETCD__DIAL_TIMEOUT=300ms")
	if !strings.Contains(p.Output(), "etcd unreachable at start; starting from the files") {
		t.Errorf("no warning about etcd at start:\n%s", tail(p.Output(), 10))
	}

	q := start(t, []string{"WINGS_ENV=test", "WINGS_SERVER__ADDR=" + anyPort, "WINGS_ETCD__ENDPOINTS=" + dead,
		"WINGS_ETCD__PREFIXES=/wings/apps/x/", "WINGS_ETCD__DIAL_TIMEOUT=300ms", "WINGS_ETCD__REQUIRED=true"}, "serve")
	if !q.Wait(15 * time.Second) {
		q.Signal(syscall.SIGKILL)
		t.Fatal("with etcd.required and etcd unreachable the server did not exit")
	}
	if q.cmd.ProcessState.Success() || !strings.Contains(q.Output(), "etcd.required") {
		t.Errorf("exit %v, output %q; want a failure naming etcd.required", q.cmd.ProcessState, q.Output())
	}
}

// TestFileHotReload: without etcd, editing a config file changes a hot key
// of the running server within seconds.
func TestFileHotReload(t *testing.T) {
	conf := t.TempDir()
	abs, err := filepath.Abs("../conf")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-R", abs+"/.", conf).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	mock, _ := startMock(t, "--latency", "150ms")
	env := []string{"WINGS_ENV=test", "WINGS_SERVER__ADDR=" + anyPort}
	for _, team := range []string{"VIDEO", "ALBUM", "STAR"} {
		env = append(env, "WINGS_UPSTREAMS__"+team+"__BASE_URL="+mock)
	}
	p := start(t, env, "serve", "--conf", conf)
	base := "http://" + waitListening(t, p, 15*time.Second)
	waitHTTP(t, base+"/healthz", 15*time.Second)
	if r := get(t, base+"/api/video/42"); r.Status != http.StatusOK {
		t.Fatalf("GET = %d; want 200", r.Status)
	}
	f, err := os.OpenFile(filepath.Join(conf, "config.test.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\nupstreams:\n  video:\n    timeout: 50ms\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	deadline := time.Now().Add(10 * time.Second)
	for get(t, base+"/api/video/42").Status != http.StatusGatewayTimeout {
		if time.Now().After(deadline) {
			t.Fatal("the edited timeout was not applied within 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEtcdValueWrittenWhileUnreachable: a server that started while etcd
// was down applies what etcd holds as soon as etcd is back, without waiting
// for the next change.
func TestEtcdValueWrittenWhileUnreachable(t *testing.T) {
	const port = "2481" // this test's own etcd (and 2482)
	ctl := func(args ...string) {
		t.Helper()
		cmd := exec.Command("etcdctl", append([]string{"--endpoints", "127.0.0.1:" + port}, args...)...)
		cmd.Env = append(cmd.Environ(), "ETCDCTL_API=3")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("etcdctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	app := "/wings-it-" + hex.EncodeToString(b[:]) + "/apps/video-bff/"
	etcdSvc(t, "start", "etcd", port)
	running := true
	t.Cleanup(func() {
		if running {
			etcdSvc(t, "stop", "etcd", port)
		}
	})
	ctl("put", app+"upstreams/video/timeout", "50ms")
	etcdSvc(t, "stop", "etcd", port)
	running = false

	mock, _ := startMock(t, "--latency", "150ms")
	srv, p := startServer(t, mock, "WINGS_ETCD__ENDPOINTS=127.0.0.1:"+port, "WINGS_ETCD__PREFIXES="+app,
		"WINGS_ETCD__DIAL_TIMEOUT=300ms")
	if !strings.Contains(p.Output(), "etcd unreachable at start") {
		t.Errorf("no warning about etcd at start:\n%s", tail(p.Output(), 10))
	}
	video := srv + "/api/video/42"
	if r := get(t, video); r.Status != http.StatusOK {
		t.Fatalf("from the files (800ms timeout) GET = %d; want 200", r.Status)
	}
	etcdSvc(t, "start", "etcd", port)
	running = true
	deadline := time.Now().Add(15 * time.Second)
	for get(t, video).Status != http.StatusGatewayTimeout {
		if time.Now().After(deadline) {
			t.Fatalf("etcd's 50ms timeout not applied within 15s of etcd coming back:\n%s", tail(p.Output(), 10))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
