package test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/app"
	"github.com/wings-bff/wings/framework/auth"
	"github.com/wings-bff/wings/framework/cache"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/wings"
)

const testSecret = "integration-secret"

// privateRoutes is the app's route table as the router builds it (a zero
// Container suffices: handlers are only referenced). Every /api/dash route
// must declare bizline:{biz}, so a new dashboard cannot skip the check.
func privateRoutes(t *testing.T) []wings.Route {
	t.Helper()
	var out []wings.Route
	for _, r := range app.Routes(&app.Container{}) {
		if strings.HasPrefix(r.Path, "/api/dash/") && r.Auth != "bizline:{biz}" {
			t.Errorf("route %s %s: Auth is %q; every /api/dash route must require bizline:{biz}", r.Method, r.Path, r.Auth)
		}
		if r.Auth != "" {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		t.Fatal("no login-required route in the table")
	}
	return out
}

var pathParam = regexp.MustCompile(`:([A-Za-z_][A-Za-z0-9_]*)`)

// urlFor fills a route template: :biz is biz, every other parameter 1.
func urlFor(path, biz string) string {
	return pathParam.ReplaceAllStringFunc(path, func(m string) string {
		if m == ":biz" {
			return biz
		}
		return "1"
	})
}

// startMockSSO runs wings mock-sso with flags.
func startMockSSO(t *testing.T, flags ...string) (string, *proc) {
	t.Helper()
	p := start(t, []string{"WINGS_AUTH__APP_SECRET=" + testSecret}, append([]string{"mock-sso", "--addr", anyPort}, flags...)...)
	base := "http://" + waitListening(t, p, 10*time.Second)
	waitHTTP(t, base+"/_mock/stats", 10*time.Second)
	return base, p
}

func ssoEnv(sso, secret string) []string {
	return []string{
		"WINGS_AUTH__IDENTITY__PROVIDER=sso_http", "WINGS_AUTH__IDENTITY__SSO_URL=" + sso,
		"WINGS_AUTH__PERMISSION__PROVIDER=perm_http", "WINGS_AUTH__PERMISSION__PERM_URL=" + sso,
		"WINGS_AUTH__APP_SECRET=" + secret,
		"WINGS_AUTH__IDENTITY__CACHE_TTL=3s", "WINGS_AUTH__IDENTITY__NEGATIVE_TTL=1s",
		"WINGS_AUTH__PERMISSION__CACHE_TTL=3s", "WINGS_AUTH__PERMISSION__NEGATIVE_TTL=1s",
		"WINGS_AUTH__LOGIN_URL=https://sso.example/login",
		"WINGS_AUTH__JSONP_REFERER_ALLOWLIST=https://dash.example.com",
	}
}

func kindOf(t *testing.T, r response) string {
	t.Helper()
	k, _ := r.JSON(t)["error"].(string)
	return k
}

// getNoRedirect is get without following redirects.
func getNoRedirect(t *testing.T, u string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// TestAuthEveryPrivateRoute: for every login-required route of the table,
// over the real binary and the signed mock SSO.
func TestAuthEveryPrivateRoute(t *testing.T) {
	routes := privateRoutes(t)
	sso, _ := startMockSSO(t)
	mock, _ := startMock(t)
	srv, sp := startServer(t, mock, append(ssoEnv(sso, testSecret), "WINGS_LOG__LEVEL=info")...)
	for _, r := range routes {
		if r.Method != http.MethodGet {
			continue
		}
		u := srv + urlFor(r.Path, "video")
		t.Run(r.Name, func(t *testing.T) {
			if r.Page {
				// A page sends a browser without a valid session to sign in.
				for _, h := range [][]string{nil, {"Authorization", "Bearer not-a-session"}, {"Cookie", "wings_session=demo-expired"}} {
					if got := getNoRedirect(t, u, h...); got.Status != 302 || got.Header.Get("Location") != "/auth/login?next="+url.QueryEscape(urlFor(r.Path, "video")) {
						t.Errorf("page with %v: got %d Location %q; want 302 to /auth/login", h, got.Status, got.Header.Get("Location"))
					}
				}
			} else {
				if got := get(t, u); got.Status != 401 || kindOf(t, got) != "unauthorized" {
					t.Errorf("no token: got %d %s; want 401", got.Status, got.Body)
				}
				for _, tok := range []string{"not-a-session", "demo-expired"} {
					if got := get(t, u, "Authorization", "Bearer "+tok); got.Status != 401 {
						t.Errorf("token %s: got %d %s; want 401", tok, got.Status, got.Body)
					}
				}
				html := get(t, u, "Accept", "text/html")
				if html.Status != 401 || html.Header.Get("X-Login-URL") != "https://sso.example/login" || !strings.Contains(string(html.Body), "sso.example/login") {
					t.Errorf("browser: got %d %v %s; want 401 with the login URL", html.Status, html.Header, html.Body)
				}
			}
			if strings.Contains(r.Auth, "{biz}") {
				got := get(t, u, "Authorization", "Bearer demo-music")
				if got.Status != 403 || !strings.Contains(string(got.Body), "bizline:video") || strings.Contains(string(got.Body), `"data"`) {
					t.Errorf("other business line: got %d %s; want 403 naming bizline:video, no data", got.Status, got.Body)
				}
				if got := get(t, u, "Cookie", "wings_session=demo-music"); got.Status != 403 {
					t.Errorf("cookie of another line: got %d; want 403", got.Status)
				}
			}
			ok := get(t, u, "Authorization", "Bearer demo-video")
			if ok.Status == 401 || ok.Status == 403 {
				t.Errorf("own business line: got %d %s; want past auth", ok.Status, ok.Body)
			}
			jp := get(t, u+"?callback=steal", "Authorization", "Bearer demo-video", "Referer", "https://evil.example/page")
			if jp.Status != 400 || strings.HasPrefix(string(jp.Body), "/**/") || !strings.Contains(string(jp.Body), "evil.example") {
				t.Errorf("JSONP from a foreign page: got %d %s; want a plain 400 naming the origin", jp.Status, jp.Body)
			}
			if jp := get(t, u+"?_callback=steal", "Cookie", "wings_session=demo-video"); jp.Status != 400 {
				t.Errorf("JSONP without Referer: got %d; want 400", jp.Status)
			}
			if jp := get(t, u+"?callback=ok", "Authorization", "Bearer demo-video", "Referer", "https://dash.example.com/x"); jp.Status == 400 {
				t.Errorf("JSONP from the allow-listed page: got 400 %s", jp.Body)
			}
		})
	}
	// Public routes keep JSONP.
	if got := get(t, srv+"/api/video/42?callback=cb", "Referer", "https://evil.example/"); got.Status != 200 || !strings.HasPrefix(string(got.Body), "/**/cb(") {
		t.Errorf("public JSONP: got %d %.80s", got.Status, got.Body)
	}
	// The user id is logged; tokens never are.
	me := get(t, srv+"/api/me", "Authorization", "Bearer demo-admin")
	if me.Status != 200 || me.JSON(t)["data"].(map[string]any)["id"] != "u-admin" {
		t.Fatalf("/api/me: got %d %s", me.Status, me.Body)
	}
	time.Sleep(100 * time.Millisecond) // the access log line is written after the answer
	out := sp.Output()
	if !strings.Contains(out, `"user_id":"u-admin"`) {
		t.Errorf("access log has no user_id u-admin")
	}
	for _, tok := range []string{"demo-admin", "demo-music", "not-a-session"} {
		if strings.Contains(out, tok) {
			t.Errorf("log contains the token %q", tok)
		}
	}
}

// TestAuthSSODown: uncached sessions get 503 with a clear message, cached
// ones keep working until their TTL (3s here).
func TestAuthSSODown(t *testing.T) {
	sso, ssoProc := startMockSSO(t)
	mock, _ := startMock(t)
	srv, _ := startServer(t, mock, ssoEnv(sso, testSecret)...)
	if got := get(t, srv+"/api/me", "Authorization", "Bearer demo-video"); got.Status != 200 {
		t.Fatalf("warm-up: got %d %s", got.Status, got.Body)
	}
	cachedAt := time.Now()
	ssoProc.Signal(syscall.SIGTERM)
	if !ssoProc.Wait(10 * time.Second) {
		t.Fatal("mock-sso did not stop")
	}
	got := get(t, srv+"/api/me", "Authorization", "Bearer demo-video")
	if time.Since(cachedAt) < 3*time.Second && got.Status != 200 {
		t.Errorf("cached session with SSO down: got %d %s; want 200", got.Status, got.Body)
	}
	got = get(t, srv+"/api/me", "Authorization", "Bearer demo-music")
	if got.Status != 503 || !strings.Contains(string(got.Body), "login service unavailable") {
		t.Errorf("uncached session with SSO down: got %d %s; want 503 login service unavailable", got.Status, got.Body)
	}
	time.Sleep(time.Until(cachedAt.Add(3500 * time.Millisecond)))
	if got := get(t, srv+"/api/me", "Authorization", "Bearer demo-video"); got.Status != 503 {
		t.Errorf("session after its TTL with SSO down: got %d; want 503", got.Status)
	}
}

// TestAuthSignatureRejected: a wrong secret (tampered signature) and a
// stale timestamp are refused by the SSO; Wings answers 502, never 200.
func TestAuthSignatureRejected(t *testing.T) {
	mock, _ := startMock(t)
	sso, _ := startMockSSO(t)
	srv, _ := startServer(t, mock, ssoEnv(sso, "wrong-secret")...)
	if got := get(t, srv+"/api/me", "Authorization", "Bearer demo-video"); got.Status != 502 || kindOf(t, got) != "upstream_error" {
		t.Errorf("bad signature: got %d %s; want 502", got.Status, got.Body)
	}
	stale, _ := startMockSSO(t, "--clock-offset", "10m", "--max-skew", "1m")
	srv2, _ := startServer(t, mock, ssoEnv(stale, testSecret)...)
	if got := get(t, srv2+"/api/me", "Authorization", "Bearer demo-video"); got.Status != 502 {
		t.Errorf("stale timestamp: got %d %s; want 502", got.Status, got.Body)
	}
	if st := get(t, stale+"/_mock/stats").JSON(t); st["rejected"].(float64) < 1 || st["session"].(float64) != 0 {
		t.Errorf("mock stats %v: want rejected calls only", st)
	}
}

// TestAuthCacheIsolation: a private cached route with the real auth and
// response cache in process. An answer computed for business line Y is
// never served to a user of line X, and login-only answers are per user.
func TestAuthCacheIsolation(t *testing.T) {
	var cfg app.Config
	if _, err := config.Load(config.Options{Dir: "../conf", Env: "test", Environ: []string{}}, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Cache.Responses = true // the test env turns the response cache off
	rt, err := wings.New(&cfg.Config, wings.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cache.New(rt); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	h := func(c echo.Context) error {
		u := wings.CurrentUser(c)
		return wings.JSON(c, map[string]any{"biz": c.Param("biz"), "n": n.Add(1), "computed_for": u.ID})
	}
	rt.Handle(
		wings.Route{Method: http.MethodGet, Path: "/api/dash/:biz/t", Name: "t", Handler: h, Auth: "bizline:{biz}",
			Cache: &wings.CacheOptions{TTL: time.Minute, Private: true}},
		wings.Route{Method: http.MethodGet, Path: "/api/mine", Name: "mine", Handler: h, Auth: auth.LoginOnly,
			Cache: &wings.CacheOptions{TTL: time.Minute, Private: true}},
	)
	call := func(path, tok string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, path, nil).WithContext(context.Background())
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	_, video1 := call("/api/dash/video/t", "demo-video")
	_, music1 := call("/api/dash/music/t", "demo-music")
	if video1 == music1 {
		t.Fatalf("video and music got the same answer %s", video1)
	}
	for i := 0; i < 3; i++ {
		if code, b := call("/api/dash/video/t", "demo-music"); code != 403 || strings.Contains(b, `"n"`) {
			t.Fatalf("music user on video: got %d %s; want 403 without data", code, b)
		}
		if _, b := call("/api/dash/music/t", "demo-music"); b != music1 || strings.Contains(b, `"biz":"video"`) {
			t.Fatalf("music user on music: got %s; want the music answer %s", b, music1)
		}
		if _, b := call("/api/dash/video/t", "demo-video"); b != video1 {
			t.Fatalf("video user on video: got %s; want the cached video answer %s", b, video1)
		}
	}
	_, a := call("/api/mine", "demo-video")
	_, b := call("/api/mine", "demo-music")
	if a == b || !strings.Contains(b, "u-music") {
		t.Fatalf("login-only private answers crossed users: %s / %s", a, b)
	}
}
