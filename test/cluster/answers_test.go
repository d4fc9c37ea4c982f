package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wings-bff/wings/framework/testkit"
)

// The single-node side of TestSameAnswers, on ports of the cluster's range
// (the cluster lock covers them): ClickHouse (svc.sh: tcp 29200, http
// 28300, interserver 29209), Redis and one Wings.
const (
	singleCHPort    = "29200"
	singleRedisPort = "29210"
	singleWingsAddr = "127.0.0.1:29509"
	// spanMinUV gives the demo events' big keys UV spans (the default,
	// 10000, is above any key of 200,000 events).
	spanMinUV = "WINGS_ANALYTICS__SPAN_MIN_UV=300"
	dashTZ    = "Asia/Shanghai"
)

var wingsNames = []string{"wings1", "wings2", "wings3"}

// restartWings restarts the cluster's three Wings one by one (TERM, start,
// ready) with extra WINGS_* settings on top of cluster.sh's.
func (e env) restartWings(t *testing.T, extra ...string) {
	t.Helper()
	for _, n := range wingsNames {
		e.kill(t, n, syscall.SIGTERM)
		cmd := exec.Command(filepath.Join(e.root, "scripts/cluster.sh"), "start", n)
		cmd.Dir = e.root
		cmd.Env = append(wingsEnviron(), extra...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cluster.sh start %s: %v\n%s", n, err, out)
		}
	}
}

// wingsEnviron is the test's environment for a Wings process, without
// WINGS_CLUSTER_TEST (which names no config key: Wings would warn).
func wingsEnviron() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WINGS_CLUSTER_TEST=") {
			out = append(out, kv)
		}
	}
	return out
}

// svc runs scripts/svc.sh.
func (e env) svc(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(e.root, "scripts/svc.sh"), args...)
	cmd.Dir = e.root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("svc.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// sh runs a shell pipeline in the repository root.
func (e env) sh(t *testing.T, script string) string {
	t.Helper()
	cmd := exec.Command("bash", "-o", "pipefail", "-c", script)
	cmd.Dir = e.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return strings.TrimSpace(string(out))
}

// serveWings starts one Wings (bin/wings serve) with env on top of the
// environment, stopped by PID when the test ends; it returns its URL once
// /readyz answers.
func (e env) serveWings(t *testing.T, addr string, env ...string) string {
	t.Helper()
	log, err := os.Create(filepath.Join(t.TempDir(), "wings.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(e.root, "bin/wings"), "serve")
	cmd.Dir = e.root
	cmd.Env = append(wingsEnviron(), append([]string{"WINGS_SERVER__ADDR=" + addr}, env...)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	url := "http://" + addr
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("wings serve on %s exited:\n%s", addr, tail(string(b), 3000))
		default:
		}
		if resp, err := client.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	b, _ := os.ReadFile(log.Name())
	t.Fatalf("wings serve on %s not ready in 60s:\n%s", addr, tail(string(b), 3000))
	return ""
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// jobRuns sums wings_scheduler_job_runs_total of job with result over the
// /metrics of the instances at urls.
func jobRuns(urls []string, job, result string) (float64, error) {
	re := regexp.MustCompile(`(?m)^wings_scheduler_job_runs_total\{job="` + regexp.QuoteMeta(job) + `",result="` + regexp.QuoteMeta(result) + `"\} (\S+)$`)
	client := &http.Client{Timeout: 5 * time.Second}
	var sum float64
	for _, u := range urls {
		resp, err := client.Get(u + "/metrics")
		if err != nil {
			return 0, err
		}
		var b bytes.Buffer
		_, err = b.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		if m := re.FindSubmatch(b.Bytes()); m != nil {
			v, err := strconv.ParseFloat(string(m[1]), 64)
			if err != nil {
				return 0, err
			}
			sum += v
		}
	}
	return sum, nil
}

// clusterWingsURLs are the three instances, without nginx.
var clusterWingsURLs = []string{"http://127.0.0.1:29501", "http://127.0.0.1:29502", "http://127.0.0.1:29503"}

// waitJob waits until job has run once with result ok on urls (at most
// d), and fails if it ran with an error.
func waitJob(t *testing.T, urls []string, job string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, err := jobRuns(urls, job, "ok")
		if err != nil {
			t.Fatal(err)
		}
		if bad, _ := jobRuns(urls, job, "error"); bad > 0 {
			t.Fatalf("job %s failed on %v (see its server.log)", job, urls)
		}
		if ok > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s did not run on %v within %s", job, urls, d)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// normalize drops what says when and how an answer was computed
// (computed_at, age_seconds, a "live"/"precomputed" source, stale) and
// returns the rest, numbers as json.Number.
func normalize(b []byte) (any, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			delete(x, "computed_at")
			delete(x, "age_seconds")
			delete(x, "stale")
			if s, ok := x["source"].(string); ok && (s == "live" || s == "precomputed") {
				delete(x, "source")
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return v, nil
}

// sameJSON reports whether two normalized answers are equal: the same
// keys, strings and integers (pv, uv, users exact), and fractional numbers
// within a relative 1e-9. A sum of Float64 values (avg_value) depends on
// the order of its additions, which differs between shards and one server
// (and on one server between part merges) in the last bits; the answer
// rounds it to 10 decimals, so one such bit can move its last digit.
func sameJSON(a, b any) bool { return testkit.SameJSON(a, b, 1e-9) }

// answerPaths are the dashboard requests compared: every endpoint, home
// and other parameters, each kind of source (precomputed home payload,
// rollups, UV spans, funnel states, raw events).
func answerPaths(today time.Time) []string {
	day := func(n int) string { return today.AddDate(0, 0, n).Format(time.DateOnly) }
	var out []string
	for _, biz := range []string{"video", "music", "book"} {
		p := "/api/dash/" + biz
		out = append(out,
			p+"/realtime",
			p+"/realtime?event=click",
			p+"/ranking",
			p+"/ranking?date="+day(-1)+"&limit=50",
			p+"/ranking?date="+day(-3)+"&event=order",
			p+"/funnel",
			p+"/funnel?date="+day(-1),
			p+"/funnel?date="+day(-2)+"&steps=view,cart,order&window=7200",
			p+"/analysis?granularity=day&metrics=pv,uv,avg_value",
			p+"/analysis?granularity=day&from="+day(-29)+"&to="+day(0)+"&metrics=pv,uv",
			p+"/analysis?granularity=day&from="+day(-20)+"&to="+day(-1)+"&platform=ios&metrics=pv,uv",
			p+"/analysis?granularity=day&from="+day(-27)+"&to="+day(-2)+"&event=view&region=beijing&metrics=pv,uv",
			p+"/analysis?granularity=day&from="+day(-13)+"&to="+day(-1)+"&region=shanghai&metrics=uv",
			p+"/analysis?granularity=hour&metrics=pv,uv",
			p+"/analysis?granularity=hour&from="+day(-2)+"&to="+day(-1)+"&platform=web&metrics=pv,uv",
		)
	}
	return out
}

// TestSameAnswers (issue item 1): the cluster's events copied into a
// single-node ClickHouse; one Wings on that node and the cluster's Wings
// through nginx give the same JSON for every dashboard request, once the
// freshness fields (when and how it was computed) are set aside.
func TestSameAnswers(t *testing.T) {
	e := setup(t)
	loc, err := time.LoadLocation(dashTZ)
	if err != nil {
		t.Fatal(err)
	}

	// The single node: a fresh database, migrated, holding a copy of the
	// cluster's events (its rollups filled by its own views).
	e.svc(t, "start", "clickhouse", singleCHPort)
	t.Cleanup(func() {
		_ = exec.Command(filepath.Join(e.root, "scripts/svc.sh"), "stop", "clickhouse", singleCHPort).Run()
	})
	e.svc(t, "start", "redis", singleRedisPort)
	t.Cleanup(func() {
		_ = exec.Command(filepath.Join(e.root, "scripts/svc.sh"), "stop", "redis", singleRedisPort).Run()
	})
	e.sh(t, "clickhouse-client --port "+singleCHPort+" -q 'DROP DATABASE IF EXISTS wings' && redis-cli -p "+singleRedisPort+" flushall")
	single := []string{"WINGS_CLICKHOUSE__ADDR=127.0.0.1:" + singleCHPort, "WINGS_REDIS__ADDR=127.0.0.1:" + singleRedisPort}
	mig := exec.Command(filepath.Join(e.root, "bin/wings"), "migrate")
	mig.Dir = e.root
	mig.Env = append(wingsEnviron(), single...)
	if out, err := mig.CombinedOutput(); err != nil {
		t.Fatalf("wings migrate (single node): %v\n%s", err, out)
	}
	copyStart := time.Now()
	const cols = "event_time, business_line, event, user_id, item, platform, region, value"
	e.sh(t, "clickhouse-client --port 29100 -q 'SELECT "+cols+" FROM wings.events FORMAT Native' | "+
		"clickhouse-client --port "+singleCHPort+" -q 'INSERT INTO wings.events ("+cols+") FORMAT Native'")
	nCluster := e.sh(t, "clickhouse-client --port 29100 -q 'SELECT count() FROM wings.events'")
	nSingle := e.sh(t, "clickhouse-client --port "+singleCHPort+" -q 'SELECT count() FROM wings.events'")
	if nCluster != nSingle {
		t.Fatalf("copied %s events to the single node; the cluster has %s", nSingle, nCluster)
	}
	t.Logf("%s events copied to the single node in %s", nSingle, time.Since(copyStart).Round(time.Millisecond))

	// Both sides build UV spans for the demo's big keys: the cluster's
	// Wings restarted with the setting (the instance that held the job's
	// lease releases it on TERM and runs the job as it starts).
	mock := "http://127.0.0.1:29590"
	senv := append([]string{spanMinUV}, single...)
	for _, team := range []string{"VIDEO", "ALBUM", "STAR"} {
		senv = append(senv, "WINGS_UPSTREAMS__"+team+"__BASE_URL="+mock)
	}
	singleURL := e.serveWings(t, singleWingsAddr, senv...)
	// A span of a month long past the horizon: the job drops that month
	// from every shard (ALTER ... ON CLUSTER on the local tables).
	old := time.Now().In(loc).AddDate(0, 0, -200).Format(time.DateOnly)
	chCount(t, "29100", "INSERT INTO wings.agg_uv_span (source, business_line, event, platform, region, days, start, pv, uv_n, ver) "+
		"SELECT 'agg_line_day', 'video', '', '', '', 1, toDate('"+old+"'), 1, 1, 1")
	e.restartWings(t, spanMinUV)
	waitJob(t, []string{singleURL}, "analytics_spans", 3*time.Minute)
	waitJob(t, clusterWingsURLs, "analytics_spans", 3*time.Minute)
	spans := []string{
		e.sh(t, "clickhouse-client --port "+singleCHPort+" -q 'SELECT count() FROM wings.agg_uv_span FINAL'"),
		e.sh(t, "clickhouse-client --port 29100 -q 'SELECT count() FROM wings.agg_uv_span FINAL'"),
	}
	t.Logf("UV spans (rows, FINAL): single node %s, cluster %s", spans[0], spans[1])
	if n := chCount(t, "29100", "SELECT count() FROM wings.agg_uv_span WHERE start <= toDate('"+old+"')"); n != "0" {
		t.Errorf("%s spans of %s (past the horizon) left on the cluster; want the month dropped", n, old)
	}
	if spans[0] == "0" || spans[0] != spans[1] {
		t.Errorf("UV spans: single node %s rows, cluster %s; want the same, more than 0", spans[0], spans[1])
	}

	// Compare every answer; an answer may change while the sides refresh
	// their home payloads (an hour turns, a payload is recomputed), so a
	// difference is looked at again until it holds for 90 s.
	paths := answerPaths(time.Now().In(loc))
	client := &http.Client{Timeout: 15 * time.Second}
	one := env{root: e.root, url: singleURL}
	pending := paths
	var diffs []string
	var bytesCompared int
	deadline := time.Now().Add(90 * time.Second)
	for len(pending) > 0 {
		diffs = diffs[:0]
		var again []string
		for _, p := range pending {
			a, b := one.get(client, p), e.get(client, p)
			if a.err != nil || b.err != nil || a.status != 200 || b.status != 200 {
				t.Fatalf("%s: single node %d %v %.200s; cluster %d %v %.200s", p, a.status, a.err, a.body, b.status, b.err, b.body)
			}
			va, err := normalize(a.body)
			if err != nil {
				t.Fatalf("%s: single node: %v", p, err)
			}
			vb, err := normalize(b.body)
			if err != nil {
				t.Fatalf("%s: cluster: %v", p, err)
			}
			na, _ := json.Marshal(va)
			nb, _ := json.Marshal(vb)
			if !sameJSON(va, vb) {
				again = append(again, p)
				diffs = append(diffs, fmt.Sprintf("%s:\n  single:  %.600s\n  cluster: %.600s", p, na, nb))
				continue
			}
			bytesCompared += len(na)
		}
		pending = again
		if len(pending) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	t.Logf("%d dashboard requests over 3 business lines: %d identical (%d bytes of normalized JSON), %d different",
		len(paths), len(paths)-len(pending), bytesCompared, len(pending))
	for _, d := range diffs {
		t.Errorf("different answers for %s", d)
	}
}
