package cachebench

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/app/mockupstream"
)

// expiryIDs are the ids of the expiry run: all filled together at its start.
const expiryIDs = 1000

func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q: want a positive duration", name, v)
	}
	return d
}

// BenchmarkExpiry: cache hits on ids 1..1000 for a run several TTLs long
// (routes.video_detail.cache_ttl = BENCH_CACHE_TTL, 2s), every entry
// filled together at the start, next to the bare echo handler. "together"
// is the cache without expiry jitter, early refresh or a refresh bound
// (every entry expires at once and all their refreshes run at once);
// "spread" has the shipped defaults; "no_expiry" (a 1h TTL) is the hit
// path with no expiry in the run. Each case reports req/s, p50 and p99
// (ms). Run it with -test.benchtime 1x: one case is one timed run of
// BENCH_CACHE_EXPIRY_DURATION (3 TTLs) at BENCH_CACHE_CONC (64) clients.
func BenchmarkExpiry(b *testing.B) {
	ttl := envDuration(b, "BENCH_CACHE_TTL", 2*time.Second)
	dur := envDuration(b, "BENCH_CACHE_EXPIRY_DURATION", 3*ttl)
	conc := 64
	if v := os.Getenv("BENCH_CACHE_CONC"); v != "" {
		if _, err := fmt.Sscan(v, &conc); err != nil || conc <= 0 {
			b.Fatalf("BENCH_CACHE_CONC=%q", v)
		}
	}
	mock := httptest.NewServer(mockupstream.New(nil, nil).Handler())
	b.Cleanup(mock.Close)
	ttlEnv := "WINGS_ROUTES__VIDEO_DETAIL__CACHE_TTL=" + ttl.String()
	together := serve(b, wingsApp(b, mock.URL, true, ttlEnv, "WINGS_CACHE__TTL_JITTER=0",
		"WINGS_CACHE__EARLY_REFRESH=0", "WINGS_CACHE__REFRESH_CONCURRENCY=1000000"))
	spread := serve(b, wingsApp(b, mock.URL, true, ttlEnv))
	steady := serve(b, wingsApp(b, mock.URL, true, "WINGS_ROUTES__VIDEO_DETAIL__CACHE_TTL=1h"))
	resp, err := http.Get(spread + "/api/video/42")
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	e := echo.New()
	e.GET("/api/video/:id", func(c echo.Context) error { return c.JSONBlob(http.StatusOK, body) })
	bare := serve(b, e)
	for _, tc := range []struct{ name, base string }{{"bare_echo", bare}, {"no_expiry", steady}, {"together", together}, {"spread", spread}} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				fill(b, tc.base, conc)
				lat, n := drive(b, tc.base, conc, dur)
				b.ReportMetric(float64(n)/dur.Seconds(), "req/s")
				b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
				b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
			}
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fill requests every id once, conc at a time: the entries are written
// within a fraction of the TTL of each other.
func fill(b *testing.B, base string, conc int) {
	var wg sync.WaitGroup
	ids := make(chan int)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				resp, err := http.Get(fmt.Sprintf("%s/api/video/%d", base, id))
				if err != nil {
					b.Error(err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	for id := 1; id <= expiryIDs; id++ {
		ids <- id
	}
	close(ids)
	wg.Wait()
}

// drive runs conc closed-loop clients over ids 1..expiryIDs for d and
// returns every request's latency, sorted, and the count.
func drive(b *testing.B, base string, conc int, d time.Duration) ([]time.Duration, int) {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	end := time.Now().Add(d)
	per := make([][]time.Duration, conc)
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 8192)
			for i := w; time.Now().Before(end); i += conc {
				start := time.Now()
				resp, err := client.Get(fmt.Sprintf("%s/api/video/%d", base, i%expiryIDs+1))
				if err != nil {
					b.Error(err)
					return
				}
				for {
					if _, err := resp.Body.Read(buf); err != nil {
						break
					}
				}
				resp.Body.Close()
				per[w] = append(per[w], time.Since(start))
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	var all []time.Duration
	for _, p := range per {
		all = append(all, p...)
	}
	slices.Sort(all)
	if len(all) == 0 {
		b.Fatal("no request completed")
	}
	return all, len(all)
}
