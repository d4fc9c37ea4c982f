// Command loadgen is the closed-loop load generator of `make bench`. It
// compares named targets at the same fixed concurrency, in alternating
// rounds, and prints req/s, p50 and p99 per target (the median over the
// rounds) and each target's throughput relative to the last one.
//
//	loadgen -target wings=http://127.0.0.1:8080/api/video/{id} \
//	        -target handwritten=http://127.0.0.1:8081/api/video/{id} \
//	        -c 32 -n 200000 -d 8s -rounds 3 -ids 1-1000
//
// Every round is bounded by both a request count (-n) and a duration (-d),
// whichever comes first. {id} in a URL is replaced by ids cycling over the
// -ids range. Only loopback targets are accepted.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type target struct {
	name, url string
	pid       int // the target's server process, for CPU per request; 0 if unknown
}

type targets []target

func (t *targets) String() string { return fmt.Sprint(*t) }

func (t *targets) Set(s string) error {
	name, u, ok := strings.Cut(s, "=")
	if !ok || name == "" || u == "" {
		return fmt.Errorf("want name=url[@pid], got %q", s)
	}
	pid := 0
	if j := strings.LastIndexByte(u, '@'); j > 0 {
		p, err := strconv.Atoi(u[j+1:])
		if err != nil || p <= 0 {
			return fmt.Errorf("%q: bad pid after @", s)
		}
		u, pid = u[:j], p
	}
	if err := loopback(u); err != nil {
		return err
	}
	*t = append(*t, target{name, u, pid})
	return nil
}

// loopback refuses any URL whose host is not a loopback address.
func loopback(raw string) error {
	u, err := url.Parse(strings.ReplaceAll(raw, "{id}", "1"))
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s: only loopback targets are allowed", raw)
}

// result is one round against one target.
type result struct {
	n, errs  int
	elapsed  time.Duration
	p50, p99 time.Duration
	firstErr string
	cpu      time.Duration // CPU time the target's process used, when known
	ucpu     time.Duration // the user-space part of cpu
}

// cpuPerReq is the target process's CPU time per request, or 0.
func (r result) cpuPerReq() float64 {
	if r.n == 0 {
		return 0
	}
	return float64(r.cpu.Microseconds()) / float64(r.n)
}

// userPerReq is the user-space part of cpuPerReq.
func (r result) userPerReq() float64 {
	if r.n == 0 {
		return 0
	}
	return float64(r.ucpu.Microseconds()) / float64(r.n)
}

// procCPU returns the user+system CPU time of a process, and its user
// part, from /proc/PID/stat (Linux), or false.
func procCPU(pid int) (total, user time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 { // utime and stime are fields 14 and 15 of the line
		return 0, 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks, time.Duration(ut) * time.Second / ticks, true
}

func (r result) rps() float64 { return float64(r.n) / r.elapsed.Seconds() }

type config struct {
	conc     int
	n        int
	d        time.Duration
	lo, hi   int
	client   *http.Client
	statusOK int
}

// run sends up to cfg.n requests for at most cfg.d with cfg.conc workers.
func run(cfg config, urlTmpl string) result {
	prefix, suffix, hasID := strings.Cut(urlTmpl, "{id}")
	ctx, cancel := context.WithTimeout(context.Background(), cfg.d)
	defer cancel()
	var (
		next     atomic.Int64
		errs     atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	lat := make([][]time.Duration, cfg.conc)
	span := cfg.hi - cfg.lo + 1
	start := time.Now()
	for w := 0; w < cfg.conc; w++ {
		lat[w] = make([]time.Duration, 0, cfg.n/cfg.conc+1)
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var sb strings.Builder
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(cfg.n) {
					return
				}
				u := urlTmpl
				if hasID {
					sb.Reset()
					sb.WriteString(prefix)
					sb.WriteString(strconv.Itoa(cfg.lo + int(i)%span))
					sb.WriteString(suffix)
					u = sb.String()
				}
				t0 := time.Now()
				err := fetch(ctx, cfg.client, u, cfg.statusOK)
				if ctx.Err() != nil {
					return // the round ended mid-request: not counted
				}
				lat[w] = append(lat[w], time.Since(t0))
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	r := result{n: len(all), errs: int(errs.Load()), elapsed: elapsed}
	if len(all) > 0 {
		r.p50 = all[len(all)*50/100]
		r.p99 = all[min(len(all)-1, len(all)*99/100)]
	}
	if s, ok := firstErr.Load().(string); ok {
		r.firstErr = s
	}
	return r
}

func fetch(ctx context.Context, c *http.Client, u string, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	return nil
}

func get(c *http.Client, u string) (int, []byte, error) {
	resp, err := c.Get(u)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// waitReady polls each URL until it answers 200.
func waitReady(c *http.Client, urls []string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for _, u := range urls {
		for {
			if status, _, err := get(c, u); err == nil && status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s did not answer 200 within %s", u, d)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// verify checks that every target answers the same JSON for a few ids, so
// the comparison is between equivalent endpoints.
func verify(c *http.Client, ts targets, ids []int) error {
	for _, id := range ids {
		var first any
		for i, t := range ts {
			u := strings.ReplaceAll(t.url, "{id}", strconv.Itoa(id))
			status, body, err := get(c, u)
			if err != nil {
				return err
			}
			if status != http.StatusOK {
				return fmt.Errorf("%s: status %d: %s", u, status, body)
			}
			var v any
			if err := json.NewDecoder(bytes.NewReader(body)).Decode(&v); err != nil {
				return fmt.Errorf("%s: %v", u, err)
			}
			if i == 0 {
				first = v
			} else if !reflect.DeepEqual(first, v) {
				return fmt.Errorf("id %d: %s and %s answer different JSON:\n%s: %v\n%s: %s", id, ts[0].name, t.name, ts[0].name, first, t.name, body)
			}
		}
	}
	return nil
}

func median(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func main() {
	var ts targets
	flag.Var(&ts, "target", "name=url[@pid] to load, {id} replaced by ids (repeatable; the last one is the baseline of the ratio; with @pid the server's CPU per request is reported)")
	conc := flag.Int("c", 32, "concurrent connections (closed loop)")
	n := flag.Int("n", 200000, "maximum requests per round")
	d := flag.Duration("d", 8*time.Second, "maximum duration of a round")
	rounds := flag.Int("rounds", 3, "rounds per target, alternating (each round starting with the next target); the table shows the median")
	warmup := flag.Duration("warmup", 2*time.Second, "untimed load per target before the rounds")
	idRange := flag.String("ids", "1-1000", "id range lo-hi cycled over")
	wait := flag.Duration("wait", 15*time.Second, "how long to wait for the targets to answer 200")
	readyPaths := flag.String("ready", "", "comma-separated loopback URLs that must answer 200 before starting")
	doVerify := flag.Bool("verify", true, "check that the targets answer identical JSON first")
	flag.Parse()
	if len(ts) == 0 {
		fmt.Fprintln(os.Stderr, "loadgen: at least one -target is required")
		os.Exit(2)
	}
	loS, hiS, _ := strings.Cut(*idRange, "-")
	lo, err1 := strconv.Atoi(loS)
	hi, err2 := strconv.Atoi(hiS)
	if err := errors.Join(err1, err2); err != nil || lo <= 0 || hi < lo {
		fmt.Fprintf(os.Stderr, "loadgen: -ids: want lo-hi with 0 < lo <= hi, got %q\n", *idRange)
		os.Exit(2)
	}
	if *conc <= 0 || *n <= 0 || *d <= 0 || *rounds <= 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -c, -n, -d and -rounds must be > 0")
		os.Exit(2)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        *conc * 2,
		MaxIdleConnsPerHost: *conc * 2,
		DisableCompression:  true,
		IdleConnTimeout:     90 * time.Second,
	}}
	cfg := config{conc: *conc, n: *n, d: *d, lo: lo, hi: hi, client: client, statusOK: http.StatusOK}

	var ready []string
	for _, u := range strings.Split(*readyPaths, ",") {
		if u = strings.TrimSpace(u); u != "" {
			if err := loopback(u); err != nil {
				fmt.Fprintln(os.Stderr, "loadgen:", err)
				os.Exit(2)
			}
			ready = append(ready, u)
		}
	}
	if err := waitReady(client, ready, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	if *doVerify {
		if err := verify(client, ts, []int{lo, (lo + hi) / 2, hi}); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: verify:", err)
			os.Exit(1)
		}
		fmt.Printf("verified: %d targets answer identical JSON\n", len(ts))
	}
	if *warmup > 0 {
		w := cfg
		w.d = *warmup
		for _, t := range ts {
			run(w, t.url)
		}
	}
	fmt.Printf("closed loop, concurrency %d, ids %d-%d, each round ≤ %d requests and ≤ %s\n", *conc, lo, hi, *n, *d)
	res := make([][]result, len(ts))
	failed := false
	for r := 0; r < *rounds; r++ {
		// Each round starts with the next target, so that none is always
		// first (or always right after the same other one).
		for k := range ts {
			i := (k + r) % len(ts)
			t := ts[i]
			cpu0, u0, cpuOK := procCPU(t.pid)
			x := run(cfg, t.url)
			if cpu1, u1, ok := procCPU(t.pid); ok && cpuOK {
				x.cpu, x.ucpu = cpu1-cpu0, u1-u0
			}
			res[i] = append(res[i], x)
			fmt.Printf("round %d  %-12s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d/%d  server CPU %.0f µs/req\n",
				r+1, t.name, x.rps(), ms(x.p50), ms(x.p99), x.errs, x.n, x.cpuPerReq())
			if x.errs > 0 {
				fmt.Printf("           first error: %s\n", x.firstErr)
			}
			if x.n == 0 || x.errs*100 > x.n {
				failed = true
			}
		}
	}
	base := median(res[len(ts)-1], result.rps)
	fmt.Printf("\nmedian of %d rounds:\n", *rounds)
	fmt.Printf("| %-12s | %8s | %8s | %8s | %6s | %-13s | %-10s |\n", "target", "req/s", "p50 ms", "p99 ms", "errors", "CPU µs/req", "throughput")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 14), strings.Repeat("-", 10), strings.Repeat("-", 10), strings.Repeat("-", 10), strings.Repeat("-", 8), strings.Repeat("-", 15), strings.Repeat("-", 12))
	for i, t := range ts {
		rps := median(res[i], result.rps)
		p50 := median(res[i], func(r result) float64 { return ms(r.p50) })
		p99 := median(res[i], func(r result) float64 { return ms(r.p99) })
		errs := 0
		for _, r := range res[i] {
			errs += r.errs
		}
		cpu := median(res[i], result.cpuPerReq)
		fmt.Printf("| %-12s | %8.0f | %8.2f | %8.2f | %6d | %13.0f | %9.2fx |\n", t.name, rps, p50, p99, errs, cpu, rps/base)
	}
	printPairedRatios(ts, res)
	if failed {
		fmt.Fprintln(os.Stderr, "loadgen: a round had no successful requests or more than 1% errors")
		os.Exit(1)
	}
}

// printPairedRatios prints, for each target with CPU figures, the median
// over rounds of its CPU per request divided by the baseline's (the last
// target) in the same round, total and user-space: a pair of rounds run
// back to back shares the machine's state, so the ratio moves less than
// the ratio of the two medians. One line per target:
//
//	cpu-ratio NAME total 1.034 user 1.021 rounds 0.95-1.20
//
// (the last: the lowest and highest total ratio of a round).
func printPairedRatios(ts []target, res [][]result) {
	base := res[len(ts)-1]
	for i, t := range ts[:len(ts)-1] {
		var tot, usr []float64
		for r := range res[i] {
			if r < len(base) && base[r].cpuPerReq() > 0 && res[i][r].cpuPerReq() > 0 {
				tot = append(tot, res[i][r].cpuPerReq()/base[r].cpuPerReq())
			}
			if r < len(base) && base[r].userPerReq() > 0 && res[i][r].userPerReq() > 0 {
				usr = append(usr, res[i][r].userPerReq()/base[r].userPerReq())
			}
		}
		if len(tot) > 0 && len(usr) > 0 {
			m, u := medianOf(tot), medianOf(usr) // sorts both
			fmt.Printf("cpu-ratio %s total %.3f user %.3f rounds %.2f-%.2f\n", t.name, m, u, tot[0], tot[len(tot)-1])
		}
	}
}

func medianOf(v []float64) float64 {
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
