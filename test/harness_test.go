// Package test holds integration tests: they start the real wings binary
// (and the mock upstream teams, and real services where needed) on loopback
// ports and talk to them over HTTP.
package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wings-bff/wings/framework/testkit"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// wingsBin returns the binary under test: $WINGS_TEST_BIN (make test builds
// it) or a fresh build.
func wingsBin(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("WINGS_TEST_BIN"); p != "" {
			binPath = p
			return
		}
		dir, err := os.MkdirTemp("", "wings-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "wings")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/wings").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// closedAddr returns a loopback address that refuses connections for the
// rest of the test (testkit.ClosedAddr).
func closedAddr(t testing.TB) string { return testkit.ClosedAddr(t) }

// anyPort is the listen address a started process binds: the kernel picks
// the port and the test reads it back from the process (waitListening).
const anyPort = "127.0.0.1:0"

// waitListening waits up to d for process pid to listen on exactly one
// TCP socket and returns its address. It reads the process's sockets from
// /proc, so the process may bind port 0 and print nothing.
func waitListening(t testing.TB, p *proc, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		addrs, err := listeningAddrs(p.cmd.Process.Pid)
		switch {
		case err == nil && len(addrs) == 1:
			return addrs[0]
		case err == nil && len(addrs) > 1:
			t.Fatalf("pid %d listens on %v; want one address", p.cmd.Process.Pid, addrs)
		}
		select {
		case <-p.done:
			t.Fatalf("process exited before listening:\n%s", tail(p.Output(), 30))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d did not listen within %s (last error %v):\n%s", p.cmd.Process.Pid, d, err, tail(p.Output(), 30))
		}
	}
}

// listeningAddrs lists the IPv4 TCP addresses pid listens on: the socket
// inodes among its open files, looked up in /proc/net/tcp.
func listeningAddrs(pid int) ([]string, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	table, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, line := range strings.Split(string(table), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] { // 0A: LISTEN
			continue
		}
		var ip, port uint32
		if _, err := fmt.Sscanf(f[1], "%08X:%04X", &ip, &port); err != nil {
			return nil, fmt.Errorf("/proc/net/tcp: %q: %w", f[1], err)
		}
		// The address is the kernel's 32-bit word, printed little-endian.
		addrs = append(addrs, fmt.Sprintf("%d.%d.%d.%d:%d", byte(ip), byte(ip>>8), byte(ip>>16), byte(ip>>24), port))
	}
	return addrs, nil
}

// proc is a started binary whose output is kept for assertions.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// Output returns everything the process printed so far.
func (p *proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Signal sends sig to the process.
func (p *proc) Signal(sig os.Signal) { _ = p.cmd.Process.Signal(sig) }

// Wait waits up to d for the process to exit and reports whether it did.
func (p *proc) Wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// start runs the wings binary with args and env; the test's cleanup stops
// it. On failure the output is logged.
func start(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{done: make(chan struct{})}
	p.cmd = exec.Command(wingsBin(t), args...)
	p.cmd.Dir = ".." // the repo root: conf/ is found there
	p.cmd.Env = append(os.Environ(), env...)
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
			t.Logf("output of wings %s:\n%s", strings.Join(args, " "), tail(p.Output(), 60))
		}
	})
	return p
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitHTTP polls url until it answers 200 or d passes.
func waitHTTP(t testing.TB, url string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within %s", url, d)
}

// stack is a mock upstream plus a server pointed at it.
type stack struct {
	Mock, Server string // base URLs
	MockProc     *proc
	ServerProc   *proc
}

// startMock runs wings mock-upstream with extra flags.
func startMock(t testing.TB, flags ...string) (string, *proc) {
	t.Helper()
	p := start(t, nil, append([]string{"mock-upstream", "--addr", anyPort}, flags...)...)
	base := "http://" + waitListening(t, p, 10*time.Second)
	waitHTTP(t, base+"/_mock/stats", 10*time.Second)
	return base, p
}

// startServer runs wings serve (WINGS_ENV=test) with upstreams pointed at
// mock and extra WINGS_* settings.
func startServer(t testing.TB, mock string, env ...string) (string, *proc) {
	t.Helper()
	base := []string{"WINGS_ENV=test", "WINGS_SERVER__ADDR=" + anyPort}
	for _, team := range []string{"VIDEO", "ALBUM", "STAR"} {
		base = append(base, "WINGS_UPSTREAMS__"+team+"__BASE_URL="+mock)
	}
	p := start(t, append(base, env...), "serve")
	url := "http://" + waitListening(t, p, 15*time.Second)
	waitHTTP(t, url+"/healthz", 15*time.Second)
	return url, p
}

// newStack starts a mock (with flags) and a server (with env).
func newStack(t testing.TB, mockFlags []string, env ...string) *stack {
	t.Helper()
	mock, mp := startMock(t, mockFlags...)
	srv, sp := startServer(t, mock, env...)
	return &stack{Mock: mock, Server: srv, MockProc: mp, ServerProc: sp}
}

// response is a fetched answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map.
func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, r.Body)
	}
	return m
}

var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

// get fetches url with optional header pairs ("Name", "value", ...).
func get(t testing.TB, url string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// post sends a JSON body.
func post(t testing.TB, url, body string) response {
	t.Helper()
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// metricValue scrapes /metrics and sums the samples of name whose labels
// contain every given `key="value"` pair.
func metricValue(t testing.TB, server, name string, labels ...string) float64 {
	t.Helper()
	r := get(t, server+"/metrics")
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(line, l) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		var v float64
		if _, err := fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v); err == nil {
			sum += v
		}
	}
	return sum
}
