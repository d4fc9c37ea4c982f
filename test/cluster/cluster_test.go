// Package cluster holds the failover tests that run against the local
// scale-out cluster of scripts/cluster.sh (make test-cluster). They run only
// with WINGS_CLUSTER_TEST=1 and the cluster up; each prints its figures.
package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const token = "demo-admin"

// env is the running cluster: the repository root and the nginx address.
type env struct {
	root, url string
}

func setup(t *testing.T) env {
	t.Helper()
	if os.Getenv("WINGS_CLUSTER_TEST") != "1" {
		t.Skip("cluster tests run with WINGS_CLUSTER_TEST=1 against scripts/cluster.sh up (make test-cluster)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	url := os.Getenv("WINGS_URL")
	if url == "" {
		url = "http://127.0.0.1:29080"
	}
	return env{root: root, url: url}
}

// pid returns the PID of one cluster process (wings1, ch0, redis3, ...).
func (e env) pid(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, ".data/cluster", name, "pid"))
	if err != nil {
		t.Fatalf("%s: %v (is the cluster up?)", name, err)
	}
	p, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// kill sends sig to the process group of one cluster process and waits
// until it is gone.
func (e env) kill(t *testing.T, name string, sig syscall.Signal) {
	t.Helper()
	p := e.pid(t, name)
	if err := syscall.Kill(-p, sig); err != nil {
		t.Fatalf("kill %s (%d): %v", name, p, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if syscall.Kill(p, 0) != nil {
			return
		}
		// A zombie is gone for our purpose.
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p)); err != nil || strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s (%d) still alive after %s", name, p, sig)
}

// waitReplicas waits (at most 90 s) until every replicated table on every
// server is writable with all its replicas active: a restarted server (or
// ZooKeeper) takes some seconds to get its sessions back, and a write
// meanwhile (a quorum insert above all) fails.
func (e env) waitReplicas(t *testing.T) {
	t.Helper()
	const q = "SELECT count() FROM system.replicas WHERE is_readonly OR is_session_expired OR active_replicas < total_replicas"
	start := time.Now()
	for _, port := range []string{"29100", "29110", "29120", "29130"} {
		for {
			out, err := exec.Command("clickhouse-client", "--port", port, "-q", q).CombinedOutput()
			if err == nil && strings.TrimSpace(string(out)) == "0" {
				break
			}
			if time.Since(start) > 90*time.Second {
				t.Fatalf("server %s: replicated tables not all writable with every replica active 90s on: %v %s", port, err, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Logf("every replica active and writable %s after the check began", time.Since(start).Round(time.Millisecond))
}

// start starts one stopped process again through scripts/cluster.sh.
func (e env) start(t *testing.T, name string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(e.root, "scripts/cluster.sh"), "start", name)
	cmd.Dir = e.root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cluster.sh start %s: %v\n%s", name, err, out)
	}
}

// result is one answer seen by the load.
type result struct {
	status int
	body   []byte
	err    error
}

// load runs workers clients GETting paths in turn until stop is closed,
// and returns the count of answers and failures (transport errors and 5xx).
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	firstFails []string
	done       chan struct{} // closed when every worker has returned
}

func (e env) runLoad(ctx context.Context, workers int, paths []string) *load {
	l := &load{done: make(chan struct{})}
	client := &http.Client{Timeout: 15 * time.Second}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i++ {
				r := e.get(client, paths[i%len(paths)])
				if ctx.Err() != nil && r.err != nil {
					return
				}
				if r.err != nil || r.status >= 500 {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.firstFails) < 5 {
						l.firstFails = append(l.firstFails, fmt.Sprintf("%s: %d %v %.120s", paths[i%len(paths)], r.status, r.err, r.body))
					}
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
			}
		}(w)
	}
	go func() { wg.Wait(); close(l.done) }()
	return l
}

func (e env) get(client *http.Client, path string) result {
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, body: b, err: err}
}

// waitLoad stops the load and waits for its workers (a request in flight
// ends within the client's 15 s timeout).
func waitLoad(t *testing.T, cancel context.CancelFunc, l *load) {
	t.Helper()
	cancel()
	select {
	case <-l.done:
	case <-time.After(20 * time.Second):
		t.Fatal("load workers still running 20s after the load was stopped")
	}
}

var videoPaths = []string{"/api/video/42", "/api/video/7", "/api/video/1001", "/readyz"}

// TestWingsKilledUnderLoad (issue item 5): one Wings SIGKILLed under load
// through nginx, then a rolling restart of all three: zero failed requests.
func TestWingsKilledUnderLoad(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	l := e.runLoad(ctx, 8, videoPaths)
	time.Sleep(2 * time.Second)
	e.kill(t, "wings2", syscall.SIGKILL)
	time.Sleep(3 * time.Second)
	e.start(t, "wings2")
	time.Sleep(time.Second)
	waitLoad(t, cancel, l)
	t.Logf("SIGKILL of wings2 under load: %d answered, %d failed", l.ok.Load(), l.failed.Load())
	if l.failed.Load() != 0 || l.ok.Load() == 0 {
		t.Errorf("SIGKILL: %d failed of %d; want 0 failed: %v", l.failed.Load(), l.ok.Load()+l.failed.Load(), l.firstFails)
	}

	ctx, cancel = context.WithCancel(context.Background())
	l = e.runLoad(ctx, 8, videoPaths)
	start := time.Now()
	for _, n := range []string{"wings1", "wings2", "wings3"} {
		e.kill(t, n, syscall.SIGTERM)
		e.start(t, n)
	}
	took := time.Since(start)
	waitLoad(t, cancel, l)
	t.Logf("rolling restart of 3 instances in %s under load: %d answered, %d failed", took.Round(time.Millisecond), l.ok.Load(), l.failed.Load())
	if l.failed.Load() != 0 || l.ok.Load() == 0 {
		t.Errorf("rolling restart: %d failed of %d; want 0 failed: %v", l.failed.Load(), l.ok.Load()+l.failed.Load(), l.firstFails)
	}
}

// redisMaster returns the cluster process name (redis1..6) of a master.
func (e env) redisMaster(t *testing.T) (string, string) {
	t.Helper()
	out, err := exec.Command("redis-cli", "-p", "29301", "cluster", "nodes").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && strings.Contains(f[2], "master") && !strings.Contains(f[2], "fail") && !strings.Contains(f[2], "myself") {
			port := strings.Split(strings.Split(f[1], "@")[0], ":")[1]
			n, _ := strconv.Atoi(port)
			return fmt.Sprintf("redis%d", n-29300), f[0]
		}
	}
	t.Fatalf("no master other than 29301 in:\n%s", out)
	return "", ""
}

// TestRedisMasterKilled (issue item 4): a Redis master SIGKILLed under
// cached load; its replica is promoted, answers continue and do not change.
func TestRedisMasterKilled(t *testing.T) {
	e := setup(t)
	client := &http.Client{Timeout: 15 * time.Second}
	want := map[string]string{}
	for _, p := range videoPaths[:3] {
		r := e.get(client, p)
		if r.err != nil || r.status != 200 {
			t.Fatalf("%s before: %d %v", p, r.status, r.err)
		}
		want[p] = string(r.body)
	}
	name, id := e.redisMaster(t)
	ctx, cancel := context.WithCancel(context.Background())
	l := e.runLoad(ctx, 8, videoPaths[:3])
	time.Sleep(time.Second)
	killed := time.Now()
	e.kill(t, name, syscall.SIGKILL)
	promoted := time.Duration(0)
	for time.Since(killed) < 30*time.Second {
		out, _ := exec.Command("redis-cli", "-p", "29301", "cluster", "info").Output()
		nodes, _ := exec.Command("redis-cli", "-p", "29301", "cluster", "nodes").Output()
		if strings.Contains(string(out), "cluster_state:ok") && strings.Contains(string(nodes), id) && strings.Contains(string(nodes), "master,fail") {
			promoted = time.Since(killed)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	waitLoad(t, cancel, l)
	e.start(t, name)
	t.Logf("Redis master %s killed: replica promoted after %s; %d answered, %d failed", name, promoted.Round(time.Millisecond), l.ok.Load(), l.failed.Load())
	if promoted == 0 {
		t.Error("no replica promoted within 30s")
	}
	if l.failed.Load() != 0 {
		t.Errorf("%d failed answers during the failover; want 0 (the cache falls back to L1 and the teams): %v", l.failed.Load(), l.firstFails)
	}
	for p, w := range want {
		if r := e.get(client, p); r.status != 200 || string(r.body) != w {
			t.Errorf("%s after the failover: %d %.200s; want the answer from before", p, r.status, r.body)
		}
	}
}

var dashPaths = []string{
	"/api/dash/video/realtime",
	"/api/dash/video/analysis?granularity=day&metrics=pv,uv",
	"/api/dash/music/analysis?granularity=day&platform=ios&metrics=pv,uv",
	"/api/dash/video/funnel",
}

func chCount(t *testing.T, port, query string) string {
	t.Helper()
	out, err := exec.Command("clickhouse-client", "--port", port, "-q", query).CombinedOutput()
	if err != nil {
		t.Fatalf("clickhouse %s: %v %s", port, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestClickHouseReplicaKilled (issue item 2): the first server of
// clickhouse.addrs (every Wings' first choice, a replica of shard 01)
// SIGKILLed under dashboard load; rows inserted meanwhile reach it through
// replication once it is back.
func TestClickHouseReplicaKilled(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	l := e.runLoad(ctx, 4, dashPaths)
	time.Sleep(2 * time.Second)
	before := l.ok.Load() + l.failed.Load()
	e.kill(t, "ch0", syscall.SIGKILL)
	// Rows written while ch0 is down land on ch1 (shard 01) and ch2/ch3.
	chCount(t, "29110", "INSERT INTO wings.events (event_time, business_line, event, user_id, item, platform, region, value) SELECT now(), 'video', 'view', number, 'i', 'ios', 'cn', 1 FROM system.numbers LIMIT 1000")
	time.Sleep(5 * time.Second)
	waitLoad(t, cancel, l)
	total := l.ok.Load() + l.failed.Load() - before
	t.Logf("ClickHouse ch0 killed under dashboard load: %d requests after the kill, %d failed", total, l.failed.Load())
	const bound = 0.05
	if f := float64(l.failed.Load()); f > bound*float64(total) {
		t.Errorf("%d failed of %d; want at most %.0f%%: %v", l.failed.Load(), total, bound*100, l.firstFails)
	}
	e.start(t, "ch0")
	e.waitReplicas(t)
	want := chCount(t, "29110", "SELECT count() FROM wings.events_local")
	deadline := time.Now().Add(60 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		if got = chCount(t, "29100", "SELECT count() FROM wings.events_local"); got == want {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("ch0 restarted: %s rows locally; its replica ch1 has %s", got, want)
	if got != want {
		t.Errorf("ch0 did not catch up: %s rows; want %s", got, want)
	}
}

type freshness struct {
	Data struct {
		Source string `json:"source"`
		Stale  bool   `json:"stale"`
	} `json:"data"`
}

// TestShardDown (issue item 3): both replicas of shard 02 down; every
// dashboard answer is a 503, or the precomputed payload, or the very answer
// from before: never a live answer over one shard's rows.
func TestShardDown(t *testing.T) {
	e := setup(t)
	client := &http.Client{Timeout: 15 * time.Second}
	before := map[string]string{}
	for _, p := range dashPaths {
		if r := e.get(client, p); r.status == 200 {
			before[p] = string(r.body)
		}
	}
	e.kill(t, "ch2", syscall.SIGKILL)
	e.kill(t, "ch3", syscall.SIGKILL)
	defer func() { e.start(t, "ch2"); e.start(t, "ch3"); e.waitReplicas(t) }()
	// Fresh parameters too: never cached, so they must reach ClickHouse.
	paths := append([]string{"/api/dash/video/analysis?granularity=hour&metrics=pv"}, dashPaths...)
	counts := map[string]int{}
	for _, p := range paths {
		r := e.get(client, p)
		var f freshness
		_ = json.Unmarshal(r.body, &f)
		switch {
		case r.status == http.StatusServiceUnavailable:
			counts["503"]++
			if !strings.Contains(string(r.body), "unavailable") {
				t.Errorf("%s: 503 %.200s; want it to say what is unavailable", p, r.body)
			}
		case r.status == 200 && f.Data.Source == "precomputed":
			counts["precomputed"]++
		case r.status == 200 && before[p] != "" && string(r.body) == before[p]:
			counts["same as before"]++
		default:
			t.Errorf("%s with shard 02 down: %d %.200s; want 503, precomputed or the answer from before", p, r.status, r.body)
		}
	}
	t.Logf("shard 02 down: %v over %d dashboard requests", counts, len(paths))
}

// TestMigrateIdempotent: wings migrate run again on the migrated cluster
// applies nothing, and every server has every table of the schema.
func TestMigrateIdempotent(t *testing.T) {
	e := setup(t)
	out := migrate(t, e)
	if strings.Contains(out, "applied") || strings.Contains(out, "redefined") || !strings.Contains(out, "schema up to date") {
		t.Errorf("second migrate: %s; want nothing applied", out)
	}
	var counts []string
	for _, port := range []string{"29100", "29110", "29120", "29130"} {
		counts = append(counts, chCount(t, port, "SELECT count() FROM system.tables WHERE database = 'wings'"))
	}
	t.Logf("second migrate: %s; tables per server: %v", strings.TrimSpace(out), counts)
	for _, c := range counts[1:] {
		if c != counts[0] {
			t.Errorf("tables per server %v; want the same schema everywhere", counts)
		}
	}
}

// migrate runs wings migrate on the cluster and returns what it printed.
func migrate(t *testing.T, e env) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(e.root, "bin/wings"), "migrate")
	cmd.Dir = e.root
	cmd.Env = append(wingsEnviron(),
		"WINGS_CLICKHOUSE__ADDRS=127.0.0.1:29100,127.0.0.1:29110,127.0.0.1:29120,127.0.0.1:29130",
		"WINGS_CLICKHOUSE__CLUSTER=wings_cluster")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("wings migrate: %v\n%s", err, out)
	}
	return string(out)
}

// TestMigrateRedefinesDistributed: a cluster migrated by an earlier build
// whose Distributed tables differ from what this build renders (events
// sharded by rand(); agg_uv_span made "AS" its local table, so with its
// MATERIALIZED column instead of an ALIAS) gets them replaced by wings
// migrate, on every server, without losing a row; the next migrate finds
// nothing to do.
func TestMigrateRedefinesDistributed(t *testing.T) {
	e := setup(t)
	before := chCount(t, "29100", "SELECT count() FROM wings.events")
	for _, st := range []string{
		"CREATE TABLE wings.events__x ON CLUSTER wings_cluster AS wings.events_local ENGINE = Distributed(wings_cluster, wings, events_local, rand())",
		"RENAME TABLE wings.events TO wings.events__y, wings.events__x TO wings.events ON CLUSTER wings_cluster",
		"DROP TABLE wings.events__y ON CLUSTER wings_cluster",
		"CREATE TABLE wings.agg_uv_span__x ON CLUSTER wings_cluster AS wings.agg_uv_span_local ENGINE = Distributed(wings_cluster, wings, agg_uv_span_local, rand())",
		"RENAME TABLE wings.agg_uv_span TO wings.agg_uv_span__y, wings.agg_uv_span__x TO wings.agg_uv_span ON CLUSTER wings_cluster",
		"DROP TABLE wings.agg_uv_span__y ON CLUSTER wings_cluster",
	} {
		chCount(t, "29100", st)
	}
	out := migrate(t, e)
	for _, name := range []string{"events", "agg_uv_span"} {
		if !strings.Contains(out, "redefined the Distributed table "+name+"\n") {
			t.Errorf("migrate did not redefine %s:\n%s", name, out)
		}
	}
	if n := strings.Count(out, "redefined"); n != 2 {
		t.Errorf("migrate redefined %d tables; want 2:\n%s", n, out)
	}
	for _, port := range []string{"29100", "29110", "29120", "29130"} {
		if ev := chCount(t, port, "SHOW CREATE TABLE wings.events"); !strings.Contains(ev, "cityHash64(user_id))") {
			t.Errorf("server %s: events is %s", port, ev)
		}
		if sp := chCount(t, port, "SHOW CREATE TABLE wings.agg_uv_span"); !strings.Contains(sp, " ALIAS ") || strings.Contains(sp, "rand()") {
			t.Errorf("server %s: agg_uv_span is %s", port, sp)
		}
		if left := chCount(t, port, "SELECT count() FROM system.tables WHERE database = 'wings' AND match(name, '__')"); left != "0" {
			t.Errorf("server %s: %s scratch tables left", port, left)
		}
	}
	if after := chCount(t, "29100", "SELECT count() FROM wings.events"); after != before {
		t.Errorf("events: %s rows before, %s after", before, after)
	}
	if again := migrate(t, e); strings.Contains(again, "redefined") {
		t.Errorf("a second migrate redefined again:\n%s", again)
	}
	t.Logf("an earlier build's events (rand()) and agg_uv_span (AS local) redefined on all 4 servers; %s events before and after", before)
}
