package test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/wings-bff/wings/app/dao"
	"github.com/wings-bff/wings/app/eventgen"
	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/logging"
)

// Ports of this file's services (svc.sh scheme).
const (
	guardCHPort    = "19470"
	guardRedisPort = "6412"
)

// TestAnalyticsBudgets runs the query classes' budgets against a real
// ClickHouse: the limits exist on 18.16, a raw answer is cached, one
// user's raw funnels beyond per_user get 429 with Retry-After, and a query
// stopped by its class's max_rows_to_read is answered from the stale
// payload (or a clear 503 without one).
func TestAnalyticsBudgets(t *testing.T) {
	addr := startClickHouse(t, guardCHPort)
	db := fmt.Sprintf("guard_test_%d", time.Now().UnixNano()%1e9)
	migrate(t, addr, db)
	conn := chConn(t, addr, db)
	t.Cleanup(func() { _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })

	// The settings the classes send exist on this server.
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM system.settings WHERE name IN ('max_execution_time', 'max_memory_usage', 'max_rows_to_read')").Scan(&n); err != nil || n != 3 {
		t.Fatalf("settings on the server: %d (%v); want the 3 the classes send", n, err)
	}

	loc, _ := time.LoadLocation(dashTZ)
	now := time.Now().In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	var cols model.EventColumns
	eventgen.New(5, 800).Day(&cols, today, now, 4000)
	insert(t, conn, &cols)
	chEnv := []string{"WINGS_CLICKHOUSE__ADDR=" + addr, "WINGS_CLICKHOUSE__DATABASE=" + db, "WINGS_ANALYTICS__BUSINESS_LINES=video,mall"}
	auth := authHeaders()
	rawFunnel := func(window int) string {
		return fmt.Sprintf("/api/dash/video/funnel?steps=view,order&window=%d", window)
	}

	t.Run("raw answers cached", func(t *testing.T) {
		mock, _ := startMock(t)
		srv, _ := startServer(t, mock, append(chEnv, "WINGS_ANALYTICS__CLASSES__RAW__CACHE_TTL=30s")...)
		before := dashSources(t, srv, "funnel")
		first := get(t, srv+rawFunnel(600), auth...)
		if first.Status != 200 || answeredFrom(before, dashSources(t, srv, "funnel")) != "events" {
			t.Fatalf("raw funnel: %d %s", first.Status, first.Body)
		}
		second := get(t, srv+rawFunnel(600), auth...)
		if second.Status != 200 || fmt.Sprint(data(t, second.JSON(t))["steps"]) != fmt.Sprint(data(t, first.JSON(t))["steps"]) {
			t.Fatalf("second: %d %s; want the first answer", second.Status, second.Body)
		}
		if q := metricValue(t, srv, "wings_dash_queries_total", `class="raw"`); q != 1 {
			t.Errorf("raw queries sent to ClickHouse for two identical funnels: %v; want 1", q)
		}
		if r := get(t, srv+rawFunnel(601), auth...); r.Status != 200 {
			t.Fatalf("another window: %d %s", r.Status, r.Body)
		}
		if q := metricValue(t, srv, "wings_dash_queries_total", `class="raw"`); q != 2 {
			t.Errorf("raw queries after another window: %v; want 2", q)
		}
	})

	t.Run("per-user limit: 429 with Retry-After", func(t *testing.T) {
		mock, _ := startMock(t)
		srv, _ := startServer(t, mock, append(chEnv, "WINGS_ANALYTICS__CLASSES__RAW__PER_USER=1",
			"WINGS_ANALYTICS__CLASSES__RAW__CONCURRENCY=8", "WINGS_ANALYTICS__CLASSES__RAW__WAIT=0s",
			"WINGS_ANALYTICS__CLASSES__RAW__CACHE_TTL=0s", "WINGS_ANALYTICS__CLASSES__RAW__MAX_EXECUTION_TIME=2s")...)
		// Bursts of distinct raw funnels from one user; one burst
		// overlapping at all is enough (bounded: at most 5 bursts).
		var limited, ok int
		for burst := 0; burst < 5 && limited == 0; burst++ {
			rs := burstGet(srv, 8, func(i int) string { return rawFunnel(60 + burst*100 + i) }, auth)
			for i, r := range rs {
				switch {
				case r.err != nil:
					t.Fatalf("request %d: %v", i, r.err)
				case r.status == 200:
					ok++
				case r.status == 429:
					limited++
					if r.retryAfter != "2" || !strings.Contains(r.body, "too many raw analytics queries of yours") {
						t.Errorf("429: Retry-After %q, body %s; want 2 (the class's time limit) and a clear message", r.retryAfter, r.body)
					}
				default:
					t.Errorf("request %d: %d %s; want 200 or 429", i, r.status, r.body)
				}
			}
		}
		if limited == 0 || ok == 0 {
			t.Fatalf("200s %d, 429s %d; want both: one user's concurrent raw funnels beyond per_user=1", ok, limited)
		}
		if got := metricValue(t, srv, "wings_dash_queries_total", `class="raw"`, `result="rejected"`); got != float64(limited) {
			t.Errorf("rejected raw queries counted: %v; want %d", got, limited)
		}
		// Another user is not held back by the first one's share.
		if r := get(t, srv+rawFunnel(59), "Authorization", "Bearer demo-video"); r.Status != 200 {
			t.Errorf("another user: %d %s", r.Status, r.Body)
		}
	})

	t.Run("class limit exceeded: stale payload or 503", func(t *testing.T) {
		redisAddr := svc(t, "start", "redis", guardRedisPort)
		t.Cleanup(func() { _, _ = exec.Command("../scripts/svc.sh", "stop", "redis", guardRedisPort).CombinedOutput() })
		shared := append(chEnv, "WINGS_REDIS__ADDR="+redisAddr, fmt.Sprintf("WINGS_APP__NAME=guard-test-%d", time.Now().UnixNano()))
		// a computes the home payloads once and holds the job's lease for
		// the hour; b, whose payloads are fresh for 1.5s only, never runs
		// the job and answers live, within a rollup class that may read
		// one row.
		mock, _ := startMock(t)
		a, _ := startServer(t, mock, append(shared, "WINGS_ANALYTICS__PRECOMPUTE_INTERVAL=1h")...)
		if !waitFor(30*time.Second, func() bool {
			return metricValue(t, a, "wings_scheduler_job_runs_total", `job="dash_precompute"`, `result="ok"`) >= 1
		}) {
			t.Fatal("precompute never succeeded")
		}
		b, _ := startServer(t, mock, append(shared, "WINGS_ANALYTICS__PRECOMPUTE_INTERVAL=1s",
			"WINGS_ANALYTICS__CLASSES__ROLLUP__MAX_ROWS_TO_READ=1", "WINGS_ANALYTICS__CLASSES__RAW__MAX_ROWS_TO_READ=1")...)
		time.Sleep(1600 * time.Millisecond) // the payload is no longer fresh for b
		for _, path := range []string{"/api/dash/video/realtime", "/api/dash/video/ranking?limit=5", "/api/dash/video/funnel"} {
			r := get(t, b+path, auth...)
			if r.Status != 200 {
				t.Fatalf("%s: %d %s; want 200 from the stale payload", path, r.Status, r.Body)
			}
			if d := data(t, r.JSON(t)); d["stale"] != true || d["source"] != "precomputed" {
				t.Errorf("%s: stale=%v source=%v; want the payload marked stale", path, d["stale"], d["source"])
			}
		}
		for _, path := range []string{"/api/dash/video/realtime?event=click", rawFunnel(600)} {
			r := get(t, b+path, auth...)
			if m := r.JSON(t); r.Status != 503 || !strings.Contains(fmt.Sprint(m["msg"]), "stopped by its limits (too many rows to read)") {
				t.Errorf("%s: %d %v; want 503 naming the limit", path, r.Status, m["msg"])
			}
		}
		if got := metricValue(t, b, "wings_scheduler_job_runs_total", `job="dash_precompute"`, `result="ok"`); got != 0 {
			t.Errorf("b ran the precompute %v times; the test needs a's payload", got)
		}
		// a, within the default limits, answers the same live.
		if r := get(t, a+"/api/dash/video/realtime?event=click", auth...); r.Status != 200 {
			t.Errorf("a: %d %s", r.Status, r.Body)
		}
	})

	t.Run("broken funnel snapshot is logged", func(t *testing.T) {
		ch, err := chclient.New(config.ClickHouse{Addr: addr, Database: db, User: "default", PoolSize: 2,
			DialTimeout: time.Second, QueryTimeout: 30 * time.Second, MaxExecutionTime: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ch.Close() })
		d := dao.NewAnalyticsDAO(ch, dashTZ)
		ctx := context.Background()
		cut := now.Truncate(10 * time.Second)
		if !cut.After(today) {
			cut = today.Add(10 * time.Second)
		}
		if _, err := d.BuildFunnelState(ctx, "mall", today, cut); err != nil {
			t.Fatal(err)
		}
		// A row after the cut, so the answer needs the snapshot's Join table.
		var c model.EventColumns
		c.Add(cut.Add(time.Second), "mall", "view", 777777, "m-1", "ios", "beijing", 1)
		insert(t, conn, &c)
		var state uint64
		if err := conn.QueryRow(ctx, "SELECT state FROM funnel_snapshots WHERE business_line = 'mall' AND day = toDate(?) ORDER BY snap DESC LIMIT 1",
			today.Format(time.DateOnly)).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if err := conn.Exec(ctx, fmt.Sprintf("DROP TABLE funnel_join_%d", state)); err != nil {
			t.Fatal(err)
		}
		log, hook := logtest.NewNullLogger()
		lctx := logging.WithEntry(ctx, log.WithField("request_id", "r1"))
		end := today.AddDate(0, 0, 1)
		if _, table, err := d.Funnel(lctx, "mall", []string{"view", "click"}, 3600, today, end); err != nil || table != dao.TableFunnelUser {
			t.Fatalf("without its Join table: %s (%v); want agg_funnel_user_day", table, err)
		}
		if !logged(hook, "funnel snapshot unusable") {
			t.Error("the broken snapshot was not logged")
		}
	})
}

// burstResult is one answer of burstGet.
type burstResult struct {
	status     int
	retryAfter string
	body       string
	err        error
}

// burstGet sends n GETs at once (released together) and returns their
// answers in order.
func burstGet(base string, n int, path func(i int) string, headers []string) []burstResult {
	out := make([]burstResult, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodGet, base+path(i), nil)
			if err != nil {
				out[i].err = err
				return
			}
			for j := 0; j+1 < len(headers); j += 2 {
				req.Header.Set(headers[j], headers[j+1])
			}
			<-gate
			resp, err := client.Do(req)
			if err != nil {
				out[i].err = err
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			out[i] = burstResult{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(b)}
		}()
	}
	close(gate)
	wg.Wait()
	return out
}
