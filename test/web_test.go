package test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wings-bff/wings/app/model"
)

// Ports of this file's services (svc.sh port scheme).
const (
	webCHPort    = "19300"
	webRedisPort = "6398"
	// Budgets of the dashboards page (README: Front end).
	webPageWeightBudget = 400 << 10 // gzipped JS + CSS
)

var (
	listenRe  = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	serveAddr = regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"[^\n]*"msg":"listening"|"msg":"listening"[^\n]*"addr":"(127\.0\.0\.1:\d+)"`)
)

// startListening runs the binary with a listen address of 127.0.0.1:0 and
// returns the address it printed: no port is picked before it is bound.
func startListening(t *testing.T, env []string, re *regexp.Regexp, args ...string) (string, *proc) {
	t.Helper()
	p := start(t, env, args...)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.Output()); m != nil {
			for _, g := range m[1:] {
				if g != "" {
					if !strings.HasPrefix(g, "http") {
						g = "http://" + g
					}
					return g, p
				}
			}
		}
		select {
		case <-p.done:
			t.Fatalf("wings %s exited:\n%s", strings.Join(args, " "), tail(p.Output(), 40))
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("wings %s printed no address:\n%s", strings.Join(args, " "), tail(p.Output(), 40))
	return "", nil
}

// browser is one headless Chromium with a fresh profile; it collects every
// console error, uncaught exception and browser log error (a failed
// resource) of every page.
type browser struct {
	ctx  context.Context
	mu   sync.Mutex
	errs []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	execPath, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (scripts/deps.sh chromium): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	b := &browser{ctx: ctx}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errs = append(b.errs, m.String()+" ("+m.URL+")")
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// do runs actions with a bound on their time.
func (b *browser) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.screenshot(t, "failure-"+strings.ReplaceAll(t.Name(), "/", "-"))
		t.Fatalf("browser: %v", err)
	}
}

// run runs one action that returns a value.
func run[T any](t *testing.T, b *browser, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.screenshot(t, "failure-"+strings.ReplaceAll(t.Name(), "/", "-"))
		t.Fatalf("browser: %v", err)
	}
	return v
}

// eval evaluates a JavaScript expression.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	return run(t, b, chromedp.Evaluate[T](expr))
}

// waitJS polls a JavaScript condition until it is true (bounded); it goes
// on across navigations, which interrupt an evaluation.
func (b *browser) waitJS(t *testing.T, cond string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		cancel()
		if err == nil && ok {
			return
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	b.screenshot(t, "failure-"+strings.ReplaceAll(t.Name(), "/", "-"))
	t.Fatalf("not true within 30s: %s (last error: %v)", cond, lastErr)
}

// consoleErrors returns and forgets the errors collected so far.
func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.errs
	b.errs = nil
	return e
}

func (b *browser) noConsoleErrors(t *testing.T, page string) {
	t.Helper()
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("%s: console errors:\n%s", page, strings.Join(errs, "\n"))
	}
}

// screenshot saves the page as test/artifacts/<name>.png.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.MkdirAll("artifacts", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("artifacts", name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWebBrowser drives the front end in Chromium as a person would: sign
// in through the SSO form, read the dashboards, open a forbidden line, see
// the realtime card follow new events, sign out and in as another user,
// and use the JSONP video page of the demo site.
func TestWebBrowser(t *testing.T) {
	chAddr := startClickHouse(t, webCHPort)
	db := fmt.Sprintf("web_test_%d", time.Now().UnixNano()%1e9)
	migrate(t, chAddr, db)
	conn := chConn(t, chAddr, db)
	t.Cleanup(func() { _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	seed := exec.Command(wingsBin(t), "seed-events", "--rows", "30000", "--days", "3")
	seed.Dir = ".."
	seed.Env = append(seed.Environ(), "WINGS_ENV=test", "WINGS_CLICKHOUSE__ADDR="+chAddr, "WINGS_CLICKHOUSE__DATABASE="+db)
	if out, err := seed.CombinedOutput(); err != nil {
		t.Fatalf("seed-events: %v\n%s", err, out)
	}
	// Some of today's events whatever the hour (just after midnight the
	// seed has hardly any): every chart has points.
	var today model.EventColumns
	for i := 0; i < 40; i++ {
		for _, step := range []string{"view", "click", "cart", "order"}[:1+i%4] {
			today.Add(time.Now(), "video", step, uint64(8_000_000+i), fmt.Sprintf("today-%d", i%5), "ios", "shanghai", float64(i))
		}
	}
	insert(t, conn, &today)
	redisAddr := svc(t, "start", "redis", webRedisPort)
	t.Cleanup(func() { _, _ = exec.Command("../scripts/svc.sh", "stop", "redis", webRedisPort).CombinedOutput() })

	mock, _ := startListening(t, nil, listenRe, "mock-upstream", "--addr", "127.0.0.1:0")
	sso, _ := startListening(t, []string{"WINGS_AUTH__APP_SECRET=" + testSecret}, listenRe, "mock-sso", "--addr", "127.0.0.1:0")
	env := []string{"WINGS_ENV=test", "WINGS_SERVER__ADDR=127.0.0.1:0", "WINGS_LOG__LEVEL=info",
		"WINGS_CLICKHOUSE__ADDR=" + chAddr, "WINGS_CLICKHOUSE__DATABASE=" + db, "WINGS_REDIS__ADDR=" + redisAddr,
		"WINGS_APP__NAME=web-test-" + db, "WINGS_ANALYTICS__PRECOMPUTE_INTERVAL=1s", "WINGS_ANALYTICS__BUSINESS_LINES=video,music,mall",
		"WINGS_AUTH__LOGIN_URL=" + sso + "/login", "WINGS_AUTH__IDENTITY__COOKIE=wings_session"}
	for _, team := range []string{"VIDEO", "ALBUM", "STAR"} {
		env = append(env, "WINGS_UPSTREAMS__"+team+"__BASE_URL="+mock)
	}
	srv, _ := startListening(t, env, serveAddr, "serve")
	site, _ := startListening(t, nil, listenRe, "demo-site", "--addr", "127.0.0.1:0", "--api", srv)

	apiGet := func(path, token string) map[string]any {
		t.Helper()
		r := get(t, srv+path, "Authorization", "Bearer "+token)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		return data(t, r.JSON(t))
	}

	b := newBrowser(t)
	b.do(t, chromedp.EmulateViewport(1366, 768))
	// The console check can fail: a console.error is seen.
	b.do(t, chromedp.Evaluate[chromedp.Void](`console.error('wings console probe')`))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if errs := b.consoleErrors(); len(errs) == 1 && strings.Contains(errs[0], "wings console probe") {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("console errors collected: %v; want the probe", errs)
		}
	}

	t.Run("page weight", func(t *testing.T) {
		html := get(t, srv+"/", "Cookie", "wings_session=demo-video")
		var total int
		for _, m := range regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(string(html.Body), -1) {
			n, enc := gzippedSize(t, srv+m[1])
			if enc != "gzip" {
				t.Errorf("%s: Content-Encoding %q; want gzip", m[1], enc)
			}
			total += n
		}
		t.Logf("dashboards page weight: %d bytes gzipped JS+CSS (budget %d)", total, webPageWeightBudget)
		if total == 0 || total > webPageWeightBudget {
			t.Errorf("page weight %d bytes; want 1..%d", total, webPageWeightBudget)
		}
	})

	t.Run("sign in through the SSO form", func(t *testing.T) {
		b.do(t, chromedp.Navigate(srv+"/"), chromedp.WaitVisible(chromedp.ID("signin")))
		loc := run(t, b, chromedp.Location())
		if !strings.HasPrefix(loc, sso+"/login?") {
			t.Fatalf("a page load without a session went to %s; want the SSO login page", loc)
		}
		users := eval[[]string](t, b, `[...document.querySelectorAll('input[name=user]')].map(i => i.value)`)
		if strings.Join(users, ",") != "demo-admin,demo-music,demo-video" {
			t.Errorf("login form users = %v", users)
		}
		b.screenshot(t, "sso-login")
		b.noConsoleErrors(t, "SSO login page")
		b.do(t, chromedp.Click(chromedp.CSS(`input[value="demo-video"]`)), chromedp.Click(chromedp.ID("signin")))
		b.waitJS(t, `location.pathname === '/' && document.querySelector('#biz') && !document.querySelector('#biz').disabled`)
		options := eval[[]string](t, b, `[...document.querySelectorAll('#biz option')].map(o => o.value)`)
		if strings.Join(options, ",") != "video" {
			t.Errorf("picker of demo-video lists %v; want exactly [video]", options)
		}
	})

	// chartPoints reads how many points each chart was drawn with.
	chartPoints := func(t *testing.T) map[string]int {
		t.Helper()
		b.waitJS(t, `['realtime','ranking','funnel','analysis'].every(n => window.wingsCharts && window.wingsCharts[n])`)
		got := eval[map[string]int](t, b, `Object.fromEntries(Object.entries(window.wingsCharts).map(([n, c]) => [n, c.getOption().series[0].data.length]))`)
		return got
	}

	t.Run("each chart is drawn with the points the API answered", func(t *testing.T) {
		got := chartPoints(t)
		want := func() map[string]int {
			return map[string]int{
				"realtime": len(apiGet("/api/dash/video/realtime", "demo-video")["hours"].([]any)),
				"ranking":  len(apiGet("/api/dash/video/ranking?limit=10", "demo-video")["items"].([]any)),
				"funnel":   len(apiGet("/api/dash/video/funnel", "demo-video")["steps"].([]any)),
				"analysis": len(apiGet("/api/dash/video/analysis", "demo-video")["series"].([]any)),
			}
		}
		w := want()
		for name, n := range w {
			if got[name] != n || n == 0 {
				// The hour may have turned between the page's request and
				// ours: compare again with the page reloaded.
				b.do(t, chromedp.Reload())
				got, w = chartPoints(t), want()
				break
			}
		}
		for name, n := range w {
			if got[name] != n || n == 0 {
				t.Errorf("%s chart drawn with %d points; the API answered %d", name, got[name], n)
			}
		}
		b.do(t, chromedp.Reload())
		b.waitJS(t, `window.wingsTimings && window.wingsTimings.firstChart > 0`)
		ms := eval[float64](t, b, `window.wingsTimings.firstChart`)
		t.Logf("time to the first drawn chart (reload, loopback): %.0f ms (budget 1000 ms)", ms)
		if ms > 5000 {
			t.Errorf("first chart drawn after %.0f ms", ms)
		}
		b.waitJS(t, `document.querySelector('#an-state').textContent.includes('points')`)
		unlabelled := eval[[]string](t, b, `[...document.querySelectorAll('select, input:not([type=hidden]), button, [role=img]')]
			.filter(e => !((e.labels && e.labels.length) || e.getAttribute('aria-label') || (e.tagName === 'BUTTON' && e.textContent.trim())))
			.map(e => e.outerHTML.slice(0, 80))`)
		if len(unlabelled) > 0 {
			t.Errorf("controls and charts without a label: %q", unlabelled)
		}
		// The keyboard reaches the picker and the analysis form in order.
		focused := eval[[]string](t, b, `[...document.querySelectorAll('a[href], select, input, button, summary')].filter(e => e.tabIndex >= 0 && !e.disabled).map(e => e.id || e.tagName)`)
		if strings.Join(focused, ",") == "" || !strings.Contains(strings.Join(focused, ","), "biz") || !strings.Contains(strings.Join(focused, ","), "an-apply") {
			t.Errorf("focusable elements %q; want the picker and the analysis form", focused)
		}
		b.screenshot(t, "dashboards-1366x768")
		b.do(t, chromedp.EmulateViewport(1920, 1080))
		b.waitJS(t, `document.querySelector('#rt-chart canvas').width > 0`)
		b.screenshot(t, "dashboards-1920x1080")
		b.do(t, chromedp.EmulateViewport(1366, 768))
		b.noConsoleErrors(t, "dashboards")
	})

	t.Run("the analysis form keeps its state in the URL", func(t *testing.T) {
		b.do(t,
			chromedp.SetValue(chromedp.ID("an-platform"), "ios"),
			chromedp.SetValue(chromedp.ID("an-granularity"), "day"),
			chromedp.Click(chromedp.ID("an-apply")),
		)
		b.waitJS(t, `location.search.includes('platform=ios') && document.querySelector('#an-state').textContent.includes('platform=ios')`)
		loc := run(t, b, chromedp.Location())
		b.do(t, chromedp.Navigate(loc))
		b.waitJS(t, `document.querySelector('#an-state').textContent.includes('platform=ios') && document.querySelector('#an-platform').value === 'ios'`)
		points := eval[int](t, b, `window.wingsCharts.analysis.getOption().series[0].data.length`)
		q := loc[strings.Index(loc, "?"):]
		q = strings.Replace(q, "biz=video&", "", 1)
		if n := len(apiGet("/api/dash/video/analysis"+q, "demo-video")["series"].([]any)); points != n {
			t.Errorf("shared analysis URL drawn with %d points; the API answered %d", points, n)
		}
		b.noConsoleErrors(t, "analysis")
	})

	t.Run("the analysis range is at most 92 days", func(t *testing.T) {
		b.do(t, chromedp.Evaluate[chromedp.Void](`(() => {
			const to = new Date(document.querySelector('#an-to').value + 'T00:00:00Z');
			const from = new Date(to.getTime() - 92 * 86400000); // 93 days with both ends
			document.querySelector('#an-from').value = from.toISOString().slice(0, 10);
		})()`), chromedp.Click(chromedp.ID("an-apply")))
		b.waitJS(t, `document.querySelector('#an-state').classList.contains('error')`)
		if msg := run(t, b, chromedp.Text(chromedp.ID("an-state"))); !strings.Contains(msg, "93 days; at most 92") {
			t.Errorf("analysis state %q; want the range refused", msg)
		}
		b.noConsoleErrors(t, "analysis range")
	})

	t.Run("a forbidden line shows its message", func(t *testing.T) {
		b.do(t, chromedp.Navigate(srv+"/?biz=music"))
		b.waitJS(t, `!document.querySelector('#page-error').hidden`)
		msg := run(t, b, chromedp.Text(chromedp.ID("page-error")))
		if !strings.Contains(msg, "No permission for music") {
			t.Errorf("forbidden line message = %q", msg)
		}
		states := eval[[]string](t, b, `['rt-state','rk-state','fn-state','an-state'].map(id => document.getElementById(id).textContent)`)
		for _, s := range states {
			if !strings.Contains(s, "No permission for music") {
				t.Errorf("card state %q; want the permission message, never a blank", s)
			}
		}
		b.screenshot(t, "dashboards-forbidden")
		b.noConsoleErrors(t, "forbidden line")
	})

	t.Run("realtime numbers follow new events on refresh", func(t *testing.T) {
		b.do(t, chromedp.Navigate(srv+"/?biz=video"))
		b.waitJS(t, `document.querySelector('#rt-totals dd[data-metric=pv]')`)
		pageTotal := func() int {
			s := eval[string](t, b, `document.querySelector('#rt-totals dd[data-metric=pv]').textContent`)
			n, _ := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
			return n
		}
		before := pageTotal()
		var cols model.EventColumns
		now := time.Now()
		for i := 0; i < 250; i++ {
			cols.Add(now, "video", "view", uint64(9_000_000+i), "web-test-item", "web", "beijing", 1)
		}
		insert(t, conn, &cols)
		var apiPV int
		deadline := time.Now().Add(30 * time.Second)
		for {
			apiPV = int(num(apiGet("/api/dash/video/realtime", "demo-video")["totals"].(map[string]any)["pv"]))
			if apiPV >= before+250 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if apiPV < before+250 {
			t.Fatalf("the API's realtime pv stayed at %d after 250 new events (page showed %d)", apiPV, before)
		}
		b.do(t, chromedp.Click(chromedp.ID("rt-refresh")))
		b.waitJS(t, fmt.Sprintf(`+document.querySelector('#rt-totals dd[data-metric=pv]').textContent.replaceAll(',', '') >= %d`, before+250))
		if after := pageTotal(); after == before {
			t.Errorf("realtime pv on the page stayed at %d", after)
		}
		updated := run(t, b, chromedp.Text(chromedp.ID("rt-updated")))
		if !regexp.MustCompile(`^updated \d+ s ago$`).MatchString(updated) {
			t.Errorf("realtime freshness = %q; want \"updated N s ago\"", updated)
		}
		b.noConsoleErrors(t, "realtime refresh")
	})

	t.Run("sign out, sign in as admin: every line offered", func(t *testing.T) {
		b.do(t, chromedp.Click(chromedp.ID("logout")))
		b.waitJS(t, `location.href.startsWith('`+sso+`/login')`)
		b.do(t, chromedp.WaitVisible(chromedp.ID("signin")), chromedp.Click(chromedp.CSS(`input[value="demo-admin"]`)), chromedp.Click(chromedp.ID("signin")))
		b.waitJS(t, `location.pathname === '/' && !document.querySelector('#biz').disabled`)
		options := eval[[]string](t, b, `[...document.querySelectorAll('#biz option')].map(o => o.value)`)
		me := apiGet("/api/me", "demo-admin")
		var want []string
		for _, l := range me["lines"].([]any) {
			want = append(want, l.(string))
		}
		if strings.Join(options, ",") != strings.Join(want, ",") || len(want) < 2 {
			t.Errorf("picker of demo-admin lists %v; want %v", options, want)
		}
		b.noConsoleErrors(t, "admin dashboards")
	})

	setFaults := func(t *testing.T, body string) {
		t.Helper()
		if r := post(t, mock+"/_mock/faults", body); r.Status != 200 {
			t.Fatalf("set faults: %d %s", r.Status, r.Body)
		}
	}
	videoLast := func(t *testing.T, want string) (code int, msg string) {
		t.Helper()
		b.waitJS(t, `window.wingsVideo && window.wingsVideo.last && window.wingsVideo.requests.length > 0 && window.wingsVideo.requests.at(-1).includes('/api/video/`+want+`?')`)
		b.waitJS(t, `window.wingsVideo.last !== null`)
		last := eval[struct {
			Code int    `json:"code"`
			Msg  string `json:"msg"`
		}](t, b, `window.wingsVideo.last`)
		return last.Code, last.Msg
	}
	loadVideo := func(t *testing.T, id string) (int, string) {
		t.Helper()
		b.do(t, chromedp.Evaluate[chromedp.Void](`window.wingsVideo.last = null`),
			chromedp.SetValue(chromedp.ID("vid"), id), chromedp.Click(chromedp.CSS("#pick button")))
		return videoLast(t, id)
	}

	t.Run("video page over jQuery JSONP", func(t *testing.T) {
		b.do(t, chromedp.Navigate(site+"/?id=42"))
		if code, msg := videoLast(t, "42"); code != 0 {
			t.Fatalf("video 42: code %d %s", code, msg)
		}
		title := run(t, b, chromedp.Text(chromedp.ID("title")))
		stars := eval[int](t, b, `document.querySelectorAll('#stars-list li').length`)
		degradedHidden := eval[bool](t, b, `document.querySelector('#stars-degraded').hidden`)
		if title == "" || stars == 0 || !degradedHidden {
			t.Errorf("video page: title %q, %d stars, degraded block hidden %v", title, stars, degradedHidden)
		}
		if code, _ := loadVideo(t, "43"); code != 0 {
			t.Errorf("video 43: code %d", code)
		}
		reqs := eval[[]string](t, b, `window.wingsVideo.requests`)
		cbRe := regexp.MustCompile(`[?&]callback=(jQuery\d+_\d+)&_=(\d+)$`)
		callbacks, stamps := map[string]bool{}, map[string]bool{}
		for _, r := range reqs {
			m := cbRe.FindStringSubmatch(r)
			if m == nil || !strings.HasPrefix(r, srv+"/api/video/") {
				t.Errorf("request %q: want %s/api/video/:id?callback=jQuery..._...&_=<timestamp>", r, srv)
				continue
			}
			callbacks[m[1]], stamps[m[2]] = true, true
		}
		if len(reqs) != 2 || len(callbacks) != 2 || len(stamps) != 2 {
			t.Errorf("requests %q: want two, each with its own callback and timestamp", reqs)
		}
		b.screenshot(t, "video")
		b.noConsoleErrors(t, "video page")
	})

	t.Run("stars down: the degraded block", func(t *testing.T) {
		setFaults(t, `{"star":{"error_rate":1}}`)
		t.Cleanup(func() { setFaults(t, `{"star":{}}`) })
		if code, msg := loadVideo(t, "44"); code != 0 {
			t.Fatalf("video 44 with stars down: code %d %s; want the video without stars", code, msg)
		}
		b.waitJS(t, `!document.querySelector('#stars-degraded').hidden && !document.querySelector('#video').hidden`)
		stars := eval[int](t, b, `document.querySelectorAll('#stars-list li').length`)
		if stars != 0 {
			t.Errorf("%d stars shown while the stars team is down", stars)
		}
		b.screenshot(t, "video-stars-degraded")
		b.noConsoleErrors(t, "video page, stars down")
	})

	t.Run("the JSONP callback receives code and msg for 400, 404 and 502", func(t *testing.T) {
		for _, tc := range []struct {
			id, faults string
			code       int
			msg        string
		}{
			{"abc", "", 400, "id: must be a positive integer"},
			{"404", "", 404, "video 404 not found"},
			{"45", `{"video":{"error_rate":1}}`, 502, "upstream"},
		} {
			if tc.faults != "" {
				setFaults(t, tc.faults)
			}
			code, msg := loadVideo(t, tc.id)
			if code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Errorf("video %s: callback got code %d msg %q; want %d and %q", tc.id, code, msg, tc.code, tc.msg)
			}
			shown := run(t, b, chromedp.Text(chromedp.ID("state")))
			if !strings.Contains(shown, strconv.Itoa(tc.code)) {
				t.Errorf("video %s: page shows %q; want the error code", tc.id, shown)
			}
			if tc.faults != "" {
				setFaults(t, `{"video":{}}`)
			}
		}
		b.screenshot(t, "video-error")
		b.noConsoleErrors(t, "video page errors")
	})

	t.Run("ClickHouse down: the realtime card turns stale", func(t *testing.T) {
		b.do(t, chromedp.Navigate(srv+"/?biz=video"))
		b.waitJS(t, `document.querySelector('#rt-totals dd[data-metric=pv]')`)
		if hidden := eval[bool](t, b, `document.querySelector('#rt-badge').hidden`); !hidden {
			t.Errorf("stale badge shown while ClickHouse is up")
		}
		svc(t, "stop", "clickhouse", webCHPort)
		b.do(t, chromedp.Click(chromedp.ID("rt-refresh")))
		b.waitJS(t, `!document.querySelector('#rt-badge').hidden`)
		badge := run(t, b, chromedp.Text(chromedp.ID("rt-badge")))
		if !strings.Contains(badge, "stale") {
			t.Errorf("badge %q; want it to say stale", badge)
		}
		if s := run(t, b, chromedp.Text(chromedp.ID("rt-state"))); strings.Contains(s, "Could not") {
			t.Errorf("realtime state %q; want the stale numbers, not an error", s)
		}
		b.screenshot(t, "dashboards-stale")
		b.noConsoleErrors(t, "dashboards, ClickHouse down")
	})
}

// gzippedSize fetches url accepting gzip and returns the bytes sent and
// the Content-Encoding.
func gzippedSize(t *testing.T, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	return int(n), resp.Header.Get("Content-Encoding")
}
