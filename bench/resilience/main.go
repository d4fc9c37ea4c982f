// Command resilience is the resilience stage of `make bench`: it loads
// GET /api/video/{id} of a running wings twice, healthy and then with faults
// set on the mock upstream (POST /_mock/faults), and prints the success
// ratio, the degraded ratio and the latency of both runs side by side.
//
//	resilience -server http://127.0.0.1:8080 -mock http://127.0.0.1:9090 \
//	           -faults '{"star":{"error_rate":0.2},"album":{"latency":"5ms"}}'
//
// Each run is a closed loop bounded by a request count and a duration.
// Only loopback URLs are accepted.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	ok, degraded, failed int
	lats                 []time.Duration
	elapsed              time.Duration
}

func (r result) total() int { return r.ok + r.failed }

func (r result) pct(p float64) time.Duration {
	if len(r.lats) == 0 {
		return 0
	}
	i := min(len(r.lats)-1, int(float64(len(r.lats))*p))
	return r.lats[i]
}

var degradedMark = []byte(`"degraded":[`)

func run(client *http.Client, server string, conc, n int, d time.Duration) result {
	var next atomic.Int64
	var mu sync.Mutex
	var res result
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local result
			for time.Now().Before(deadline) {
				i := next.Add(1)
				if i > int64(n) {
					break
				}
				t0 := time.Now()
				resp, err := client.Get(fmt.Sprintf("%s/api/video/%d", server, 1+i%1000))
				if err != nil {
					local.failed++
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				local.lats = append(local.lats, time.Since(t0))
				if err != nil || resp.StatusCode != http.StatusOK {
					local.failed++
					continue
				}
				local.ok++
				if bytes.Contains(body, degradedMark) {
					local.degraded++
				}
			}
			mu.Lock()
			res.ok += local.ok
			res.degraded += local.degraded
			res.failed += local.failed
			res.lats = append(res.lats, local.lats...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.lats)
	return res
}

func loopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%s: only loopback targets are allowed", raw)
	}
	return nil
}

func post(client *http.Client, u, body string) error {
	resp, err := client.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST %s: %d %s", u, resp.StatusCode, b)
	}
	return nil
}

func main() {
	server := flag.String("server", "", "wings base URL")
	mock := flag.String("mock", "", "mock upstream base URL")
	faults := flag.String("faults", `{"star":{"error_rate":0.2},"album":{"latency":"5ms"}}`, "faults of the second run (POST /_mock/faults body)")
	conc := flag.Int("c", 32, "concurrent connections (closed loop)")
	n := flag.Int("n", 100000, "maximum requests per run")
	d := flag.Duration("d", 8*time.Second, "maximum duration of a run")
	warmup := flag.Duration("warmup", 2*time.Second, "untimed healthy load first")
	flag.Parse()
	for _, u := range []string{*server, *mock} {
		if err := loopback(u); err != nil || u == "" {
			fmt.Fprintln(os.Stderr, "resilience: -server and -mock must be loopback URLs:", err)
			os.Exit(2)
		}
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *conc, Proxy: nil}}
	if err := post(client, *mock+"/_mock/reset", "{}"); err != nil {
		fmt.Fprintln(os.Stderr, "resilience:", err)
		os.Exit(1)
	}
	run(client, *server, *conc, *n, *warmup)
	healthy := run(client, *server, *conc, *n, *d)
	if err := post(client, *mock+"/_mock/faults", *faults); err != nil {
		fmt.Fprintln(os.Stderr, "resilience:", err)
		os.Exit(1)
	}
	faulty := run(client, *server, *conc, *n, *d)
	_ = post(client, *mock+"/_mock/reset", "{}")

	fmt.Printf("closed loop, concurrency %d, each run ≤ %d requests and ≤ %s; faults: %s\n", *conc, *n, *d, *faults)
	fmt.Printf("| %-8s | %8s | %8s | %8s | %8s | %8s | %8s |\n", "run", "requests", "req/s", "success", "degraded", "p50 ms", "p99 ms")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 10), strings.Repeat("-", 10), strings.Repeat("-", 10),
		strings.Repeat("-", 10), strings.Repeat("-", 10), strings.Repeat("-", 10), strings.Repeat("-", 10))
	for _, r := range []struct {
		name string
		res  result
	}{{"healthy", healthy}, {"faults", faulty}} {
		t := max(1, r.res.total())
		fmt.Printf("| %-8s | %8d | %8.0f | %7.2f%% | %7.2f%% | %8.2f | %8.2f |\n", r.name, r.res.total(),
			float64(r.res.total())/r.res.elapsed.Seconds(), 100*float64(r.res.ok)/float64(t), 100*float64(r.res.degraded)/float64(t),
			float64(r.res.pct(0.50).Microseconds())/1000, float64(r.res.pct(0.99).Microseconds())/1000)
	}
	if healthy.failed > 0 || healthy.degraded > 0 {
		fmt.Fprintf(os.Stderr, "resilience: the healthy run had %d failures and %d degraded answers\n", healthy.failed, healthy.degraded)
		os.Exit(1)
	}
}
