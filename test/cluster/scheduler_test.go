package cluster

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	leaseJob      = "dash_precompute"
	leaseKey      = "wings-video-bff:lease:" + leaseJob
	leaseInterval = 3 * time.Second
)

// redisCLI runs redis-cli against the first node of the Redis Cluster
// that answers.
func redisCLI(t *testing.T, args ...string) string {
	t.Helper()
	var last error
	for p := 29301; p <= 29306; p++ {
		out, err := exec.Command("redis-cli", append([]string{"-p", strconv.Itoa(p)}, args...)...).Output()
		if err == nil && !strings.HasPrefix(string(out), "Could not connect") {
			return string(out)
		}
		last = err
	}
	t.Fatalf("no Redis node answers redis-cli %v: %v", args, last)
	return ""
}

// slotMaster returns the cluster process name (redis1..6) and node id of
// the master serving key.
func slotMaster(t *testing.T, key string) (string, string) {
	t.Helper()
	slot, err := strconv.Atoi(strings.TrimSpace(redisCLI(t, "cluster", "keyslot", key)))
	if err != nil {
		t.Fatal(err)
	}
	nodes := redisCLI(t, "cluster", "nodes")
	for _, line := range strings.Split(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.Contains(f[2], "master") || strings.Contains(f[2], "fail") {
			continue
		}
		for _, r := range f[8:] {
			lo, hi, _ := strings.Cut(r, "-")
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 == nil && err2 == nil && a <= slot && slot <= b {
				port, _ := strconv.Atoi(strings.Split(strings.Split(f[1], "@")[0], ":")[1])
				return fmt.Sprintf("redis%d", port-29300), f[0]
			}
		}
	}
	t.Fatalf("no master serves slot %d:\n%s", slot, nodes)
	return "", ""
}

// jobSample is one instance's counters of the job.
type jobSample struct {
	ran, unavailable float64 // runs (ok, error, panic); lease_unavailable
	durSum           float64 // seconds spent in runs
}

var (
	runsRe = regexp.MustCompile(`(?m)^wings_scheduler_job_runs_total\{job="` + leaseJob + `",result="(\w+)"\} (\S+)$`)
	durRe  = regexp.MustCompile(`(?m)^wings_scheduler_job_duration_seconds_sum\{job="` + leaseJob + `"\} (\S+)$`)
)

func sampleJob(client *http.Client, url string) (jobSample, error) {
	resp, err := client.Get(url + "/metrics")
	if err != nil {
		return jobSample{}, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return jobSample{}, err
	}
	var s jobSample
	for _, m := range runsRe.FindAllSubmatch(b, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		switch string(m[1]) {
		case "ok", "error", "panic":
			s.ran += v
		case "lease_unavailable":
			s.unavailable += v
		}
	}
	if m := durRe.FindSubmatch(b); m != nil {
		s.durSum, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	return s, nil
}

// TestSchedulerDuringRedisFailover (issue item 4): the three Wings run the
// precompute job every 3 s under one lease in the Redis Cluster; the
// master that holds the lease's slot is SIGKILLed. Sampling each
// instance's job metrics every 100 ms gives each run's start (its end
// minus its duration): no two runs start within one interval, before,
// during or after the failover, and once the replica is promoted a run
// starts every interval again. While no master serves the slot the
// instances skip the job (lease_unavailable) rather than each run it.
func TestSchedulerDuringRedisFailover(t *testing.T) {
	e := setup(t)
	e.restartWings(t, "WINGS_ANALYTICS__PRECOMPUTE_INTERVAL="+leaseInterval.String(), "WINGS_ANALYTICS__BUSINESS_LINES=video,music")
	defer e.restartWings(t)
	name, id := slotMaster(t, leaseKey)

	client := &http.Client{Timeout: 2 * time.Second}
	prev := make([]jobSample, len(clusterWingsURLs))
	var starts []time.Time
	var unavailable float64
	var killed, promoted time.Time
	sample := func() {
		for i, u := range clusterWingsURLs {
			s, err := sampleJob(client, u)
			if err != nil {
				t.Fatalf("metrics of %s: %v", u, err)
			}
			now := time.Now()
			if n := s.ran - prev[i].ran; n > 0 {
				// One run per 100 ms sample at most: runs are 3 s apart.
				if n > 1 {
					t.Errorf("%s: %v runs between two samples 100 ms apart", u, n)
				}
				d := time.Duration((s.durSum - prev[i].durSum) * float64(time.Second))
				starts = append(starts, now.Add(-d))
			}
			unavailable += s.unavailable - prev[i].unavailable
			prev[i] = s
		}
	}
	run := func(d time.Duration, each func() bool) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			sample()
			if each != nil && each() {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Baseline: runs are counted from here.
	for i, u := range clusterWingsURLs {
		s, err := sampleJob(client, u)
		if err != nil {
			t.Fatal(err)
		}
		prev[i] = s
	}
	began := time.Now()
	run(4*leaseInterval, nil)
	killed = time.Now()
	e.kill(t, name, syscall.SIGKILL)
	defer e.start(t, name)
	run(30*time.Second, func() bool {
		info, nodes := redisCLI(t, "cluster", "info"), redisCLI(t, "cluster", "nodes")
		if strings.Contains(info, "cluster_state:ok") && strings.Contains(nodes, id) && strings.Contains(nodes, "master,fail") {
			promoted = time.Now()
			return true
		}
		return false
	})
	if promoted.IsZero() {
		t.Fatalf("no replica of %s promoted within 30s", name)
	}
	run(6*leaseInterval, nil)
	ended := time.Now()

	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	const slack = 300 * time.Millisecond // sampling and scrape time
	minGap := leaseInterval - leaseInterval/20 - slack
	var gaps []string
	var afterMax time.Duration
	for i := 1; i < len(starts); i++ {
		g := starts[i].Sub(starts[i-1])
		gaps = append(gaps, g.Round(100*time.Millisecond).String())
		if g < minGap {
			t.Errorf("runs started %s apart (at %s and %s after the start); want at most one per %s interval",
				g.Round(time.Millisecond), starts[i-1].Sub(began).Round(time.Millisecond), starts[i].Sub(began).Round(time.Millisecond), leaseInterval)
		}
		if starts[i-1].After(promoted.Add(leaseInterval)) && g > afterMax {
			afterMax = g
		}
	}
	t.Logf("lease on %s (%s) killed %s in; replica promoted after %s; %d runs in %s across 3 instances, lease_unavailable %v; gaps between run starts: %s",
		name, leaseKey, killed.Sub(began).Round(time.Millisecond), promoted.Sub(killed).Round(time.Millisecond), len(starts),
		ended.Sub(began).Round(time.Second), unavailable, strings.Join(gaps, " "))
	if afterMax > leaseInterval*3/2 {
		t.Errorf("after the promotion a run started only %s after the previous one; want one every %s", afterMax.Round(time.Millisecond), leaseInterval)
	}
	var before, after int
	for _, s := range starts {
		if s.Before(killed) {
			before++
		}
		if s.After(promoted.Add(leaseInterval)) {
			after++
		}
	}
	if want := int(4*leaseInterval/leaseInterval) - 1; before < want {
		t.Errorf("%d runs in the %s before the kill; want at least %d", before, 4*leaseInterval, want)
	}
	if want := int(ended.Sub(promoted.Add(leaseInterval))/leaseInterval) - 1; after < want {
		t.Errorf("%d runs after the promotion; want at least %d", after, want)
	}
	if t.Failed() {
		for _, n := range wingsNames {
			b, _ := os.ReadFile(filepath.Join(e.root, ".data/cluster", n, "server.log"))
			var lines []string
			for _, l := range strings.Split(string(b), "\n") {
				if strings.Contains(l, leaseJob) {
					lines = append(lines, l)
				}
			}
			t.Logf("%s's log lines about %s (last 5 of %d):\n%s", n, leaseJob, len(lines), strings.Join(lines[max(0, len(lines)-5):], "\n"))
		}
	}
}
