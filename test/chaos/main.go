// Command chaos is the chaos soak (make chaos; scripts/chaos.sh runs it from
// the repo root): a steady, bounded load on /api/video/:id, its JSONP form
// and the four dashboard routes of the real wings binary, while a scripted
// timeline kills and restarts Redis and ClickHouse, takes an upstream down,
// makes another slow, hot-reloads its timeout through etcd and restarts the
// server without downtime (SO_REUSEPORT). It prints one row per phase and
// exits 1 when any request was lost: a connection error, or a 5xx that no
// fault of the phase declares.
//
// Everything runs on 127.0.0.1: Redis, ClickHouse and etcd through
// scripts/svc.sh on the ports of the flags (hold /tmp/wings-it.lock, as
// scripts/chaos.sh does), the mock upstream and the servers on ports they
// pick themselves.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// fault names a declared degradation: while it is active (and in the phase
// after it, while things recover) the 5xx answers it explains are not lost.
type fault string

const (
	faultClickHouse fault = "clickhouse" // dashboards without a stale payload: 503 unavailable / 504
	faultAlbum      fault = "album"      // video route: 504 upstream_timeout or 502 naming album
)

// declares reports whether f explains a 5xx answer of kind to the request.
func (f fault) declares(kind string, status int, body string) bool {
	switch f {
	case faultClickHouse:
		return kind == "dash" && (status == 503 && strings.Contains(body, `"error":"unavailable"`) ||
			status == 504 && strings.Contains(body, `"error":"upstream_timeout"`))
	case faultAlbum:
		return (kind == "video" || kind == "jsonp") && (status == 504 || status == 502) && strings.Contains(body, "upstream album")
	}
	return false
}

type phase struct {
	name     string
	action   func() error // run when the phase starts (its time counts to the phase)
	declared []fault
}

// result is one request's outcome.
type result struct {
	phase  int    // in force when the request was sent
	until  int    // in force when its answer had arrived
	kind   string // video, jsonp, dash
	url    string
	status int
	body   string
	cache  string // X-Cache: HIT, MISS or STALE (an expired entry served in grace or when the route failed)
	err    error
	lat    time.Duration
}

type config struct {
	bin                         string
	duration                    time.Duration
	rate                        float64
	maxInFlight                 int
	redisPort, chPort, etcdPort string
	rows                        int
	logDir                      string
}

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", "bin/wings", "the wings binary")
	flag.DurationVar(&c.duration, "duration", 8*time.Minute, "length of the timeline (at most 10m); setup comes on top")
	flag.Float64Var(&c.rate, "rate", 60, "requests per second")
	flag.IntVar(&c.maxInFlight, "max-in-flight", 256, "bound on requests in flight")
	flag.StringVar(&c.redisPort, "redis-port", "6393", "Redis port (svc.sh)")
	flag.StringVar(&c.chPort, "clickhouse-port", "19400", "ClickHouse native port (svc.sh; also uses PORT-900 and PORT+9)")
	flag.StringVar(&c.etcdPort, "etcd-port", "2491", "etcd client port (svc.sh; also PORT+1)")
	flag.IntVar(&c.rows, "rows", 60000, "demo events seeded into ClickHouse (once; kept under .data/)")
	flag.StringVar(&c.logDir, "logs", ".data/chaos", "where the processes' output goes")
	flag.Parse()
	if c.duration <= 0 || c.duration > 10*time.Minute || c.rate <= 0 || c.rate > 500 {
		fmt.Fprintln(os.Stderr, "chaos: -duration must be in (0, 10m] and -rate in (0, 500]")
		os.Exit(2)
	}
	s := &soak{cfg: c}
	code := s.run()
	s.cleanup()
	os.Exit(code)
}

type soak struct {
	cfg     config
	procs   []*child
	started []string // svc names to stop at the end
	redis   string
	ch      string
	mock    string
	server  string // base URL; the address stays across the restart
	srvEnv  []string
	current *child
	etcdKey string // prefix of our keys in etcd
	gen     int    // server generation (log file names)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "chaos %s: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// svc runs scripts/svc.sh and returns its last output line.
func svc(args ...string) (string, error) {
	out, err := exec.Command("scripts/svc.sh", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("svc.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// child is a started process; done is closed when it has exited.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// stop sends SIGTERM and waits up to d for the exit, then kills.
func (c *child) stop(d time.Duration) bool {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return true
	case <-time.After(d):
		_ = c.cmd.Process.Kill()
		<-c.done
		return false
	}
}

// spawn starts the binary with args, its output in the log directory.
func (s *soak) spawn(name string, env []string, args ...string) (*child, string, error) {
	path := filepath.Join(s.cfg.logDir, name+".log")
	f, err := os.Create(path)
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(s.cfg.bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, "", err
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(c.done) }()
	s.procs = append(s.procs, c)
	return c, path, nil
}

// waitLine waits up to d for a line of the file at path containing substr.
func waitLine(path, substr string, d time.Duration) (string, error) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		f, err := os.Open(path)
		if err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				if strings.Contains(sc.Text(), substr) {
					f.Close()
					return sc.Text(), nil
				}
			}
			f.Close()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("%s: no line with %q within %s", path, substr, d)
}

func (s *soak) setup() error {
	if err := os.MkdirAll(s.cfg.logDir, 0o755); err != nil {
		return err
	}
	var err error
	logf("starting redis, clickhouse and etcd (scripts/svc.sh)")
	if s.redis, err = svc("start", "redis", s.cfg.redisPort); err != nil {
		return err
	}
	s.started = append(s.started, "redis "+s.cfg.redisPort)
	if s.ch, err = svc("start", "clickhouse", s.cfg.chPort); err != nil {
		return err
	}
	s.started = append(s.started, "clickhouse "+s.cfg.chPort)
	etcd, err := svc("start", "etcd", s.cfg.etcdPort)
	if err != nil {
		return err
	}
	s.started = append(s.started, "etcd "+s.cfg.etcdPort)
	chEnv := []string{"WINGS_ENV=test", "WINGS_CLICKHOUSE__ADDR=" + s.ch, "WINGS_CLICKHOUSE__DATABASE=chaos"}
	for _, args := range [][]string{{"migrate"}, {"seed-events", "--if-empty", "--rows", fmt.Sprint(s.cfg.rows), "--days", "3"}} {
		cmd := exec.Command(s.cfg.bin, args...)
		cmd.Env = append(os.Environ(), chEnv...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("wings %s: %v\n%s", args[0], err, out)
		}
	}
	_, mockLog, err := s.spawn("mock-upstream", nil, "mock-upstream", "--addr", "127.0.0.1:0")
	if err != nil {
		return err
	}
	line, err := waitLine(mockLog, "listening on ", 10*time.Second)
	if err != nil {
		return err
	}
	s.mock = line[strings.LastIndex(line, " ")+1:]

	var b [6]byte
	_, _ = rand.Read(b[:])
	s.etcdKey = "/wings-chaos-" + hex.EncodeToString(b[:]) + "/"
	s.srvEnv = append(chEnv,
		"WINGS_SERVER__REUSE_PORT=true", "WINGS_SERVER__DRAIN_DELAY=1s", "WINGS_LOG__LEVEL=info",
		"WINGS_REDIS__ADDR="+s.redis, "WINGS_CACHE__RESPONSES=true", "WINGS_APP__NAME=chaos-"+hex.EncodeToString(b[:3]),
		"WINGS_ANALYTICS__PRECOMPUTE_INTERVAL=5s", "WINGS_ANALYTICS__BUSINESS_LINES=video,music",
		"WINGS_ANALYTICS__SPAN_INTERVAL=0s",
		"WINGS_ETCD__ENDPOINTS="+etcd, "WINGS_ETCD__PREFIXES="+s.etcdKey)
	for _, team := range []string{"VIDEO", "ALBUM", "STAR"} {
		s.srvEnv = append(s.srvEnv, "WINGS_UPSTREAMS__"+team+"__BASE_URL="+s.mock)
	}
	addr, err := s.startServer("127.0.0.1:0")
	if err != nil {
		return err
	}
	s.server = "http://" + addr
	logf("server on %s, mock upstream on %s; waiting for a first dashboard precompute", s.server, s.mock)
	deadline := time.Now().Add(60 * time.Second)
	for metric(s.server, "wings_scheduler_job_runs_total", `job="dash_precompute"`, `result="ok"`) < 1 {
		if time.Now().After(deadline) {
			return errors.New("the dashboard precompute did not succeed within 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// startServer starts a server generation on addr and returns the address
// it listens on.
func (s *soak) startServer(addr string) (string, error) {
	s.gen++
	cmd, path, err := s.spawn(fmt.Sprintf("server-%d", s.gen), append(s.srvEnv, "WINGS_SERVER__ADDR="+addr), "serve")
	if err != nil {
		return "", err
	}
	line, err := waitLine(path, `"msg":"listening"`, 20*time.Second)
	if err != nil {
		return "", err
	}
	var l struct{ Addr string }
	if err := json.Unmarshal([]byte(line), &l); err != nil || l.Addr == "" {
		return "", fmt.Errorf("listening line %q: %v", line, err)
	}
	s.current = cmd
	return l.Addr, nil
}

// restart starts the next server generation on the same address and then
// sends SIGTERM to the running one, which drains and exits.
func (s *soak) restart() error {
	old := s.current
	if _, err := s.startServer(strings.TrimPrefix(s.server, "http://")); err != nil {
		return err
	}
	if !old.stop(20 * time.Second) {
		return errors.New("the old server did not exit within 20s of SIGTERM")
	}
	return nil
}

// state describes the server's view at the end of a phase: its readiness
// checks of Redis and ClickHouse, the config reloads it applied, and which
// server generation answers.
func (s *soak) state() string {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.server+"/readyz", nil)
	up := func(ok bool) string {
		if ok {
			return "up"
		}
		return "down"
	}
	var ready struct {
		Checks map[string]struct{ OK bool } `json:"checks"`
	}
	if resp, err := client.Do(req); err == nil {
		_ = json.NewDecoder(resp.Body).Decode(&ready)
		resp.Body.Close()
	}
	return fmt.Sprintf("redis %s, clickhouse %s, reloads %g, server #%d", up(ready.Checks["redis"].OK),
		up(ready.Checks["clickhouse"].OK), metric(s.server, "wings_config_reloads_total", `result="applied"`), s.gen)
}

func (s *soak) faults(body string) error {
	resp, err := http.Post(s.mock+"/_mock/faults", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("POST /_mock/faults %s: %d", body, resp.StatusCode)
	}
	return nil
}

func (s *soak) etcdctl(args ...string) error {
	cmd := exec.Command("etcdctl", append([]string{"--endpoints", "127.0.0.1:" + s.cfg.etcdPort}, args...)...)
	cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("etcdctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (s *soak) timeline() []phase {
	none := func() error { return nil }
	return []phase{
		{"steady", none, nil},
		{"redis killed", func() error { _, err := svc("stop", "redis", s.cfg.redisPort); return err }, nil},
		{"redis restarted", func() error { _, err := svc("start", "redis", s.cfg.redisPort); return err }, nil},
		{"clickhouse killed", func() error { _, err := svc("stop", "clickhouse", s.cfg.chPort); return err }, []fault{faultClickHouse}},
		{"clickhouse restarted", func() error { _, err := svc("start", "clickhouse", s.cfg.chPort); return err }, []fault{faultClickHouse}},
		{"stars upstream down", func() error { return s.faults(`{"star":{"down":true}}`) }, nil},
		{"album slow 1s (timeout 800ms)", func() error { return s.faults(`{"star":{},"album":{"latency":"1s"}}`) }, []fault{faultAlbum}},
		{"album timeout 1.5s via etcd", func() error {
			return s.etcdctl("put", s.etcdKey+"upstreams/album/timeout", "1500ms")
		}, []fault{faultAlbum}},
		{"album healed, timeout back", func() error {
			if err := s.faults(`{"album":{}}`); err != nil {
				return err
			}
			return s.etcdctl("del", s.etcdKey+"upstreams/album/timeout")
		}, []fault{faultAlbum}}, // an open breaker notices the heal only after its open_timeout (5s)
		{"zero-downtime restart", s.restart, nil},
		{"steady after restart", none, nil},
	}
}

var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// request picks the next request of the mix: 45% video, 15% JSONP, 40%
// dashboards (the four routes, two business lines).
func (s *soak) request(n int) (kind, url string) {
	r := mrand.IntN(100)
	id := 1 + mrand.IntN(3000)
	if id == 404 { // the mock's unknown video (404 not_found): not part of the mix
		id = 405
	}
	switch {
	case r < 45:
		return "video", fmt.Sprintf("%s/api/video/%d", s.server, id)
	case r < 60:
		return "jsonp", fmt.Sprintf("%s/api/video/%d?callback=cb%d&_=%d", s.server, id, n%100, n)
	}
	biz := []string{"video", "music"}[n%2]
	route := []string{"realtime", "ranking", "funnel", "analysis"}[mrand.IntN(4)]
	return "dash", fmt.Sprintf("%s/api/dash/%s/%s", s.server, biz, route)
}

func do(kind, url string) result {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if kind == "dash" {
		req.Header.Set("Authorization", "Bearer demo-admin")
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return result{kind: kind, url: url, err: err, lat: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{kind: kind, url: url, status: resp.StatusCode, body: string(b), cache: resp.Header.Get("X-Cache"), err: err, lat: time.Since(start)}
}

func (s *soak) run() int {
	if err := s.setup(); err != nil {
		logf("setup failed: %v", err)
		return 2
	}
	phases := s.timeline()
	each := s.cfg.duration / time.Duration(len(phases))
	var cur atomic.Int64
	var mu sync.Mutex
	var results []result
	var wg sync.WaitGroup
	sem := make(chan struct{}, s.cfg.maxInFlight)
	stop := make(chan struct{})
	maxRequests := int(s.cfg.rate*(s.cfg.duration+2*time.Minute).Seconds()) + 1
	loadDone := make(chan struct{})
	go func() { // open-loop load at the given rate, bounded in flight and in count
		defer close(loadDone)
		tick := time.NewTicker(time.Duration(float64(time.Second) / s.cfg.rate))
		defer tick.Stop()
		for n := 0; n < maxRequests; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			sem <- struct{}{}
			ph := int(cur.Load())
			kind, url := s.request(n)
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := do(kind, url)
				<-sem
				r.phase, r.until = ph, int(cur.Load())
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}()
		}
	}()

	var actionErr error
	took := make([]time.Duration, len(phases))
	notes := make([]string, len(phases))
	hardStop := time.Now().Add(10 * time.Minute)
	for i, p := range phases {
		cur.Store(int64(i))
		start := time.Now()
		logf("phase %d: %s", i+1, p.name)
		if err := p.action(); err != nil {
			actionErr = fmt.Errorf("phase %q: %w", p.name, err)
			logf("%v", actionErr)
			break
		}
		if rest := each - time.Since(start); rest > 0 && time.Now().Add(rest).Before(hardStop) {
			time.Sleep(rest)
		}
		took[i] = time.Since(start)
		notes[i] = s.state()
	}
	close(stop)
	<-loadDone
	wg.Wait()
	lost := report(os.Stdout, phases, took, notes, results, s.cfg)
	if actionErr != nil {
		return 2
	}
	if lost > 0 {
		return 1
	}
	return 0
}

func (s *soak) cleanup() {
	for _, p := range s.procs {
		p.stop(15 * time.Second)
	}
	if s.etcdKey != "" {
		_ = s.etcdctl("del", s.etcdKey, "--prefix")
	}
	for _, sv := range s.started {
		_, _ = svc(append([]string{"stop"}, strings.Fields(sv)...)...)
	}
}

// row is one phase's figures.
type row struct {
	requests, ok, degraded, cacheStale, c4xx, c5xx, declared, lost int
	p50, p99                                                       time.Duration
	lostSamples, odd                                               []result
	declaredBy                                                     map[string]int
}

func pct(lats []time.Duration, p float64) time.Duration {
	if len(lats) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(lats))*p/100)) - 1
	return lats[max(0, min(i, len(lats)-1))]
}

// envelopeCode is the "code" of a failure envelope in body (0 on success),
// or -1 when there is none.
func envelopeCode(body string) int {
	i := strings.Index(body, `{"code":`)
	if i < 0 {
		return -1
	}
	n, digits := 0, 0
	for _, c := range body[i+len(`{"code":`):] {
		if c < '0' || c > '9' {
			break
		}
		n, digits = n*10+int(c-'0'), digits+1
	}
	if digits == 0 {
		return -1
	}
	return n
}

func classify(phases []phase, results []result) []row {
	rows := make([]row, len(phases))
	lats := make([][]time.Duration, len(phases))
	for _, r := range results {
		// A JSONP failure may be sent as 200 (so that the page's script runs):
		// its envelope's code is the status it stands for.
		if c := envelopeCode(r.body); r.kind == "jsonp" && r.status == 200 && c >= 400 {
			r.status = c
		}
		w := &rows[r.phase]
		w.requests++
		lats[r.phase] = append(lats[r.phase], r.lat)
		switch {
		case r.err != nil:
			w.lost++
			w.lostSamples = append(w.lostSamples, r)
		case r.status < 300:
			w.ok++
			if strings.Contains(r.body, `"degraded":[`) || strings.Contains(r.body, `"stale":true`) || strings.Contains(r.body, `"stale":[`) {
				w.degraded++
			}
			if r.cache == "STALE" {
				w.cacheStale++
			}
		case r.status < 500:
			w.c4xx++
			w.odd = append(w.odd, r)
		default:
			w.c5xx++
			by := ""
			// A fault that began while the request was in flight may explain it.
			for _, p := range phases[r.phase : max(r.phase, r.until)+1] {
				for _, f := range p.declared {
					if f.declares(r.kind, r.status, r.body) {
						by = string(f)
					}
				}
			}
			if by == "" {
				w.lost++
				w.lostSamples = append(w.lostSamples, r)
				continue
			}
			w.declared++
			if w.declaredBy == nil {
				w.declaredBy = map[string]int{}
			}
			w.declaredBy[fmt.Sprintf("%s %d", by, r.status)]++
		}
	}
	for i := range rows {
		sort.Slice(lats[i], func(a, b int) bool { return lats[i][a] < lats[i][b] })
		rows[i].p50, rows[i].p99 = pct(lats[i], 50), pct(lats[i], 99)
	}
	return rows
}

func report(w io.Writer, phases []phase, took []time.Duration, notes []string, results []result, cfg config) int {
	rows := classify(phases, results)
	fmt.Fprintf(w, "\nchaos soak: %s timeline, %.0f req/s (45%% /api/video/:id, 15%% JSONP, 40%% the four dashboards), %d requests\n\n",
		cfg.duration, cfg.rate, len(results))
	fmt.Fprintf(w, "| # | phase | secs | requests | 2xx | degraded/stale 2xx | X-Cache: STALE 2xx | 4xx | 5xx (declared) | p50 ms | p99 ms | lost | at the phase's end |\n")
	fmt.Fprintf(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	var tot row
	for i, r := range rows {
		fmt.Fprintf(w, "| %d | %s | %.0f | %d | %d | %d | %d | %d | %d (%d) | %.1f | %.1f | %d | %s |\n", i+1, phases[i].name, took[i].Seconds(),
			r.requests, r.ok, r.degraded, r.cacheStale, r.c4xx, r.c5xx, r.declared, ms(r.p50), ms(r.p99), r.lost, notes[i])
		tot.requests += r.requests
		tot.ok += r.ok
		tot.degraded += r.degraded
		tot.cacheStale += r.cacheStale
		tot.c4xx += r.c4xx
		tot.c5xx += r.c5xx
		tot.declared += r.declared
		tot.lost += r.lost
	}
	fmt.Fprintf(w, "| | total | | %d | %d | %d | %d | %d | %d (%d) | | | %d | |\n\n", tot.requests, tot.ok, tot.degraded, tot.cacheStale, tot.c4xx, tot.c5xx, tot.declared, tot.lost)
	fmt.Fprintln(w, "degraded/stale = the body lists degraded or stale sources, or is a dashboard payload past its freshness.")
	fmt.Fprintln(w, "X-Cache: STALE = the response cache served an expired entry: in its grace period while refreshing, or")
	fmt.Fprintln(w, "because the route failed (stale-if-error); either may also be degraded.")
	fmt.Fprintln(w, "lost = connection errors and client timeouts (10s), plus 5xx that no fault of the phase declares.")
	fmt.Fprintln(w, "Declared: clickhouse = a dashboard 503 unavailable / 504 without a stale payload to serve (while killed and")
	fmt.Fprintln(w, "restarting); album = a video 504 upstream_timeout / 502 naming album (while slower than its timeout, until")
	fmt.Fprintln(w, "the reloaded timeout lands, and while its open breaker waits out open_timeout after the heal).")
	fmt.Fprintln(w, "Requests count to the phase in force when they were sent; a fault of a phase that began while one was")
	fmt.Fprintln(w, "in flight may explain it too.")
	for i, r := range rows {
		if len(r.declaredBy) > 0 {
			fmt.Fprintf(w, "  phase %d declared 5xx: %v\n", i+1, r.declaredBy)
		}
		for j, x := range r.odd {
			if j == 3 {
				break
			}
			fmt.Fprintf(w, "  phase %d 4xx (not lost, but no request of the mix should get one): %s %s: %d %.200s\n", i+1, x.kind, x.url, x.status, x.body)
		}
		for j, x := range r.lostSamples {
			if j == 5 {
				fmt.Fprintf(w, "  phase %d: ... %d more lost\n", i+1, len(r.lostSamples)-5)
				break
			}
			what := fmt.Sprintf("%d %.200s", x.status, x.body)
			if x.err != nil {
				what = x.err.Error()
			}
			fmt.Fprintf(w, "  phase %d LOST %s %s after %s: %s\n", i+1, x.kind, x.url, x.lat.Round(time.Millisecond), what)
		}
	}
	if tot.lost == 0 {
		fmt.Fprintln(w, "\nresult: 0 lost")
	} else {
		fmt.Fprintf(w, "\nresult: %d lost (see above; process logs in %s)\n", tot.lost, cfg.logDir)
	}
	return tot.lost
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// metric scrapes /metrics and sums the samples of name whose labels contain
// every given `key="value"` pair; 0 when the scrape fails.
func metric(server, name string, labels ...string) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, server+"/metrics", nil)
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		var v float64
		if _, err := fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v); ok && err == nil {
			sum += v
		}
	}
	return sum
}
